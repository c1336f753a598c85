/**
 * `SharedChannel`: a bounded FIFO channel between tasks on different
 * workers of a Runtime (Go's channels across goroutines on any thread,
 * tokio's mpsc between runtime workers).
 *
 * Messages are copied through a ring in a SharedArrayBuffer (see
 * `shared_ring.ts`); a task that must wait sleeps in its worker's scheduler
 * and is woken through that worker's eventfd, like a worker waiting for
 * root tasks. Nothing goes through postMessage, which a worker asleep in
 * epoll_wait would not see.
 *
 * @module
 */

import { deserialize, serialize } from "node:v8";
import type { Operation } from "../sched/types.ts";
import { ChannelClosedError } from "../sync/channel.ts";
import { waitIn, WaitList } from "../sync/wait_list.ts";
import { MAX_WORKERS, type RingRecord, SharedRing, Side } from "./shared_ring.ts";
import { type WorkerContext, workerContext } from "./worker_context.ts";

// How a value is encoded in a record (the record's tag).
const BYTES = 0; // a Uint8Array: its bytes as they are
const STRING = 1; // UTF-8
const NUMBER = 2; // a float64
const CLONE = 3; // v8.serialize (the structured clone algorithm)

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The encoding of a value that is not a number (numbers go into the ring
// as they are: `SharedRing.tryPushNumber`).
function encode(value: unknown): [number, Uint8Array] {
  if (value instanceof Uint8Array) return [BYTES, value];
  if (typeof value === "string") return [STRING, encoder.encode(value)];
  try {
    return [CLONE, serialize(value)];
  } catch (error) {
    throw new TypeError(
      `SharedChannel: the value cannot be cloned to another thread: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
}

function decode(record: RingRecord): unknown {
  const { tag, payload } = record;
  if (tag === NUMBER) return record.number;
  if (tag === BYTES) return payload;
  if (tag === STRING) return decoder.decode(payload!);
  return deserialize(payload!);
}

const NO_BYTES = new Uint8Array(0);

// This thread's waiting tasks of one channel (shared by every SharedChannel
// object on this thread that wraps the same buffer).
class LocalWaiters {
  readonly recv = new WaitList<true>();
  readonly send = new WaitList<true>();
}

// Per thread: the waiters of each channel buffer, and those with tasks waiting.
const localByBuffer = new WeakMap<SharedArrayBuffer, LocalWaiters>();
const withWaiters = new Set<LocalWaiters>();
let listening: WorkerContext | null = null;

// Another thread rang this worker: every waiting channel task tries again
// (it waits anew, and flags itself again, if what it waits for is not there).
function wakeAllLocal(): void {
  for (const local of withWaiters) {
    local.recv.releaseAll();
    local.send.releaseAll();
  }
  withWaiters.clear();
}

function localFor(buffer: SharedArrayBuffer): LocalWaiters {
  let local = localByBuffer.get(buffer);
  if (local === undefined) {
    local = new LocalWaiters();
    localByBuffer.set(buffer, local);
  }
  return local;
}

function need(op: string): WorkerContext {
  const ctx = workerContext();
  if (ctx === null) {
    throw new Error(
      `SharedChannel.${op}: this thread is not a worker of a strom Runtime (a SharedChannel is used by root tasks on the workers)`,
    );
  }
  if (listening !== ctx) {
    ctx.wakeListeners.add(wakeAllLocal);
    listening = ctx;
  }
  return ctx;
}

/** Options of {@linkcode SharedChannel.create}. */
export interface SharedChannelOptions {
  /** The most messages in the channel, 1..2^24 (default 1024). */
  capacity?: number;
  /** Bytes of its ring for the encoded messages, a multiple of 4 in [64, 2^30] (default 1 MiB). */
  bytes?: number;
}

/**
 * A bounded FIFO channel between the tasks of the workers of one
 * {@linkcode Runtime}: any number of tasks on any workers send, any number
 * receive. The same API as {@linkcode Channel}: `send` waits while it is
 * full, `recv` while it is empty (`{ done: true }` once closed and drained).
 *
 * **Sharing it**: create it anywhere (`SharedChannel.create`), pass its
 * `buffer` (a SharedArrayBuffer, which stays shared when it is a root
 * task's argument) to root tasks, and wrap it there with
 * `new SharedChannel(buffer)`. Its operations run on runtime workers only
 * (elsewhere they throw an `Error`: only a worker has a wake fd the others
 * can ring), all on the workers of one runtime.
 *
 * **Values are copied**, never shared: a `Uint8Array` travels as its bytes
 * (received as a new `Uint8Array`), a string as UTF-8, a number as 8 bytes,
 * anything else by the structured clone algorithm (`node:v8` `serialize`;
 * a value it cannot clone is a `TypeError` from `send`, and nothing is
 * sent). The cost: one encode and two copies (into the ring, out of it) per
 * message, plus serialize/deserialize for cloned values (several µs on
 * Deno); bytes and strings are the fast path.
 *
 * **Order**: messages are received in the order they were sent (so one
 * producer's messages arrive in order, at whichever consumers). Every
 * message is received exactly once. Waiting tasks on different workers are
 * not served in a fixed order.
 *
 * **Limits**: at most `capacity` messages and `bytes` bytes (each message
 * takes 8 bytes plus its encoding, rounded up to 4); either reached is full.
 * A message larger than the ring is a `RangeError`.
 *
 * **Closing** (`close()`, from any worker) wakes every waiting task: senders
 * throw {@linkcode ChannelClosedError}, receivers drain the messages sent
 * before, then get `{ done: true }`.
 *
 * Cancel safety: a cancelled `recv` took no message; a cancelled `send` sent
 * nothing.
 *
 * @example
 * ```ts
 * // tasks.ts
 * export function* produce(buffer: SharedArrayBuffer): Task<void> {
 *   const ch = new SharedChannel<string>(buffer);
 *   for (let i = 0; i < 1000; i++) yield* ch.send(`message ${i}`);
 *   ch.close();
 * }
 * export function* consume(buffer: SharedArrayBuffer): Task<number> {
 *   const ch = new SharedChannel<string>(buffer);
 *   let n = 0;
 *   for (let r = yield* ch.recv(); !r.done; r = yield* ch.recv()) n++;
 *   return n;
 * }
 * // main.ts
 * const ch = SharedChannel.create<string>({ capacity: 256 });
 * const counted = runtime.spawn(rootTask(tasks, consume, ch.buffer));
 * await runtime.spawn(rootTask(tasks, produce, ch.buffer));
 * console.log(await counted); // 1000
 * ```
 */
export class SharedChannel<T> {
  readonly #ring: SharedRing;
  readonly #local: LocalWaiters;

  /**
   * Creates the shared memory of a channel. Throws a `RangeError` for a bad
   * option (naming it).
   */
  static create<T>(options: SharedChannelOptions = {}): SharedChannel<T> {
    const capacity = options.capacity ?? 1024;
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 2 ** 24) {
      throw new RangeError(
        `SharedChannel option capacity must be an integer in [1, 2^24], got ${capacity}`,
      );
    }
    const bytes = options.bytes ?? 1 << 20;
    if (!Number.isInteger(bytes) || bytes < 64 || bytes > 2 ** 30 || bytes % 4 !== 0) {
      throw new RangeError(
        `SharedChannel option bytes must be a multiple of 4 in [64, 2^30], got ${bytes}`,
      );
    }
    return new SharedChannel<T>(SharedRing.create(capacity, bytes).buffer);
  }

  /**
   * Wraps the shared memory of a channel (its {@linkcode buffer}), on any
   * thread. Throws a `TypeError` for a buffer that is not one.
   */
  constructor(buffer: SharedArrayBuffer) {
    this.#ring = new SharedRing(buffer);
    this.#local = localFor(buffer);
  }

  /** The shared memory: pass it to root tasks, wrap it with `new SharedChannel(buffer)`. */
  get buffer(): SharedArrayBuffer {
    return this.#ring.buffer;
  }

  /** The most messages the channel holds. */
  get capacity(): number {
    return this.#ring.capacity;
  }

  /** Messages in the channel now (a snapshot: other threads move it). */
  get length(): number {
    return this.#ring.length;
  }

  /** Whether the channel was closed (by any thread). */
  get closed(): boolean {
    return this.#ring.closed;
  }

  /** The largest encoded message the channel carries, in bytes. */
  get maxMessageBytes(): number {
    return this.#ring.maxPayload;
  }

  /**
   * Sends `value` (a copy), waiting while the channel is full. Throws
   * {@linkcode ChannelClosedError} if it is (or becomes) closed, a
   * `TypeError` for a value that cannot be cloned, a `RangeError` for one
   * larger than the ring, and an `Error` off a runtime worker.
   * Cancel-safe: cancelled, nothing was sent. Halts outside a task.
   */
  *send(value: T): Operation<void> {
    const ctx = need("send");
    const [tag, bytes] = typeof value === "number" ? [NUMBER, NO_BYTES] : this.#encode(value);
    for (;;) {
      if (this.#push(ctx, tag, bytes, value)) return;
      this.#ring.announceWait(Side.Send, ctx.index);
      if (this.#push(ctx, tag, bytes, value)) return;
      withWaiters.add(this.#local);
      yield* waitIn(this.#local.send, "send");
    }
  }

  /**
   * Sends `value` (a copy) if there is room now: true if sent, false if
   * full. Throws like {@linkcode send}. Never waits.
   */
  trySend(value: T): boolean {
    const ctx = need("trySend");
    if (typeof value === "number") return this.#push(ctx, NUMBER, NO_BYTES, value);
    const [tag, bytes] = this.#encode(value);
    return this.#push(ctx, tag, bytes, 0);
  }

  /**
   * Receives the oldest message, waiting while the channel is empty:
   * `{ done: false, value }`, or `{ done: true }` once it is closed and
   * empty. Throws an `Error` off a runtime worker. Cancel-safe: cancelled,
   * no message was taken. Halts outside a task.
   */
  *recv(): Operation<IteratorResult<T, undefined>> {
    const ctx = need("recv");
    for (;;) {
      let r = this.#pop(ctx);
      if (r !== null) return r;
      this.#ring.announceWait(Side.Recv, ctx.index);
      r = this.#pop(ctx);
      if (r !== null) return r;
      withWaiters.add(this.#local);
      yield* waitIn(this.#local.recv, "recv");
    }
  }

  /**
   * Receives the oldest message if there is one now: `{ done: false, value }`,
   * `{ done: true }` when closed and empty, null when open and empty. Never
   * waits. Throws an `Error` off a runtime worker.
   */
  tryRecv(): IteratorResult<T, undefined> | null {
    return this.#pop(need("tryRecv"));
  }

  /**
   * Closes the channel (idempotent, from any worker): waiting senders on
   * every worker wake and throw {@linkcode ChannelClosedError}; receivers get
   * the messages sent before, then `{ done: true }`. Throws an `Error` off a
   * runtime worker.
   */
  close(): void {
    const ctx = need("close");
    if (!this.#ring.close()) return;
    this.#wake(ctx, Side.Recv);
    this.#wake(ctx, Side.Send);
  }

  #encode(value: T): [number, Uint8Array] {
    const encoded = encode(value);
    if (encoded[1].length > this.#ring.maxPayload) {
      throw new RangeError(
        `SharedChannel: a message of ${
          encoded[1].length
        } encoded bytes does not fit; this channel carries at most ${this.#ring.maxPayload}`,
      );
    }
    return encoded;
  }

  #push(ctx: WorkerContext, tag: number, bytes: Uint8Array, value: unknown): boolean {
    const r = tag === NUMBER
      ? this.#ring.tryPushNumber(tag, value as number)
      : this.#ring.tryPush(tag, bytes);
    if (r === "sent") {
      this.#wake(ctx, Side.Recv);
      return true;
    }
    if (r === "closed") throw new ChannelClosedError();
    return false;
  }

  #pop(ctx: WorkerContext): IteratorResult<T, undefined> | null {
    const record = this.#ring.tryPop();
    if (record !== null) {
      const value = decode(record) as T; // before the record is reused
      this.#wake(ctx, Side.Send);
      return { done: false, value };
    }
    return this.#ring.closed && this.#ring.length === 0 ? { done: true, value: undefined } : null;
  }

  // Wakes the workers whose tasks wait on `side`: this worker's directly,
  // the others through their eventfds.
  #wake(ctx: WorkerContext, side: Side): void {
    const workers = Math.min(ctx.control.workers, MAX_WORKERS);
    this.#ring.claimWaiters(side, workers, (i) => {
      if (i !== ctx.index) ctx.control.ring(i);
      else if (side === Side.Recv) this.#local.recv.releaseAll();
      else this.#local.send.releaseAll();
    });
  }
}
