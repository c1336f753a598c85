/**
 * A group of child tasks run concurrently for one parent: the engine of
 * `awaitAll` and `awaitAny`.
 *
 * @module
 */

import { currentTask } from "./current.ts";
import { checkTask, type ChildObserver, Ending, type TaskRecord } from "./scheduler.ts";
import { type Suspend, SUSPENDED, type Task } from "./types.ts";

/**
 * One group: the operation `yield*` drives in the parent, and the observer
 * its children tell when they end. Not a generator: `awaitAll` of two
 * children used to make two generator frames (its own and the group's), two
 * closures and their context, and this object's predecessor, per call.
 *
 * It does what this generator would:
 *
 *     check the tasks and the room (bad input and overload take nothing:
 *       the caller may offer the same generators again); spawn each child
 *     try { yield (woken by the child that decides) ; return outcome }
 *     finally { if undecided (the parent is cancelled): cancel the children }
 *
 * A child that fails decides the group: the parent is resumed with its
 * error, which `throw` passes on. Subclasses say how a child's return
 * settles the group and what it then returns.
 */
export abstract class GroupOp<R> implements ChildObserver {
  /** The tasks until started; then the children's records. */
  #children: readonly (Task<unknown> | TaskRecord)[];
  #parent: TaskRecord | null = null;
  /** Children not ended yet: when it reaches 0 there is nothing to cancel. */
  #running = 0;
  /** Not started, running its children, or over. */
  #state: 0 | 1 | 2 = 0;
  #decided = false;

  constructor(tasks: readonly Task<unknown>[]) {
    this.#children = tasks;
  }

  /** The operation's name, for messages. */
  protected abstract get op(): string;

  /** The result of an empty group (or throws). */
  protected abstract empty(): R;

  /** Told of each child that returned (not failed): true once the group is settled. */
  protected abstract settle(child: TaskRecord, index: number): boolean;

  /** What the group returns once settled. */
  protected abstract outcome(): R;

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<Suspend, R> {
    if (this.#state === 1) {
      // Resumed by the child that settled the group.
      this.#state = 2;
      return { value: this.outcome(), done: true };
    }
    if (this.#state === 2) return { value: undefined as R, done: true };
    this.#state = 2; // a throw below leaves it over
    const parent = currentTask(this.op);
    const tasks = this.#children as readonly Task<unknown>[];
    if (tasks.length === 0) return { value: this.empty(), done: true };
    const scheduler = parent.scheduler;
    for (const task of tasks) checkTask(task);
    scheduler.checkRoom(tasks.length);
    const children: TaskRecord[] = new Array(tasks.length);
    this.#children = children;
    this.#parent = parent;
    try {
      for (let i = 0; i < tasks.length; i++) {
        const child = scheduler.spawn(tasks[i]!, false);
        child.group = this;
        child.slot = i;
        children[i] = child;
        this.#running++;
      }
    } catch (error) {
      // Not expected after the checks above (a halt ends the process first).
      this.#decide();
      throw error;
    }
    this.#state = 1;
    parent.suspendPending = true; // as beginWait: the children will wake it
    return SUSPENDED;
  }

  return(value?: unknown): IteratorResult<Suspend, R> {
    // The parent is cancelled (or its time-out closes the group): its
    // children end first.
    if (this.#state === 1) this.#decide();
    this.#state = 2;
    return { value: value as R, done: true };
  }

  throw(error: unknown): never {
    // The error of the child that decided the group (or one thrown into the
    // parent some other way: the children end first then too).
    if (this.#state === 1) this.#decide();
    this.#state = 2;
    throw error;
  }

  /** {@linkcode ChildObserver}: a child has ended. */
  childDone(child: TaskRecord): void {
    this.#running--;
    if (this.#decided) {
      // Cancelled after the group was decided, and its finally threw: nobody
      // will see that error through the group, so it is reported.
      if (child.ending === Ending.Threw) child.scheduler.onUnjoinedError(child.result, child.id);
      return;
    }
    const failed = child.ending !== Ending.Returned;
    if (!failed && !this.settle(child, child.slot)) return;
    this.#decide();
    const parent = this.#parent!;
    parent.scheduler.resume(parent, failed, failed ? child.result : undefined);
  }

  // Decided: the children still running are cancelled (their finally blocks
  // run now). Once only.
  #decide(): void {
    if (this.#decided) return;
    this.#decided = true;
    if (this.#running === 0) return;
    const scheduler = this.#parent!.scheduler;
    for (const child of this.#children as (TaskRecord | undefined)[]) {
      if (child !== undefined && !child.done) scheduler.cancel(child);
    }
  }
}
