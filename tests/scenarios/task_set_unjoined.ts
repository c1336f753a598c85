// A task set's owner returns while a failure in the set was never joined:
// the error is reported (stderr), the program goes on and exits 0.
import { run, type Task, TaskSet, yieldNow } from "../../mod.ts";

run(function*(): Task<void> {
  yield* (function*(): Task<void> {
    const set = new TaskSet<void>();
    set.spawn(function*(): Task<void> {
      throw new Error("lost in a set");
    }());
    yield* yieldNow();
    yield* yieldNow();
  })();
}());
