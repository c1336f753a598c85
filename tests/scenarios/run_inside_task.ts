// `run` called from inside a task: halts.
import { run, yieldNow } from "../../mod.ts";
run(function*() {
  yield* yieldNow();
  run(function*() {}());
}());
console.log("not reached");
