/**
 * A/B of SharedChannel throughput in one process: another checkout of strom
 * (BASE) against this one, alternating, the best of five rounds; msgs/s,
 * one producer and one consumer, numbers: both on one worker, and across
 * two workers (bench/sync/cross.ts's cases). Each tree runs its own Runtime
 * (its workers load that tree's modules).
 *
 *   deno run -A bench/sync/channel_ab.ts BASE [n]  |  bun bench/sync/channel_ab.ts BASE [n]
 *
 * @module
 */
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type * as Mod from "../../mod.ts";
import { hostArgs } from "../../src/ffi/mod.ts";
import type * as Tasks from "./cross_tasks.ts";

const [baseDir, nArg] = hostArgs();
if (baseDir === undefined) throw new Error("usage: channel_ab.ts BASE_CHECKOUT [n]");
const n = Number(nArg ?? 500_000);

interface Tree {
  name: string;
  mod: typeof Mod;
  url: URL;
  tasks: typeof Tasks;
}
async function load(name: string, dir: string): Promise<Tree> {
  const url = pathToFileURL(resolve(dir, "bench/sync/cross_tasks.ts"));
  return {
    name,
    mod: await import(pathToFileURL(resolve(dir, "mod.ts")).href),
    url,
    tasks: await import(url.href),
  };
}
const trees = [await load("base", baseDir), await load("new", ".")];

async function oneWorker(t: Tree): Promise<number> {
  const rt = await t.mod.Runtime.create({ workers: 1 });
  try {
    const ch = t.mod.SharedChannel.create({ capacity: 1024 });
    const warm = t.mod.SharedChannel.create({ capacity: 8 }).buffer;
    await rt.spawn(t.mod.rootTask(t.url, t.tasks.both, warm, 10, "number"));
    const t0 = performance.now();
    const got = await rt.spawn(t.mod.rootTask(t.url, t.tasks.both, ch.buffer, n, "number"));
    if (got !== n) throw new Error(`received ${got} of ${n}`);
    return performance.now() - t0;
  } finally {
    await rt.close();
  }
}

async function twoWorkers(t: Tree): Promise<number> {
  const rt = await t.mod.Runtime.create({ workers: 2, maxTasksPerWorker: 1 });
  try {
    const ch = t.mod.SharedChannel.create({ capacity: 1024 });
    const t0 = performance.now();
    const c = rt.spawn(t.mod.rootTask(t.url, t.tasks.consume, ch.buffer));
    await rt.spawn(t.mod.rootTask(t.url, t.tasks.produce, ch.buffer, n, "number"));
    const [got] = await c;
    if (got !== n) throw new Error(`received ${got} of ${n}`);
    return performance.now() - t0;
  } finally {
    await rt.close();
  }
}

for (const [shape, f] of [["1 worker", oneWorker], ["2 workers", twoWorkers]] as const) {
  const best: Record<string, number> = {};
  for (let r = 0; r < 5; r++) {
    for (const t of r % 2 ? [...trees].reverse() : trees) {
      best[t.name] = Math.max(best[t.name] ?? 0, n / await f(t) * 1000);
    }
  }
  console.log(
    `SharedChannel ${shape}, number: base ${Math.round(best.base!)} msgs/s  new ${
      Math.round(best.new!)
    } msgs/s  new/base ${(best.new! / best.base!).toFixed(3)}`,
  );
}
