// A root task built from a generator the task module does not export: the
// host's spawn imports the module, sees it, and halts.
import { rootTask } from "../../src/runtime/root_task.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import type { Task } from "../../src/sched/types.ts";

function* notExported(): Task<number> {
  return 1;
}

const runtime = await Runtime.create({ workers: 1 });
await runtime.spawn(
  rootTask(new URL("../fixtures/runtime_tasks.ts", import.meta.url), notExported),
);
console.log("not reached");
await runtime.close();
