/**
 * A bounded FIFO of byte records in a SharedArrayBuffer, shared by every
 * thread of a runtime: the queue of root tasks waiting for a worker.
 *
 * Any thread may push (the host, a task in a worker) and any worker may pop.
 * A record is a task id plus its encoded payload (module, export name,
 * arguments), so whichever worker pops it has all it needs: nothing about a
 * queued task lives in one thread's heap, and no message has to reach a
 * worker that may be asleep in epoll_wait.
 *
 * The queue is bounded twice: by `capacity` records (the limit a user sets)
 * and by the bytes of its ring (so a few huge payloads cannot exhaust
 * memory). Either bound reached is "full": a result for the pusher, never a
 * silent drop.
 *
 * Concurrency: a futex-style mutex (Drepper's three-state lock on
 * `Atomics.wait`/`notify`) guards the ring. The critical sections are a
 * memcpy of one record and a few index updates, so the lock is almost always
 * taken by the first compare-exchange; it spins briefly, then sleeps in the
 * kernel (only if a holder was descheduled). `length` is readable without
 * the lock (an `Atomics.load`), which is what the idle/wake protocol needs.
 *
 * @module
 */

// Header words (Int32) at the start of the buffer.
const LOCK = 0; // 0 free, 1 held, 2 held with waiters
const COUNT = 1; // records in the queue
const CAPACITY = 2; // most records
const HEAD = 3; // byte offset of the oldest record
const TAIL = 4; // byte offset where the next record goes
const BYTES = 5; // size of the ring in bytes
const HEADER_WORDS = 8;
const HEADER_BYTES = HEADER_WORDS * 4;
// A record: u32 payload length, i32 id, payload padded to 4 bytes.
const RECORD_HEADER = 8;
// Written where a record did not fit before the ring's end: readers wrap.
const WRAP = -1;
const SPINS = 100;

/** What {@linkcode SharedQueue.tryPush} did. */
export type PushResult = "queued" | "full";

/** One record taken from the queue. */
export interface QueueRecord {
  /** The id given to `tryPush`. */
  id: number;
  /** A copy of the payload (a plain, unshared buffer). */
  payload: Uint8Array;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** A bounded multi-producer multi-consumer FIFO of byte records in a SharedArrayBuffer. */
export class SharedQueue {
  /** The shared memory; send it to another thread and wrap it with `new SharedQueue(buffer)`. */
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  readonly #ring: Uint8Array;
  readonly #ringWords: Int32Array;
  readonly #bytes: number;

  /**
   * Creates the shared memory of a queue holding at most `capacity` records
   * and `ringBytes` bytes of records (each record takes 8 bytes plus its
   * payload rounded up to 4). Throws a `RangeError` for a non-positive or
   * non-integer size.
   */
  static create(capacity: number, ringBytes: number): SharedQueue {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`queue capacity must be an integer >= 1, got ${capacity}`);
    }
    if (!Number.isSafeInteger(ringBytes) || ringBytes < 16 || ringBytes % 4 !== 0) {
      throw new RangeError(`queue bytes must be a multiple of 4, >= 16, got ${ringBytes}`);
    }
    const buffer = new SharedArrayBuffer(HEADER_BYTES + ringBytes);
    const words = new Int32Array(buffer, 0, HEADER_WORDS);
    words[CAPACITY] = capacity;
    words[BYTES] = ringBytes;
    return new SharedQueue(buffer);
  }

  /** Wraps the shared memory of a queue made by {@linkcode SharedQueue.create} (on any thread). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#words = new Int32Array(buffer, 0, HEADER_WORDS);
    this.#bytes = Atomics.load(this.#words, BYTES);
    this.#ring = new Uint8Array(buffer, HEADER_BYTES, this.#bytes);
    this.#ringWords = new Int32Array(buffer, HEADER_BYTES, this.#bytes / 4);
  }

  /** The most records the queue holds. */
  get capacity(): number {
    return this.#words[CAPACITY]!;
  }

  /** The records in the queue now (read without the lock: a snapshot). */
  get length(): number {
    return Atomics.load(this.#words, COUNT);
  }

  /** The largest payload a record can carry in this queue's ring. */
  get maxPayload(): number {
    return this.#bytes - RECORD_HEADER;
  }

  /**
   * Appends a record, or returns `"full"` when the queue holds `capacity`
   * records or its ring has no room for this one. Never waits for room
   * (only, rarely, for the lock). Throws a `RangeError` for a payload larger
   * than {@linkcode maxPayload} (it could never fit).
   */
  tryPush(id: number, payload: Uint8Array): PushResult {
    const size = RECORD_HEADER + pad4(payload.length);
    if (size > this.#bytes) {
      throw new RangeError(
        `a root task's encoded payload is ${payload.length} bytes; this queue carries at most ${this.maxPayload}`,
      );
    }
    const w = this.#words;
    this.#lock();
    try {
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
      } else {
        // Wrapped: the free bytes are [tail, head).
        if (tail + size <= head) at = tail;
        else return "full";
      }
      this.#ringWords[at >> 2] = payload.length;
      this.#ringWords[(at >> 2) + 1] = id;
      this.#ring.set(payload, at + RECORD_HEADER);
      w[TAIL] = at + size;
      Atomics.store(w, COUNT, count + 1);
      return "queued";
    } finally {
      this.#unlock();
    }
  }

  /** Takes the oldest record, or returns null when the queue is empty. */
  tryPop(): QueueRecord | null {
    if (Atomics.load(this.#words, COUNT) === 0) return null;
    const w = this.#words;
    this.#lock();
    try {
      const count = w[COUNT]!;
      if (count === 0) return null;
      let head = w[HEAD]!;
      if (head === this.#bytes || this.#ringWords[head >> 2] === WRAP) head = 0;
      const length = this.#ringWords[head >> 2]!;
      const id = this.#ringWords[(head >> 2) + 1]!;
      const start = head + RECORD_HEADER;
      // slice() of a shared view copies into a fresh unshared buffer.
      const payload = this.#ring.slice(start, start + length);
      if (count === 1) {
        w[HEAD] = 0;
        w[TAIL] = 0;
      } else {
        w[HEAD] = start + pad4(length);
      }
      Atomics.store(w, COUNT, count - 1);
      return { id, payload };
    } finally {
      this.#unlock();
    }
  }

  #lock(): void {
    const w = this.#words;
    if (Atomics.compareExchange(w, LOCK, 0, 1) === 0) return;
    for (let i = 0; i < SPINS; i++) {
      if (Atomics.load(w, LOCK) === 0 && Atomics.compareExchange(w, LOCK, 0, 1) === 0) return;
    }
    // Contended: mark it (2) and sleep until the holder hands it over.
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
