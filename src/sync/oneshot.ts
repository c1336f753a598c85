/**
 * `oneshot`: a channel for exactly one value, from one task to another (a
 * reply, a result handed back).
 *
 * @module
 */

import { spendBudget, yieldForBudget } from "../sched/budget.ts";
import { currentTask } from "../sched/current.ts";
import type { Operation } from "../sched/types.ts";
import { waitIn, WaitList } from "./wait_list.ts";

/**
 * Thrown by {@linkcode OneshotReceiver.recv} when no value will come: the
 * sender was closed without sending (or the value was already received).
 */
export class OneshotClosedError extends Error {
  /** Always `"OneshotClosedError"`. */
  override readonly name = "OneshotClosedError";
  /** Creates the error; `detail` says why no value will come. */
  constructor(detail: string) {
    super(`oneshot: ${detail}`);
  }
}

const EMPTY = 0;
const SENT = 1;
const SENDER_CLOSED = 2;
const TAKEN = 3;

// The state both ends share.
class Slot<T> {
  state = EMPTY;
  value: T | undefined = undefined;
  receiverClosed = false;
  readonly waiters: WaitList<true> = new WaitList<true>();
}

/**
 * The sending end of a {@linkcode oneshot}. Send once; or close it (or let
 * `using` close it) on the paths that will not send, so that the receiver
 * stops waiting.
 */
export class OneshotSender<T> {
  readonly #slot: Slot<T>;

  /** @internal Made by {@linkcode oneshot}. */
  constructor(slot: Slot<T>) {
    this.#slot = slot;
  }

  /** Whether the receiver was closed: a value sent now would be dropped. */
  get receiverClosed(): boolean {
    return this.#slot.receiverClosed;
  }

  /**
   * Sends the value and wakes the receiver: true if the receiver may still
   * take it, false if the receiver was closed (the value is dropped). Never
   * waits. Throws an `Error` if a value was already sent or the sender was
   * closed.
   */
  send(value: T): boolean {
    const slot = this.#slot;
    if (slot.state !== EMPTY) {
      throw new Error(
        slot.state === SENDER_CLOSED
          ? "oneshot: send after the sender was closed"
          : "oneshot: a value was already sent",
      );
    }
    if (slot.receiverClosed) {
      slot.state = SENDER_CLOSED;
      return false;
    }
    slot.state = SENT;
    slot.value = value;
    slot.waiters.releaseAll();
    return true;
  }

  /**
   * Closes the sender without a value (idempotent; after a `send` it does
   * nothing): the receiver's `recv` throws {@linkcode OneshotClosedError}.
   */
  close(): void {
    const slot = this.#slot;
    if (slot.state !== EMPTY) return;
    slot.state = SENDER_CLOSED;
    slot.waiters.releaseAll();
  }

  /** {@linkcode close}: with `using`, a sender that never sent is closed at the block's end. */
  [Symbol.dispose](): void {
    this.close();
  }
}

/** The receiving end of a {@linkcode oneshot}. */
export class OneshotReceiver<T> {
  readonly #slot: Slot<T>;

  /** @internal Made by {@linkcode oneshot}. */
  constructor(slot: Slot<T>) {
    this.#slot = slot;
  }

  /**
   * Waits for the value and returns it. Throws
   * {@linkcode OneshotClosedError} if the sender was (or becomes) closed
   * without sending, or the value was already received. Cancel-safe: a
   * cancelled `recv` takes nothing, the value stays for the next `recv`.
   * Halts outside a task.
   */
  *recv(): Operation<T> {
    if (spendBudget(currentTask("recv"))) yield* yieldForBudget("recv");
    for (;;) {
      const r = this.tryRecv();
      if (r !== null) {
        if (r.done) throw this.#closedError();
        return r.value;
      }
      yield* waitIn(this.#slot.waiters, "recv");
    }
  }

  /**
   * The value if it was sent (taking it): `{ done: false, value }`;
   * `{ done: true }` if none will come (sender closed, or already
   * received); null while the sender may still send. Never waits.
   */
  tryRecv(): IteratorResult<T, undefined> | null {
    const slot = this.#slot;
    if (slot.state === SENT) {
      const value = slot.value as T;
      slot.value = undefined;
      slot.state = TAKEN;
      return { done: false, value };
    }
    if (slot.state === EMPTY && !slot.receiverClosed) return null;
    return { done: true, value: undefined };
  }

  /**
   * Closes the receiver: a later `send` returns false and drops its value;
   * a value already sent is dropped. Idempotent.
   */
  close(): void {
    const slot = this.#slot;
    slot.receiverClosed = true;
    if (slot.state === SENT) {
      slot.value = undefined;
      slot.state = TAKEN;
    }
  }

  #closedError(): OneshotClosedError {
    const slot = this.#slot;
    if (slot.receiverClosed) return new OneshotClosedError("the receiver was closed");
    if (slot.state === TAKEN) return new OneshotClosedError("the value was already received");
    return new OneshotClosedError("the sender was closed without sending");
  }
}

/**
 * Creates a channel for one value: `[sender, receiver]`. The sender sends
 * once (never waits); the receiver's `recv` waits for the value, or throws
 * {@linkcode OneshotClosedError} if the sender is closed first. Both ends
 * belong to the thread that made them.
 *
 * @example
 * ```ts
 * const [tx, rx] = oneshot<number>();
 * yield* spawn(function* () {
 *   using sender = tx; // closed at the end if it never sent
 *   sender.send(yield* compute());
 * }());
 * const answer = yield* rx.recv();
 * ```
 */
export function oneshot<T>(): [OneshotSender<T>, OneshotReceiver<T>] {
  const slot = new Slot<T>();
  return [new OneshotSender(slot), new OneshotReceiver(slot)];
}
