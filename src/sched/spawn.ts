/**
 * `spawn`: a new root task on the calling task's thread, and its handle.
 *
 * @module
 */

import type { JoinHandle } from "./join.ts";
import { currentTask } from "./thread.ts";
import type { Operation, Task } from "./types.ts";

export { JoinHandle } from "./join.ts";

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
 * suspends: its first `next()` spawns and is done), and its own iterator
 * result (`yield*` reads only `done` and `value`): a spawn allocates this
 * one short-lived object besides the task's record.
 */
class SpawnOp<T> {
  /** As an iterator result: always done. */
  readonly done = true;
  /** As an iterator result: the handle, once spawned. */
  value: JoinHandle<T> | undefined = undefined;
  #task: Task<T> | null;

  constructor(task: Task<T>) {
    this.#task = task;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<never, JoinHandle<T>> {
    const task = this.#task;
    if (task === null) {
      this.value = undefined;
    } else {
      this.#task = null;
      const me = currentTask("spawn");
      // The record is the handle (see TaskRecord).
      this.value = me.scheduler.spawn(task, true) as unknown as JoinHandle<T>;
    }
    return this as IteratorResult<never, JoinHandle<T>>;
  }

  return(value?: unknown): IteratorResult<never, JoinHandle<T>> {
    this.#task = null;
    this.value = value as JoinHandle<T>;
    return this as IteratorResult<never, JoinHandle<T>>;
  }

  throw(error: unknown): never {
    this.#task = null;
    throw error;
  }
}
