// SharedChannel from the host thread: promises for host code (sendAsync,
// recvAsync, for await), and tasks of the host thread's own scheduler
// (under run and runAsync), talking with tasks on the workers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { runAsync } from "../src/host/run_async.ts";
import { rootTask } from "../src/runtime/root_task.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { SharedChannel } from "../src/runtime/shared_channel.ts";
import { awaitAll } from "../src/sched/await_all.ts";
import { run } from "../src/sched/run.ts";
import { TASK_BUDGET } from "../src/sched/scheduler.ts";
import { spawn } from "../src/sched/spawn.ts";
import type { Task } from "../src/sched/types.ts";
import { ChannelClosedError } from "../src/sync/channel.ts";
import { timeout, TimeoutError } from "../src/time/timeout.ts";
import {
  consume,
  echo,
  produce,
  sendAsyncOnWorker,
  Stress,
  Tally,
  trySendHere,
} from "./fixtures/sync_channel_tasks.ts";
import { watchedLoop } from "./helpers/budget.ts";

const TASKS = new URL("./fixtures/sync_channel_tasks.ts", import.meta.url);
const SPAN = 1 << 20; // produce()'s message: p * SPAN + k

/** Waits (without blocking the thread) until `board[1] >= n`: echo tasks count themselves there. */
async function started(board: Int32Array, n: number): Promise<void> {
  for (let v = Atomics.load(board, 1); v < n; v = Atomics.load(board, 1)) {
    const r = Atomics.waitAsync(board, 1, v);
    if (r.async) await r.value;
  }
}

function board(words: number): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * words));
}

test("host code: sendAsync to a worker, recvAsync (for await) back; every message once, in order", async () => {
  const n = 20_000;
  const a = SharedChannel.create<number>({ capacity: 4 });
  const b = SharedChannel.create<number>({ capacity: 4 });
  const left = board(2);
  left[0] = 1;
  const rt = await Runtime.create({ workers: 2 });
  try {
    const echoed = rt.spawn(rootTask(TASKS, echo, a.buffer, b.buffer, left));
    const sending = (async () => {
      for (let i = 0; i < n; i++) await a.sendAsync(i);
      a.close();
    })();
    const got: number[] = [];
    for await (const v of b) got.push(v);
    await sending;
    assert.equal(await echoed, n);
    assert.equal(got.length, n);
    assert.equal(got.findIndex((v, i) => v !== i), -1, "in order, each once");
  } finally {
    await rt.close();
  }
});

test("host code: recvAsync from producers on every worker; sendAsync rejects once closed", async () => {
  const producers = 3;
  const count = 5_000;
  const ch = SharedChannel.create<number>({ capacity: 8 });
  const b = board(4);
  b[Stress.PRODUCERS_LEFT] = producers;
  const rt = await Runtime.create({ workers: 3, maxTasksPerWorker: 1 });
  try {
    const ps = Array.from(
      { length: producers },
      (_, p) => rt.spawn(rootTask(TASKS, produce, ch.buffer, b, p, count)),
    );
    const next = new Array<number>(producers).fill(0);
    for (let r = await ch.recvAsync(); !r.done; r = await ch.recvAsync()) {
      const p = Math.floor(r.value / SPAN);
      assert.equal(r.value % SPAN, next[p], `producer ${p}: in order, each once`);
      next[p]!++;
    }
    assert.deepEqual(next, new Array(producers).fill(count));
    assert.equal(new Set(await Promise.all(ps)).size, producers, "on every worker");
    await assert.rejects(ch.sendAsync(1), ChannelClosedError);
  } finally {
    await rt.close();
  }
});

// A root task of the host thread's scheduler: sends 0..n-1 into `a` (then
// closes it) and receives them back from `b`, in two child tasks.
function* hostRoundTrip(
  a: SharedChannel<number>,
  b: SharedChannel<number>,
  n: number,
): Task<number[]> {
  const sender = yield* spawn(function*() {
    for (let i = 0; i < n; i++) yield* a.send(i);
    a.close();
  }());
  const receiver = yield* spawn(function*() {
    const got: number[] = [];
    for (let r = yield* b.recv(); !r.done; r = yield* b.recv()) got.push(r.value);
    return got;
  }());
  const [, got] = yield* awaitAll(sender.join(), receiver.join());
  return got;
}

for (const driver of ["run", "runAsync"] as const) {
  test(`a task on the host thread (${driver}) sends to a worker and receives back; waits both ways`, async () => {
    const n = 5_000;
    const a = SharedChannel.create<number>({ capacity: 2 });
    const b = SharedChannel.create<number>({ capacity: 2 });
    const left = board(2);
    left[0] = 1;
    const rt = await Runtime.create({ workers: 1 });
    try {
      const echoed = rt.spawn(rootTask(TASKS, echo, a.buffer, b.buffer, left));
      // Started first: run() holds the thread, and the host hands a task its
      // shared buffers on the event loop.
      await started(left, 1);
      const task = hostRoundTrip(a, b, n);
      // run() holds the JS thread (the workers go on); runAsync does not.
      const got = driver === "run" ? run(task) : await runAsync(task);
      assert.equal(await echoed, n);
      assert.equal(got.length, n);
      assert.equal(got.findIndex((v, i) => v !== i), -1, "in order, each once");
    } finally {
      await rt.close();
    }
  });
}

