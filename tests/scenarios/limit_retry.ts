// At the thread's task limit, spawn and awaitAll throw TaskLimitError and
// take nothing: the same generators can be offered again once there is room.
import { awaitAll, run, spawn, type Task, TaskLimitError, yieldNow } from "../../mod.ts";
import { initThreadScheduler } from "../../src/sched/current.ts";

initThreadScheduler("epoll", { maxTasks: 3 });

function* work(n: number): Task<number> {
  yield* yieldNow();
  return n;
}

run(function*() {
  const blocker = yield* spawn(work(0)); // root + blocker + 1 free slot
  const job = work(1);
  const pair = [work(2), work(3)];
  try {
    yield* awaitAll(pair);
  } catch (error) {
    console.log(`awaitAll: ${(error as Error).name}`);
  }
  const filler = yield* spawn(work(9)); // takes the last slot
  try {
    yield* spawn(job);
  } catch (error) {
    console.log(`spawn: ${error instanceof TaskLimitError ? "TaskLimitError" : error}`);
  }
  yield* blocker.join();
  yield* filler.join();
  const again = yield* spawn(job); // the same generator, now with room
  console.log(`retried spawn: ${yield* again.join()}`);
  console.log(`retried awaitAll: ${(yield* awaitAll(pair)).join(",")}`);
}());
