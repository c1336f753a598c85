// runAsync called while run() drives the thread (from inside a task): halts.
import { run, runAsync, sleep } from "../../mod.ts";
run(function*() {
  void runAsync(sleep(1));
  yield* sleep(1);
}());
console.log("not reached");
