/**
 * The thread's scheduler slot and the task running on it: how a leaf
 * operation finds the task it belongs to, and where the first usage rule is
 * checked. A leaf module (it imports the scheduler only as a type), so the
 * task record's own operations (`join`) can use it; `current.ts` creates the
 * scheduler that fills the slot.
 *
 * @module
 */

import type { Scheduler, TaskRecord } from "./scheduler.ts";
import { halt, Rule } from "./usage.ts";

// One scheduler per thread: each Worker has its own instance of this module.
let scheduler: Scheduler | null = null;

/** This thread's scheduler if one was created, else null. */
export function existingScheduler(): Scheduler | null {
  return scheduler;
}

/** Fills the thread's slot (`current.ts` does, once). */
export function setThreadScheduler(s: Scheduler): Scheduler {
  return scheduler = s;
}

/**
 * The task that is running `op` right now. Halts (rule
 * `operation-outside-task`) when no strom task is running: the operation was
 * advanced by hand rather than through `yield*` inside a task.
 */
export function currentTask(op: string): TaskRecord {
  const task = scheduler?.current;
  if (task == null || !task.running) {
    halt(
      Rule.OutsideTask,
      `${op} was advanced outside a strom task (use it with yield* inside one)`,
    );
  }
  if (task.suspendPending) {
    halt(Rule.OutsideTask, `task ${task.id} advanced a strom operation by hand before ${op}`);
  }
  return task;
}

/**
 * Like {@linkcode currentTask}, and marks the task as about to suspend: the
 * leaf must now register its wake-up and `yield SUSPEND`. If it is advanced
 * by hand instead, the scheduler notices the mark was never cleared.
 */
export function beginWait(op: string): TaskRecord {
  const task = currentTask(op);
  task.suspendPending = true;
  return task;
}
