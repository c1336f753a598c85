/**
 * A/B of the SharedArrayBuffer rings in one process: another checkout of
 * strom (BASE, holding src/runtime/shared_ring.ts and shared_queue.ts)
 * against this one, alternating, the fastest of seven rounds, ns per
 * push+pop pair on one thread (the lock uncontended: what every message and
 * every root task pays). Made to decide whether the channel's ring and the
 * root-task queue can share one implementation without a loss.
 *
 *   deno run -A bench/sync/ring_ab.ts BASE [n [WORD]]  |  bun bench/sync/ring_ab.ts BASE [n [WORD]]
 *
 * (WORD: only the shapes whose name has it, e.g. `queue`.)
 *
 * @module
 */
import { resolve } from "node:path";
import { hostArgs } from "../../src/ffi/mod.ts";

interface Ring {
  tryPush(tag: number, payload: Uint8Array): string;
  tryPushNumber(tag: number, value: number): string;
  tryPop(): { tag: number; payload: Uint8Array | null; number: number } | null;
}
interface Queue {
  tryPush(id: number, payload: Uint8Array): string;
  tryPop(): { id: number; payload: Uint8Array } | null;
}
interface Tree {
  SharedRing: { create(capacity: number, bytes: number): Ring | { records: Ring } };
  SharedQueue: { create(capacity: number, bytes: number): Queue };
}

const [baseDir, nArg, only] = hostArgs();
if (baseDir === undefined) throw new Error("usage: ring_ab.ts BASE_CHECKOUT [n]");
async function load(dir: string): Promise<Tree> {
  const ring = await import(resolve(dir, "src/runtime/shared_ring.ts"));
  const queue = await import(resolve(dir, "src/runtime/shared_queue.ts"));
  return { SharedRing: ring.SharedRing, SharedQueue: queue.SharedQueue };
}
const trees: [string, Tree][] = [["base", await load(baseDir)], ["new", await load(".")]];
const n = Number(nArg ?? 1e6);
const payload = new Uint8Array(64).fill(7);
let sink = 0;

// Each shape: n push+pop pairs; returns ms.
const shapes: Record<string, (t: Tree) => number> = {
  "channel number, push+pop": (t) => {
    const r = records(t.SharedRing.create(1024, 1 << 16));
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      r.tryPushNumber(2, i);
      sink += r.tryPop()!.number;
    }
    return performance.now() - t0;
  },
  "channel 64 B, batches of 32": (t) => {
    const r = records(t.SharedRing.create(1024, 4096)); // wraps every ~56 records
    const t0 = performance.now();
    for (let i = 0; i < n; i += 32) {
      for (let k = 0; k < 32; k++) r.tryPush(0, payload);
      for (let k = 0; k < 32; k++) sink += r.tryPop()!.payload!.length;
    }
    return performance.now() - t0;
  },
  "queue 64 B, push+pop": (t) => {
    const q = t.SharedQueue.create(1024, 1 << 16);
    const t0 = performance.now();
    for (let i = 0; i < n; i++) {
      q.tryPush(i, payload);
      sink += q.tryPop()!.id;
    }
    return performance.now() - t0;
  },
  "queue 64 B, batches of 32": (t) => {
    const q = t.SharedQueue.create(1024, 4096);
    const t0 = performance.now();
    for (let i = 0; i < n; i += 32) {
      for (let k = 0; k < 32; k++) q.tryPush(k, payload);
      for (let k = 0; k < 32; k++) sink += q.tryPop()!.payload.length;
    }
    return performance.now() - t0;
  },
};

// The channel's records: the ring itself (before), or its `records` (after the merge).
function records(ring: Ring | { records: Ring }): Ring {
  return "records" in ring ? ring.records : ring;
}

const reps = 7;
for (const [shape, f] of Object.entries(shapes)) {
  if (only !== undefined && !shape.includes(only)) continue;
  const best: Record<string, number> = {};
  for (const [, t] of trees) f(t); // warm
  for (let r = 0; r < reps; r++) {
    for (const [name, t] of r % 2 ? [...trees].reverse() : trees) {
      best[name] = Math.min(best[name] ?? Infinity, f(t) * 1e6 / n);
    }
  }
  const ratio = best.new! / best.base!;
  console.log(
    `${shape.padEnd(30)} base ${best.base!.toFixed(1)} ns  new ${
      best.new!.toFixed(1)
    } ns  new/base ${ratio.toFixed(3)}`,
  );
}
if (sink === 42) console.log(""); // keep the results alive
