// A listener registered with another scheduler (as if it belonged to another
// thread) is used from a task of this thread's scheduler: halts with
// socket-from-other-thread.
import { run } from "../../mod.ts";
import { createReactor } from "../../src/io/reactors.ts";
import { bindOn } from "../../src/net/tcp_listener.ts";
import { Scheduler } from "../../src/sched/scheduler.ts";

const other = new Scheduler(createReactor());
const listener = bindOn(other, "127.0.0.1:0", {});
run(function*() {
  yield* listener.accept(); // halts here
  console.log("not reached");
}());
