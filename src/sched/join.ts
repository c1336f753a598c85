/**
 * `JoinHandle`: what `spawn` returns, and `join`, the operation that waits
 * for a task's end. The handle is the task's own record (a `TaskRecord`
 * extends it): a spawn allocates no handle object.
 *
 * @module
 */

import type { TaskRecord } from "./scheduler.ts";
import { currentTask } from "./thread.ts";
import { type Operation, SUSPENDED } from "./types.ts";
import { halt, Rule } from "./usage.ts";

/**
 * The handle of a spawned task: join it for its result, or cancel it.
 *
 * Dropping a handle detaches the task: it keeps running until it ends (or
 * until the `run` that drives its thread returns, which cancels it). An error
 * thrown by a task nobody is joining when it fails is reported through the
 * scheduler's `onUnjoinedError` (by default one line with the stack on
 * stderr); a later `join()` still throws it.
 *
 * Made by {@linkcode spawn} only (the handle is the task's record).
 */
export abstract class JoinHandle<T> {
  /** The task's id (unique among the live tasks of its thread). */
  abstract readonly id: number;

  /** Whether the task has ended (returned, thrown or been cancelled). */
  abstract get done(): boolean;

  /**
   * Waits for the task to end: its return value, or throws its error (a
   * `TaskCancelledError` if it was cancelled). Joining a finished task returns
   * at once. Several tasks may join the same task.
   *
   * Cancel-safe: cancelling the joiner leaves the joined task running.
   * Halts outside a task, and when called from another thread's scheduler.
   */
  join(): Operation<T> {
    return new JoinOp(this as unknown as TaskRecord) as unknown as Operation<T>;
  }

  /**
   * Cancels the task: its `finally` blocks run before `cancel` returns (or,
   * if the task is the one calling, as soon as it next suspends). Cancelling
   * an ended task does nothing. Its joiners get a `TaskCancelledError`.
   */
  abstract cancel(): void;
}

/**
 * `join` as the iterator `yield*` drives rather than a generator (one
 * object, no generator frame: spawn + join is the scheduler's hot path),
 * and its own iterator result once done (`yield*` reads only `done` and
 * `value`), so a join allocates one object: four fields, 48 B on Bun (a
 * fifth makes it 64 B: JSC's inline capacity goes 4, 6), so while it waits
 * `value` holds the joining task (callgrind, Bun with concurrent GC and JIT
 * off, spawn + join of 200k tasks: 4,264 -> 3,992 instructions per task
 * against a private field for it). It does what this generator would:
 *
 *     if (!target.done) { register as joiner; try { yield } finally { deregister } }
 *     else if (spendBudget(me)) yield* yieldForBudget("join")
 *     return or throw the target's ending
 */
class JoinOp {
  /** As an iterator result: whether the join is over. */
  done = false;
  /**
   * As an iterator result: the target's return value, once done. Before:
   * the joining task while it waits as a joiner (state 1), else undefined.
   */
  value: unknown = undefined;
  /** Until done: not started, waiting as a joiner, or yielding once for the budget. */
  #state: 0 | 1 | 2 = 0;

  constructor(readonly target: TaskRecord) {}

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<unknown, unknown> {
    const target = this.target;
    if (this.done) {
      this.value = undefined;
      return this;
    }
    if (this.#state === 0) {
      const me = currentTask("join");
      if (me.scheduler !== target.scheduler) {
        halt(Rule.ForeignJoin, `task ${target.id} belongs to another thread's scheduler`);
      }
      if (me === target) halt(Rule.Deadlock, `task ${me.id} joined itself`);
      if (!target.done) {
        me.suspendPending = true; // as beginWait: a wait is registered below
        target.addJoiner(me);
        this.value = me;
        this.#state = 1;
        return SUSPENDED;
      }
      // budget.ts's spendBudget, written out: this module stays a leaf
      // (budget.ts imports the scheduler, whose TaskRecord extends JoinHandle).
      if (--me.scheduler.budget < 0) {
        // Ended already, but this step spent its budget: yield once first.
        me.suspendPending = true; // as beginWait
        me.wake();
        this.#state = 2;
        return SUSPENDED;
      }
    } else if (this.#state === 1) {
      // Woken (normally) by the target's end.
      this.value = undefined;
      target.scheduler.joinerResumed(target);
    } // else resumed after yielding for the budget
    this.done = true;
    this.value = target.joinResult();
    return this;
  }

  return(value?: unknown): IteratorResult<unknown, unknown> {
    if (!this.done && this.#state === 1) this.#leave(this.value as TaskRecord);
    this.done = true;
    this.value = value;
    return this;
  }

  throw(error: unknown): never {
    this.return();
    throw error;
  }

  // Cancelled while waiting: no longer a joiner; if the target's end had
  // already woken this joiner, that end is not seen here.
  #leave(me: TaskRecord): void {
    const target = this.target;
    if (!target.removeJoiner(me) && target.done) target.scheduler.joinerGone(target);
  }
}
