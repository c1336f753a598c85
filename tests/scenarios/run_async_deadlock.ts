// Under runAsync, two tasks join each other and nothing else can wake
// either (no timer, fd or promise): halts, as under run.
import { type JoinHandle, runAsync, spawn, yieldNow } from "../../mod.ts";
await runAsync(function*() {
  let b: JoinHandle<void> | null = null;
  const a = yield* spawn(function*() {
    yield* yieldNow();
    yield* b!.join();
  }());
  b = yield* spawn(function*() {
    yield* a.join();
  }());
  yield* a.join();
}());
console.log("not reached");
