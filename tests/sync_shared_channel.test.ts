// SharedChannel: a channel between tasks on different workers of a Runtime.
import assert from "node:assert/strict";
import { test } from "node:test";
import { rootTask } from "../src/runtime/root_task.ts";
import { Runtime } from "../src/runtime/runtime.ts";
import { SharedChannel } from "../src/runtime/shared_channel.ts";
import {
  cancelledRecv,
  closeChannel,
  consume,
  produce,
  roundTrip,
  sendIntoFull,
  Stress,
  waitForOne,
} from "./fixtures/sync_channel_tasks.ts";

const TASKS = new URL("./fixtures/sync_channel_tasks.ts", import.meta.url);

/** Waits (without blocking the thread) until `board[word] >= n`. */
async function until(board: Int32Array, word: number, n: number): Promise<void> {
  for (let v = Atomics.load(board, word); v < n; v = Atomics.load(board, word)) {
    const r = Atomics.waitAsync(board, word, v);
    if (r.async) await r.value;
  }
}

test("stress: producers and consumers on every worker; each message once, in order per producer", async () => {
  const workers = 4;
  const producers = 4;
  const consumers = 4;
  const count = 25_000; // 100k messages in all (millions: bench/sync/channel.ts)
  const ch = SharedChannel.create<number>({ capacity: 64 });
  const board = new Int32Array(new SharedArrayBuffer(64));
  board[Stress.PRODUCERS_LEFT] = producers;
  const seen = new Int32Array(new SharedArrayBuffer(4 * producers * count));
  // Two tasks per worker at most: the eight tasks land on all four workers.
  const rt = await Runtime.create({ workers, maxTasksPerWorker: 2 });
  try {
    const cs = Array.from(
      { length: consumers },
      () => rt.spawn(rootTask(TASKS, consume, ch.buffer, board, seen, count)),
    );
    const ps = Array.from(
      { length: producers },
      (_, p) => rt.spawn(rootTask(TASKS, produce, ch.buffer, board, p, count)),
    );
    const producedOn = await Promise.all(ps);
    const results = await Promise.all(cs);
    const total = results.reduce((n, r) => n + r.received, 0);
    assert.equal(total, producers * count, "every message received");
    assert.equal(results.reduce((n, r) => n + r.outOfOrder, 0), 0, "in order per producer");
    const notOnce = seen.findIndex((n) => n !== 1);
    assert.equal(notOnce, -1, `message ${notOnce} received ${seen[notOnce]} times`);
    const used = new Set([...producedOn, ...results.map((r) => r.worker)]);
    assert.equal(used.size, workers, `tasks ran on workers ${[...used]}`);
  } finally {
    await rt.close();
  }
});

test("close wakes every waiting receiver and sender, on this worker and the others", async () => {
  // Six tasks wait, at most three per worker: they are on two workers or more.
  const rt = await Runtime.create({ workers: 3, maxTasksPerWorker: 3 });
  try {
    const board = new Int32Array(new SharedArrayBuffer(16));
    const empty = SharedChannel.create<string>({ capacity: 4 });
    const full = SharedChannel.create<string>({ capacity: 1 });
    const [seeded] = await rt.spawn(rootTask(TASKS, sendIntoFull, full.buffer, board));
    assert.equal(seeded, "sent");
    const receivers = [0, 1, 2].map(() =>
      rt.spawn(rootTask(TASKS, waitForOne, empty.buffer, board))
    );
    const senders = [0, 1, 2].map(() =>
      rt.spawn(rootTask(TASKS, sendIntoFull, full.buffer, board))
    );
    await until(board, 0, 3);
    await until(board, 1, 4);
    // (Whether each has reached its wait yet or not, a closed channel ends it.)
    await rt.spawn(rootTask(TASKS, closeChannel, empty.buffer));
    await rt.spawn(rootTask(TASKS, closeChannel, full.buffer));
    const r = await Promise.all(receivers);
    const s = await Promise.all(senders);
    assert.deepEqual(r.map((x) => x[0]), ["done", "done", "done"]);
    assert.deepEqual(s.map((x) => x[0]), ["closed", "closed", "closed"]);
    assert.ok(new Set([...r, ...s].map((x) => x[1])).size >= 2, "waiters on several workers");
  } finally {
    await rt.close();
  }
});

test("values: bytes, strings, numbers and cloneable objects are copied; bad values are errors", async () => {
  const rt = await Runtime.create({ workers: 1 });
  try {
    const ch = SharedChannel.create<unknown>({ capacity: 8, bytes: 1024 });
    const got = await rt.spawn(rootTask(TASKS, roundTrip, ch.buffer));
    assert.deepEqual(got.slice(0, 5), [
      new Uint8Array([1, 2, 3]),
      "héllo",
      -0.5,
      { a: [1, "x"], m: new Map([[1, 2]]) },
      null,
    ]);
    assert.deepEqual(got[5], ["TypeError", "RangeError"], "uncloneable, too large");
    assert.equal(got[6], 0, "nothing sent by the failed sends");
  } finally {
    await rt.close();
  }
});

test("a cancelled recv takes no message", async () => {
  const rt = await Runtime.create({ workers: 1 });
  try {
    const ch = SharedChannel.create<string>({ capacity: 2 });
    assert.deepEqual(await rt.spawn(rootTask(TASKS, cancelledRecv, ch.buffer)), [
      "timed out",
      "index 1",
      "kept",
    ]);
  } finally {
    await rt.close();
  }
});

test("bad input: options are checked; a foreign buffer is a TypeError", () => {
  assert.throws(() => SharedChannel.create({ capacity: 0 }), /capacity/);
  assert.throws(() => SharedChannel.create({ bytes: 63 }), /bytes/);
  assert.throws(() => new SharedChannel(new SharedArrayBuffer(4096)), TypeError);
  // (The host thread may use a channel too: sync_shared_channel_host.test.ts.)
});
