/**
 * The timers of one thread: a binary min-heap on (deadline, insertion order)
 * whose entries know their position, so insert, cancel and pop are all
 * O(log n) and timers with equal deadlines fire in the order they were set.
 *
 * @module
 */

/** One pending timer. Keep it to cancel the timer. */
export class Timer<T> {
  /** The position in the heap, or -1 once fired or cancelled. */
  index = -1;
  constructor(
    /** When it fires, in ms of the monotonic clock. */
    readonly deadline: number,
    /** Breaks ties between equal deadlines: first set, first fired. */
    readonly seq: number,
    /** What the timer wakes. */
    readonly owner: T,
  ) {}

  /** Whether the timer still waits in its heap. */
  get pending(): boolean {
    return this.index >= 0;
  }
}

/** A min-heap of {@linkcode Timer}s ordered by deadline, then by seq. */
export class TimerHeap<T> {
  #heap: Timer<T>[] = [];
  #seq = 0;

  /** How many timers are pending. */
  get size(): number {
    return this.#heap.length;
  }

  /** The earliest deadline, or `Infinity` when no timer is pending. */
  get nextDeadline(): number {
    return this.#heap.length === 0 ? Infinity : this.#heap[0].deadline;
  }

  /** Adds a timer for `owner` at `deadline` and returns it. */
  insert(deadline: number, owner: T): Timer<T> {
    const timer = new Timer(deadline, this.#seq++, owner);
    timer.index = this.#heap.length;
    this.#heap.push(timer);
    this.#up(timer.index);
    return timer;
  }

  /** Removes `timer` if it is pending; a fired or cancelled timer is ignored. */
  cancel(timer: Timer<T>): void {
    const i = timer.index;
    if (i < 0) return;
    timer.index = -1;
    const last = this.#heap.pop()!;
    if (i === this.#heap.length) return;
    this.#heap[i] = last;
    last.index = i;
    this.#down(i);
    this.#up(last.index);
  }

  /** Removes and returns the earliest timer if its deadline is at or before `now`. */
  popExpired(now: number): Timer<T> | undefined {
    const top = this.#heap[0];
    if (top === undefined || top.deadline > now) return undefined;
    this.cancel(top);
    return top;
  }

  #less(a: Timer<T>, b: Timer<T>): boolean {
    return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
  }

  #up(i: number): void {
    const heap = this.#heap;
    const item = heap[i];
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#less(item, heap[parent])) break;
      heap[i] = heap[parent];
      heap[i].index = i;
      i = parent;
    }
    heap[i] = item;
    item.index = i;
  }

  #down(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const item = heap[i];
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && this.#less(heap[child + 1], heap[child])) child++;
      if (!this.#less(heap[child], item)) break;
      heap[i] = heap[child];
      heap[i].index = i;
      i = child;
    }
    heap[i] = item;
    item.index = i;
  }
}
