// A task on a runtime worker tries to shut its own runtime down: halts.
import { rootTask } from "../../src/runtime/root_task.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { stopMyRuntime } from "../fixtures/runtime_tasks.ts";

const runtime = await Runtime.create({ workers: 1 });
await runtime.spawn(
  rootTask(new URL("../fixtures/runtime_tasks.ts", import.meta.url), stopMyRuntime),
);
console.log("not reached");
await runtime.close();
