// A detached task fails: its error is reported on stderr, the program goes on.
import { run, sleep, spawn } from "../../mod.ts";
run(function*() {
  yield* spawn(function*() {
    yield* sleep(1);
    throw new Error("boom from a detached task");
  }());
  yield* sleep(20);
  console.log("main finished");
}());
