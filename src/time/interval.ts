/**
 * `interval`: ticks at a fixed period that does not drift, with tokio's
 * choices for ticks that were missed.
 *
 * @module
 */

import { currentTask } from "../sched/current.ts";
import type { Operation } from "../sched/types.ts";
import { checkDurationMs, checkInstantMs } from "./duration.ts";
import { now, sleepUntil } from "./sleep.ts";

/**
 * What an {@linkcode Interval} does when a tick is missed (the task called
 * `tick()` a whole period or more after a deadline):
 *
 * - `"burst"` (the default): the missed ticks complete at once, one per
 *   `tick()` call, until the interval has caught up; the schedule stays
 *   `start + k * period`.
 * - `"delay"`: the late tick completes now and the schedule restarts from
 *   it: the next deadline is now + period.
 * - `"skip"`: the late tick completes now and the missed deadlines are
 *   dropped: the next deadline is the next `start + k * period` after now.
 */
export type MissedTickBehavior = "burst" | "delay" | "skip";

/** Options of {@linkcode interval}. */
export interface IntervalOptions {
  /** When the first tick is due, on the {@linkcode now} clock (default: now: the first tick completes at once). */
  start?: number;
  /** What to do about missed ticks (default `"burst"`). */
  missedTick?: MissedTickBehavior;
}

const BEHAVIORS: readonly string[] = ["burst", "delay", "skip"];

/**
 * A periodic timer. Each {@linkcode tick} waits for the next deadline and
 * returns it. Deadlines are computed from the start, `start + k * period`,
 * never from the time a task woke, so the interval does not drift however
 * late each wake-up is; only a missed tick changes the schedule, as
 * {@linkcode missedTick} says.
 *
 * Cancel safety: a cancelled `tick` consumed nothing: the deadline it waited
 * for is still the next one. An interval may be used from any task of its
 * thread, one `tick` at a time.
 *
 * @example
 * ```ts
 * const every = interval(1000, { missedTick: "skip" });
 * for (;;) {
 *   yield* every.tick(); // the first tick completes at once
 *   report();
 * }
 * ```
 */
export class Interval {
  // The next deadline is #base + #k * period: computed from the start, not
  // summed tick by tick, so rounding cannot drift either.
  #base: number;
  #k = 0;

  /** @internal Made by {@linkcode interval}. */
  constructor(
    /** The period, in ms. */
    readonly period: number,
    /** What to do about missed ticks. */
    readonly missedTick: MissedTickBehavior,
    start: number,
  ) {
    this.#base = start;
  }

  /** The deadline of the next tick, on the {@linkcode now} clock. */
  get nextDeadline(): number {
    return this.#base + this.#k * this.period;
  }

  /**
   * Waits for the next deadline (not at all if it has passed) and returns
   * it. Cancel-safe: cancelled, the tick stays due. Halts outside a task.
   */
  *tick(): Operation<number> {
    currentTask("tick");
    const deadline = this.nextDeadline;
    if (now() < deadline) yield* sleepUntil(deadline);
    this.#advance(deadline, now());
    return deadline;
  }

  /** Restarts the schedule: the next tick is due one period from now. */
  reset(): void {
    this.#base = now() + this.period;
    this.#k = 0;
  }

  // Moves to the deadline after `deadline`, the tick completing at `t`.
  #advance(deadline: number, t: number): void {
    const p = this.period;
    if (t < deadline + p || this.missedTick === "burst") {
      this.#k++; // on time (or a little late: no tick missed), or catching up
    } else if (this.missedTick === "delay") {
      this.#base = t + p;
      this.#k = 0;
    } else {
      this.#k += Math.floor((t - deadline) / p) + 1; // skip: the next one after t
    }
  }
}

/**
 * Creates an {@linkcode Interval} ticking every `periodMs` milliseconds,
 * the first tick due at `options.start` (default: now). Throws a
 * `TypeError` if `periodMs` or `start` is not a number (never coerced), a
 * `RangeError` unless `periodMs` is a finite number > 0 and `start` finite,
 * and a `TypeError` for an unknown `missedTick`.
 *
 * @example
 * ```ts
 * const ticks = interval(100, { missedTick: "delay" });
 * yield* ticks.tick(); // at once
 * yield* ticks.tick(); // 100 ms later
 * ```
 */
export function interval(periodMs: number, options: IntervalOptions = {}): Interval {
  checkDurationMs("interval: periodMs", periodMs); // the type: a TypeError, not coerced
  if (!(periodMs > 0) || !Number.isFinite(periodMs)) {
    throw new RangeError(`interval: periodMs must be a finite number > 0, got ${periodMs}`);
  }
  const missed = options.missedTick ?? "burst";
  if (!BEHAVIORS.includes(missed)) {
    throw new TypeError(
      `interval: missedTick must be "burst", "delay" or "skip", got ${String(missed)}`,
    );
  }
  const start = options.start ?? now();
  checkInstantMs("interval: start", start);
  if (!Number.isFinite(start)) {
    throw new RangeError(`interval: start must be a finite instant, got ${start}`);
  }
  return new Interval(periodMs, missed, start);
}
