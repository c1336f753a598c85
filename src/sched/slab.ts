/**
 * A slab of records addressed by ids made of an index and a generation, so a
 * lookup is an array access and a stale id (its record gone, the slot reused)
 * is recognised instead of reaching the new occupant.
 *
 * @module
 */

/** Slots per slab: ids keep the index in their low 24 bits. */
export const SLAB_CAPACITY = 1 << 24;
const INDEX_MASK = SLAB_CAPACITY - 1;
// The generation takes the 6 bits above the index, so an id stays below
// 2^30: a small integer to the engines (no heap number, shift not divide).
// A stale id is recognised unless its slot was reused 64 times meanwhile.
const GENERATIONS = 64;

/** Records addressed by generation-checked ids. */
export class Slab<T> {
  #records: (T | undefined)[] = [];
  #generations: number[] = [];
  #free: number[] = [];
  #size = 0;

  /** How many records the slab holds. */
  get size(): number {
    return this.#size;
  }

  /** One more than the highest index ever used (the bound for {@linkcode at}). */
  get span(): number {
    return this.#records.length;
  }

  /** The record at slot `index` (not an id), or `undefined` if the slot is free. */
  at(index: number): T | undefined {
    return this.#records[index];
  }

  /**
   * Stores `record` and returns its id. Throws a `RangeError` when all
   * {@linkcode SLAB_CAPACITY} slots are taken.
   */
  insert(record: T): number {
    let index = this.#free.pop();
    if (index === undefined) {
      index = this.#records.length;
      if (index >= SLAB_CAPACITY) throw new RangeError(`slab full: ${SLAB_CAPACITY} records`);
      this.#records.push(undefined);
      this.#generations.push(0);
    }
    this.#records[index] = record;
    this.#size++;
    return (this.#generations[index]! << 24) | index;
  }

  /** Removes the record with this id; a stale id is ignored. */
  remove(id: number): void {
    const index = id & INDEX_MASK;
    if (this.#generations[index] !== id >>> 24) return;
    this.#records[index] = undefined;
    // A new generation makes every id handed out for this slot stale.
    this.#generations[index] = (this.#generations[index] + 1) % GENERATIONS;
    this.#free.push(index);
    this.#size--;
  }
}
