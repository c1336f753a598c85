// A task waits for a promise under the blocking run(): the promise could
// never settle (run never returns to the event loop): halts.
import { run, until } from "../../mod.ts";
run(function*() {
  yield* until(Promise.resolve(1));
}());
console.log("not reached");
