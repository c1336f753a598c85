/**
 * A FIFO queue of runnable items on a growable ring buffer: O(1) push and
 * shift without the O(n) `Array.prototype.shift`.
 *
 * @module
 */

/** A first-in first-out queue of items waiting for their turn. */
export class ReadyQueue<T> {
  #items: (T | undefined)[] = new Array(1024);
  #head = 0;
  #length = 0;

  /** How many items wait. */
  get length(): number {
    return this.#length;
  }

  /** Appends `item` at the back. */
  push(item: T): void {
    if (this.#length === this.#items.length) this.#grow();
    this.#items[(this.#head + this.#length) & (this.#items.length - 1)] = item;
    this.#length++;
  }

  /** Removes and returns the front item, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head] = undefined; // let the GC have it
    this.#head = (this.#head + 1) & (this.#items.length - 1);
    this.#length--;
    return item;
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
