/**
 * `spawn`: a new root task on the calling task's thread, and its handle.
 *
 * @module
 */

import { spendBudget } from "./budget.ts";
import { beginWait, currentTask } from "./current.ts";
import { Ending, type TaskRecord } from "./scheduler.ts";
import { type Operation, SUSPEND, type Task } from "./types.ts";
import { halt, Rule } from "./usage.ts";

/**
 * The handle of a spawned task: join it for its result, or cancel it.
 *
 * Dropping a handle detaches the task: it keeps running until it ends (or
 * until the `run` that drives its thread returns, which cancels it). An error
 * thrown by a task nobody is joining when it fails is reported through the
 * scheduler's `onUnjoinedError` (by default one line with the stack on
 * stderr); a later `join()` still throws it.
 */
export class JoinHandle<T> {
  readonly #task: TaskRecord;

  /**
   * Created by {@linkcode spawn}; not for user code.
   * @internal
   */
  constructor(task: TaskRecord) {
    this.#task = task;
  }

  /** The task's id (unique among the live tasks of its thread). */
  get id(): number {
    return this.#task.id;
  }

  /** Whether the task has ended (returned, thrown or been cancelled). */
  get done(): boolean {
    return this.#task.done;
  }

  /**
   * Waits for the task to end: its return value, or throws its error (a
   * `TaskCancelledError` if it was cancelled). Joining a finished task returns
   * at once. Several tasks may join the same task.
   *
   * Cancel-safe: cancelling the joiner leaves the joined task running.
   * Halts outside a task, and when called from another thread's scheduler.
   */
  join(): Operation<T> {
    return new JoinOp<T>(this.#task) as unknown as Operation<T>;
  }

  /**
   * Cancels the task: its `finally` blocks run before `cancel` returns (or,
   * if the task is the one calling, as soon as it next suspends). Cancelling
   * an ended task does nothing. Its joiners get a `TaskCancelledError`.
   */
  cancel(): void {
    this.#task.scheduler.cancel(this.#task);
  }
}

// What `yield*` receives from the hand-written operations below: shared
// and frozen, since yield* only reads them.
const SUSPENDED: IteratorResult<unknown, never> = Object.freeze({ value: SUSPEND, done: false });

/**
 * `join` as the iterator `yield*` drives rather than a generator (one
 * object, no generator frame: spawn + join is the scheduler's hot path).
 * It does what this generator would:
 *
 *     if (!target.done) { register as joiner; try { yield } finally { deregister } }
 *     return or throw the target's ending
 */
class JoinOp<T> {
  /** Not started, waiting (registered as a joiner), done, or yielding for the budget. */
  #state: 0 | 1 | 2 | 3 = 0;
  #me: TaskRecord | null = null;

  constructor(readonly target: TaskRecord) {}

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<unknown, T> {
    const target = this.target;
    if (this.#state === 0) {
      const me = currentTask("join");
      if (me.scheduler !== target.scheduler) {
        halt(Rule.ForeignJoin, `task ${target.id} belongs to another thread's scheduler`);
      }
      if (me === target) halt(Rule.Deadlock, `task ${me.id} joined itself`);
      if (!target.done) {
        beginWait("join");
        (target.joiners ??= []).push(me);
        this.#me = me;
        this.#state = 1;
        return SUSPENDED;
      }
      if (spendBudget(me)) {
        // Ended already, but this step spent its budget: yield once first.
        beginWait("join").wake();
        this.#state = 3;
        return SUSPENDED;
      }
    } else if (this.#state === 1) {
      // Woken (normally) by the target's end.
      target.scheduler.joinerResumed(target);
    } else if (this.#state === 2) {
      return { value: undefined as T, done: true };
    }
    this.#state = 2;
    target.observed = true;
    if (target.ending !== Ending.Returned) throw target.result;
    return { value: target.result as T, done: true };
  }

  return(value?: unknown): IteratorResult<unknown, T> {
    if (this.#state === 1) this.#leave();
    this.#state = 2;
    return { value: value as T, done: true };
  }

  throw(error: unknown): never {
    this.return();
    throw error;
  }

  // Cancelled while waiting: no longer a joiner; if the target's end had
  // already woken this joiner, that end is not seen here.
  #leave(): void {
    const target = this.target;
    const joiners = target.joiners;
    if (joiners !== null) {
      const i = joiners.indexOf(this.#me!);
      if (i >= 0) joiners.splice(i, 1);
    } else if (target.done) {
      target.scheduler.joinerGone(target);
    }
  }
}

/**
 * Starts `task` as a new root task on the calling task's thread and returns
 * its handle at once; the new task first runs at the scheduler's next turn.
 *
 * Throws `TaskLimitError` when the thread runs its most tasks, and a
 * `TypeError` if `task` is not a generator. Halts outside a task and if the
 * generator was given to strom before.
 *
 * @example
 * ```ts
 * function* main(): Task<number> {
 *   const handle = yield* spawn(work());
 *   return yield* handle.join();
 * }
 * ```
 */
export function spawn<T>(task: Task<T>): Operation<JoinHandle<T>> {
  return new SpawnOp(task) as unknown as Operation<JoinHandle<T>>;
}

/**
 * `spawn` as the iterator `yield*` drives, not a generator (it never
 * suspends: its first `next()` spawns and is done), so a spawn allocates no
 * generator.
 */
class SpawnOp<T> {
  #task: Task<T> | null;

  constructor(task: Task<T>) {
    this.#task = task;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<never, JoinHandle<T>> {
    const task = this.#task;
    if (task === null) return { value: undefined as never, done: true };
    this.#task = null;
    const me = currentTask("spawn");
    return { value: new JoinHandle<T>(me.scheduler.spawn(task, true)), done: true };
  }

  return(value?: unknown): IteratorResult<never, JoinHandle<T>> {
    this.#task = null;
    return { value: value as JoinHandle<T>, done: true };
  }

  throw(error: unknown): never {
    this.#task = null;
    throw error;
  }
}
