/**
 * A bounded multi-producer multi-consumer FIFO of byte records in a
 * SharedArrayBuffer: the one ring under both the runtime's root-task queue
 * (`shared_queue.ts`) and the cross-worker channel (`shared_ring.ts`).
 *
 * Layout: header words (Int32) at the start of the buffer, the first
 * {@linkcode RECORD_RING_WORDS} of them this ring's, the rest its owner's;
 * then the ring. A record is a length word, a tag word (the owner's: a task
 * id, a value's encoding) and the payload padded to 4 bytes; a record that
 * does not fit before the ring's end is written at its start, after a wrap
 * marker. A record may carry a float64 instead of bytes (no allocation on
 * either side: a TypedArray costs ~0.5 µs to create on Deno).
 *
 * The ring is bounded twice: by `capacity` records and by the bytes of its
 * ring (so a few huge payloads cannot exhaust memory). Either bound reached
 * is "full": a result for the pusher, never a silent drop.
 *
 * Concurrency: a futex-style mutex (Drepper's three-state lock on
 * `Atomics.wait`/`notify`) guards the ring. The critical sections are a
 * memcpy of one record and a few index updates, so the lock is almost always
 * taken by the first compare-exchange; it spins briefly, then sleeps in the
 * kernel (only if a holder was descheduled). `length` is readable without
 * the lock (an `Atomics.load`), which is what the wake protocols need.
 *
 * @module
 */

// This ring's header words.
const LOCK = 0; // 0 free, 1 held, 2 held with waiters
const COUNT = 1; // records in the ring
const CAPACITY = 2; // most records
const HEAD = 3; // byte offset of the oldest record
const TAIL = 4; // byte offset where the next record goes
const BYTES = 5; // size of the ring in bytes
const CLOSED = 6; // 1 once closed: no push completes after
/** The header words the ring uses (0 to 6): an owner's words come after. */
export const RECORD_RING_WORDS = 7;
// A record: i32 payload length (or NUMBER_LENGTH), i32 tag, payload padded to 4 bytes.
const RECORD_HEADER = 8;
// Written where a record did not fit before the ring's end: readers wrap.
const WRAP = -1;
// The length word of a record that carries a float64.
const NUMBER_LENGTH = -2;
const SPINS = 100;
// What #place returns instead of an offset.
const FULL = -1;
const CLOSED_RING = -2;

/** What {@linkcode RecordRing.tryPush} did. */
export type PushOutcome = "sent" | "full" | "closed";

/**
 * A record taken from the ring: its tag, and a copy of its payload (a
 * plain, unshared buffer) or, for a record pushed as a number, the number.
 */
export interface RingRecord {
  tag: number;
  payload: Uint8Array | null;
  number: number;
}

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/**
 * Creates the shared memory of a ring holding at most `capacity` records
 * in `ringBytes` bytes (a multiple of 4), after `headerWords` header words
 * (at least {@linkcode RECORD_RING_WORDS}); the owner checks the sizes and
 * fills its own header words.
 */
export function createRecordRing(
  headerWords: number,
  capacity: number,
  ringBytes: number,
): SharedArrayBuffer {
  const buffer = new SharedArrayBuffer(headerWords * 4 + ringBytes);
  const words = new Int32Array(buffer, 0, RECORD_RING_WORDS);
  words[CAPACITY] = capacity;
  words[BYTES] = ringBytes;
  return buffer;
}

/** A ring made by {@linkcode createRecordRing}, as seen from one thread. */
export class RecordRing {
  /** The shared memory; send it to another thread and wrap it there. */
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;
  readonly #ring: Uint8Array;
  readonly #ringWords: Int32Array;
  readonly #view: DataView;
  readonly #bytes: number;
  // Reused by every tryPop (a caller consumes it before the next pop).
  readonly #out: RingRecord = { tag: 0, payload: null, number: 0 };

  /** Wraps a ring whose header is `headerWords` words (on any thread). */
  constructor(buffer: SharedArrayBuffer, headerWords: number) {
    this.buffer = buffer;
    this.#words = new Int32Array(buffer, 0, RECORD_RING_WORDS);
    this.#bytes = Atomics.load(this.#words, BYTES);
    const at = headerWords * 4;
    this.#ring = new Uint8Array(buffer, at, this.#bytes);
    this.#ringWords = new Int32Array(buffer, at, this.#bytes / 4);
    this.#view = new DataView(buffer, at, this.#bytes);
  }

  /** The most records the ring holds. */
  get capacity(): number {
    return this.#words[CAPACITY]!;
  }

  /** The records in the ring now (read without the lock: a snapshot). */
  get length(): number {
    return Atomics.load(this.#words, COUNT);
  }

  /** Whether the ring was closed (by any thread). */
  get closed(): boolean {
    return Atomics.load(this.#words, CLOSED) === 1;
  }

  /** The largest payload one record can carry. */
  get maxPayload(): number {
    return this.#bytes - RECORD_HEADER;
  }

  /**
   * Appends a record carrying `tag` and `payload` unless the ring is closed
   * or full (by count or bytes). Never waits for room (only, rarely, for the
   * lock). A payload over {@linkcode maxPayload} is always "full": the
   * owner refuses it first.
   */
  tryPush(tag: number, payload: Uint8Array): PushOutcome {
    const length = payload.length;
    this.#lock();
    try {
      const at = this.#place(RECORD_HEADER + pad4(length));
      if (at < 0) return at === FULL ? "full" : "closed";
      this.#ringWords[at >> 2] = length;
      this.#ringWords[(at >> 2) + 1] = tag;
      this.#ring.set(payload, at + RECORD_HEADER);
      this.#commit(at + RECORD_HEADER + pad4(length));
      return "sent";
    } finally {
      this.#unlock();
    }
  }

  /** Appends a record carrying `tag` and the float64 `value` (8 bytes, nothing allocated). */
  tryPushNumber(tag: number, value: number): PushOutcome {
    this.#lock();
    try {
      const at = this.#place(RECORD_HEADER + 8);
      if (at < 0) return at === FULL ? "full" : "closed";
      this.#ringWords[at >> 2] = NUMBER_LENGTH;
      this.#ringWords[(at >> 2) + 1] = tag;
      this.#view.setFloat64(at + RECORD_HEADER, value, true);
      this.#commit(at + RECORD_HEADER + 8);
      return "sent";
    } finally {
      this.#unlock();
    }
  }

  // Under the lock: where a record of `size` bytes goes, or FULL / CLOSED_RING.
  #place(size: number): number {
    const w = this.#words;
    if (w[CLOSED] === 1) return CLOSED_RING;
    const count = w[COUNT]!;
    if (count >= w[CAPACITY]!) return FULL;
    const head = w[HEAD]!;
    const tail = w[TAIL]!;
    if (count === 0 || tail > head) {
      if (tail + size <= this.#bytes) return tail;
      if (size > head) return FULL;
      if (tail < this.#bytes) this.#ringWords[tail >> 2] = WRAP;
      return 0;
    }
    return tail + size <= head ? tail : FULL; // wrapped: the free bytes are [tail, head)
  }

  // Under the lock: the record written ends at `end`; it is now in the ring.
  #commit(end: number): void {
    const w = this.#words;
    w[TAIL] = end;
    Atomics.store(w, COUNT, w[COUNT]! + 1);
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
        // slice() of a shared view copies into a fresh unshared buffer.
        out.payload = this.#ring.slice(start, start + length);
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
