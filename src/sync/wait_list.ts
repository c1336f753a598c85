/**
 * The FIFO of tasks waiting on a synchronization primitive (a channel's
 * receivers or senders, a semaphore's acquirers, a notify's waiters), and
 * the one suspension they all share.
 *
 * A waiter is woken in one of two ways: **granted** something (a value, a
 * permit, room) that is now its own and that nobody else can take before it
 * runs; or **released** with nothing (the primitive closed, notifyAll). A
 * grant is what makes the primitives fair: what a waiter was woken for is
 * handed to it directly, so a task that calls in without waiting cannot take
 * it first. A waiter cancelled after a grant gives the grant back (the
 * primitive decides to whom), so cancellation loses nothing.
 *
 * @module
 */

import { beginWait } from "../sched/current.ts";
import type { TaskRecord } from "../sched/scheduler.ts";
import { type Operation, type Suspend, SUSPENDED } from "../sched/types.ts";

// Waiter's bits: the state of the wait (two bits), then its booleans.
const STATE = 0b11;
const NOT_STARTED = 0;
const WAITING = 1; // queued and suspended
const OVER = 2; // resumed, cancelled or thrown into
const GRANTED = 1 << 2;
const RELEASED = 1 << 3;
const LINKED = 1 << 4;

/**
 * One waiting task, linked into its list so that a cancelled wait unlinks
 * itself in O(1). It is also the wait itself: the iterator {@linkcode waitIn}
 * returns, hand-written rather than a generator (one object per wait, and
 * a cancellation is a method call, not a generator resumed to run its
 * `finally`).
 */
export class Waiter<G> {
  /** What was granted (a value, or a count of permits). */
  grant: G | undefined = undefined;
  /** Permits collected so far while still waiting (a semaphore's head waiter). */
  partial = 0;
  /** The neighbours in its list (not `next`: that is the iterator's). */
  before: Waiter<G> | null = null;
  after: Waiter<G> | null = null;
  /** The waiting task (set when the wait starts). */
  task: TaskRecord = null as unknown as TaskRecord;
  // The wait's state (the low two bits) and the booleans below, in one
  // number: a waiting task keeps this entry, so it is kept small.
  #bits = NOT_STARTED;

