/**
 * `run`: the block_on of strom.
 *
 * @module
 */

import { threadScheduler } from "./current.ts";
import { Ending } from "./scheduler.ts";
import type { Task } from "./types.ts";
import { halt, Rule } from "./usage.ts";

/**
 * Drives `task` as a root task on the current thread's scheduler until it
 * ends, and returns its result (or throws its error). The thread sleeps in
 * the kernel (epoll_wait or poll) whenever no task is ready.
 *
 * When `task` ends, the root tasks it spawned that are still running are
 * cancelled (their `finally` blocks run) before `run` returns, so a thread
 * leaves `run` with no task of its own alive.
 *
 * Halts (`run-inside-task`) when called from inside a task or while another
 * `run` (or a runtime worker's loop) drives this thread, and (`deadlock`)
 * when every task waits and nothing can ever wake one.
 *
 * @example
 * ```ts
 * const answer = run(function* () {
 *   yield* sleep(10);
 *   return 42;
 * }());
 * ```
 */
export function run<T>(task: Task<T>): T {
  const scheduler = threadScheduler();
  if (scheduler.current !== null || scheduler.driving) {
    halt(Rule.RunInsideTask, "run was called while this thread was already running strom tasks");
  }
  scheduler.driving = true;
  let root;
  try {
    root = scheduler.spawn(task, true);
    root.observed = true; // its error is run's to throw
    scheduler.runUntilDone(root);
  } finally {
    scheduler.cancelRoots();
    scheduler.driving = false;
  }
  if (root.ending !== Ending.Returned) throw root.result;
  return root.result as T;
}
