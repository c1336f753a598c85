// A task module whose top level calls run() is imported on a worker that
// already runs a root task: run() must halt (run-inside-task), not cancel the
// worker's other tasks when it returns.
import { EFD_CLOEXEC, EFD_NONBLOCK, libc } from "../../src/ffi/mod.ts";
import { rootTask } from "../../src/runtime/root_task.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { fromRunModule } from "../fixtures/runtime_run_at_import.ts";
import { Board, gated } from "../fixtures/runtime_tasks.ts";

const TASKS = new URL("../fixtures/runtime_tasks.ts", import.meta.url);
const RUN_AT_IMPORT = new URL("../fixtures/runtime_run_at_import.ts", import.meta.url);
const board = new Int32Array(new SharedArrayBuffer(1024));
const gate = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
const runtime = await Runtime.create({ workers: 1, maxTasksPerWorker: 2 });
const first = runtime.spawn(rootTask(TASKS, gated, board, 0, gate)).then(
  () => "returned",
  (e: Error) => `failed with ${e.name}`,
);
while (Atomics.load(board, Board.STARTED) < 1) {
  const r = Atomics.waitAsync(board, Board.STARTED, 0);
  if (r.async) await r.value;
}
// trySpawn: the host never imports the module, the worker does.
runtime.trySpawn(rootTask(RUN_AT_IMPORT, fromRunModule));
console.log(`the first task ${await first} (not reached: run halts on the worker)`);
await runtime.close();
libc.close(gate);
