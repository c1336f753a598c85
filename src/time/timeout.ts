/**
 * `timeout`: a task's result, or a typed time-out with the task cancelled.
 *
 * @module
 */

import type { Waiter } from "../io/reactor.ts";
import { currentTask } from "../sched/current.ts";
import type { Expiry, TaskRecord } from "../sched/scheduler.ts";
import type { HeapEntry } from "../sched/timer_heap.ts";
import type { Operation, Task } from "../sched/types.ts";
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

/**
 * The timer of one `timeout` call, owned by the calling task (no child task,
 * no group), and itself the heap entry (no Timer object per call). When it
 * fires while the task waits, the scheduler queues the task (see
 * `Scheduler.unwind`); at its step, {@linkcode close} ends the timed
 * operation with `return()` at its suspension point (its `finally` blocks
 * run, innermost first, its `catch` blocks do not: a cancellation), then
 * the guard is thrown into the task. It travels down the `yield*` chain
 * (every frame above the `timeout` frame is delegating, so none of their
 * `catch` blocks sees it) to the `timeout` frame, whose operation is over,
 * so it comes straight back there and becomes `TimeoutError`: to every
 * frame above, `yield* timeout(...)` threw.
 *
 * If the task was already woken in the same turn, the guard fires again at
 * the next look at the timers (the operation may still finish first).
 */
class TimeoutGuard implements HeapEntry<Waiter>, Expiry {
  heapIndex = -1;

  constructor(readonly task: TaskRecord, readonly op: Task<unknown>, deadline: number) {
    task.scheduler.timers.add(deadline, this);
  }

  /** As a timer: what it wakes, itself. */
  get owner(): Waiter {
    return this;
  }

  /** The timer fired (the scheduler calls it as the timer's owner). */
  wake(): void {
    const scheduler = this.task.scheduler;
    if (!scheduler.unwind(this.task, this)) {
      // Due again just after this firing pass (which fires what is due at
      // its one clock reading), so at the next look at the timers.
      scheduler.timers.add(scheduler.now() + REARM_MS, this);
    }
  }

  /** Ends the timed operation: `return()` where it waits. */
  close(): void {
    const task = this.task;
    let r: IteratorResult<unknown, unknown>;
    try {
      r = this.op.return(undefined);
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
 * calling task itself (no task is spawned): a time-out costs one timer.
 * Time-outs nest: the one that runs out first throws, from its own frame.
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
export function* timeout<T>(ms: number, task: Task<T>): Operation<T> {
  checkDurationMs("timeout: ms", ms);
  const me = currentTask("timeout");
  if (ms === Infinity) return yield* task;
  const scheduler = me.scheduler;
  const guard = new TimeoutGuard(me, task, scheduler.now() + ms);
  try {
    return yield* task;
  } catch (error) {
    if (error === guard) throw new TimeoutError(ms);
    throw error;
  } finally {
    scheduler.timers.cancel(guard);
  }
}
