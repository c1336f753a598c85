/**
 * `timeout`: a task's result, or a typed time-out with the task cancelled.
 *
 * @module
 */

import { awaitAny } from "../sched/await_all.ts";
import type { Operation, Task } from "../sched/types.ts";
import { sleep } from "./sleep.ts";

/** Thrown by {@linkcode timeout} when the time ran out first. */
export class TimeoutError extends Error {
  /** Always `"TimeoutError"`. */
  override readonly name = "TimeoutError";
  /** The time limit that ran out, in ms. */
  readonly ms: number;

  /** Creates the error for a time limit of `ms` milliseconds. */
  constructor(ms: number) {
    super(`timed out after ${ms} ms`);
    this.ms = ms;
  }
}

/**
 * Runs `task` inside the calling task for at most `ms` milliseconds: its
 * result if it finishes in time, else the task is cancelled (its `finally`
 * blocks run) and {@linkcode TimeoutError} is thrown. The task's own error
 * passes through unchanged.
 *
 * Throws a `RangeError` for a negative or NaN `ms`. Halts outside a task.
 *
 * @example
 * ```ts
 * const n = yield* timeout(500, conn.read(buf));
 * ```
 */
export function* timeout<T>(ms: number, task: Task<T>): Operation<T> {
  if (!(ms >= 0)) throw new RangeError(`timeout: ms must be a number >= 0, got ${ms}`);
  const winner = yield* awaitAny<T | typeof TIMED_OUT>([task, expire(ms)]);
  if (winner.index === 1) throw new TimeoutError(ms);
  return winner.value as T;
}

const TIMED_OUT: unique symbol = Symbol("timed out");

function* expire(ms: number): Operation<typeof TIMED_OUT> {
  yield* sleep(ms);
  return TIMED_OUT;
}
