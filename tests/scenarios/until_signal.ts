// untilSignal: the process sends itself SIGTERM while a task waits for it;
// the task gets the name. Then a wait for SIGINT is cancelled (time-out),
// which removes the listener: the next SIGINT ends the process by default.
import process from "node:process";
import { runAsync, timeout, TimeoutError, untilSignal } from "../../mod.ts";

const got = await runAsync(function*() {
  setTimeout(() => process.kill(process.pid, "SIGTERM"), 20);
  return yield* untilSignal();
}());
console.log(`got ${got}`);
await runAsync(function*() {
  try {
    yield* timeout(20, untilSignal(["SIGINT"]));
  } catch (error) {
    if (!(error instanceof TimeoutError)) throw error;
    console.log("cancelled");
  }
}());
process.kill(process.pid, "SIGINT");
await new Promise((resolve) => setTimeout(resolve, 2000));
console.log("not reached: SIGINT was still caught");
