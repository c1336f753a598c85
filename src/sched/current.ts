/**
 * The thread's scheduler and the task running on it: how a leaf operation
 * finds the task it belongs to, and where the first usage rule is checked.
 *
 * @module
 */

import type { ReactorKind } from "../io/reactor.ts";
import { createReactor } from "../io/reactors.ts";
import { Scheduler, type SchedulerOptions } from "./scheduler.ts";
import { existingScheduler, setThreadScheduler } from "./thread.ts";

// The slot and the task context live in thread.ts (a leaf module, so the
// task record's `join` can reach them); re-exported here for the callers.
export { beginWait, currentTask, existingScheduler } from "./thread.ts";

/** This thread's scheduler, created (with the default reactor) on first use. */
export function threadScheduler(): Scheduler {
  return existingScheduler() ?? setThreadScheduler(new Scheduler(createReactor()));
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
  if (existingScheduler() !== null) throw new Error("strom: this thread already has a scheduler");
  return setThreadScheduler(new Scheduler(createReactor(kind), options));
}
