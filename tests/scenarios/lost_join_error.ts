// A task fails at the instant its only joiner is cancelled (awaitAny's other
// branch wins in the same turn): its error must still be reported.
import { awaitAny, now, run, sleep, sleepUntil, spawn } from "../../mod.ts";

const at = now() + 20;
run(function*() {
  const handle = yield* spawn(function*() {
    yield* sleepUntil(at);
    throw new Error("failed while its joiner was cancelled");
  }());
  const winner = yield* awaitAny(handle.join(), sleepUntil(at));
  console.log(`winner ${winner.index}, task done ${handle.done}`);
  yield* sleep(5);
}());
