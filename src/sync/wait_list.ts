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
import { type Operation, SUSPEND } from "../sched/types.ts";

/** One waiting task, linked into its list so that a cancelled wait unlinks itself in O(1). */
export class Waiter<G> {
  /** Handed a grant: `grant` is its own. */
  granted = false;
  /** Woken without a grant (closed, notifyAll). */
  released = false;
  /** What was granted (a value, or a count of permits). */
  grant: G | undefined = undefined;
  /** Permits collected so far while still waiting (a semaphore's head waiter). */
  partial = 0;
  prev: Waiter<G> | null = null;
  next: Waiter<G> | null = null;
  /** Whether it is linked into a list. */
  linked = false;

  constructor(
    readonly task: TaskRecord,
    /** What it asks for (e.g. a number of permits). */ readonly want = 1,
  ) {}
}

/** A FIFO of waiters: a doubly-linked list through the entries. */
export class WaitList<G> {
  head: Waiter<G> | null = null;
  tail: Waiter<G> | null = null;
  length = 0;

  /** Appends `entry` at the back. */
  push(entry: Waiter<G>): void {
    entry.prev = this.tail;
    entry.next = null;
    if (this.tail !== null) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
    entry.linked = true;
    this.length++;
  }

  /** Removes `entry` (a no-op if it is not linked). */
  unlink(entry: Waiter<G>): void {
    if (!entry.linked) return;
    if (entry.prev !== null) entry.prev.next = entry.next;
    else this.head = entry.next;
    if (entry.next !== null) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = null;
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
export function* waitIn<G>(
  list: WaitList<G>,
  op: string,
  hooks: WaitHooks<G> = NO_HOOKS as WaitHooks<G>,
  want = 1,
): Operation<Waiter<G>> {
  const task = beginWait(op);
  const entry = new Waiter<G>(task, want);
  list.push(entry);
  hooks.queued?.(entry);
  let resumed = false;
  try {
    yield SUSPEND;
    resumed = true;
    return entry;
  } finally {
    if (!resumed) {
      if (entry.granted) {
        entry.granted = false;
        hooks.giveBack?.(entry.grant as G);
      } else {
        list.unlink(entry);
        hooks.unlinked?.(entry);
      }
    }
  }
}
