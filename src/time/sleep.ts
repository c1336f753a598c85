/**
 * Timers: `sleep`, `sleepUntil`, and the monotonic clock they read.
 *
 * @module
 */

import { beginWait } from "../sched/current.ts";
import { type Operation, SUSPEND } from "../sched/types.ts";
import { checkDurationMs, checkInstantMs } from "./duration.ts";

/**
 * Suspends the calling task for at least `ms` milliseconds of the monotonic
 * clock (sub-millisecond values are honoured where the kernel allows). It
 * never wakes early; lateness is the kernel's timer slack plus the time the
 * thread is busy with other tasks. `sleep(0)` waits for the next turn of the
 * loop.
 *
 * Cancel-safe: cancelled while asleep, its timer is removed.
 * Throws a `TypeError` if `ms` is not a number (a string is not converted)
 * and a `RangeError` for a negative or NaN `ms`. Halts outside a task.
 *
 * @example
 * ```ts
 * function* tick(): Task<void> {
 *   yield* sleep(100);
 *   console.log("100 ms later");
 * }
 * ```
 */
export function* sleep(ms: number): Operation<void> {
  checkDurationMs("sleep: ms", ms);
  // Written out rather than delegating to sleepUntil: one generator per
  // sleep, not two (a million sleeping tasks hold a million of them).
  const task = beginWait("sleep");
  const scheduler = task.scheduler;
  const timer = scheduler.timers.insert(scheduler.now() + ms, task);
  try {
    yield SUSPEND;
  } finally {
    scheduler.timers.cancel(timer);
  }
}

/**
 * Suspends the calling task until the monotonic clock reads `deadline` (ms,
 * as returned by {@linkcode now}). A deadline in the past waits for the next
 * turn. Cancel-safe like {@linkcode sleep}.
 *
 * Throws a `TypeError` if `deadline` is not a number and a `RangeError` for
 * NaN. Halts outside a task.
 */
export function* sleepUntil(deadline: number): Operation<void> {
  checkInstantMs("sleepUntil: deadline", deadline);
  const task = beginWait("sleepUntil");
  const timer = task.scheduler.timers.insert(deadline, task);
  try {
    yield SUSPEND;
  } finally {
    task.scheduler.timers.cancel(timer);
  }
}

/**
 * The monotonic clock strom's timers use, in milliseconds with sub-µs
 * precision (CLOCK_MONOTONIC: the same clock on every thread).
 */
export { monotonicNowMs as now } from "../ffi/mod.ts";

/**
 * Lets the other ready tasks of this thread run (and pending I/O be polled)
 * before the calling task continues. Halts outside a task.
 */
export function* yieldNow(): Operation<void> {
  const task = beginWait("yieldNow");
  task.wake();
  yield SUSPEND;
}
