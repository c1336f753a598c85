// Two tasks join each other: nothing can ever wake either: halts.
import { type JoinHandle, run, spawn, yieldNow } from "../../mod.ts";
run(function*() {
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
