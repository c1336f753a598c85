// A detached task fails: its error is reported on stderr, the program goes on.
import { run, sleep, spawn, yieldNow } from "../../mod.ts";
run(function*() {
  const detached = yield* spawn(function*() {
    yield* sleep(1);
    throw new Error("boom from a detached task");
  }());
  // Wait for its end without joining it (a join would observe the error).
  // Not a longer sleep: on a busy machine the 1 ms timer, set a turn later,
  // could come due after the root's and run() would cancel the task first.
  while (!detached.done) yield* yieldNow();
  console.log("main finished");
}());
