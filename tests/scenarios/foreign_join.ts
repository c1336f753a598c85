// A task joins a task of another scheduler: halts. One scheduler runs per
// thread, so a handle can only cross threads by being smuggled; this builds
// the second scheduler in-process to stand for the other thread.
import { run } from "../../mod.ts";
import { createReactor } from "../../src/io/reactors.ts";
import { Scheduler } from "../../src/sched/scheduler.ts";
import type { JoinHandle } from "../../src/sched/spawn.ts";

const other = new Scheduler(createReactor());
// A task's record is its handle.
const foreign = other.spawn(
  function*() {
    return 1;
  }(),
  true,
) as unknown as JoinHandle<number>;
run(function*() {
  yield* foreign.join();
}());
console.log("not reached");
