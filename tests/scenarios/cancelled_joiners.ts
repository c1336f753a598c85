// Joiners that leave before the joined task ends. A task's one joiner is kept
// without an array and several in one: both must deregister a cancelled
// joiner, and a task whose every joiner left reports its error.
import { run, spawn, yieldNow } from "../../mod.ts";
import type { Operation } from "../../mod.ts";

function* failAfter(turns: number, message: string): Operation<never> {
  for (let i = 0; i < turns; i++) yield* yieldNow();
  throw new Error(message);
}

function* valueAfter<T>(turns: number, v: T): Operation<T> {
  for (let i = 0; i < turns; i++) yield* yieldNow();
  return v;
}

run(function*() {
  // 1. The one joiner is cancelled while it waits, then the task fails:
  // nobody observed the error, so it is reported.
  const lonely = yield* spawn(failAfter(3, "failed after its only joiner left"));
  const gone = yield* spawn(function*() {
    yield* lonely.join();
  }());
  yield* yieldNow(); // `gone` waits in join
  gone.cancel();
  while (!lonely.done) yield* yieldNow();

  // 2. Of two joiners the first is cancelled: the second gets the value.
  const shared = yield* spawn(valueAfter(3, "the value"));
  const first = yield* spawn(function*() {
    return yield* shared.join();
  }());
  const second = yield* spawn(function*() {
    return yield* shared.join();
  }());
  yield* yieldNow(); // both wait in join
  first.cancel();
  console.log(`second got ${yield* second.join()}`);

  // 3. Of three joiners the middle one is cancelled, then the task fails:
  // the other two observe the error, so it is not reported.
  const failing = yield* spawn(failAfter(3, "failed with joiners left"));
  const joiners = [];
  for (let i = 0; i < 3; i++) {
    joiners.push(
      yield* spawn(function*() {
        try {
          yield* failing.join();
          return "no error";
        } catch (error) {
          return (error as Error).message;
        }
      }()),
    );
  }
  yield* yieldNow(); // all three wait in join
  joiners[1].cancel();
  console.log(`first saw: ${yield* joiners[0].join()}`);
  console.log(`third saw: ${yield* joiners[2].join()}`);
}());
console.log("main finished");
