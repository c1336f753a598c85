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
 * result (`yield*` reads only `done` and `value`, and only from what
 * `next()` returned): a spawn allocates this one short-lived object besides
 * the task's record.
 *
 * Two fields, so it is 32 B on Bun, not 48 B (JSC's inline capacity; a
 * third field, or `done` on the prototype, gives four slots): before the
 * first `next()`, `done` is false and `value` holds the task; from then on
 * `done` is true and `value` is the handle.
 */
class SpawnOp<T> {
  /** Whether it spawned (as an iterator result: always true, once returned). */
  done = false;
  /** The task until the spawn; then, as an iterator result, the handle. */
  value: Task<T> | JoinHandle<T> | undefined;

  constructor(task: Task<T>) {
    this.value = task;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<never, JoinHandle<T>> {
    if (this.done) {
      this.value = undefined;
    } else {
      const task = this.value as Task<T>;
      this.done = true;
      this.value = undefined;
      const me = currentTask("spawn");
      // The record is the handle (see TaskRecord).
      this.value = me.scheduler.spawn(task, true) as unknown as JoinHandle<T>;
    }
    return this as IteratorResult<never, JoinHandle<T>>;
  }

  return(value?: unknown): IteratorResult<never, JoinHandle<T>> {
    this.done = true;
    this.value = value as JoinHandle<T>;
    return this as IteratorResult<never, JoinHandle<T>>;
  }

  throw(error: unknown): never {
    this.done = true;
    this.value = undefined;
    throw error;
  }
}
