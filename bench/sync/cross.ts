// Channels across threads (not a test: prints figures).
// `deno run -A bench/sync/cross.ts [N]` / `bun bench/sync/cross.ts [N]`.
//
// Messages per second, one producer and one consumer, for two kinds of
// values (a number; 64 bytes), side by side in one process:
// - SharedChannel (capacity 1024), producer and consumer on ONE worker;
// - SharedChannel across TWO workers (one root task per worker);
// - postMessage from a Worker to the host thread;
// - a MessageChannel between two Workers (port to port);
// - SharedChannel between a worker and host code (no task: `for await` on
//   the host, and `await sendAsync` to a worker).
// The postMessage cases have no back-pressure (the receiver's queue grows);
// the SharedChannel is bounded. Then a stress run: 4 producers and 4
// consumers spread over all workers, 2M messages, each checked to arrive
// exactly once and in order per producer.
import { hardwareConcurrency, rootTask, Runtime, SharedChannel } from "../../mod.ts";
import { host, hostArgs } from "../../src/ffi/mod.ts";
import { both, consume, produce, stressConsume, stressProduce, value } from "./cross_tasks.ts";

const N = Number(hostArgs()[0] ?? 1_000_000);
const STRESS = 2_000_000;
const TASKS = new URL("./cross_tasks.ts", import.meta.url);
const WORKER = new URL("./post_worker.ts", import.meta.url);

function rate(n: number, ms: number): string {
  return `${Math.round(n / ms * 1000)} msgs/s`.padStart(16);
}

async function oneWorker(kind: string): Promise<number> {
  const rt = await Runtime.create({ workers: 1 });
  try {
    const ch = SharedChannel.create({ capacity: 1024 });
    await rt.spawn(rootTask(TASKS, both, SharedChannel.create({ capacity: 8 }).buffer, 10, kind));
    const t0 = performance.now();
    const got = await rt.spawn(rootTask(TASKS, both, ch.buffer, N, kind));
    const ms = performance.now() - t0;
    if (got !== N) throw new Error(`received ${got} of ${N}`);
    return ms;
  } finally {
    await rt.close();
  }
}

async function twoWorkers(kind: string): Promise<number> {
  const rt = await Runtime.create({ workers: 2, maxTasksPerWorker: 1 });
  try {
    const warm = SharedChannel.create({ capacity: 8 });
    const w = rt.spawn(rootTask(TASKS, consume, warm.buffer));
    await rt.spawn(rootTask(TASKS, produce, warm.buffer, 10, kind));
    await w;
    const ch = SharedChannel.create({ capacity: 1024 });
    const t0 = performance.now();
    const c = rt.spawn(rootTask(TASKS, consume, ch.buffer));
    const producedOn = await rt.spawn(rootTask(TASKS, produce, ch.buffer, N, kind));
    const [got, consumedOn] = await c;
    const ms = performance.now() - t0;
    if (got !== N || producedOn === consumedOn) {
      throw new Error(`bad run: ${got} ${producedOn} ${consumedOn}`);
    }
    return ms;
  } finally {
    await rt.close();
  }
}

// A worker's task sends, host code receives with `for await`.
async function workerToHostCode(kind: string): Promise<number> {
  const rt = await Runtime.create({ workers: 1 });
  try {
    const ch = SharedChannel.create<number | Uint8Array>({ capacity: 1024 });
    const t0 = performance.now();
    const produced = rt.spawn(rootTask(TASKS, produce, ch.buffer, N, kind));
    let n = 0;
    for await (const _ of ch) n++;
    await produced;
    const ms = performance.now() - t0;
    if (n !== N) throw new Error(`received ${n} of ${N}`);
    return ms;
  } finally {
    await rt.close();
  }
}

// Host code sends with `await sendAsync`, a worker's task receives.
async function hostCodeToWorker(kind: string): Promise<number> {
  const rt = await Runtime.create({ workers: 1 });
  try {
    const ch = SharedChannel.create<number | Uint8Array>({ capacity: 1024 });
    const t0 = performance.now();
    const consumed = rt.spawn(rootTask(TASKS, consume, ch.buffer));
    for (let i = 0; i < N; i++) await ch.sendAsync(value(kind, i));
    ch.close();
    const [n] = await consumed;
    const ms = performance.now() - t0;
    if (n !== N) throw new Error(`received ${n} of ${N}`);
    return ms;
  } finally {
    await rt.close();
  }
}

