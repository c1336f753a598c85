// A generator strom already ran to its end, given to awaitAll: halts.
import { awaitAll, run, sleep, spawn } from "../../mod.ts";
run(function*() {
  const op = sleep(1);
  const handle = yield* spawn(op);
  yield* handle.join();
  yield* awaitAll(op, sleep(1));
}());
console.log("not reached");
