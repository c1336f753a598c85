// A chat server on a multi-worker Runtime: `deno run -A examples/chat.ts
// PORT [WORKERS]` or `bun examples/chat.ts PORT [WORKERS]` (port 0 picks a
// free one; WORKERS defaults to the number of CPUs). Prints
// `listening on 127.0.0.1:PORT` once every worker accepts connections, then
// serves until killed.
//
// Every newline-terminated line a client sends reaches every other connected
// client exactly once, unchanged; a client that stops reading is dropped
// rather than stalling the others. Connections are spread over the workers
// (one listener per worker, SO_REUSEPORT), lines cross workers through one
// SharedChannel per worker, and a Semaphore caps each worker's connections.
// The tasks are in chat_tasks.ts (every worker imports that module).
//
// Try it: `nc 127.0.0.1 PORT` in two terminals.
import { args, hardwareConcurrency, rootTask, Runtime, SharedChannel } from "../mod.ts";
import { ChatBoard, chatWorker, MAX_LINE } from "./chat_tasks.ts";

const [portArg = "7000", workersArg] = args();
const workers = workersArg === undefined ? hardwareConcurrency() : Number(workersArg);
const host = "127.0.0.1";
const tasks = new URL("./chat_tasks.ts", import.meta.url);
const board = new Int32Array(new SharedArrayBuffer(64));
// One inbox per worker; a message is a line plus its 4-byte sender id.
const inboxes = Array.from(
  { length: workers },
  () => SharedChannel.create<Uint8Array>({ capacity: 4096, bytes: 64 * (MAX_LINE + 16) }).buffer,
);
// One chat server per worker: a worker runs one root task at most.
const runtime = await Runtime.create({ workers, maxTasksPerWorker: 1 });

async function bound(n: number): Promise<void> {
  for (
    let v = Atomics.load(board, ChatBoard.BOUND);
    v < n;
    v = Atomics.load(board, ChatBoard.BOUND)
  ) {
    const r = Atomics.waitAsync(board, ChatBoard.BOUND, v);
    if (r.async) await r.value;
  }
}

// The first server picks the port (if 0); the others join it.
const servers = [
  runtime.spawn(rootTask(tasks, chatWorker, host, Number(portArg), board, 0, ...inboxes)),
];
await bound(1);
const port = Atomics.load(board, ChatBoard.PORT);
for (let i = 1; i < workers; i++) {
  servers.push(runtime.spawn(rootTask(tasks, chatWorker, host, port, board, i, ...inboxes)));
}
await bound(workers);
console.log(`listening on ${host}:${port}`);
for (const s of servers) {
  s.catch((error) => console.error(`chat server failed: ${error}`));
}