function newWorker(): Worker {
  return new Worker(WORKER, { type: "module" });
}

async function postToHost(kind: string): Promise<number> {
  const worker = newWorker();
  try {
    const t0 = performance.now();
    let n = 0;
    await new Promise<void>((resolve) => {
      worker.onmessage = (e) => {
        if (e.data === "done") resolve();
        else n++;
      };
      worker.postMessage({ n: N, kind });
    });
    const ms = performance.now() - t0;
    if (n !== N) throw new Error(`received ${n} of ${N}`);
    return ms;
  } finally {
    worker.terminate();
  }
}

async function messageChannel(kind: string): Promise<number> {
  const sender = newWorker();
  const receiver = newWorker();
  try {
    const { port1, port2 } = new MessageChannel();
    const counted = new Promise<number>((resolve) => {
      receiver.onmessage = (e) => resolve(e.data as number);
    });
    receiver.postMessage({ receive: port2 }, [port2]);
    const t0 = performance.now();
    sender.postMessage({ n: N, kind, port: port1 }, [port1]);
    const n = await counted;
    const ms = performance.now() - t0;
    if (n !== N) throw new Error(`received ${n} of ${N}`);
    return ms;
  } finally {
    sender.terminate();
    receiver.terminate();
  }
}

for (const kind of ["number", "64 bytes"]) {
  const k = kind === "number" ? "number" : "bytes";
  console.log(`${host} ${kind}: SharedChannel, 1 worker   ${rate(N, await oneWorker(k))}`);
  console.log(`${host} ${kind}: SharedChannel, 2 workers  ${rate(N, await twoWorkers(k))}`);
  console.log(`${host} ${kind}: postMessage Worker->host  ${rate(N, await postToHost(k))}`);
  console.log(`${host} ${kind}: MessageChannel, 2 Workers ${rate(N, await messageChannel(k))}`);
  console.log(
    `${host} ${kind}: SharedChannel, worker->host code ${rate(N, await workerToHostCode(k))}`,
  );
  console.log(
    `${host} ${kind}: SharedChannel, host code->worker ${rate(N, await hostCodeToWorker(k))}`,
  );
}

// Stress: every worker runs producers and consumers.
{
  const workers = Math.max(2, hardwareConcurrency());
  const producers = 4;
  const consumers = 4;
  const count = STRESS / producers;
  const rt = await Runtime.create({ workers, maxTasksPerWorker: Math.ceil(8 / workers) });
  try {
    const ch = SharedChannel.create<number>({ capacity: 1024 });
    const left = new Int32Array(new SharedArrayBuffer(4));
    left[0] = producers;
    const seen = new Int32Array(new SharedArrayBuffer(4 * STRESS));
    const t0 = performance.now();
    const cs = Array.from(
      { length: consumers },
      () => rt.spawn(rootTask(TASKS, stressConsume, ch.buffer, seen, count)),
    );
    const ps = Array.from(
      { length: producers },
      (_, p) => rt.spawn(rootTask(TASKS, stressProduce, ch.buffer, left, p, count)),
    );
    const on = await Promise.all(ps);
    const results = await Promise.all(cs);
    const ms = performance.now() - t0;
    const received = results.reduce((n, r) => n + r[0], 0);
    const outOfOrder = results.reduce((n, r) => n + r[1], 0);
    const once = seen.every((n) => n === 1);
    const used = new Set([...on, ...results.map((r) => r[2])]).size;
    console.log(
      `${host} stress: ${producers} producers, ${consumers} consumers on ${used}/${workers} workers: ${received} msgs ${
        rate(received, ms).trim()
      }; each exactly once: ${once}; out of order per producer: ${outOfOrder}`,
    );
    if (!once || outOfOrder !== 0 || received !== STRESS) process.exitCode = 1;
  } finally {
    await rt.close();
  }
}
