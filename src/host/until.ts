/**
 * `until`: the bridge from a task to a host promise.
 *
 * @module
 */

import { beginWait, currentTask } from "../sched/current.ts";
import type { Scheduler } from "../sched/scheduler.ts";
import { type Operation, SUSPEND } from "../sched/types.ts";
import { halt, Rule } from "../sched/usage.ts";

/** What {@linkcode until} waits for: a promise, or a function that starts one. */
export type UntilSource<T> = PromiseLike<T> | ((signal: AbortSignal) => PromiseLike<T>);

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null
    && typeof (value as { then?: unknown }).then === "function";
}

function describe(value: unknown): string {
  return value === null ? "null" : typeof value;
}

/**
 * Waits for a host promise inside a task, and evaluates to its value (or
 * throws its rejection). The calling task suspends; the other tasks of the
 * thread keep running, and so does the host's event loop. Pass a function to
 * let strom stop the host work: it is called at once with an `AbortSignal`
 * that is aborted if the wait is cancelled.
 *
 * Cancel-safe: cancelled while it waits (by `timeout`, `awaitAny`, a
 * `cancel()`), it returns at once, aborts the signal it gave the function,
 * and ignores the promise from then on: a later rejection is handled (never
 * an unhandled rejection) and a later value is dropped.
 *
 * Needs a driver that returns to the host's event loop: `runAsync`, or a
 * runtime worker. Under the blocking `run()` a promise can never settle (the
 * thread never returns to the event loop), so `until` halts there
 * (`until-under-blocking-run`). Throws a `TypeError` if `source` is neither
 * a promise (a thenable) nor a function returning one; a function that
 * throws throws from `until`. Halts outside a task.
 *
 * @example
 * ```ts
 * function* fetchText(url: string): Task<string> {
 *   const response = yield* until((signal) => fetch(url, { signal }));
 *   return yield* until(response.text());
 * }
 * console.log(await runAsync(timeout(5000, fetchText("http://127.0.0.1:8080/"))));
 * ```
 */
export function until<T>(source: UntilSource<T>): Operation<T> {
  // A plain function returning the generator: no extra frame per wait.
  return waitForHost(source, false);
}

/**
 * How many of a scheduler's host waits (`Scheduler.hostWaits`) are
 * background waits: see {@linkcode untilInBackground}.
 */
export interface BackgroundWaits {
  count: number;
}

const backgroundWaits = new WeakMap<Scheduler, BackgroundWaits>();

/** The {@linkcode BackgroundWaits} of `scheduler` (one record for its life). */
export function backgroundWaitsOf(scheduler: Scheduler): BackgroundWaits {
  let record = backgroundWaits.get(scheduler);
  if (record === undefined) {
    record = { count: 0 };
    backgroundWaits.set(scheduler, record);
  }
  return record;
}

/**
 * {@linkcode until} for a promise that settles rarely and may wait a little
 * (up to about a slice, 1 ms) after it settles: a signal, a shutdown. While
 * a thread's only host waits are such background waits, its driver may
 * wait for the kernel on the JS thread for the rest of a slice before it
 * returns to the host loop (see `src/host/host_turns.ts`); a plain `until`
 * makes it return at once, because the task needs the host loop to make
 * progress. Same contract as `until` otherwise.
 */
export function untilInBackground<T>(source: UntilSource<T>): Operation<T> {
  return waitForHost(source, true);
}

function* waitForHost<T>(source: UntilSource<T>, background: boolean): Operation<T> {
  if (typeof source !== "function" && !isThenable(source)) {
    throw new TypeError(
      `until: expected a promise or a function returning one, got ${describe(source)}`,
    );
  }
  const task = currentTask("until");
  const scheduler = task.scheduler;
  if (!scheduler.hostLoop) {
    halt(
      Rule.UntilUnderBlockingRun,
      `task ${task.id} waited for a promise under run(), which never lets the host's event loop run: drive it with \`await runAsync(task)\``,
    );
  }
  let controller: AbortController | null = null;
  let promise: PromiseLike<T>;
  if (typeof source === "function") {
    controller = new AbortController();
    promise = source(controller.signal);
    if (!isThenable(promise)) {
      throw new TypeError(
        `until: the function must return a promise, got ${describe(promise)}`,
      );
    }
  } else {
    promise = source;
  }
  // From here the task waits. The handlers are attached at once, so a
  // rejection is never unhandled, and deliver only while this wait lasts.
  beginWait("until");
  let waiting = true;
  Promise.resolve(promise).then(
    (value) => {
      if (!waiting) return;
      waiting = false;
      scheduler.resumeFromHost(task, false, value);
    },
    (error) => {
      if (!waiting) return;
      waiting = false;
      scheduler.resumeFromHost(task, true, error);
    },
  );
  scheduler.hostWaits++;
  const counted = background ? backgroundWaitsOf(scheduler) : null;
  if (counted !== null) counted.count++;
  try {
    return (yield SUSPEND) as T;
  } finally {
    scheduler.hostWaits--;
    if (counted !== null) counted.count--;
    if (waiting) {
      // Cancelled before the promise settled: stop the host work.
      waiting = false;
      controller?.abort();
    }
  }
}
