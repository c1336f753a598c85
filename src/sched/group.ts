/**
 * A group of child tasks run concurrently for one parent: the engine of
 * `awaitAll` and `awaitAny`.
 *
 * @module
 */

import { beginWait } from "./current.ts";
import { Ending, type TaskRecord } from "./scheduler.ts";
import { type Operation, SUSPEND, type Task } from "./types.ts";

/**
 * Runs `tasks` as children of the calling task. `settle` is told of each
 * child's end and returns true when the group is decided: the remaining
 * children are then cancelled (their `finally` blocks run) and the parent
 * resumes with `outcome()`, or with the error `settle` chose.
 */
export function* runGroup<R>(
  op: string,
  tasks: readonly Task<unknown>[],
  settle: (child: TaskRecord, index: number) => boolean,
  outcome: () => R,
): Operation<R> {
  const parent = beginWait(op);
  const scheduler = parent.scheduler;
  const children: TaskRecord[] = [];
  let decided = false;
  let failure: { error: unknown } | null = null;

  const cancelRest = () => {
    for (const child of children) if (!child.done) scheduler.cancel(child);
  };
  try {
    for (let i = 0; i < tasks.length; i++) {
      const child = scheduler.spawn(tasks[i], false);
      children.push(child);
      child.onDone = (done) => {
        if (decided) return;
        if (done.ending !== Ending.Returned) failure = { error: done.result };
        if (failure !== null || settle(done, i)) {
          decided = true;
          cancelRest();
          if (failure !== null) scheduler.resume(parent, true, failure.error);
          else scheduler.resume(parent, false, undefined);
        }
      };
    }
  } catch (error) {
    // A child could not be spawned (task limit): undo the others.
    parent.suspendPending = false;
    decided = true;
    cancelRest();
    throw error;
  }
  try {
    yield SUSPEND;
    return outcome();
  } finally {
    // The parent is cancelled (or woke with an error): children go first.
    if (!decided) {
      decided = true;
      cancelRest();
    }
  }
}
