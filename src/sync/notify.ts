/**
 * `Notify`: wake one waiting task, or all of them (tokio's `Notify`).
 *
 * @module
 */

import { spendBudget, yieldForBudget } from "../sched/budget.ts";
import { currentTask } from "../sched/current.ts";
import type { Operation } from "../sched/types.ts";
import { waitIn, WaitList } from "./wait_list.ts";

/**
 * Wakes tasks of one thread waiting in {@linkcode notified}, with tokio's
 * semantics:
 *
 * - {@linkcode notifyOne} wakes the task that has waited longest. If none
 *   waits, it **stores a permit** instead: the next `notified()` returns at
 *   once and consumes it. At most one permit is stored (several
 *   `notifyOne` calls with nobody waiting make one permit), so a
 *   notification sent just before the receiver starts waiting is not lost.
 * - {@linkcode notifyAll} wakes every task waiting now and stores nothing:
 *   a task that starts waiting afterwards waits for the next notification.
 *
 * Cancel safety: a cancelled `notified()` consumes nothing. One that was
 * woken by `notifyOne` and cancelled before it ran passes the notification
 * on (to the next waiter, or as the stored permit), so it is not lost.
 *
 * @example
 * ```ts
 * const changed = new Notify();
 * function* watcher(): Task<void> {
 *   for (;;) {
 *     yield* changed.notified();
 *     console.log("config changed");
 *   }
 * }
 * // elsewhere, on the same thread:
 * changed.notifyOne();
 * ```
 */
export class Notify {
  #permit = false;
  readonly #waiters = new WaitList<true>();

  /** Whether a permit is stored (a `notifyOne` nobody waited for). */
  get hasPermit(): boolean {
    return this.#permit;
  }

  /** Tasks waiting in {@linkcode notified}. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /**
   * Waits until notified: returns at once (consuming it) if a permit is
   * stored. Cancel-safe (see the class). Halts outside a task.
   */
  *notified(): Operation<void> {
    if (spendBudget(currentTask("notified"))) yield* yieldForBudget("notified");
    if (this.#permit) {
      this.#permit = false;
      return;
    }
    yield* waitIn(this.#waiters, "notified", { giveBack: () => this.notifyOne() });
  }

  /** Wakes the longest-waiting task, or stores the permit if none waits. */
  notifyOne(): void {
    if (!this.#waiters.grantNext(true)) this.#permit = true;
  }

  /** Wakes every task waiting now; stores no permit. */
  notifyAll(): void {
    this.#waiters.releaseAll();
  }
}
