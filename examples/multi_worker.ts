// Multi-worker TCP echo server: `deno run -A examples/multi_worker.ts [PORT]
// [HOST] [MODE] [WORKERS]` or `bun examples/multi_worker.ts ...` (defaults:
// 7000, 127.0.0.1, reuseport, the number of CPUs; port 0 picks a free one). Prints
// `listening on HOST:PORT` once every worker accepts connections, then
// serves until SIGINT or SIGTERM: then it shuts the runtime down gracefully
// (the servers are cancelled, their finally blocks close the listeners and
// connections), prints one line saying so and exits 0.
//
// MODE `reuseport`: one listener per worker on the same port (SO_REUSEPORT);
// the kernel spreads connections over the workers.
// MODE `handoff`: one acceptor task hands each accepted fd to the runtime as
// a root task; whichever worker has room serves it.
//
// The root tasks live in their own module (multi_worker_tasks.ts): each
// worker imports it to find them by name, so it must not start a runtime.
import { args, hardwareConcurrency, rootTask, runAsync, Runtime, untilSignal } from "../mod.ts";
import { acceptor, reusePortServer, ServerBoard } from "./multi_worker_tasks.ts";

const [portArg = "7000", host = "127.0.0.1", mode = "reuseport", workersArg] = args();
const workers = workersArg === undefined ? hardwareConcurrency() : Number(workersArg);
const tasks = new URL("./multi_worker_tasks.ts", import.meta.url);
const board = new Int32Array(new SharedArrayBuffer(64 * 4));
// reuseport: each listener takes its worker's only root slot (its connections
// are spawned tasks, not root tasks), so there is one listener per worker.
const runtime = await Runtime.create({ workers, maxTasksPerWorker: mode === "handoff" ? 4096 : 1 });

async function bound(n: number): Promise<void> {
  for (
    let v = Atomics.load(board, ServerBoard.BOUND);
    v < n;
    v = Atomics.load(board, ServerBoard.BOUND)
  ) {
    const r = Atomics.waitAsync(board, ServerBoard.BOUND, v);
    if (r.async) await r.value;
  }
}

const servers: Promise<unknown>[] = [];
if (mode === "handoff") {
  servers.push(runtime.spawn(rootTask(tasks, acceptor, host, Number(portArg), board)));
  await bound(1);
} else {
  // The first listener picks the port (if 0); the others join it.
  servers.push(runtime.spawn(rootTask(tasks, reusePortServer, host, Number(portArg), board)));
  await bound(1);
  const port = Atomics.load(board, ServerBoard.PORT);
  for (let i = 1; i < workers; i++) {
    servers.push(runtime.spawn(rootTask(tasks, reusePortServer, host, port, board)));
  }
  await bound(workers);
}
for (const s of servers) s.catch(() => {}); // cancelled at shutdown

// The host thread waits for a signal (through its event loop: runAsync runs
// the task up to its first wait before it returns, so the signal listeners
// are in place before the server is announced), then shuts down: the
// servers never end on their own, so no grace.
const stopped = runAsync(untilSignal());
const shown = host.includes(":") ? `[${host}]` : host;
console.log(`listening on ${shown}:${Atomics.load(board, ServerBoard.PORT)}`);
const signal = await stopped;
await runtime.shutdown({ graceMs: 0 });
const listeners = Atomics.load(board, ServerBoard.FINALLY);
console.log(`${signal}: shut down, listeners closed: ${listeners}`);