  /** Handed a grant: `grant` is its own. */
  get granted(): boolean {
    return (this.#bits & GRANTED) !== 0;
  }
  set granted(yes: boolean) {
    this.#bits = yes ? this.#bits | GRANTED : this.#bits & ~GRANTED;
  }

  /** Woken without a grant (closed, notifyAll). */
  get released(): boolean {
    return (this.#bits & RELEASED) !== 0;
  }
  set released(yes: boolean) {
    this.#bits = yes ? this.#bits | RELEASED : this.#bits & ~RELEASED;
  }

  /** Whether it is linked into a list. */
  get linked(): boolean {
    return (this.#bits & LINKED) !== 0;
  }
  set linked(yes: boolean) {
    this.#bits = yes ? this.#bits | LINKED : this.#bits & ~LINKED;
  }

  constructor(
    readonly list: WaitList<G>,
    readonly op: string,
    readonly hooks: WaitHooks<G>,
    /** What it asks for (e.g. a number of permits). */ readonly want = 1,
  ) {}

  [Symbol.iterator](): this {
    return this;
  }

  /**
   * The wait as `yield*` drives it: the first call queues the task and
   * suspends it; the call that resumes it returns this entry (read
   * `granted`/`grant`).
   */
  next(): IteratorResult<Suspend, Waiter<G>> {
    const state = this.#bits & STATE;
    if (state === NOT_STARTED) {
      this.task = beginWait(this.op);
      this.#bits |= WAITING;
      this.list.push(this);
      this.hooks.queued?.(this);
      return SUSPENDED;
    }
    if (state === WAITING) {
      this.#bits = (this.#bits & ~STATE) | OVER;
      return { value: this, done: true };
    }
    return { value: undefined as unknown as Waiter<G>, done: true };
  }

  /** Cancelled (or ended by hand): leaves the wait, as a `finally` would. */
  return(value?: unknown): IteratorResult<Suspend, Waiter<G>> {
    this.#leave();
    return { value: value as Waiter<G>, done: true };
  }

  /** An error thrown into the wait: leaves it, then throws the error on. */
  throw(error: unknown): never {
    this.#leave();
    throw error;
  }

  // What the generator's `finally` did: an entry still waiting unlinks
  // itself; one that was granted gives the grant back.
  #leave(): void {
    const waiting = (this.#bits & STATE) === WAITING;
    this.#bits = (this.#bits & ~STATE) | OVER;
    if (!waiting) return;
    if (this.granted) {
      this.granted = false;
      this.hooks.giveBack?.(this.grant as G);
    } else {
      this.list.unlink(this);
      this.hooks.unlinked?.(this);
    }
  }
}

/** A FIFO of waiters: a doubly-linked list through the entries. */
export class WaitList<G> {
  head: Waiter<G> | null = null;
  tail: Waiter<G> | null = null;
  length = 0;

  /** Appends `entry` at the back. */
  push(entry: Waiter<G>): void {
    entry.before = this.tail;
    entry.after = null;
    if (this.tail !== null) this.tail.after = entry;
    else this.head = entry;
    this.tail = entry;
    entry.linked = true;
    this.length++;
  }

  /** Removes `entry` (a no-op if it is not linked). */
  unlink(entry: Waiter<G>): void {
    if (!entry.linked) return;
    if (entry.before !== null) entry.before.after = entry.after;
    else this.head = entry.after;
    if (entry.after !== null) entry.after.before = entry.before;
    else this.tail = entry.before;
    entry.before = entry.after = null;
    entry.linked = false;
    this.length--;
  }

  /** Unlinks the first waiter, hands it `grant` and wakes it; false if none waits. */
  grantNext(grant: G): boolean {
    const entry = this.head;
    if (entry === null) return false;
    this.grantTo(entry, grant);
    return true;
  }

  /** Unlinks `entry`, hands it `grant` and wakes it. */
  grantTo(entry: Waiter<G>, grant: G): void {
    this.unlink(entry);
    entry.granted = true;
    entry.grant = grant;
    entry.task.wake();
  }

  /** Unlinks the first waiter and wakes it with nothing; false if none waits. */
  releaseNext(): boolean {
    const entry = this.head;
    if (entry === null) return false;
    this.unlink(entry);
    entry.released = true;
    entry.task.wake();
    return true;
  }

  /** Wakes every waiter with nothing. */
  releaseAll(): void {
    while (this.releaseNext());
  }
}

/** What a primitive does at the edges of a wait (see {@linkcode waitIn}). */
export interface WaitHooks<G> {
  /** A waiter cancelled after it was granted gives the grant back (must not wait). */
  giveBack?: (grant: G) => void;
  /** Right after the waiter is queued, before it suspends. */
  queued?: (entry: Waiter<G>) => void;
  /** A waiter cancelled while still waiting was unlinked. */
  unlinked?: (entry: Waiter<G>) => void;
}

// The hooks of a wait that has none: shared, not a new object per wait.
const NO_HOOKS: WaitHooks<unknown> = Object.freeze({});

/**
 * Suspends the calling task in `list` until it is granted or released, and
 * returns its entry (read `granted`/`grant`). `want` is what it asks for (a
 * semaphore's permits). Cancelled: an entry still waiting unlinks itself
 * (then `hooks.unlinked`); one that was granted calls `hooks.giveBack` with
 * its grant (it runs in a `finally` during cancellation: it must not wait).
 * Halts outside a task.
 */
export function waitIn<G>(
  list: WaitList<G>,
  op: string,
  hooks: WaitHooks<G> = NO_HOOKS as WaitHooks<G>,
  want = 1,
): Operation<Waiter<G>> {
  return new Waiter<G>(list, op, hooks, want) as unknown as Operation<Waiter<G>>;
}
