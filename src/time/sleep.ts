/**
 * Timers: `sleep`, `sleepUntil`, and the monotonic clock they read.
 *
 * @module
 */

import { beginWait, currentTask, existingScheduler } from "../sched/current.ts";
import { TaskRecord } from "../sched/scheduler.ts";
import { type Operation, type Suspend, SUSPENDED } from "../sched/types.ts";
import { checkDurationMs, checkInstantMs } from "./duration.ts";

/**
 * Suspends the calling task for at least `ms` milliseconds of the monotonic
 * clock (sub-millisecond values are honoured where the kernel allows). It
 * never wakes early; lateness is the kernel's timer slack plus the time the
 * thread is busy with other tasks (while tasks stay ready, the timers are
 * looked at every `FAIR_INTERVAL` task steps, and the task woken runs ahead
 * of the ready queue: see "Events go first" in docs/model.md). `sleep(0)`
 * waits for the next look at the timers, not behind every ready task (for
 * that, `yieldNow`).
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
export function sleep(ms: number): Operation<void> {
  return new TimerWait("sleep", ms, true) as unknown as Operation<void>;
}

/**
 * Suspends the calling task until the monotonic clock reads `deadline` (ms,
 * as returned by {@linkcode now}). A deadline in the past waits for the next
 * turn. Cancel-safe like {@linkcode sleep}.
 *
 * Throws a `TypeError` if `deadline` is not a number and a `RangeError` for
 * NaN. Halts outside a task.
 */
export function sleepUntil(deadline: number): Operation<void> {
  return new TimerWait("sleepUntil", deadline, false) as unknown as Operation<void>;
}

// What `yield*` receives from a TimerWait or YieldOnce once done. Shared
// and frozen: yield* only reads it.
const FINISHED: IteratorResult<Suspend, void> = Object.freeze({ value: undefined, done: true });

/**
 * `sleep` and `sleepUntil`, written as the iterator `yield*` drives rather
 * than as generators: a million sleeping tasks hold a million of these, and
 * this is one small object (its one field is the argument, then the task,
 * then null), where a generator with a try/finally took ~200 B. The calling
 * task is its own timer (see `TaskRecord.heapIndex`): no Timer object
 * either. It behaves as the generator would: checked and registered at the
 * first `next()` (inside the task), done at the second; `return()` (a
 * cancellation) and `throw()` remove the timer.
 */
class TimerWait {
  /** The argument before the first next(), the sleeping task after, DONE once done. */
  #state: unknown;

  constructor(
    private readonly op: "sleep" | "sleepUntil",
    ms: unknown,
    private readonly relative: boolean,
  ) {
    this.#state = ms;
  }

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<Suspend, void> {
    const state = this.#state;
    if (state instanceof TaskRecord) {
      // Woken by its timer (already out of the heap).
      this.#finish(state);
      return FINISHED;
    }
    if (state === DONE) return FINISHED;
    this.#state = DONE; // a throw below leaves it done
    const ms = this.relative
      ? checkDurationMs("sleep: ms", state)
      : checkInstantMs("sleepUntil: deadline", state);
    const task = beginWait(this.op);
    const scheduler = task.scheduler;
    scheduler.timers.add(this.relative ? scheduler.now() + ms : ms, task);
    this.#state = task;
    return SUSPENDED;
  }

  return(value?: unknown): IteratorResult<Suspend, void> {
    const state = this.#state;
    if (state instanceof TaskRecord) this.#finish(state);
    this.#state = DONE;
    return { value: value as void, done: true };
  }

  throw(error: unknown): never {
    this.return();
    throw error;
  }

  #finish(task: TaskRecord): void {
    this.#state = DONE;
    task.scheduler.timers.cancel(task);
  }
}

const DONE: unique symbol = Symbol("done");

/**
 * The monotonic clock strom's timers use, in milliseconds with sub-µs
 * precision (CLOCK_MONOTONIC: the same clock on every thread).
 */
export { monotonicNowMs as now } from "../ffi/mod.ts";

/**
 * Lets the other ready tasks of this thread run (and pending I/O be polled)
 * before the calling task continues. Each `yield*` of the returned operation
 * yields once, so one `yieldNow()` may be kept and reused. Halts outside a
 * task.
 */
export function yieldNow(): Operation<void> {
  return YIELD_ONCE as unknown as Operation<void>;
}

/**
 * `yieldNow` as the iterator `yield*` drives, not a generator, and one
 * object for every call: whether the calling task already suspended in it
 * is a flag of the task (a task is in at most one `yieldNow` at a time), so
 * the scheduler's cheapest switch (pingpong and CPU-bound churn are made of
 * it) allocates nothing.
 */
class YieldOnce {
  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<Suspend, void> {
    const task = currentTask("yieldNow");
    if (task.yielded) {
      task.yielded = false;
      return FINISHED;
    }
    task.yielded = true;
    task.suspendPending = true;
    task.wake();
    return SUSPENDED;
  }

  return(value?: unknown): IteratorResult<Suspend, void> {
    leaveYield();
    return { value: value as void, done: true };
  }

  throw(error: unknown): never {
    leaveYield();
    throw error;
  }
}

/** The task left its `yieldNow` early (cancelled, timed out, thrown into). */
function leaveYield(): void {
  const task = existingScheduler()?.current;
  if (task != null) task.yielded = false;
}

const YIELD_ONCE = new YieldOnce();
