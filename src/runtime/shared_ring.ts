/**
 * The shared memory of a cross-worker channel: a bounded FIFO of byte
 * records in a SharedArrayBuffer, a closed flag, and per-worker flags that
 * say "a task on worker i waits for a value (or for room)".
 *
 * The ring is the root-task queue's (`record_ring.ts`): records of a
 * length word, a tag word and the payload padded to 4 bytes (or a float64),
 * bounded by a count and by bytes, under a futex-style lock; any thread may
 * push and pop. This module adds the header words after the ring's own: the
 * waiting flags, the runtime and host bindings.
 *
 * Waking (no lost wake-up, at most one wake per waiting thread): a thread
 * about to let a task (or a promise) wait sets bits in its flag (worker i's,
 * or the host's: the one thread that is not a worker of the runtime) and
 * stores 1 in the `*_ANY` summary word, then tries once more; a thread that
 * pushed (popped) reads the summary, and only if it is set clears it and
 * claims each set flag by exchanging it for 0, then wakes that thread with
 * the bits it took. Atomics are sequentially consistent: either the
 * waiter's second try sees the record (the room), or the pusher (popper)
 * sees its flag.
 *
 * The host is woken two ways, by the bits of its flag: its promises
 * (`HOST_*_SEQ`, a futex word for `Atomics.waitAsync`) and its scheduler's
 * eventfd (`HOST_FD`, published by the host when a task of its waits).
 * That eventfd is its thread's scheduler's, which lives as long as the
 * thread: writing it never hits a reused fd number.
 *
 * @module
 */

import { createRecordRing, RecordRing } from "./record_ring.ts";

// Header words (Int32), after the ring's own (0 to 6, RECORD_RING_WORDS).
const RECV_ANY = 7; // some thread's RECV_WAIT flag may be set
const SEND_ANY = 8; // some thread's SEND_WAIT flag may be set
const MAGIC = 9;
const RUNTIME = 10; // the id of the runtime whose workers use the ring (0: none yet)
const HOST_THREAD = 11; // the token of the one non-worker thread that uses it (0: none yet)
const HOST_FD = 12; // the host scheduler's eventfd, once a host task waited (else -1)
const HOST_RECV_SEQ = 13; // bumped to wake the host's promises waiting for a record
const HOST_SEND_SEQ = 14; // ... for room
/** The most workers whose tasks may wait on one channel (a runtime's most workers). */
export const MAX_WORKERS = 256;
/** The flag of the host (the non-worker thread), after the workers'. */
export const HOST_SLOT = MAX_WORKERS;
const FLAGS = MAX_WORKERS + 1;
const RECV_WAIT = 16; // FLAGS flags
const SEND_WAIT = RECV_WAIT + FLAGS; // FLAGS flags
const HEADER_WORDS = SEND_WAIT + FLAGS;
const MAGIC_VALUE = 0x5354524d; // "STRM"

/** Which side waits: receivers wait for a record, senders for room. */
export const Side = { Recv: RECV_WAIT, Send: SEND_WAIT } as const;
/** One of {@linkcode Side}'s values. */
export type Side = typeof Side[keyof typeof Side];

/** The ring and flags of one channel, as seen from one thread. */
export class SharedRing {
  /** The shared memory. */
  readonly buffer: SharedArrayBuffer;
  /**
   * The channel's records (a plain RecordRing, not a subclass: the queue's
   * and the channels' then share one object shape, and V8 keeps the ring's
   * code monomorphic; a subclass cost the queue 18-28% per push+pop).
   */
  readonly records: RecordRing;
  readonly #words: Int32Array;

  /** The shared memory for at most `capacity` records in `ringBytes` bytes. */
  static create(capacity: number, ringBytes: number): SharedRing {
    const buffer = createRecordRing(HEADER_WORDS, capacity, ringBytes);
    const words = new Int32Array(buffer, 0, HEADER_WORDS);
    words[MAGIC] = MAGIC_VALUE;
    words[HOST_FD] = -1;
    return new SharedRing(buffer);
  }

  /** Wraps memory made by {@linkcode SharedRing.create}; a `TypeError` for any other buffer. */
  constructor(buffer: SharedArrayBuffer) {
    if (
      !(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_WORDS * 4 + 16
      || new Int32Array(buffer, 0, HEADER_WORDS)[MAGIC] !== MAGIC_VALUE
    ) {
      throw new TypeError("expected the buffer of a SharedChannel (its .buffer)");
    }
    this.buffer = buffer;
    this.records = new RecordRing(buffer, HEADER_WORDS);
    this.#words = new Int32Array(buffer, 0, HEADER_WORDS);
  }

  /** Thread `slot` (a worker's index, or {@linkcode HOST_SLOT}) is about to wait on `side` (`bits`: how). */
  announceWait(side: Side, slot: number, bits: number): void {
    Atomics.or(this.#words, side + slot, bits);
    Atomics.store(this.#words, side === Side.Recv ? RECV_ANY : SEND_ANY, 1);
  }

  /**
   * Whether some thread may wait on `side` (clearing the summary: the
   * caller then claims each flag); one load when none does.
   */
  takeAny(side: Side): boolean {
    const any = side === Side.Recv ? RECV_ANY : SEND_ANY;
    if (Atomics.load(this.#words, any) === 0) return false;
    Atomics.store(this.#words, any, 0);
    return true;
  }

  /** Claims thread `slot`'s flag on `side`: the bits it had (0: it did not wait). */
  claim(side: Side, slot: number): number {
    const at = side + slot;
    return Atomics.load(this.#words, at) === 0 ? 0 : Atomics.exchange(this.#words, at, 0);
  }

  /** The id of the runtime whose workers use the ring, 0 if none has yet. */
  get runtimeId(): number {
    return Atomics.load(this.#words, RUNTIME);
  }

  /** Binds the ring to runtime `id` (the first worker to use it does): false if another runtime has it. */
  bindRuntime(id: number): boolean {
    const had = Atomics.compareExchange(this.#words, RUNTIME, 0, id);
    return had === 0 || had === id;
  }

  /** Binds the ring's host side to the thread with `token`: false if another thread has it. */
  bindHostThread(token: number): boolean {
    const had = Atomics.compareExchange(this.#words, HOST_THREAD, 0, token);
    return had === 0 || had === token;
  }

  /** The host scheduler's eventfd (-1 until a host task waited). */
  get hostFd(): number {
    return Atomics.load(this.#words, HOST_FD);
  }

  set hostFd(fd: number) {
    Atomics.store(this.#words, HOST_FD, fd);
  }

  /** The host's wake sequence of `side` (read before announcing a promise's wait). */
  hostSeq(side: Side): number {
    return Atomics.load(this.#words, side === Side.Recv ? HOST_RECV_SEQ : HOST_SEND_SEQ);
  }

  /** Wakes every host promise waiting on `side`. */
  wakeHostPromises(side: Side): void {
    const at = side === Side.Recv ? HOST_RECV_SEQ : HOST_SEND_SEQ;
    Atomics.add(this.#words, at, 1);
    Atomics.notify(this.#words, at);
  }

  /**
   * Waits (without blocking the thread) until the host's sequence of `side`
   * moves from `seq`: a promise, or null if it moved already.
   */
  waitHost(side: Side, seq: number): Promise<unknown> | null {
    const r = Atomics.waitAsync(
      this.#words,
      side === Side.Recv ? HOST_RECV_SEQ : HOST_SEND_SEQ,
      seq,
    );
    return r.async ? r.value : null;
  }
}
