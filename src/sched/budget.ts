/**
 * The cooperative budget: how an operation that completes without waiting
 * lets the other ready tasks, the timers and I/O have their turn once its
 * task has done {@linkcode TASK_BUDGET} such operations in one step.
 *
 * @module
 */

import { beginWait } from "./current.ts";
import { TASK_BUDGET, type TaskRecord } from "./scheduler.ts";
import { type Operation, SUSPEND } from "./types.ts";

export { TASK_BUDGET };

/**
 * Spends one unit of the running step's cooperative budget
 * ({@linkcode TASK_BUDGET}): true when it had run out, and the caller, an operation
 * about to complete without waiting, must yield once first
 * (`yield* yieldForBudget(op)`), so the other ready tasks, timers and I/O
 * get their turn.
 */
export function spendBudget(task: TaskRecord): boolean {
  return --task.scheduler.budget < 0;
}

/**
 * Yields once (to the back of the ready queue), for an operation whose task
 * spent its budget: see {@linkcode spendBudget}. Cancel-safe.
 */
export function* yieldForBudget(op: string): Operation<void> {
  beginWait(op).wake();
  yield SUSPEND;
}
