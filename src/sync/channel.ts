/**
 * `Channel`: a bounded FIFO queue between the tasks of one thread, the way
 * tasks hand work and results to each other (Go's buffered channel, tokio's
 * mpsc, effection's channel).
 *
 * @module
 */

import { spendBudget, yieldForBudget } from "../sched/budget.ts";
import { currentTask } from "../sched/current.ts";
import { ReadyQueue } from "../sched/ready_queue.ts";
import type { Operation } from "../sched/types.ts";
import { waitIn, WaitList } from "./wait_list.ts";

/** Thrown by {@linkcode Channel.send} (and `trySend`) once the channel is closed. */
export class ChannelClosedError extends Error {
  /** Always `"ChannelClosedError"`. */
  override readonly name = "ChannelClosedError";
  /** Creates the error. */
  constructor() {
    super("send on a closed channel");
  }
}

// A value handed to a waiting receiver, with its place in the send order (a
// receiver cancelled before it ran gives it back to that place).
interface Handed<T> {
  seq: number;
  value: T;
}

/**
 * A bounded FIFO channel between the tasks of one thread. `send` waits while
 * the channel holds `capacity` values; `recv` waits while it is empty.
 * Values are received in the order they were sent; waiting senders and
 * receivers are served in the order they came.
 *
 * Fairness: what a waiter is woken for is handed to it. A value sent while
 * receivers wait goes to the first of them directly, and room that opens
 * while senders wait is reserved for the first; a task that calls `recv`
 * (`tryRecv`, `send`, `trySend`) meanwhile without waiting cannot take it,
 * so a woken waiter never loses its place. Handed values and reserved room
 * count against `capacity` until their task runs.
 *
 * Cancel safety: a cancelled `recv` takes no value (a value it was handed
 * goes back to the front, to the next receiver if one waits); a cancelled
 * `send` sends nothing (room reserved for it passes to the next sender). So
 * `awaitAny(ch.recv(), sleep(100))` and `timeout(100, ch.recv())` lose no
 * value.
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
  // Values a cancelled receiver gave back, oldest first: received before #values.
  readonly #returned: Handed<T>[] = [];
  readonly #receivers = new WaitList<Handed<T>>();
  readonly #senders = new WaitList<true>();
  // Values handed to woken receivers, and room reserved for woken senders,
  // not yet taken up: both count against the capacity.
  #handed = 0;
  #reserved = 0;
  // Sequence numbers of values sent (only read for values handed over).
  #sent = 0;
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

  /** How many values wait in the channel (including those handed to a woken receiver). */
  get length(): number {
    return this.#values.length + this.#returned.length + this.#handed;
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
    if (spendBudget(currentTask("send"))) yield* yieldForBudget("send");
    for (;;) {
      if (this.trySend(value)) return;
      const entry = yield* waitIn(this.#senders, "send", { giveBack: () => this.#releaseRoom() });
      if (entry.granted) {
        this.#reserved--; // the room reserved for us
        if (this.#closed) throw new ChannelClosedError();
        this.#deliver(value);
        return;
      }
    }
  }

  /**
   * Sends `value` if there is room now: true if sent, false if the channel
   * is full. Throws {@linkcode ChannelClosedError} once closed. Never waits.
   */
  trySend(value: T): boolean {
    if (this.#closed) throw new ChannelClosedError();
    if (this.#occupied() >= this.capacity) return false;
    this.#deliver(value);
    return true;
  }

  /**
   * Receives the oldest value, waiting while the channel is empty:
   * `{ done: false, value }`, or `{ done: true }` once the channel is closed
   * and empty. Cancel-safe: cancelled, no value was taken. Halts outside a
   * task.
   */
  *recv(): Operation<IteratorResult<T, undefined>> {
    if (spendBudget(currentTask("recv"))) yield* yieldForBudget("recv");
    for (;;) {
      const r = this.tryRecv();
      if (r !== null) return r;
      const entry = yield* waitIn(this.#receivers, "recv", { giveBack: (h) => this.#giveBack(h) });
      if (entry.granted) {
        this.#handed--;
        this.#roomOpened();
        return { done: false, value: (entry.grant as Handed<T>).value };
      }
    }
  }

  /**
   * Receives the oldest value if there is one now: `{ done: false, value }`,
   * `{ done: true }` when closed and empty, or null when open and empty (or
   * when every value is handed to a receiver that waited). Never waits.
   */
  tryRecv(): IteratorResult<T, undefined> | null {
    if (this.#returned.length > 0) {
      const { value } = this.#returned.shift() as Handed<T>;
      this.#roomOpened();
      return { done: false, value };
    }
    if (this.#values.length > 0) {
      const value = this.#values.shift() as T;
      this.#roomOpened();
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
    this.#receivers.releaseAll();
    this.#senders.releaseAll();
  }

  #occupied(): number {
    return this.#values.length + this.#returned.length + this.#handed + this.#reserved;
  }

  // A value enters the channel: to the first waiting receiver, else the buffer.
  #deliver(value: T): void {
    const seq = this.#sent++;
    if (this.#receivers.head !== null) {
      this.#handed++;
      this.#receivers.grantNext({ seq, value });
    } else {
      this.#values.push(value);
    }
  }

  // A receiver cancelled after it was handed `h`: to the next receiver, else
  // back to its place before the values sent after it.
  #giveBack(h: Handed<T>): void {
    if (this.#receivers.head !== null) {
      this.#receivers.grantNext(h); // still in flight
      return;
    }
    this.#handed--;
    let i = this.#returned.length;
    while (i > 0 && this.#returned[i - 1]!.seq > h.seq) i--;
    this.#returned.splice(i, 0, h);
  }

  // A value left: reserve the room for the first waiting sender.
  #roomOpened(): void {
    if (this.#senders.head !== null && this.#occupied() < this.capacity) {
      this.#reserved++;
      this.#senders.grantNext(true);
    }
  }

  // A sender cancelled (or refused by close) after room was reserved for it.
  #releaseRoom(): void {
    this.#reserved--;
    this.#roomOpened();
  }
}
