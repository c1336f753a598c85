/**
 * `TaskSet`: many tasks owned by one task, joined in the order they finish
 * (tokio's `JoinSet`, effection's scope).
 *
 * @module
 */

import { spendBudget, yieldForBudget } from "../sched/budget.ts";
import { currentTask } from "../sched/current.ts";
import { ReadyQueue } from "../sched/ready_queue.ts";
import { type ChildObserver, Ending, type Scheduler, type TaskRecord } from "../sched/scheduler.ts";
import type { Operation, Task } from "../sched/types.ts";
import { waitIn, WaitList } from "./wait_list.ts";

/**
 * A set of tasks owned by the task that created it. {@linkcode spawn} starts
 * a task in the set (it runs on its own, on this thread, like `spawn`);
 * {@linkcode joinNext} waits for the next one to finish, **in the order they
 * finish**, not the order they started.
 *
 * Ownership: when the owner ends (returns, throws or is cancelled), every
 * task still in the set is cancelled (their `finally` blocks run). So is it
 * when the set is disposed: `using set = new TaskSet<T>()` cancels the rest
 * where the block ends, or call {@linkcode close}.
 *
 * Errors are never lost. `joinNext` **throws** the error of a task that
 * threw (a `TaskCancelledError` for one cancelled from outside), like
 * `JoinHandle.join`; the set stays usable, so catch it to go on with the
 * others. A task that fails is not reported while the set holds its error
 * for a `joinNext`; if the set is closed (or its owner ends, or
 * {@linkcode cancelAll} is called) before anyone joined it, the error is
 * reported like an unjoined spawned task's (one line on stderr, the
 * scheduler's `onUnjoinedError`). One task's failure does not cancel the
 * others.
 *
 * Cancel safety: a cancelled `joinNext` takes nothing: the result it was
 * handed goes to the next `joinNext`.
 *
 * A set belongs to its owner's thread. `new TaskSet()` halts outside a task.
 *
 * @example
 * ```ts
 * function* fetchAll(urls: string[]): Task<number> {
 *   using set = new TaskSet<string>();
 *   for (const url of urls) set.spawn(fetchOne(url));
 *   let n = 0;
 *   for (let r = yield* set.joinNext(); !r.done; r = yield* set.joinNext()) {
 *     console.log("finished:", r.value);
 *     n++;
 *   }
 *   return n;
 * }
 * ```
 */
export class TaskSet<T> {
  readonly #owner: TaskRecord;
  readonly #scheduler: Scheduler;
  // The running tasks; each one's `groupIndex` is its place here (the set is
  // its group), so removal is a swap with the last: no hashing per task.
  readonly #running: TaskRecord[] = [];
  readonly #finished = new ReadyQueue<TaskRecord>();
  // Results a cancelled joinNext gave back: joined before #finished.
  readonly #returned: TaskRecord[] = [];
  readonly #joiners = new WaitList<TaskRecord>();
  // One observer for all the set's tasks (told by the scheduler when one ends).
  readonly #observer: ChildObserver = { childDone: (task) => this.#childDone(task) };
  readonly #ownerEnded = () => this.#discard(true);
  #discarding = false;
  #closed = false;

