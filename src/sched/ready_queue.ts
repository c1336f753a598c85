/**
 * The ready queue: FIFO on growable ring buffers (O(1) push and shift,
 * without the O(n) `Array.prototype.shift`), with a lane of its own for
 * what timers and fd events wake, which is served ahead of the queue (see
 * `Scheduler.runReady`).
 *
 * @module
 */

/** A first-in first-out ring buffer that grows by doubling. */
class Ring<T> {
  #items: (T | undefined)[] = new Array(1024);
  #head = 0;
  length = 0;

  push(item: T): void {
    if (this.length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.length) & (this.#items.length - 1)] = item;
    this.length++;
  }

  shift(): T | undefined {
    if (this.length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined; // let the GC have it
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.length--;
    return item;
  }

  #grow(): void {
    // The capacity stays a power of two so the index wraps with a mask.
    const old = this.#items;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.length; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = next;
    this.#head = 0;
  }
}

/**
 * The items waiting for their turn, in two FIFO lanes: the queue lane,
 * where {@linkcode push} appends and {@linkcode shift} takes, and the event
 * lane, for what timers and fd events woke ({@linkcode promoteLast} moves
 * items there, {@linkcode shiftEvent} takes them). Which lane goes when is
 * the scheduler's policy (see `Scheduler.runReady`).
 *
 * The queue lane is a ring written out here rather than a second
 * {@linkcode Ring}: every task switch pushes and shifts it, and holding it
 * through a `Ring` field measured slower on Bun (same-process A/B,
 * bench/sched/ab.ts, quiet machine: yield-10k +3-8%, depth-1 +6-12%).
 */
export class ReadyQueue<T> {
  #items: (T | undefined)[] = new Array(1024);
  #head = 0;
  #length = 0;
  readonly #events = new Ring<T>();
  // The event lane's length, kept here too: every turn reads `length` and
  // `events`, and reading the ring's field instead measured 0-11% slower
  // on Bun's yield-10k (noisy, but never faster).
  #eventCount = 0;

  /** How many items wait, in both lanes. */
  get length(): number {
    return this.#length + this.#eventCount;
  }

  /** How many items wait in the queue lane. */
  get queued(): number {
    return this.#length;
  }

  /** How many items wait in the event lane. */
  get events(): number {
    return this.#eventCount;
  }

  /** Appends `item` at the back of the queue lane. */
  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & (this.#items.length - 1)] = item;
    this.#length++;
  }

  /** Removes and returns the queue lane's front item, or `undefined` when it is empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined; // let the GC have it
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#length--;
    return item;
  }

  /** Removes and returns the event lane's front item, or `undefined` when it is empty. */
  shiftEvent(): T | undefined {
    if (this.#eventCount === 0) return undefined;
    this.#eventCount--;
    return this.#events.shift();
  }

  /**
   * Moves the last `count` items of the queue lane to the back of the event
   * lane, keeping their order. (Moving them after the pushes, rather than
   * routing each push, keeps `push` as cheap as a plain ring's.)
   */
  promoteLast(count: number): void {
    const n = Math.min(count, this.#length);
    if (n <= 0) return;
    const items = this.#items;
    const mask = items.length - 1;
    for (let i = this.#length - n; i < this.#length; i++) {
      const at = (this.#head + i) & mask;
      this.#events.push(items[at] as T);
      items[at] = undefined;
    }
    this.#length -= n;
    this.#eventCount += n;
  }

  #grow(): void {
    // The capacity stays a power of two so the index wraps with a mask.
    const old = this.#items;
    const next: (T | undefined)[] = new Array(old.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = old[(this.#head + i) & (old.length - 1)];
    this.#items = next;
    this.#head = 0;
  }
}
