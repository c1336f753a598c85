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
import { libc } from "../ffi/mod.ts";
import { spendBudget, yieldForBudget } from "../sched/budget.ts";
import { currentTask, existingScheduler } from "../sched/current.ts";
import type { Scheduler } from "../sched/scheduler.ts";
import type { Operation } from "../sched/types.ts";
import { ChannelClosedError } from "../sync/channel.ts";
import { waitIn, WaitList } from "../sync/wait_list.ts";
import { describeValue } from "./describe.ts";
import { controlById, type RuntimeControl } from "./shared.ts";
import { HOST_SLOT, MAX_WORKERS, type RingRecord, SharedRing, Side } from "./shared_ring.ts";
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
const ONE = new Uint8Array(8);
ONE[0] = 1;

// The bits of the host's flag: what waits there.
const HOST_PROMISE = 1; // promises of recvAsync/sendAsync (woken by Atomics.notify)
const HOST_TASK = 2; // tasks of the host thread's scheduler (woken by its eventfd)

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
// The host thread's scheduler, once it hears its wake fd for us.
let hostListening: Scheduler | null = null;

// Another thread rang this thread: every waiting channel task tries again
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

// Identifies this thread as a channel's host side (each thread has its own
// instance of this module, hence its own token).
const threadToken = (() => {
  const t = new Int32Array(1);
  while (t[0] === 0) crypto.getRandomValues(t);
  return t[0]!;
})();

// The host's promises that wait: while any does, a timer keeps the event
// loop alive (a pending Atomics.waitAsync does not, on either host), so a
// script awaiting a message from the workers does not end before it comes.
let promisesWaiting = 0;
let keepAlive: ReturnType<typeof setInterval> | null = null;

function holdLoop(): void {
  if (promisesWaiting++ === 0) keepAlive = setInterval(() => {}, 1 << 30);
}

function releaseLoop(): void {
  if (--promisesWaiting === 0 && keepAlive !== null) {
    clearInterval(keepAlive);
    keepAlive = null;
  }
}

function abortSignalOf(options: unknown, op: string): AbortSignal | undefined {
  if (options === undefined) return undefined;
  if (options === null || typeof options !== "object") {
    throw new TypeError(
      `SharedChannel.${op}: options must be an object ({ signal }), got ${describeValue(options)}`,
    );
  }
  const signal = (options as { signal?: unknown }).signal;
  if (signal === undefined || signal instanceof AbortSignal) return signal;
  throw new TypeError(
    `SharedChannel.${op}: options.signal must be an AbortSignal, got ${describeValue(signal)}`,
  );
}

