/**
 * `awaitAll` and `awaitAny`: several tasks at once inside one task.
 *
 * @module
 */

import { GroupOp } from "./group.ts";
import type { TaskRecord } from "./scheduler.ts";
import type { Operation, Task, TaskResults } from "./types.ts";

/**
 * Runs `tasks` concurrently inside the calling task and returns their
 * results in order, once all have returned. Each child is scheduled on its
 * own, so resuming one never re-enters the caller's `yield*` chain.
 *
 * The first child to throw (or be cancelled) decides: the others are
 * cancelled, their `finally` blocks run, and `awaitAll` throws that error.
 * Cancelling the caller cancels every child first. An empty list returns
 * `[]` at once.
 *
 * Throws `TaskLimitError` (and starts nothing) when the thread cannot take
 * the children. Halts outside a task, and for a generator strom ran before.
 *
 * @example
 * ```ts
 * const [a, b] = yield* awaitAll(fetchA(), fetchB());
 * ```
 */
export function awaitAll<const T extends readonly Task<unknown>[]>(
  ...tasks: T
): Operation<TaskResults<T>>;
/** The same, over an array: the results in the array's order. */
export function awaitAll<R>(tasks: readonly Task<R>[]): Operation<R[]>;
export function awaitAll(...args: unknown[]): Operation<unknown[]> {
  return new AwaitAll(taskList(args)) as unknown as Operation<unknown[]>;
}

/** `awaitAll`'s group: settled once every child returned, with their results in order. */
class AwaitAll extends GroupOp<unknown[]> {
  readonly #results: unknown[];
  #left: number;

  constructor(tasks: readonly Task<unknown>[]) {
    super(tasks);
    this.#results = new Array(tasks.length);
    this.#left = tasks.length;
  }

  protected get op(): string {
    return "awaitAll";
  }

  protected empty(): unknown[] {
    return [];
  }

  protected settle(child: TaskRecord, index: number): boolean {
    this.#results[index] = child.result;
    return --this.#left === 0;
  }

  protected outcome(): unknown[] {
    return this.#results;
  }
}

/** The winner of {@linkcode awaitAny}: its position and result. */
export interface AnyResult<T> {
  /** The position of the first task to finish, in the list given. */
  index: number;
  /** Its result. */
  value: T;
}

/**
 * Runs `tasks` concurrently inside the calling task; the first to finish
 * wins. If it returned, `awaitAny` returns its index and value; if it threw,
 * `awaitAny` throws that error. Either way every other child has been
 * cancelled, its `finally` blocks run, before `awaitAny` returns.
 *
 * Throws a `RangeError` for an empty list and `TaskLimitError` when the
 * thread cannot take the children. Halts outside a task, and for a generator
 * strom ran before.
 *
 * @example
 * ```ts
 * const { index } = yield* awaitAny(conn.read(buf), sleep(1000));
 * ```
 */
export function awaitAny<const T extends readonly Task<unknown>[]>(
  ...tasks: T
): Operation<AnyResult<TaskResults<T>[number]>>;
/** The same, over an array. */
export function awaitAny<R>(tasks: readonly Task<R>[]): Operation<AnyResult<R>>;
export function awaitAny(...args: unknown[]): Operation<AnyResult<unknown>> {
  return new AwaitAny(taskList(args)) as unknown as Operation<AnyResult<unknown>>;
}

/** `awaitAny`'s group: settled by the first child to return. */
class AwaitAny extends GroupOp<AnyResult<unknown>> {
  #winner: AnyResult<unknown> | null = null;

  protected get op(): string {
    return "awaitAny";
  }

  protected empty(): never {
    throw new RangeError("awaitAny needs at least one task");
  }

  protected settle(child: TaskRecord, index: number): boolean {
    this.#winner = { index, value: child.result };
    return true;
  }

  protected outcome(): AnyResult<unknown> {
    return this.#winner!;
  }
}

function taskList(args: unknown[]): Task<unknown>[] {
  return (args.length === 1 && Array.isArray(args[0]) ? args[0] : args) as Task<unknown>[];
}
