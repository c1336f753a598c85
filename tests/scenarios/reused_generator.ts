// The same generator given to awaitAll twice: halts.
import { awaitAll, run, sleep } from "../../mod.ts";
run(function*() {
  const op = sleep(1);
  yield* awaitAll(op, op);
}());
console.log("not reached");
