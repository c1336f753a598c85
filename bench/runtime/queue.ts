// Root tasks per second through the runtime's queue (not a test: prints
// figures). `deno run -A bench/runtime/queue.ts [N]` / `bun bench/runtime/queue.ts [N]`.
//
// For 1 worker and for all CPUs: N no-op root tasks submitted from the host
// with a window of W in flight (spawn; the queue never fills), each result
// awaited; prints tasks/s. The figure covers the whole path: encode, push,
// one-idle-worker wake, pop, import cache, run, result by postMessage,
// promise resolution on the host.
import { rootTask, Runtime } from "../../mod.ts";
import { hardwareConcurrency, host, hostArgs } from "../../src/ffi/mod.ts";
import { noop } from "./tasks.ts";

const N = Number(hostArgs()[0] ?? 50_000);
const WINDOW = 256;
const TASKS = new URL("./tasks.ts", import.meta.url);

async function measure(workers: number): Promise<number> {
  const rt = await Runtime.create({ workers, queueCapacity: 4096 });
  await rt.spawn(rootTask(TASKS, noop, 0)); // warm: module imported on host and a worker
  const t0 = performance.now();
  let next = 0;
  async function lane(): Promise<void> {
    while (next < N) await rt.spawn(rootTask(TASKS, noop, next++));
  }
  await Promise.all(Array.from({ length: WINDOW }, lane));
  const s = (performance.now() - t0) / 1000;
  await rt.close();
  return N / s;
}

for (const workers of [...new Set([1, hardwareConcurrency()])]) {
  const rate = await measure(workers);
  console.log(
    `${host} queue: ${workers} worker(s): ${
      Math.round(rate)
    } root tasks/s (${N} tasks, window ${WINDOW})`,
  );
}