test("host code: an aborted recvAsync/sendAsync takes (sends) nothing; the next one does", async () => {
  const ch = SharedChannel.create<string>({ capacity: 1 });
  const rt = await Runtime.create({ workers: 1 });
  try {
    const stop = new AbortController();
    const waiting = ch.recvAsync({ signal: stop.signal });
    stop.abort(new Error("stopped"));
    await assert.rejects(waiting, /stopped/);
    await assert.rejects(ch.recvAsync({ signal: stop.signal }), /stopped/, "aborted before");
    // A worker sends (and the host task is woken); the message waits for the next recv.
    assert.equal(
      await rt.spawn(rootTask(TASKS, sendAsyncOnWorker, ch.buffer)),
      "SharedChannel.sendAsync is for host code; on a runtime worker use yield* send() in a task",
    );
    assert.deepEqual(await ch.recvAsync(), { done: false, value: "from a worker" });
    // Full: an aborted send sent nothing.
    assert.equal(ch.trySend("first"), true);
    const stopSend = new AbortController();
    const sending = ch.sendAsync("second", { signal: stopSend.signal });
    stopSend.abort(new Error("no room"));
    await assert.rejects(sending, /no room/);
    assert.equal(ch.length, 1);
    assert.deepEqual(ch.tryRecv(), { done: false, value: "first" });
    assert.equal(ch.tryRecv(), null);
  } finally {
    await rt.close();
  }
});

test("a task on the host thread: a cancelled recv takes nothing", async () => {
  const ch = SharedChannel.create<string>({ capacity: 2 });
  const log = await runAsync(function*() {
    const log: string[] = [];
    try {
      yield* timeout(5, ch.recv());
    } catch (error) {
      log.push(error instanceof TimeoutError ? "timed out" : String(error));
    }
    ch.trySend("kept");
    const r = yield* ch.recv();
    log.push(r.done ? "done" : r.value);
    return log;
  }());
  assert.deepEqual(log, ["timed out", "kept"]);
});

test("bad use: options checked; a second non-worker thread, a second runtime are errors", async () => {
  const ch = SharedChannel.create<string>({ capacity: 2 });
  await assert.rejects(ch.recvAsync({ signal: 1 } as never), TypeError);
  await assert.rejects(ch.sendAsync("x", null as never), TypeError);
  assert.equal(ch.trySend("x"), true, "the host thread may use it");
  const worker = new Worker(new URL("./fixtures/sync_channel_plain_worker.ts", import.meta.url), {
    type: "module",
  });
  try {
    const said = await new Promise<unknown>((resolve) => {
      worker.onmessage = (e) => resolve(e.data);
      worker.postMessage(ch.buffer);
    });
    assert.match(String(said), /already used by another thread that is not a worker/);
  } finally {
    worker.terminate();
  }
  assert.equal(ch.length, 1, "nothing sent by the refused thread");
  const first = await Runtime.create({ workers: 1 });
  const second = await Runtime.create({ workers: 1 });
  try {
    assert.equal(await first.spawn(rootTask(TASKS, trySendHere, ch.buffer)), "sent");
    assert.match(
      await second.spawn(rootTask(TASKS, trySendHere, ch.buffer)),
      /used by the workers of another runtime/,
    );
  } finally {
    await first.close();
    await second.close();
  }
});

test("stress with the host: producers and consumers on the workers and in host code", async () => {
  const workers = 2;
  const producers = 3; // two on the workers, one in host code
  const count = 10_000;
  const ch = SharedChannel.create<number>({ capacity: 16 });
  const b = board(4);
  b[Stress.PRODUCERS_LEFT] = producers;
  const seen = new Int32Array(new SharedArrayBuffer(4 * producers * count));
  const rt = await Runtime.create({ workers, maxTasksPerWorker: 2 });
  try {
    const cs = [0, 1].map(() => rt.spawn(rootTask(TASKS, consume, ch.buffer, b, seen, count)));
    const ps = [0, 1].map((p) => rt.spawn(rootTask(TASKS, produce, ch.buffer, b, p, count)));
    const hostProducer = (async () => {
      for (let k = 0; k < count; k++) await ch.sendAsync(2 * SPAN + k);
      if (Atomics.sub(b, Stress.PRODUCERS_LEFT, 1) === 1) ch.close();
    })();
    const tally = new Tally(seen, count);
    for (let r = await ch.recvAsync(); !r.done; r = await ch.recvAsync()) tally.add(r.value);
    const { received, outOfOrder } = tally;
    await hostProducer;
    await Promise.all(ps);
    const results = await Promise.all(cs);
    assert.equal(received + results.reduce((n, r) => n + r.received, 0), producers * count);
    assert.equal(outOfOrder + results.reduce((n, r) => n + r.outOfOrder, 0), 0);
    const notOnce = seen.findIndex((n) => n !== 1);
    assert.equal(notOnce, -1, `message ${notOnce} received ${seen[notOnce]} times`);
  } finally {
    await rt.close();
  }
});

test("the cooperative budget: a SharedChannel that always has values lets other tasks run", () => {
  const n = 10 * TASK_BUDGET;
  const ch = SharedChannel.create<number>({ capacity: n });
  const between = run(function*() {
    for (let i = 0; i < n; i++) assert.ok(ch.trySend(i));
    return yield* watchedLoop(n, function*(i) {
      assert.equal((yield* ch.recv()).value, i);
    });
  }());
  assert.ok(between.length >= 5, `the watcher saw ${between}`);
});
