// The runtime's bounded queue in shared memory, on its own: FIFO order
// through wrap-around, both bounds (records and bytes) exactly at their edge.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SharedQueue } from "../src/runtime/shared_queue.ts";

function bytes(n: number, fill: number): Uint8Array {
  return new Uint8Array(n).fill(fill & 0xff);
}

test("the queue takes exactly `capacity` records, then reports full", () => {
  const q = SharedQueue.create(3, 1024);
  for (let i = 0; i < 3; i++) assert.equal(q.tryPush(i, bytes(4, i)), "queued");
  assert.equal(q.tryPush(3, bytes(4, 3)), "full");
  assert.equal(q.length, 3);
  assert.equal(q.tryPop()?.id, 0);
  assert.equal(q.tryPush(3, bytes(4, 3)), "queued", "room again after one pop");
  assert.deepEqual([q.tryPop()?.id, q.tryPop()?.id, q.tryPop()?.id, q.tryPop()], [1, 2, 3, null]);
});

test("the ring's byte bound: records that do not fit are refused, not cut", () => {
  // 64 ring bytes; a 20-byte payload takes 8 + 20 = 28 bytes: two fit.
  const q = SharedQueue.create(100, 64);
  assert.equal(q.tryPush(1, bytes(20, 1)), "queued");
  assert.equal(q.tryPush(2, bytes(20, 2)), "queued");
  assert.equal(q.tryPush(3, bytes(20, 3)), "full");
  assert.equal(q.tryPush(4, bytes(4, 4)), "full", "12 bytes do not fit the 8 left");
  assert.equal(q.tryPush(4, bytes(0, 4)), "queued", "an empty payload fits the 8 bytes left");
  assert.throws(() => q.tryPush(5, bytes(57, 5)), RangeError, "larger than the ring can ever hold");
  assert.equal(q.maxPayload, 56);
  const first = q.tryPop()!;
  assert.equal(first.id, 1);
  assert.deepEqual(first.payload, bytes(20, 1));
  // The freed front lets a record wrap around to the ring's start.
  assert.equal(q.tryPush(6, bytes(20, 6)), "queued");
  assert.deepEqual([q.tryPop()?.id, q.tryPop()?.id, q.tryPop()?.id, q.tryPop()], [2, 4, 6, null]);
});

test("FIFO order and intact payloads through many wrap-arounds (against a model)", () => {
  const q = SharedQueue.create(16, 256);
  const model: { id: number; payload: Uint8Array }[] = [];
  let seed = 11;
  const random = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
  let nextId = 0;
  let refused = 0;
  for (let step = 0; step < 20_000; step++) {
    if (random(2) === 0) {
      const payload = bytes(random(60), nextId);
      const r = q.tryPush(nextId, payload);
      if (r === "queued") model.push({ id: nextId, payload });
      else refused++;
      assert.ok(
        r === "queued" || model.length === 16 || model.length > 0,
        "full only when not empty",
      );
      nextId++;
    } else {
      const got = q.tryPop();
      const want = model.shift();
      if (want === undefined) assert.equal(got, null);
      else {
        assert.equal(got?.id, want.id, `step ${step}`);
        assert.deepEqual(got?.payload, want.payload);
      }
    }
    assert.equal(q.length, model.length);
  }
  assert.ok(refused > 0, "the bounds were reached during the run");
});

test("two producer threads and a consumer: nothing lost, duplicated or reordered per producer", async () => {
  const count = 20_000;
  const q = SharedQueue.create(64, 4096);
  const workers = [0, 1].map(() =>
    new Worker(new URL("./fixtures/queue_producer.ts", import.meta.url), { type: "module" })
  );
  const finished = workers.map((w) => new Promise((resolve) => (w.onmessage = resolve)));
  try {
    workers.forEach((w, producer) => w.postMessage({ buffer: q.buffer, producer, count }));
    const next = [0, 0];
    let received = 0;
    const deadline = Date.now() + 30_000;
    while (received < 2 * count) {
      const r = q.tryPop();
      if (r === null) {
        assert.ok(Date.now() < deadline, `only ${received} records arrived`);
        await new Promise((resolve) => setTimeout(resolve, 0));
        continue;
      }
      const producer = Math.floor(r.id / count);
      const seq = r.id % count;
      assert.equal(seq, next[producer], `producer ${producer} in order`);
      assert.equal(r.payload.length, 4 + (seq % 5));
      assert.equal(new DataView(r.payload.buffer).getInt32(0, true), producer);
      next[producer]++;
      received++;
    }
    await Promise.all(finished);
    assert.equal(q.tryPop(), null);
    assert.deepEqual(next, [count, count]);
  } finally {
    for (const w of workers) w.terminate();
  }
});
