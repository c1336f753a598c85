/**
 * `Channel`: a bounded FIFO queue between the tasks of one thread, the way
 * tasks hand work and results to each other (Go's buffered channel, tokio's
 * mpsc, effection's channel).
 *
 * @module
 */

import { spendBudget, yieldForBudget } from "../sched/budget.ts";
import { beginWait, currentTask } from "../sched/current.ts";
import { ReadyQueue } from "../sched/ready_queue.ts";
import { type Operation, SUSPEND } from "../sched/types.ts";
import { type Waiter, type WaitHooks, waitIn, WaitList } from "./wait_list.ts";

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

// Channel's recv step, set by its static block (a private method is
// reachable only from inside the class body).
let recvStep: <T>(
  channel: Channel<T>,
  op: RecvOp<T>,
  entry: Waiter<Handed<T>> | null,
) => IteratorResult<unknown, unknown>;

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
  // The hooks of a waiting recv and send: made once per channel, not per
  // wait (an object and a closure per waiting task otherwise).
  readonly #recvHooks: WaitHooks<Handed<T>> = { giveBack: (h) => this.#giveBack(h) };
  readonly #sendHooks: WaitHooks<true> = { giveBack: () => this.#releaseRoom() };

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
      const entry = yield* waitIn(this.#senders, "send", this.#sendHooks);
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
  recv(): Operation<IteratorResult<T, undefined>> {
    return new RecvOp(this) as unknown as Operation<IteratorResult<T, undefined>>;
  }

  // One step of a recv (see RecvOp): `entry` is the wait it resumed from,
  // if any. Takes what that wait was granted, else a value now, else waits
  // again (a released waiter, or one whose value went back, tries anew).
  #recvStep(op: RecvOp<T>, entry: Waiter<Handed<T>> | null): IteratorResult<unknown, unknown> {
    if (entry !== null && entry.granted) {
      this.#handed--;
      this.#roomOpened();
      return { value: { done: false, value: (entry.grant as Handed<T>).value }, done: true };
    }
    const r = this.tryRecv();
    if (r !== null) return { value: r, done: true };
    const waiter = waitIn(this.#receivers, "recv", this.#recvHooks) as unknown as Waiter<
      Handed<T>
    >;
    op.waiter = waiter;
    return waiter.next();
  }

  static {
    recvStep = (channel, op, entry) => channel.#recvStep(op, entry);
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

/**
 * `recv` as the iterator `yield*` drives rather than a generator: a waiting
 * receiver keeps this small object and its waiter, and a cancelled one is a
 * method call, not a generator resumed to run a `finally`. It does what
 * this generator did:
 *
 *     if (spendBudget(currentTask("recv"))) yield* yieldForBudget("recv");
 *     for (;;) {
 *       if a value is there: return it
 *       entry = yield* waitIn(receivers)   // cancelled: the waiter leaves
 *       if (entry.granted) return what it was granted
 *     }
 */
// What `yield*` receives when a recv yields for the budget: shared and
// frozen, since yield* only reads it.
const BUDGET_YIELD: IteratorResult<unknown, never> = Object.freeze({
  value: SUSPEND,
  done: false,
});

class RecvOp<T> {
  /** The wait it is suspended in, if any. */
  waiter: Waiter<Handed<T>> | null = null;
  /** 0: not started; 1: started; 2: over. */
  #state = 0;

  constructor(readonly channel: Channel<T>) {}

  [Symbol.iterator](): this {
    return this;
  }

  next(): IteratorResult<unknown, unknown> {
    if (this.#state === 2) return { value: undefined, done: true };
    let entry: Waiter<Handed<T>> | null = null;
    if (this.#state === 0) {
      const me = currentTask("recv");
      this.#state = 1;
      if (spendBudget(me)) {
        // This step spent its budget: yield once first (yieldForBudget's
        // work, written out), then go on as if just started.
        beginWait("recv").wake();
        return BUDGET_YIELD;
      }
    } else if (this.waiter !== null) {
      // Resumed: its wait ended (granted or released).
      entry = this.waiter;
      this.waiter = null;
    } // else resumed after yielding for the budget
    const r = recvStep(this.channel, this, entry);
    if (r.done) this.#state = 2;
    return r;
  }

  return(value?: unknown): IteratorResult<unknown, unknown> {
    this.#leave();
    return { value, done: true };
  }

  throw(error: unknown): never {
    this.#leave();
    throw error;
  }

  // Cancelled (or thrown into) while waiting: the waiter leaves, giving back
  // what it was granted.
  #leave(): void {
    this.#state = 2;
    const waiter = this.waiter;
    this.waiter = null;
    if (waiter !== null) waiter.return();
  }
}
