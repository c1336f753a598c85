/**
 * `Semaphore`: a count of permits that bounds how many tasks do something
 * at once (a connection limit, a pool).
 *
 * @module
 */

import { spendBudget, yieldForBudget } from "../sched/budget.ts";
import { currentTask } from "../sched/current.ts";
import type { Operation } from "../sched/types.ts";
import { type Waiter, waitIn, WaitList } from "./wait_list.ts";

/**
 * Permits taken from a {@linkcode Semaphore}: give them back with
 * {@linkcode release}, in a `finally` block or with `using`. Releasing
 * twice is a no-op, so both together are safe.
 */
export class Permit {
  #semaphore: Semaphore | null;

  /**
   * Made by `acquire`/`tryAcquire`; not for user code.
   * @internal
   */
  constructor(semaphore: Semaphore, /** How many permits it holds. */ readonly count: number) {
    this.#semaphore = semaphore;
  }

  /** Whether {@linkcode release} was called. */
  get released(): boolean {
    return this.#semaphore === null;
  }

  /** Gives the permits back (to the first waiting task, if any). Idempotent. */
  release(): void {
    const semaphore = this.#semaphore;
    if (semaphore === null) return;
    this.#semaphore = null;
    semaphore.addPermits(this.count);
  }

  /** {@linkcode release}: `using permit = yield* sem.acquire()` releases at the block's end. */
  [Symbol.dispose](): void {
    this.release();
  }
}

/**
 * A semaphore of the tasks of one thread: `acquire` takes permits, waiting
 * while there are not enough; releasing the {@linkcode Permit} gives them
 * back.
 *
 * Fair (FIFO): waiters are served in the order they came, and a waiter at
 * the head that asks for several permits collects them as they are released,
 * so neither a later, smaller request nor a `tryAcquire` overtakes it. While
 * anyone waits, {@linkcode available} is 0.
 *
 * Cancel safety: a cancelled `acquire` takes nothing: permits it had
 * collected (or been handed) go to the next waiter.
 *
 * @example
 * ```ts
 * const connections = new Semaphore(100);
 * function* serve(conn: TcpStream): Task<void> {
 *   using _permit = yield* connections.acquire(); // at most 100 at once
 *   yield* handle(conn);
 * }
 * ```
 */
export class Semaphore {
  #available: number;
  readonly #waiters = new WaitList<number>();

  /**
   * Creates a semaphore with `permits` permits. Throws a `RangeError` unless
   * `permits` is an integer in [0, 2^31 - 1].
   */
  constructor(permits: number) {
    checkCount("Semaphore permits", permits, 0);
    this.#available = permits;
  }

  /** Permits free now (0 while a task waits). */
  get available(): number {
    return this.#available;
  }

  /** Tasks waiting in `acquire`. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Takes `n` permits (default 1), waiting while fewer are free or earlier
   * tasks wait. Returns the {@linkcode Permit} that gives them back.
   * Cancel-safe: cancelled, it took nothing. Throws a `RangeError` unless
   * `n` is an integer >= 1. Halts outside a task.
   */
  *acquire(n = 1): Operation<Permit> {
    checkCount("acquire: n", n, 1);
    if (spendBudget(currentTask("acquire"))) yield* yieldForBudget("acquire");
    const permit = this.tryAcquire(n);
    if (permit !== null) return permit;
    const entry = yield* waitIn(this.#waiters, "acquire", {
      giveBack: (count) => this.addPermits(count),
      queued: () => this.addPermits(0), // the head collects what is free now
      unlinked: (gone) => this.#takeBack(gone),
    }, n);
    return new Permit(this, entry.grant as number);
  }

  /**
   * Takes `n` permits (default 1) if they are free now and nobody waits;
   * else returns null. Never waits. Throws a `RangeError` unless `n` is an
   * integer >= 1.
   */
  tryAcquire(n = 1): Permit | null {
    checkCount("tryAcquire: n", n, 1);
    if (this.#waiters.head !== null || this.#available < n) return null;
    this.#available -= n;
    return new Permit(this, n);
  }

  /**
   * Adds `n` permits: to the waiting tasks first, in order, then to the free
   * count (what releasing a permit does; also grows the semaphore). Throws a
   * `RangeError` unless `n` is an integer >= 0.
   */
  addPermits(n: number): void {
    checkCount("addPermits: n", n, 0);
    let left = this.#available + n;
    for (let w = this.#waiters.head; w !== null && left > 0; w = this.#waiters.head) {
      const take = Math.min(w.want - w.partial, left);
      w.partial += take;
      left -= take;
      if (w.partial < w.want) break; // the head keeps what it collected and waits on
      this.#waiters.grantTo(w, w.partial);
    }
    this.#available = left;
  }

  // A waiter cancelled while still waiting: what it collected goes on.
  #takeBack(gone: Waiter<number>): void {
    const collected = gone.partial;
    gone.partial = 0;
    if (collected > 0) this.addPermits(collected);
  }
}

function checkCount(what: string, n: number, min: number): void {
  if (!Number.isInteger(n) || n < min || n > 0x7fffffff) {
    throw new RangeError(`${what} must be an integer in [${min}, 2^31 - 1], got ${n}`);
  }
}