// Waits for the host's sequence of `side` to move from `seq`, or for
// `signal` (rejects with its reason; nothing was taken or sent).
async function waitHost(
  ring: SharedRing,
  side: Side,
  seq: number,
  signal: AbortSignal | undefined,
): Promise<void> {
  const moved = ring.waitHost(side, seq);
  if (moved === null) return;
  holdLoop();
  let onAbort: (() => void) | null = null;
  try {
    if (signal === undefined) {
      await moved;
      return;
    }
    await Promise.race([
      moved,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    releaseLoop();
    if (onAbort !== null) {
      signal!.removeEventListener("abort", onAbort);
      // Our Atomics.waitAsync may still wait: end it (the other host
      // promises of this side wake too, find nothing and wait again).
      if (signal!.aborted) ring.wakeHostPromises(side);
    }
  }
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
 * {@linkcode Runtime}, and its host thread: any number of tasks on any
 * workers send, any number receive. The same API as {@linkcode Channel}:
 * `send` waits while it is full, `recv` while it is empty (`{ done: true }`
 * once closed and drained).
 *
 * **Sharing it**: create it anywhere (`SharedChannel.create`), pass its
 * `buffer` (a SharedArrayBuffer, which stays shared when it is a root
 * task's argument) to root tasks, and wrap it there with
 * `new SharedChannel(buffer)`. The threads that may use it: the workers of
 * one runtime (the first worker to use it binds it to its runtime; a worker
 * of another runtime gets an `Error`), and one thread besides them, the
 * host (the first such thread to use it; another one gets an `Error`). For
 * the host to wake the workers, their runtime must have been created on the
 * host thread (else an `Error`).
 *
 * **On the host thread**: tasks of its own scheduler (under `run` or
 * `runAsync`) use `send`/`recv` as on a worker and wait in its reactor,
 * woken through its eventfd; plain async code uses
 * {@linkcode SharedChannel.sendAsync}, {@linkcode SharedChannel.recvAsync}
 * (both take an `AbortSignal`) and `for await`, which wait without blocking
 * the thread (`Atomics.waitAsync`) and keep the event loop alive meanwhile.
 * `trySend`, `tryRecv` and `close` work from any thread that may use it,
 * in a task or not. Under the blocking `run` the host's event loop does not
 * run: a root task with shared buffers (a channel's) starts only once the
 * host hands them over, so start such tasks before `run`. A task waiting
 * on a channel is never a `deadlock` halt (another thread may wake it).
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
 * message is received exactly once. Waiting tasks on different threads are
 * not served in a fixed order.
 *
 * **Limits**: at most `capacity` messages and `bytes` bytes (each message
 * takes 8 bytes plus its encoding, rounded up to 4); either reached is full.
 * A message larger than the ring is a `RangeError`.
 *
 * **Closing** (`close()`, from any thread that may use it) wakes every
 * waiting task and promise: senders throw {@linkcode ChannelClosedError},
 * receivers drain the messages sent before, then get `{ done: true }`.
 *
 * Cancel safety: a cancelled `recv` took no message; a cancelled `send` sent
 * nothing; likewise a `recvAsync`/`sendAsync` stopped by its signal.
 * `send` and `recv` spend the task's cooperative budget like `Channel`'s
 * (a loop on a channel that is always ready yields now and then).
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
 * // From host code: feed a worker, and read what it sends back.
 * const jobs = SharedChannel.create<string>();
 * const done = SharedChannel.create<string>();
 * runtime.spawn(rootTask(tasks, worker, jobs.buffer, done.buffer));
 * await jobs.sendAsync("job 1");
 * for await (const result of done) console.log(result);
 * ```
 */
export class SharedChannel<T> {
  readonly #ring: SharedRing;
  readonly #local: LocalWaiters;
  // The worker context this object was last checked on (its runtime bound).
  #boundTo: WorkerContext | null = null;
  // Whether this object checked that this thread is the channel's host side.
  #hostBound = false;
  // On the host side: the control of the runtime whose workers use the ring.
  #control: RuntimeControl | null = null;

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
   * larger than the ring, and an `Error` for a thread that may not use the
   * channel (see the class). Cancel-safe: cancelled, nothing was sent.
   * Halts outside a task.
   */
  *send(value: T): Operation<void> {
    const task = currentTask("send");
    if (spendBudget(task)) yield* yieldForBudget("send");
    const ctx = this.#caller("send");
    const [tag, bytes] = typeof value === "number" ? [NUMBER, NO_BYTES] : this.#encode(value);
    for (;;) {
      if (this.#push(ctx, tag, bytes, value)) return;
      this.#announce(ctx, Side.Send, task.scheduler);
      if (this.#push(ctx, tag, bytes, value)) return;
      yield* this.#wait(ctx, this.#local.send, "send", task.scheduler);
    }
  }

  /**
   * Sends `value` (a copy) if there is room now: true if sent, false if
   * full. Throws like {@linkcode send}. Never waits; callable outside a task.
   */
  trySend(value: T): boolean {
    const ctx = this.#caller("trySend");
    if (typeof value === "number") return this.#push(ctx, NUMBER, NO_BYTES, value);
    const [tag, bytes] = this.#encode(value);
    return this.#push(ctx, tag, bytes, 0);
  }

  /**
   * Receives the oldest message, waiting while the channel is empty:
   * `{ done: false, value }`, or `{ done: true }` once it is closed and
   * empty. Throws an `Error` for a thread that may not use the channel (see
   * the class). Cancel-safe: cancelled, no message was taken. Halts outside
   * a task.
   */
  *recv(): Operation<IteratorResult<T, undefined>> {
    const task = currentTask("recv");
    if (spendBudget(task)) yield* yieldForBudget("recv");
    const ctx = this.#caller("recv");
    for (;;) {
      let r = this.#pop(ctx);
      if (r !== null) return r;
      this.#announce(ctx, Side.Recv, task.scheduler);
      r = this.#pop(ctx);
      if (r !== null) return r;
      yield* this.#wait(ctx, this.#local.recv, "recv", task.scheduler);
    }
  }

  /**
   * Receives the oldest message if there is one now: `{ done: false, value }`,
   * `{ done: true }` when closed and empty, null when open and empty. Never
   * waits; callable outside a task. Throws like {@linkcode recv}.
   */
  tryRecv(): IteratorResult<T, undefined> | null {
    return this.#pop(this.#caller("tryRecv"));
  }

  /**
   * Sends `value` (a copy) from host code that is not a strom task: resolves
   * once it is in the channel, waiting (without blocking the thread, and
   * keeping the event loop alive) while the channel is full. Rejects with
   * {@linkcode ChannelClosedError} if it is (or becomes) closed, with
   * `signal.reason` if `options.signal` aborts first (nothing was sent), a
   * `TypeError` for a value that cannot be cloned or a bad `options`, a
   * `RangeError` for one larger than the ring, and an `Error` on a runtime
   * worker (there, use `yield* send` in a task) or from a second non-worker
   * thread. Abandoning the promise without the signal does not cancel it:
   * the value is still sent when room opens.
   */
  async sendAsync(value: T, options?: { signal?: AbortSignal }): Promise<void> {
    const signal = abortSignalOf(options, "sendAsync");
    this.#hostCaller("sendAsync");
    const [tag, bytes] = typeof value === "number" ? [NUMBER, NO_BYTES] : this.#encode(value);
    for (;;) {
      signal?.throwIfAborted();
      if (this.#push(null, tag, bytes, value)) return;
      const seq = this.#ring.hostSeq(Side.Send);
      this.#ring.announceWait(Side.Send, HOST_SLOT, HOST_PROMISE);
      if (this.#push(null, tag, bytes, value)) return;
      await waitHost(this.#ring, Side.Send, seq, signal);
    }
  }

  /**
   * Receives the oldest message from host code that is not a strom task:
   * resolves with `{ done: false, value }`, or `{ done: true }` once the
   * channel is closed and empty, waiting (without blocking the thread, and
   * keeping the event loop alive) while it is empty. Rejects with
   * `signal.reason` if `options.signal` aborts first (no message was
   * taken), a `TypeError` for a bad `options`, and an `Error` on a runtime
   * worker (there, use `yield* recv` in a task) or from a second non-worker
   * thread. A promise abandoned without the signal still takes the next
   * message (which is then lost): stop waiting with the signal, not with
   * `Promise.race`.
   */
  async recvAsync(options?: { signal?: AbortSignal }): Promise<IteratorResult<T, undefined>> {
    const signal = abortSignalOf(options, "recvAsync");
    this.#hostCaller("recvAsync");
    for (;;) {
      signal?.throwIfAborted();
      let r = this.#pop(null);
      if (r !== null) return r;
      const seq = this.#ring.hostSeq(Side.Recv);
      this.#ring.announceWait(Side.Recv, HOST_SLOT, HOST_PROMISE);
      r = this.#pop(null);
      if (r !== null) return r;
      await waitHost(this.#ring, Side.Recv, seq, signal);
    }
  }

  /**
   * Receives every message until the channel is closed and drained, from
   * host code (`for await (const v of ch)`), like {@linkcode recvAsync}.
   * Leaving the loop early takes nothing more.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<T, void, undefined> {
    for (let r = await this.recvAsync(); !r.done; r = await this.recvAsync()) yield r.value;
  }

  /**
   * Closes the channel (idempotent, from any thread that may use it):
   * waiting senders everywhere wake and throw (reject with)
   * {@linkcode ChannelClosedError}; receivers get the messages sent before,
   * then `{ done: true }`. Throws like {@linkcode trySend}.
   */
  close(): void {
    const ctx = this.#caller("close");
    if (!this.#ring.close()) return;
    this.#wake(ctx, Side.Recv);
    this.#wake(ctx, Side.Send);
  }

  // This thread's runtime worker context, or null on the host side (after
  // the checks that this thread may use the channel).
  #caller(op: string): WorkerContext | null {
    const ctx = workerContext();
    if (ctx === null) {
      if (!this.#hostBound) this.#bindHost(op);
      if (this.#control === null) this.#findControl(op);
      return ctx;
    }
    if (this.#boundTo !== ctx) this.#bindWorker(ctx, op);
    return ctx;
  }

  #hostCaller(op: string): void {
    if (workerContext() !== null) {
      throw new Error(
        `SharedChannel.${op} is for host code; on a runtime worker use yield* ${
          op === "sendAsync" ? "send" : "recv"
        }() in a task`,
      );
    }
    if (!this.#hostBound) this.#bindHost(op);
    if (this.#control === null) this.#findControl(op);
  }

  #bindHost(op: string): void {
    if (!this.#ring.bindHostThread(threadToken)) {
      throw new Error(
        `SharedChannel.${op}: this channel is already used by another thread that is not a worker of its runtime (besides the workers, one thread may use it: the host)`,
      );
    }
    this.#hostBound = true;
  }

  #bindWorker(ctx: WorkerContext, op: string): void {
    if (!this.#ring.bindRuntime(ctx.control.id)) {
      throw new Error(
        `SharedChannel.${op}: this channel is used by the workers of another runtime (a channel belongs to the workers of one runtime, and its host)`,
      );
    }
    if (listening !== ctx) {
      ctx.wakeListeners.add(wakeAllLocal);
      listening = ctx;
    }
    this.#boundTo = ctx;
  }

  // Flags this thread as waiting on `side` (see shared_ring.ts).
  #announce(ctx: WorkerContext | null, side: Side, scheduler: Scheduler): void {
    if (ctx !== null) {
      this.#ring.announceWait(side, ctx.index, 1);
      return;
    }
    // A task of the host thread: its scheduler's eventfd wakes it.
    if (hostListening !== scheduler) {
      const before = scheduler.onExternalWake;
      scheduler.onExternalWake = before === null ? wakeAllLocal : () => {
        before();
        wakeAllLocal();
      };
      hostListening = scheduler;
    }
    this.#ring.hostFd = scheduler.reactor.wakeFd;
    this.#ring.announceWait(side, HOST_SLOT, HOST_TASK);
  }

  *#wait(
    ctx: WorkerContext | null,
    list: WaitList<true>,
    op: string,
    scheduler: Scheduler,
  ): Operation<void> {
    withWaiters.add(this.#local);
    if (ctx !== null) {
      yield* waitIn(list, op);
      return;
    }
    // Another thread may wake this one: no deadlock halt while we wait
    // (a runtime worker holds this for good).
    scheduler.externalHolds++;
    try {
      yield* waitIn(list, op);
    } finally {
      scheduler.externalHolds--;
    }
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

  #push(ctx: WorkerContext | null, tag: number, bytes: Uint8Array, value: unknown): boolean {
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

  #pop(ctx: WorkerContext | null): IteratorResult<T, undefined> | null {
    const record = this.#ring.tryPop();
    if (record !== null) {
      const value = decode(record) as T; // before the record is reused
      this.#wake(ctx, Side.Send);
      return { done: false, value };
    }
    return this.#ring.closed && this.#ring.length === 0 ? { done: true, value: undefined } : null;
  }

  // Wakes the threads whose tasks (or promises) wait on `side`: this
  // worker's directly, the other workers through their eventfds, the host
  // through its promises' futex word and its scheduler's eventfd.
  #wake(ctx: WorkerContext | null, side: Side): void {
    const ring = this.#ring;
    if (!ring.takeAny(side)) return;
    // (A worker publishes the runtime before its flag: seen with the flag.)
    const control = ctx !== null ? ctx.control : this.#hostControl();
    const workers = control === null ? 0 : Math.min(control.workers, MAX_WORKERS);
    for (let i = 0; i < workers; i++) {
      if (ring.claim(side, i) === 0) continue;
      if (ctx === null || i !== ctx.index) control!.ring(i);
      else this.#releaseLocal(side);
    }
    const host = ring.claim(side, HOST_SLOT);
    if (host === 0) return;
    if ((host & HOST_PROMISE) !== 0) ring.wakeHostPromises(side);
    if ((host & HOST_TASK) === 0) return;
    // In a task step of the host thread's own scheduler, its waiters can be
    // released directly; elsewhere (another thread, or host code outside the
    // scheduler, which may be waiting for the kernel) its eventfd is rung.
    if (ctx === null && existingScheduler()?.current != null) this.#releaseLocal(side);
    else {
      const fd = ring.hostFd;
      if (fd >= 0) libc.write(fd, ONE, 8);
    }
  }

  #releaseLocal(side: Side): void {
    if (side === Side.Recv) this.#local.recv.releaseAll();
    else this.#local.send.releaseAll();
  }

  // The runtime whose workers use the ring (null: none yet, or it ended).
  // Its workers flag themselves only after binding it, so a host that sees
  // a worker's flag finds it here.
  #hostControl(): RuntimeControl | null {
    if (this.#control === null) {
      const id = this.#ring.runtimeId;
      if (id !== 0) this.#control = controlById(id) ?? null;
    }
    return this.#control;
  }

  // Before a host operation: the host side can ring the workers of the
  // runtime bound to the ring only if that runtime was created here.
  #findControl(op: string): void {
    const id = this.#ring.runtimeId;
    if (id === 0) return;
    const control = controlById(id);
    if (control === undefined) {
      throw new Error(
        `SharedChannel.${op}: this channel's workers belong to a runtime created on another thread (its host side is the thread that created the runtime)`,
      );
    }
    this.#control = control;
  }
}