  /** Creates an empty set owned by the calling task. Halts outside a task. */
  constructor() {
    this.#owner = currentTask("new TaskSet");
    this.#scheduler = this.#owner.scheduler;
    (this.#owner.endHooks ??= new Set()).add(this.#ownerEnded);
  }

  /** Tasks in the set: running, or finished and not joined yet. */
  get size(): number {
    return this.#running.length + this.#finished.length + this.#returned.length;
  }

  /** Whether the set was closed (or its owner ended). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Starts `task` in the set (it first runs at the scheduler's next turn)
   * and returns its task id. Throws `TaskLimitError` at the thread's task
   * limit, a `TypeError` if `task` is not a generator, and an `Error` once
   * the set is closed (nothing is started). Halts if the generator was given
   * to strom before.
   */
  spawn(task: Task<T>): number {
    if (this.#closed) {
      throw new Error("TaskSet.spawn: the set is closed (its owner ended or close() was called)");
    }
    const record = this.#scheduler.spawn(task, false);
    record.group = this.#observer;
    record.groupIndex = this.#running.length;
    this.#running.push(record);
    return record.id;
  }

  /**
   * Waits for the next task of the set to finish and returns
   * `{ done: false, value }` with its result, or throws its error. Returns
   * `{ done: true }` when the set is empty (nothing running, nothing to
   * join). Several tasks may wait in `joinNext` at once: each finished task
   * goes to one of them, in the order they came.
   *
   * Cancel-safe: cancelled, it took no result. Halts outside a task.
   */
  *joinNext(): Operation<IteratorResult<T, undefined>> {
    if (spendBudget(currentTask("joinNext"))) yield* yieldForBudget("joinNext");
    for (;;) {
      const r = this.tryJoinNext();
      if (r !== null) return r;
      const entry = yield* waitIn(this.#joiners, "joinNext", {
        giveBack: (task) => this.#giveBack(task),
      });
      if (entry.granted) return outcome(entry.grant as TaskRecord);
    }
  }

  /**
   * Like {@linkcode joinNext} without waiting: the next finished task's
   * result (or throws its error), `{ done: true }` when the set is empty, or
   * null while tasks run and none has finished.
   */
  tryJoinNext(): IteratorResult<T, undefined> | null {
    const task = this.#returned.length > 0 ? this.#returned.shift() : this.#finished.shift();
    if (task !== undefined) return outcome(task);
    return this.#running.length === 0 ? { done: true, value: undefined } : null;
  }

  /**
   * Cancels every task in the set (their `finally` blocks run before this
   * returns; a task calling it on its own set is cancelled when it next
   * waits) and forgets the results not joined yet, reporting the errors
   * among them. The set stays usable; waiting `joinNext` calls return
   * `{ done: true }`.
   */
  cancelAll(): void {
    this.#discard(false);
  }

  /**
   * Closes the set: {@linkcode cancelAll}, and no more `spawn`. Idempotent.
   * Called by `using` at the end of the block, and when the owner ends.
   */
  close(): void {
    if (this.#closed) return;
    this.#owner.endHooks?.delete(this.#ownerEnded);
    this.#discard(true);
  }

  /** {@linkcode close}: so that `using set = new TaskSet()` cancels the rest at the block's end. */
  [Symbol.dispose](): void {
    this.close();
  }

  #childDone(task: TaskRecord): void {
    const last = this.#running.pop() as TaskRecord;
    if (last !== task) {
      this.#running[task.groupIndex] = last;
      last.groupIndex = task.groupIndex;
    }
    if (this.#discarding || this.#closed) {
      this.#report(task);
      return;
    }
    if (!this.#joiners.grantNext(task)) this.#finished.push(task);
    if (this.#running.length === 0) this.#joiners.releaseAll(); // nothing more will come
  }

  // A joinNext cancelled after it was handed `task`.
  #giveBack(task: TaskRecord): void {
    if (this.#closed) this.#report(task);
    else if (!this.#joiners.grantNext(task)) this.#returned.push(task);
  }

  #discard(close: boolean): void {
    if (close) this.#closed = true;
    this.#discarding = true;
    try {
      for (const task of [...this.#running]) this.#scheduler.cancel(task);
    } finally {
      this.#discarding = false;
    }
    for (const task of this.#returned) this.#report(task);
    this.#returned.length = 0;
    for (let t = this.#finished.shift(); t !== undefined; t = this.#finished.shift()) {
      this.#report(t);
    }
    this.#joiners.releaseAll();
  }

  // Nobody will join `task`: its error, if it threw, is reported.
  #report(task: TaskRecord): void {
    if (task.ending === Ending.Threw) this.#scheduler.onUnjoinedError(task.result, task.id);
  }
}

function outcome<T>(task: TaskRecord): IteratorResult<T, undefined> {
  if (task.ending !== Ending.Returned) throw task.result;
  return { done: false, value: task.result as T };
}
