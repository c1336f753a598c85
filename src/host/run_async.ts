/**
 * `runAsync`: drive a task from async code while the host's event loop lives.
 *
 * @module
 */

import { threadScheduler } from "../sched/current.ts";
import { Ending } from "../sched/scheduler.ts";
import type { Task } from "../sched/types.ts";
import { halt, Rule } from "../sched/usage.ts";
import { HostTurns } from "./host_turns.ts";

/**
 * Drives `task` as a root task on the current thread's scheduler and
 * resolves with its result (or rejects with its error), like `run`, but
 * without holding the JS thread: the host's event loop keeps running
 * meanwhile. Host timers fire, `fetch` and other promises settle, a
 * `Deno.serve`/`Bun.serve` in the same process keeps answering, `await`
 * elsewhere proceeds; tasks may wait for promises with `until`.
 *
 * What runs when, and what it costs: strom tasks run in slices of at most
 * 1 ms between turns of the host loop (a `setImmediate`, a few µs). When no
 * task is ready, the thread waits for the kernel on the JS thread, as `run`
 * does, for the rest of the slice, unless a task waits in `until` (it needs
 * the host loop: the driver returns to it at once); so a busy server pays
 * about what it pays under `run`, and host work no task waits for may wait
 * up to a slice. A thread that found nothing to do for a whole slice, or
 * whose tasks wait in `until`, waits for the kernel off the JS thread
 * (Deno: a `nonblocking` FFI call; Bun: a helper Worker) while the host
 * loop runs freely: each wake-up from there costs a thread hop (tens of
 * µs); an idle process uses no CPU. The blocking `run` is the fastest path
 * for a program that is all strom; use `runAsync` when the program also
 * uses the host.
 *
 * The task starts at once: its steps up to its first wait run before
 * `runAsync` returns the promise (so, e.g., a task's first `untilSignal` has
 * its listeners in place by then). When `task` ends, the root tasks it
 * spawned that are still running are cancelled (their `finally` blocks run)
 * before the promise settles.
 *
 * Rejects with a `TypeError` if `task` is not a task. Halts
 * (`run-inside-task`) when called from inside a task or while `run` or
 * another `runAsync` drives this thread, and (`deadlock`) when every task
 * waits and nothing (no timer, fd, promise or other thread) can wake one.
 *
 * @example
 * ```ts
 * const body = await runAsync(function* () {
 *   const response = yield* until((signal) => fetch("http://127.0.0.1:8080/", { signal }));
 *   return yield* until(response.text());
 * }());
 * ```
 */
export async function runAsync<T>(task: Task<T>): Promise<T> {
  const scheduler = threadScheduler();
  if (scheduler.current !== null || scheduler.driving) {
    halt(
      Rule.RunInsideTask,
      "runAsync was called while this thread was already running strom tasks (inside a task, or while run or runAsync drives it)",
    );
  }
  scheduler.driving = true;
  scheduler.hostLoop = true;
  let root;
  let turns: HostTurns | null = null;
  try {
    root = scheduler.spawn(task, true);
    root.observed = true; // its error is runAsync's to throw
    turns = new HostTurns(scheduler);
    while (!root.done) {
      const pending = turns.turn(root);
      if (pending !== undefined) await pending;
    }
  } finally {
    scheduler.cancelRoots();
    if (turns !== null) {
      await turns.settle(); // no kernel wait of ours outlives the call
      turns.close();
    }
    scheduler.driving = false;
    scheduler.hostLoop = false;
  }
  if (root.ending !== Ending.Returned) throw root.result;
  return root.result as T;
}
