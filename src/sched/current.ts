/**
 * The thread's scheduler and the task running on it: how a leaf operation
 * finds the task it belongs to, and where the first usage rule is checked.
 *
 * @module
 */

import type { ReactorKind } from "../io/reactor.ts";
import { createReactor } from "../io/reactors.ts";
import { Scheduler, type SchedulerOptions, type TaskRecord } from "./scheduler.ts";
import { halt, Rule } from "./usage.ts";

// One scheduler per thread: each Worker has its own instance of this module.
let scheduler: Scheduler | null = null;

/** This thread's scheduler, created (with the default reactor) on first use. */
export function threadScheduler(): Scheduler {
  return scheduler ??= new Scheduler(createReactor());
}

/**
 * The readiness backend of the calling thread's scheduler: `"epoll"` (the
 * default) or `"poll"` (`STROM_REACTOR=poll`, or a runtime's `reactor`
 * option on its workers). Creates the thread's scheduler if it has none yet
 * (its epoll fd and eventfd then live as long as the thread). Never throws.
 */
export function reactorKind(): ReactorKind {
  return threadScheduler().reactor.kind;
}

/**
 * Creates this thread's scheduler with a reactor of `kind` (a runtime
 * worker's first act, so the runtime's reactor option wins over the
 * default). Throws if the thread already has a scheduler.
 */
export function initThreadScheduler(
  kind: ReactorKind,
  options: SchedulerOptions = {},
): Scheduler {
  if (scheduler !== null) throw new Error("strom: this thread already has a scheduler");
  return scheduler = new Scheduler(createReactor(kind), options);
}

/** This thread's scheduler if one was created, else null. */
export function existingScheduler(): Scheduler | null {
  return scheduler;
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
