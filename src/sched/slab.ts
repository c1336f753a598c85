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
  // A slot holds its record or, while free, a number: the generation of the
  // next record it will hold (the low 6 bits) and, above them, 1 + the index
  // of the next free slot (0: none). The free slots form a stack threaded
  // through the slots themselves: no second array of generations, no array
  // of free indexes to grow and shrink. Records are never numbers here
  // (tasks; strings in a test).
  #slots: (T | number)[] = [];
  #freeHead = -1;
  #size = 0;

  /** How many records the slab holds. */
  get size(): number {
    return this.#size;
  }

  /** One more than the highest index ever used (the bound for {@linkcode at}). */
  get span(): number {
    return this.#slots.length;
  }

  /** The record at slot `index` (not an id), or `undefined` if the slot is free. */
  at(index: number): T | undefined {
    const slot = this.#slots[index];
    return typeof slot === "number" ? undefined : slot;
  }

  /**
   * Stores `record` and returns its id. Throws a `RangeError` when all
   * {@linkcode SLAB_CAPACITY} slots are taken.
   */
  insert(record: T): number {
    const index = this.#freeHead;
    if (index < 0) {
      const fresh = this.#slots.length;
      if (fresh >= SLAB_CAPACITY) throw new RangeError(`slab full: ${SLAB_CAPACITY} records`);
      this.#slots.push(record);
      this.#size++;
      return fresh; // generation 0
    }
    const free = this.#slots[index] as number;
    this.#freeHead = Math.floor(free / GENERATIONS) - 1;
    this.#slots[index] = record;
    this.#size++;
    return ((free % GENERATIONS) << 24) | index;
  }

  /**
   * Removes `record`, stored under `id`; a stale id (the slot freed or
   * holding another record since) is ignored.
   */
  remove(id: number, record: T): void {
    const index = id & INDEX_MASK;
    if (this.#slots[index] !== record) return;
    // A new generation makes every id handed out for this slot stale.
    this.#slots[index] = (this.#freeHead + 1) * GENERATIONS + ((id >>> 24) + 1) % GENERATIONS;
    this.#freeHead = index;
    this.#size--;
  }
}
