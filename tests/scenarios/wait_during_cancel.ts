// A finally block waits while its task is being cancelled: halts.
import { run, sleep, spawn, yieldNow } from "../../mod.ts";
run(function*() {
  const handle = yield* spawn(function*() {
    try {
      yield* sleep(10_000);
    } finally {
      yield* sleep(1);
    }
  }());
  yield* yieldNow();
  handle.cancel();
}());
console.log("not reached");
