// Advances a strom operation by hand inside a task, then goes on: halts.
import { run, sleep } from "../../mod.ts";
run(function*() {
  const op = sleep(5);
  op.next(); // registers a timer for this task but never yields to strom
  yield* sleep(1);
}());
console.log("not reached");
