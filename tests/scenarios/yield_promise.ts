// A task yields a raw Promise: halts.
import { run, type Task } from "../../mod.ts";
run((function*() {
  yield Promise.resolve(1);
})() as unknown as Task<void>);
console.log("not reached");
