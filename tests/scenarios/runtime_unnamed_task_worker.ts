// trySpawn before the host ever imported the task module: only the worker
// can check the export; its halt ends the whole process (not just the worker).
import { rootTask } from "../../src/runtime/root_task.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import type { Task } from "../../src/sched/types.ts";

function* notExported(): Task<number> {
  return 1;
}

const runtime = await Runtime.create({ workers: 1 });
const r = runtime.trySpawn(
  rootTask(new URL("../fixtures/runtime_tasks.ts", import.meta.url), notExported),
);
if (r.status === "queued") await r.result;
console.log("not reached");
await runtime.close();
