/**
 * Memory of shared-buffer arguments: N root tasks, each given a fresh
 * SharedArrayBuffer of S MiB (every page written), run one after another on
 * a runtime; prints the process's RSS before, after the tasks, and after
 * the buffers had a chance to be collected. A buffer is referenced by the
 * host until its task is taken and then by that task's arguments only, so
 * what remains after the tasks is what the engines have not yet collected.
 *
 *     deno run -A bench/runtime/shared_buffers.ts [N=200] [MiB=2] [workers=2]
 *     bun bench/runtime/shared_buffers.ts
 *
 * @module
 */

import { readFileSync } from "node:fs";
import { hostArgs as args } from "../../src/ffi/mod.ts";
import { rootTask } from "../../src/runtime/root_task.ts";
import { Runtime } from "../../src/runtime/runtime.ts";
import { churn, sumPages } from "./tasks.ts";

const [n = 200, mib = 2, workers = 2] = args().map(Number);
const TASKS = new URL("./tasks.ts", import.meta.url);

function rssMiB(): number {
  const line = readFileSync("/proc/self/status", "utf8").split("\n").find((l) =>
    l.startsWith("VmRSS:")
  );
  return Math.round(Number(line?.split(/\s+/)[1] ?? 0) / 1024);
}

const runtime = await Runtime.create({ workers });
await runtime.spawn(rootTask(TASKS, sumPages, new Int32Array(new SharedArrayBuffer(4096))));
const before = rssMiB();
let peak = before;
for (let i = 0; i < n; i++) {
  const shared = new Int32Array(new SharedArrayBuffer(mib << 20));
  shared.fill(1);
  await runtime.spawn(rootTask(TASKS, sumPages, shared));
  peak = Math.max(peak, rssMiB());
}
const after = rssMiB();
// Give the engines a chance to collect: small tasks on every worker, and time.
for (let round = 0; round < 20; round++) {
  await Promise.all(
    Array.from(
      { length: workers * 4 },
      () => runtime.spawn(rootTask(TASKS, sumPages, new Int32Array(new SharedArrayBuffer(64)))),
    ),
  );
  await new Promise((resolve) => setTimeout(resolve, 50));
}
const settled = rssMiB();
// Make garbage on every worker: a collection there frees what no one references.
await Promise.all(
  Array.from({ length: workers * 4 }, () => runtime.spawn(rootTask(TASKS, churn, 64))),
);
await new Promise((resolve) => setTimeout(resolve, 200));
const collected = rssMiB();
await runtime.close();
console.log(
  `${n} tasks x ${mib} MiB shared buffer, ${workers} workers: RSS ${before} MiB before, peak ${peak}, ${after} after the tasks, ${settled} after 1 s more, ${collected} after garbage was made on each worker`,
);
