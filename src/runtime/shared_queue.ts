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
 * silent drop. The ring, its lock and its bounds are `record_ring.ts`'s
 * (the channels' too); `length` is readable without the lock, which is
 * what the idle/wake protocol needs.
 *
 * @module
 */

import { createRecordRing, RECORD_RING_WORDS, RecordRing } from "./record_ring.ts";

// The header is the ring's own words, rounded up to 8 (no words of ours).
const HEADER_WORDS = Math.max(8, RECORD_RING_WORDS);

/** What {@linkcode SharedQueue.tryPush} did. */
export type PushResult = "queued" | "full";

/** One record taken from the queue. */
export interface QueueRecord {
  /** The id given to `tryPush`. */
  id: number;
  /** A copy of the payload (a plain, unshared buffer). */
  payload: Uint8Array;
}

/** A bounded multi-producer multi-consumer FIFO of byte records in a SharedArrayBuffer. */
export class SharedQueue {
  /** The shared memory; send it to another thread and wrap it with `new SharedQueue(buffer)`. */
  readonly buffer: SharedArrayBuffer;
  readonly #ring: RecordRing;

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
    return new SharedQueue(createRecordRing(HEADER_WORDS, capacity, ringBytes));
  }

  /** Wraps the shared memory of a queue made by {@linkcode SharedQueue.create} (on any thread). */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#ring = new RecordRing(buffer, HEADER_WORDS);
  }

  /** The most records the queue holds. */
  get capacity(): number {
    return this.#ring.capacity;
  }

  /** The records in the queue now (read without the lock: a snapshot). */
  get length(): number {
    return this.#ring.length;
  }

  /** The largest payload a record can carry in this queue's ring. */
  get maxPayload(): number {
    return this.#ring.maxPayload;
  }

  /**
   * Appends a record, or returns `"full"` when the queue holds `capacity`
   * records or its ring has no room for this one. Never waits for room
   * (only, rarely, for the lock). Throws a `RangeError` for a payload larger
   * than {@linkcode maxPayload} (it could never fit).
   */
  tryPush(id: number, payload: Uint8Array): PushResult {
    if (payload.length > this.#ring.maxPayload) {
      throw new RangeError(
        `a root task's encoded payload is ${payload.length} bytes; this queue carries at most ${this.maxPayload}`,
      );
    }
    // (Never closed: the runtime's phase says when it takes no more.)
    return this.#ring.tryPush(id, payload) === "sent" ? "queued" : "full";
  }

  /** Takes the oldest record, or returns null when the queue is empty. */
  tryPop(): QueueRecord | null {
    const record = this.#ring.tryPop();
    return record === null ? null : { id: record.tag, payload: record.payload! };
  }
}
