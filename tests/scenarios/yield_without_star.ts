// `yield op` where `yield* op` was meant: halts.
import { run, sleep, type Task } from "../../mod.ts";
run(function*() {
  // deno-lint-ignore no-explicit-any
  yield sleep(1) as any;
}() as Task<void>);
console.log("not reached");
