/**
 * `timeout`: a task's result, or a typed time-out with the task cancelled.
 *
 * @module
 */

import type { Waiter } from "../io/reactor.ts";
import { currentTask } from "../sched/current.ts";
import type { Expiry, TaskRecord } from "../sched/scheduler.ts";
import type { HeapEntry } from "../sched/timer_heap.ts";
import type { Operation, Suspend, Task } from "../sched/types.ts";
import { halt, Rule } from "../sched/usage.ts";
import { checkDurationMs } from "./duration.ts";

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

const REARM_MS = 0.001;

// What `yield*` gets back when a TimeoutOp has nothing left to run.
function ended<T>(value: T): IteratorResult<Suspend, T> {
  return { value, done: true };
}

/**
 * One `timeout(ms, op)` call, written as the iterator `yield*` drives
 * rather than a generator: it forwards `next`/`throw`/`return` to `op` (a
 * hand-written `yield*`), and it is also the call's timer (a heap entry: no
 * Timer object) and its {@linkcode Expiry}. One object per call, no child
 * task, no group, no generator.
 *
 * When the timer fires while the task waits, the scheduler queues the task
 * (see `Scheduler.unwind`); at its step, {@linkcode close} ends `op` with
 * `return()` at its suspension point (its `finally` blocks run, innermost
 * first, its `catch` blocks do not: a cancellation), then this object is
 * thrown into the task. It travels down the `yield*` chain (every frame
 * above is delegating, so none of their `catch` blocks sees it) to this
 * iterator's `throw`, which turns it into `TimeoutError`: to every frame
 * above, `yield* timeout(...)` threw. If the task was already woken in the
 * same turn, the timer fires again at the next look at the timers (the
 * operation may still finish first).
 */
class TimeoutOp<T> implements HeapEntry<Waiter>, Expiry {
  heapIndex = -1;
  /** 0: not started; 1: running `op`; 2: ended. */
  #state = 0;
  #task: TaskRecord | null = null;
  #op: Task<T> | null = null;

  constructor(readonly ms: number, readonly given: Task<T>) {}

  [Symbol.iterator](): this {
    return this;
  }

  next(value?: unknown): IteratorResult<Suspend, T> {
    if (this.#state === 1) return this.#forward(this.#op!, value);
    if (this.#state === 2) return ended(undefined as T);
    // First step: what the generator's body did before its `yield*`.
    this.#state = 2; // a throw below leaves it ended
    const ms = checkDurationMs("timeout: ms", this.ms);
    const task = currentTask("timeout");
    const given = this.given as unknown;
    if (
      given === null || typeof given !== "object"
      || typeof (given as Iterable<unknown>)[Symbol.iterator] !== "function"
    ) {
      throw new TypeError(`timeout: expected a task (the generator a function* returns)`);
    }
    const op = (given as Task<T>)[Symbol.iterator]() as Task<T>;
    this.#op = op;
    this.#task = task;
    this.#state = 1;
    if (ms !== Infinity) {
      const scheduler = task.scheduler;
      scheduler.timers.add(scheduler.now() + ms, this);
    }
    return this.#forward(op, undefined);
  }

  throw(error: unknown): IteratorResult<Suspend, T> {
    if (this.#state !== 1) {
      this.#state = 2;
      throw error;
    }
    if (error === this) {
      // Our time-out, thrown into the task after close() ended `op`.
      this.#end();
      throw new TimeoutError(this.ms);
    }
    let r: IteratorResult<Suspend, T>;
    try {
      r = this.#op!.throw(error);
    } catch (thrown) {
      this.#end();
      throw thrown;
    }
    if (r.done) this.#end();
    return r;
  }

  return(value?: unknown): IteratorResult<Suspend, T> {
    if (this.#state !== 1) {
      this.#state = 2;
      return ended(value as T);
    }
    let r: IteratorResult<Suspend, T>;
    try {
      r = this.#op!.return(value as T);
    } catch (thrown) {
      this.#end();
      throw thrown;
    }
    // Not done: a finally block of `op` waits; the scheduler halts
    // (wait-during-cancel) as it sees the task suspend while cancelled.
    if (r.done) this.#end();
    return r;
  }

  #forward(op: Task<T>, value: unknown): IteratorResult<Suspend, T> {
    let r: IteratorResult<Suspend, T>;
    try {
      r = op.next(value);
    } catch (thrown) {
      this.#end();
      throw thrown;
    }
    if (r.done) this.#end();
    return r;
  }

  // `op` is over: the timer goes (a no-op once it fired).
  #end(): void {
    this.#state = 2;
    this.#task!.scheduler.timers.cancel(this);
  }

  /** As a timer: what it wakes, itself. */
  get owner(): Waiter {
    return this;
  }

  /** The timer fired (the scheduler calls it as the timer's owner). */
  wake(): void {
    const task = this.#task!;
    const scheduler = task.scheduler;
    if (!scheduler.unwind(task, this)) {
      // Due again just after this firing pass (which fires what is due at
      // its one clock reading), so at the next look at the timers.
      scheduler.timers.add(scheduler.now() + REARM_MS, this);
    }
  }

  /** Ends the timed operation: `return()` where it waits. */
  close(): void {
    const task = this.#task!;
    let r: IteratorResult<unknown, unknown>;
    try {
      r = this.#op!.return(undefined as T);
    } catch (error) {
      // A finally block of the timed-out operation threw: nobody else sees
      // that error (the caller gets TimeoutError), so it is reported.
      task.scheduler.onUnjoinedError(error, task.id);
      return;
    }
    if (!r.done) {
      halt(Rule.WaitDuringCancel, `task ${task.id} waited in a finally block while timing out`);
    }
  }
}

/**
 * Runs `task` inside the calling task for at most `ms` milliseconds: its
 * result if it finishes in time, else the task is cancelled (its `finally`
 * blocks run, its `catch` blocks do not) and {@linkcode TimeoutError} is
 * thrown. The task's own error passes through unchanged. `task` runs in the
 * calling task itself (no task is spawned): a time-out costs one small
 * object and one timer. Time-outs nest: the one that runs out first throws,
 * from its own frame.
 *
 * If a `finally` block of the timed-out task throws, that error is reported
 * like an unjoined task's (`onUnjoinedError`) and `TimeoutError` is thrown;
 * a `finally` block must not wait (it halts, `wait-during-cancel`).
 *
 * Throws a `TypeError` if `ms` is not a number and a `RangeError` for a
 * negative or NaN `ms`. Halts outside a task.
 *
 * @example
 * ```ts
 * const n = yield* timeout(500, conn.read(buf));
 * ```
 */
export function timeout<T>(ms: number, task: Task<T>): Operation<T> {
  return new TimeoutOp<T>(ms, task) as unknown as Operation<T>;
}
