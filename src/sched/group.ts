/**
 * A group of child tasks run concurrently for one parent: the engine of
 * `awaitAll` and `awaitAny`.
 *
 * @module
 */

import { beginWait } from "./current.ts";
import {
  checkTask,
  type ChildObserver,
  Ending,
  type Scheduler,
  type TaskRecord,
} from "./scheduler.ts";
import { type Operation, SUSPEND, type Task } from "./types.ts";

/**
 * Decides a group: told of each child's end that returned normally, returns
 * true once the group has its outcome.
 */
export type Settle = (child: TaskRecord, index: number) => boolean;

// One object per group, not a closure per child: a million-child awaitAll
// allocates a million fewer objects.
class TaskGroup implements ChildObserver {
  readonly children: TaskRecord[];
  /** Children not ended yet: when it reaches 0 there is nothing to cancel. */
  running = 0;
  decided = false;

  constructor(
    readonly scheduler: Scheduler,
    readonly parent: TaskRecord,
    readonly settle: Settle,
    size: number,
  ) {
    this.children = new Array(size);
  }

  childDone(child: TaskRecord): void {
    this.running--;
    if (this.decided) {
      // Cancelled after the group was decided, and its finally threw: nobody
      // will see that error through the group, so it is reported.
      if (child.ending === Ending.Threw) this.scheduler.onUnjoinedError(child.result, child.id);
      return;
    }
    const failed = child.ending !== Ending.Returned;
    if (!failed && !this.settle(child, child.slot)) return;
    this.decided = true;
    if (this.running > 0) this.cancelRest();
    this.scheduler.resume(this.parent, failed, failed ? child.result : undefined);
  }

  /** Cancels every child still running; their `finally` blocks run now. */
  cancelRest(): void {
    for (const child of this.children) {
      if (child !== undefined && !child.done) this.scheduler.cancel(child);
    }
  }
}

/**
 * Runs `tasks` as children of the calling task. `settle` is told of each
 * child that returns and says when the group is decided; a child that throws
 * (or is cancelled) decides it with its error. Once decided, the remaining
 * children are cancelled (their `finally` blocks run) and the parent resumes
 * with `outcome()`, or with that error.
 */
export function* runGroup<R>(
  op: string,
  tasks: readonly Task<unknown>[],
  settle: Settle,
  outcome: () => R,
): Operation<R> {
  const parent = beginWait(op);
  const scheduler = parent.scheduler;
  // Bad input and overload are found before any child is taken, so nothing
  // is lost: the caller may offer the same generators again.
  try {
    for (const task of tasks) checkTask(task);
    scheduler.checkRoom(tasks.length);
  } catch (error) {
    parent.suspendPending = false;
    throw error;
  }
  const group = new TaskGroup(scheduler, parent, settle, tasks.length);
  try {
    for (let i = 0; i < tasks.length; i++) {
      const child = scheduler.spawn(tasks[i]!, false);
      child.group = group;
      child.slot = i;
      group.children[i] = child;
      group.running++;
    }
  } catch (error) {
    // Not expected after the checks above (a halt ends the process first).
    parent.suspendPending = false;
    group.decided = true;
    group.cancelRest();
    throw error;
  }
  try {
    yield SUSPEND;
    return outcome();
  } finally {
    // The parent is cancelled: its children end first.
    if (!group.decided) {
      group.decided = true;
      group.cancelRest();
    }
  }
}
