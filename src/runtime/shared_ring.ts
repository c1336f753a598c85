/**
 * The shared memory of a cross-worker channel: a bounded FIFO of byte
 * records in a SharedArrayBuffer, a closed flag, and per-worker flags that
 * say "a task on worker i waits for a value (or for room)".
 *
 * The ring is the root-task queue's design (`shared_queue.ts`): records of
 * a length word, a tag word and the payload padded to 4 bytes, wrapping
 * with a marker; bounded by a count and by bytes; a futex-style
 * three-state mutex (Drepper) guards it: a copy of one record and a few
 * index updates, so the lock is nearly always free at the first
 * compare-exchange. Any thread may push and pop. (A copy on purpose: one
 * ring under both, tried, made the root-task queue 3-32% slower per
 * push+pop on Bun, behind the extra layer; `bench/sync/ring_ab.ts`.)
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

// Header words (Int32).
const LOCK = 0; // 0 free, 1 held, 2 held with waiters
const COUNT = 1; // records in the ring
const CAPACITY = 2; // most records
const HEAD = 3; // byte offset of the oldest record
const TAIL = 4; // byte offset where the next record goes
const BYTES = 5; // size of the ring in bytes
const CLOSED = 6;
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
const HEADER_BYTES = HEADER_WORDS * 4;
const MAGIC_VALUE = 0x5354524d; // "STRM"
const RECORD_HEADER = 8;
const WRAP = -1;
const SPINS = 100;

/** Which side waits: receivers wait for a record, senders for room. */
export const Side = { Recv: RECV_WAIT, Send: SEND_WAIT } as const;
/** One of {@linkcode Side}'s values. */
export type Side = typeof Side[keyof typeof Side];

/** What {@linkcode SharedRing.tryPush} did. */
export type PushOutcome = "sent" | "full" | "closed";

/**
 * A record taken from the ring: its tag, and a copy of its payload or, for
 * a record pushed as a number, the number (no allocation: a TypedArray
 * costs ~0.5 µs to create on Deno).
 */
export interface RingRecord {
  tag: number;
  payload: Uint8Array | null;
  number: number;
}

/** The payload length that marks a record carrying a float64 (see `tryPushNumber`). */
const NUMBER_LENGTH = -2;

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** The ring and flags of one channel, as seen from one thread. */
export class SharedRing {
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  readonly #ring: Uint8Array;
  readonly #ringWords: Int32Array;
  readonly #view: DataView;
  readonly #bytes: number;
  // Reused by every tryPop (a caller consumes it before the next pop).
  readonly #out: RingRecord = { tag: 0, payload: null, number: 0 };

  /** The shared memory for at most `capacity` records in `ringBytes` bytes. */
  static create(capacity: number, ringBytes: number): SharedRing {
    const buffer = new SharedArrayBuffer(HEADER_BYTES + ringBytes);
    const words = new Int32Array(buffer, 0, HEADER_WORDS);
    words[CAPACITY] = capacity;
    words[BYTES] = ringBytes;
    words[MAGIC] = MAGIC_VALUE;
    words[HOST_FD] = -1;
    return new SharedRing(buffer);
  }

  /** Wraps memory made by {@linkcode SharedRing.create}; a `TypeError` for any other buffer. */
  constructor(buffer: SharedArrayBuffer) {
    if (
      !(buffer instanceof SharedArrayBuffer) || buffer.byteLength < HEADER_BYTES + 16
      || new Int32Array(buffer, 0, HEADER_WORDS)[MAGIC] !== MAGIC_VALUE
    ) {
      throw new TypeError("expected the buffer of a SharedChannel (its .buffer)");
    }
    this.buffer = buffer;
    this.#words = new Int32Array(buffer, 0, HEADER_WORDS);
    this.#bytes = this.#words[BYTES]!;
    this.#ring = new Uint8Array(buffer, HEADER_BYTES, this.#bytes);
    this.#ringWords = new Int32Array(buffer, HEADER_BYTES, this.#bytes / 4);
    this.#view = new DataView(buffer, HEADER_BYTES, this.#bytes);
  }

  get capacity(): number {
    return this.#words[CAPACITY]!;
  }

