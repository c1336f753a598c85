/**
 * `Deadline`: a time limit that a task moves while it works (idle and
 * header time-outs), cheap enough to move on every read.
 *
 * @module
 */

import { monotonicNowMs } from "../ffi/mod.ts";
import type { Waiter } from "../io/reactor.ts";
import { awaitAny } from "../sched/await_all.ts";
import { beginWait, currentTask } from "../sched/current.ts";
import type { TaskRecord } from "../sched/scheduler.ts";
import type { Timer } from "../sched/timer_heap.ts";
import { type Operation, SUSPEND, type Task } from "../sched/types.ts";
import { TimeoutError } from "./timeout.ts";

const EXPIRED: unique symbol = Symbol("deadline expired");

function checkMs(ms: unknown, what: string): asserts ms is number {
  if (typeof ms !== "number" || !(ms >= 0)) {
    throw new RangeError(`Deadline.${what}: ms must be a number >= 0, got ${String(ms)}`);
  }
}

/**
 * A deadline on the monotonic clock that guards one task and can be moved
 * while that task runs, like Go's `SetDeadline`: the guarded task is
 * cancelled (its `finally` blocks run) and {@linkcode guard} throws
 * {@linkcode TimeoutError} once the clock passes the deadline last set.
 *
 * It is what a server needs against idle and slow peers (slowloris): an
 * idle time-out is `reset(idleMs)` before each read (any progress moves the
 * deadline on); a header time-out is one `reset(headerMs)` when a request
 * starts, not moved by the bytes that trickle in, so a peer that sends one
 * byte a second is cut off all the same.
 *
 * Cost: `reset` reads the clock; moving the deadline later costs nothing
 * more (the guard's timer fires at the old time, finds the new one and
 * sleeps again); moving it earlier moves the timer (O(log n)). `guard` itself
 * costs what `timeout` does, once per guarded task: guard a connection's
 * whole exchange, not each read. (`timeout(ms, conn.read(buf))` per read is
 * correct too, but costs two child tasks and a timer per read.)
 *
 * With no deadline set (a new `Deadline()`, or after {@linkcode clear}) the
 * task runs unlimited until one is set.
 *
 * @example
 * ```ts
 * function* serve(conn: TcpStream): Task<void> {
 *   const idle = new Deadline();
 *   try {
 *     yield* idle.guard(function* () {
 *       const buf = new Uint8Array(4096);
 *       for (;;) {
 *         idle.reset(30_000); // 30 s without progress closes the connection
 *         const n = yield* conn.read(buf);
 *         if (n === 0) return;
 *         yield* conn.writeAll(buf, n);
 *       }
 *     }());
 *   } catch (error) {
 *     if (!(error instanceof TimeoutError)) throw error;
 *   } finally {
 *     conn.close();
 *   }
 * }
 * ```
 */
export class Deadline {
  #at = Infinity;
  #ms = 0;
  #guarding = false;
  /** The guard's watchdog task while it waits, and its timer (if armed). */
  #watcher: TaskRecord | null = null;
  #timer: Timer<Waiter> | null = null;
  #timerAt = Infinity;

  /**
   * A deadline `ms` from now, or none. Throws a `RangeError` for an `ms`
   * that is not a number >= 0.
   */
  constructor(ms?: number) {
    if (ms !== undefined) this.reset(ms);
  }

  /** The deadline (a {@linkcode now} reading, ms), or `Infinity` if none is set. */
  get at(): number {
    return this.#at;
  }

  /**
   * Sets the deadline `ms` from now (earlier or later than before). May be
   * called from any task of the thread, or outside one. Throws a
   * `RangeError` for an `ms` that is not a number >= 0.
   */
  reset(ms: number): void {
    checkMs(ms, "reset");
    this.#ms = ms;
    this.#at = monotonicNowMs() + ms;
    // Later than the armed timer: the watchdog finds the new deadline when
    // the timer fires. Earlier: move the timer now.
    if (this.#watcher !== null && this.#at < this.#timerAt) this.#arm(this.#watcher);
  }

  /** Removes the deadline: the guarded task runs unlimited until the next {@linkcode reset}. */
  clear(): void {
    this.#at = Infinity; // the armed timer, if any, fires and finds none
  }

  /**
   * Runs `task` inside the calling task and returns its result (its error
   * passes through), unless the clock passes the deadline first: then
   * `task` is cancelled (its `finally` blocks run) and {@linkcode
   * TimeoutError} is thrown, carrying the `ms` of the last `reset`.
   *
   * Throws a `TypeError` if this deadline already guards a task (one at a
   * time). Cancel-safe: cancelled, `task` is cancelled and the timer
   * removed. Halts outside a task.
   */
  *guard<T>(task: Task<T>): Operation<T> {
    currentTask("Deadline.guard");
    if (this.#guarding) throw new TypeError("Deadline.guard: this deadline already guards a task");
    this.#guarding = true;
    try {
      const winner = yield* awaitAny<T | typeof EXPIRED>([task, this.#watch()]);
      if (winner.index === 1) throw new TimeoutError(this.#ms);
      return winner.value as T;
    } finally {
      this.#guarding = false;
    }
  }

  *#watch(): Operation<typeof EXPIRED> {
    for (;;) {
      const task = currentTask("Deadline.guard");
      if (this.#at <= task.scheduler.now()) return EXPIRED;
      beginWait("Deadline.guard");
      this.#watcher = task;
      if (this.#at !== Infinity) this.#arm(task);
      try {
        yield SUSPEND;
      } finally {
        this.#watcher = null;
        if (this.#timer !== null) task.scheduler.timers.cancel(this.#timer);
        this.#timer = null;
        this.#timerAt = Infinity;
      }
    }
  }

  #arm(watcher: TaskRecord): void {
    const timers = watcher.scheduler.timers;
    if (this.#timer !== null) timers.cancel(this.#timer);
    this.#timer = timers.insert(this.#at, watcher);
    this.#timerAt = this.#at;
  }
}
