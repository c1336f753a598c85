// What the cooperative budget tests share: a loop of operations that are
// always ready, watched by another task of the same thread.
import { type Operation, spawn, yieldNow } from "../../mod.ts";

/**
 * Runs `step(0)` ... `step(n - 1)` in the calling task while another task
 * records, each time it runs, how many steps were done. Returns the counts
 * it saw strictly between 0 and `n`: one per time the loop let it run.
 */
export function* watchedLoop(
  n: number,
  step: (i: number) => Operation<unknown>,
): Operation<number[]> {
  let done = 0;
  const seen: number[] = [];
  const watcher = yield* spawn(function*() {
    // Bounded: without the budget it would loop until the test runner's limit.
    while (done < n && seen.length < 100_000) {
      seen.push(done);
      yield* yieldNow();
    }
  }());
  for (let i = 0; i < n; i++) {
    yield* step(i);
    done++;
  }
  yield* watcher.join();
  return seen.filter((j) => j > 0 && j < n);
}
