/**
 * Timers: `sleep`, `sleepUntil`, and the monotonic clock they read.
 *
 * @module
 */

import { beginWait, currentTask } from "../sched/current.ts";
import { type Operation, SUSPEND } from "../sched/types.ts";

/**
 * Suspends the calling task for at least `ms` milliseconds of the monotonic
 * clock (sub-millisecond values are honoured where the kernel allows). It
 * never wakes early; lateness is the kernel's timer slack plus the time the
 * thread is busy with other tasks. `sleep(0)` waits for the next turn of the
 * loop.
 *
 * Cancel-safe: cancelled while asleep, its timer is removed.
 * Throws a `RangeError` for a negative or NaN `ms`. Halts outside a task.
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
  if (!(ms >= 0)) throw new RangeError(`sleep: ms must be a number >= 0, got ${ms}`);
  const scheduler = currentTask("sleep").scheduler;
  yield* sleepUntil(scheduler.now() + ms);
}

/**
 * Suspends the calling task until the monotonic clock reads `deadline` (ms,
 * as returned by {@linkcode now}). A deadline in the past waits for the next
 * turn. Cancel-safe like {@linkcode sleep}. Halts outside a task.
 */
export function* sleepUntil(deadline: number): Operation<void> {
  if (Number.isNaN(deadline)) throw new RangeError("sleepUntil: deadline is NaN");
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