  /** The records in the ring now (a snapshot). */
  get length(): number {
    return Atomics.load(this.#words, COUNT);
  }

  get closed(): boolean {
    return Atomics.load(this.#words, CLOSED) === 1;
  }

  /** The largest payload one record can carry. */
  get maxPayload(): number {
    return this.#bytes - RECORD_HEADER;
  }

  /** Appends a record carrying `payload` unless the ring is closed or full (by count or bytes). */
  tryPush(tag: number, payload: Uint8Array): PushOutcome {
    return this.#push(tag, payload, 0);
  }

  /** Appends a record carrying the float64 `value` (8 bytes, nothing allocated). */
  tryPushNumber(tag: number, value: number): PushOutcome {
    return this.#push(tag, null, value);
  }

  #push(tag: number, payload: Uint8Array | null, value: number): PushOutcome {
    const size = RECORD_HEADER + (payload === null ? 8 : pad4(payload.length));
    const w = this.#words;
    this.#lock();
    try {
      if (w[CLOSED] === 1) return "closed";
      const count = w[COUNT]!;
      if (count >= w[CAPACITY]!) return "full";
      const head = w[HEAD]!;
      const tail = w[TAIL]!;
      let at: number;
      if (count === 0 || tail > head) {
        if (tail + size <= this.#bytes) at = tail;
        else if (size <= head) {
          if (tail < this.#bytes) this.#ringWords[tail >> 2] = WRAP;
          at = 0;
        } else return "full";
      } else if (tail + size <= head) at = tail; // wrapped: the free bytes are [tail, head)
      else return "full";
      this.#ringWords[(at >> 2) + 1] = tag;
      if (payload === null) {
        this.#ringWords[at >> 2] = NUMBER_LENGTH;
        this.#view.setFloat64(at + RECORD_HEADER, value, true);
      } else {
        this.#ringWords[at >> 2] = payload.length;
        this.#ring.set(payload, at + RECORD_HEADER);
      }
      w[TAIL] = at + size;
      Atomics.store(w, COUNT, count + 1);
      return "sent";
    } finally {
      this.#unlock();
    }
  }

  /**
   * Takes the oldest record; null when the ring is empty (closed or not).
   * The record returned is reused by the next call: read it first.
   */
  tryPop(): RingRecord | null {
    if (Atomics.load(this.#words, COUNT) === 0) return null;
    const w = this.#words;
    this.#lock();
    try {
      const count = w[COUNT]!;
      if (count === 0) return null;
      let head = w[HEAD]!;
      if (head === this.#bytes || this.#ringWords[head >> 2] === WRAP) head = 0;
      let length = this.#ringWords[head >> 2]!;
      const out = this.#out;
      out.tag = this.#ringWords[(head >> 2) + 1]!;
      const start = head + RECORD_HEADER;
      if (length === NUMBER_LENGTH) {
        length = 8;
        out.payload = null;
        out.number = this.#view.getFloat64(start, true);
      } else {
        out.payload = this.#ring.slice(start, start + length); // a private copy
      }
      if (count === 1) {
        w[HEAD] = 0;
        w[TAIL] = 0;
      } else {
        w[HEAD] = start + pad4(length);
      }
      Atomics.store(w, COUNT, count - 1);
      return out;
    } finally {
      this.#unlock();
    }
  }

  /** Marks the ring closed (under the lock: no push completes after it); false if it already was. */
  close(): boolean {
    this.#lock();
    try {
      if (this.#words[CLOSED] === 1) return false;
      Atomics.store(this.#words, CLOSED, 1);
      return true;
    } finally {
      this.#unlock();
    }
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

  #lock(): void {
    const w = this.#words;
    if (Atomics.compareExchange(w, LOCK, 0, 1) === 0) return;
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.load(w, LOCK) === 0 && Atomics.compareExchange(w, LOCK, 0, 1) === 0) return;
    }
    while (Atomics.exchange(w, LOCK, 2) !== 0) Atomics.wait(w, LOCK, 2);
  }

  #unlock(): void {
    const w = this.#words;
    if (Atomics.sub(w, LOCK, 1) !== 1) {
      Atomics.store(w, LOCK, 0);
      Atomics.notify(w, LOCK, 1);
    }
  }
}
