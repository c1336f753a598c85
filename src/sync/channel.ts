/**
 * `Channel`: a bounded FIFO queue between the tasks of one thread, the way
 * tasks hand work and results to each other (Go's buffered channel, tokio's
 * mpsc, effection's channel).
 *
 * @module
 */

import { beginWait, currentTask } from "../sched/current.ts";
import { ReadyQueue } from "../sched/ready_queue.ts";
import type { TaskRecord } from "../sched/scheduler.ts";
import { type Operation, SUSPEND } from "../sched/types.ts";

/** Thrown by {@linkcode Channel.send} (and `trySend`) once the channel is closed. */
export class ChannelClosedError extends Error {
  /** Always `"ChannelClosedError"`. */
  override readonly name = "ChannelClosedError";
  /** Creates the error. */
  constructor() {
    super("send on a closed channel");
  }
}

// A task waiting for a value (or for room), linked into its queue so that a
// cancelled wait unlinks itself in O(1) and leaves nothing behind.
class Waiting {
  woken = false;
  prev: Waiting | null = null;
  next: Waiting | null = null;
  constructor(readonly task: TaskRecord) {}
}

// FIFO of waiting tasks: a doubly-linked list through the entries.
class WaitQueue {
  head: Waiting | null = null;
  tail: Waiting | null = null;

  push(entry: Waiting): void {
    entry.prev = this.tail;
    if (this.tail !== null) this.tail.next = entry;
    else this.head = entry;
    this.tail = entry;
  }

  unlink(entry: Waiting): void {
    if (entry.prev !== null) entry.prev.next = entry.next;
    else if (this.head === entry) this.head = entry.next;
    else return; // not in the queue (already woken)
    if (entry.next !== null) entry.next.prev = entry.prev;
    else this.tail = entry.prev;
    entry.prev = entry.next = null;
  }

  /** Wakes the first waiter; false if there is none. */
  wakeNext(): boolean {
    const entry = this.head;
    if (entry === null) return false;
    this.unlink(entry);
    entry.woken = true;
    entry.task.wake();
    return true;
  }
}

/**
 * A bounded FIFO channel between the tasks of one thread. `send` waits while
 * the channel holds `capacity` values; `recv` waits while it is empty.
 * Values are received in the order they were sent; waiting senders and
 * receivers are served in the order they came.
 *
 * Cancel safety: a cancelled `recv` takes no value (a value it was woken for
 * stays in the channel and the next receiver is woken); a cancelled `send`
 * sends nothing. So `awaitAny(ch.recv(), sleep(100))` and
 * `timeout(100, ch.recv())` lose no value.
 *
 * After {@linkcode close}, `send` throws {@linkcode ChannelClosedError};
 * receivers still get the values sent before, then `{ done: true }`.
 *
 * @example
 * ```ts
 * const jobs = new Channel<number>(16);
 * function* producer(): Task<void> {
 *   for (let i = 0; i < 100; i++) yield* jobs.send(i);
 *   jobs.close();
 * }
 * function* consumer(): Task<number> {
 *   let sum = 0;
 *   for (let r = yield* jobs.recv(); !r.done; r = yield* jobs.recv()) sum += r.value;
 *   return sum;
 * }
 * const [, sum] = run(awaitAll(producer(), consumer()));
 * ```
 */
export class Channel<T> {
  readonly #values = new ReadyQueue<T>();
  readonly #receivers = new WaitQueue();
  readonly #senders = new WaitQueue();
  #closed = false;

  /**
   * Creates a channel holding at most `capacity` values (default 1). Throws a
   * `RangeError` unless `capacity` is an integer >= 1.
   */
  constructor(readonly capacity: number = 1) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`channel capacity must be an integer >= 1, got ${capacity}`);
    }
  }

  /** How many values wait in the channel. */
  get length(): number {
    return this.#values.length;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Sends `value`, waiting while the channel is full. Throws
   * {@linkcode ChannelClosedError} if the channel is (or becomes, while
   * waiting) closed. Cancel-safe: cancelled, nothing was sent. Halts outside
   * a task.
   */
  *send(value: T): Operation<void> {
    const task = currentTask("send");
    for (;;) {
      if (this.trySend(value)) return;
      yield* this.#wait(this.#senders, task, "send");
    }
  }

  /**
   * Sends `value` if there is room now: true if sent, false if the channel
   * is full. Throws {@linkcode ChannelClosedError} once closed. Never waits.
   */
  trySend(value: T): boolean {
    if (this.#closed) throw new ChannelClosedError();
    if (this.#values.length >= this.capacity) return false;
    this.#values.push(value);
    this.#receivers.wakeNext();
    return true;
  }

  /**
   * Receives the oldest value, waiting while the channel is empty:
   * `{ done: false, value }`, or `{ done: true }` once the channel is closed
   * and empty. Cancel-safe: cancelled, no value was taken. Halts outside a
   * task.
   */
  *recv(): Operation<IteratorResult<T, undefined>> {
    const task = currentTask("recv");
    for (;;) {
      const r = this.tryRecv();
      if (r !== null) return r;
      yield* this.#wait(this.#receivers, task, "recv");
    }
  }

  /**
   * Receives the oldest value if there is one now: `{ done: false, value }`,
   * `{ done: true }` when closed and empty, or null when open and empty.
   * Never waits.
   */
  tryRecv(): IteratorResult<T, undefined> | null {
    if (this.#values.length > 0) {
      const value = this.#values.shift() as T;
      this.#senders.wakeNext();
      return { done: false, value };
    }
    return this.#closed ? { done: true, value: undefined } : null;
  }

  /**
   * Closes the channel (idempotent): every waiting sender wakes and throws
   * {@linkcode ChannelClosedError}; waiting receivers wake and get
   * `{ done: true }` once the values already sent are taken.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    while (this.#receivers.wakeNext());
    while (this.#senders.wakeNext());
  }

  *#wait(queue: WaitQueue, task: TaskRecord, op: string): Operation<void> {
    beginWait(op);
    const entry = new Waiting(task);
    queue.push(entry);
    let resumed = false;
    try {
      yield SUSPEND;
      resumed = true;
    } finally {
      if (!resumed) {
        // Cancelled. Woken already? Then the value (or room) it was woken
        // for is still there: hand the turn to the next in line.
        if (entry.woken) queue.wakeNext();
        else queue.unlink(entry);
      }
    }
  }
}
