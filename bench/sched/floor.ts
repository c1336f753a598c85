/**
 * The floor under issue 12's spawn + join row: what lazily started
 * generator tasks cost before any scheduler, against the async peer, in
 * the suite's shape (n tasks made, then n joined; one fresh process per
 * case and run, warmed on a tenth of the work as bench/sched/main.ts does;
 * the median of 7 rounds, each running every case in turn).
 *
 *   deno run -A bench/sched/floor.ts [N]   |   bun bench/sched/floor.ts [N]
 *
 * - `async`: an async function called and later awaited (the peer): it runs
 *   to its end at the call, so what stays alive is a settled promise.
 * - `generators`: `function*` objects made, kept, then each run to its end:
 *   a strom task's generator, which cannot start before the spawner yields.
 * - `generators + record`: the same with a three-field record per task (its
 *   generator, state and result): the least a scheduler keeps per task.
 * - `strom`: `yield* spawn(...)` then `yield* handle.join()` (the suite's shape).
 *
 * @module
 */

import { spawnSync } from "node:child_process";
import { execPath } from "node:process";
import { fileURLToPath } from "node:url";
import { host, hostArgs } from "../../src/ffi/mod.ts";
import { childArgv } from "./common.ts";
import { shapes } from "./strom.ts";

function* trivial(i: number): Generator<never, number> {
  return i;
}

// deno-lint-ignore require-await
async function trivialAsync(i: number): Promise<number> {
  return i;
}

class MinimalRecord {
  constructor(
    public gen: Generator<never, number> | null,
    public state: number,
    public value: number,
  ) {}
}

const CASES: Record<string, (n: number) => Promise<number> | number> = {
  async: async (n) => {
    const t0 = performance.now();
    const promises: Promise<number>[] = new Array(n);
    for (let i = 0; i < n; i++) promises[i] = trivialAsync(i);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += await promises[i];
    return check(sum, n, t0);
  },
  generators: (n) => {
    const t0 = performance.now();
    const gens: Generator<never, number>[] = new Array(n);
    for (let i = 0; i < n; i++) gens[i] = trivial(i);
    let sum = 0;
    for (let i = 0; i < n; i++) sum += gens[i].next().value;
    return check(sum, n, t0);
  },
  "generators + record": (n) => {
    const t0 = performance.now();
    const records: MinimalRecord[] = new Array(n);
    for (let i = 0; i < n; i++) records[i] = new MinimalRecord(trivial(i), 0, 0);
    for (let i = 0; i < n; i++) {
      const r = records[i];
      r.value = r.gen!.next().value as number;
      r.gen = null;
      r.state = 1;
    }
    let sum = 0;
    for (let i = 0; i < n; i++) sum += records[i].value;
    return check(sum, n, t0);
  },
  strom: (n) => {
    const w = shapes["spawn-join"](n);
    return w.ms * 1e6 / n;
  },
};

function check(sum: number, n: number, t0: number): number {
  const ns = (performance.now() - t0) * 1e6 / n;
  if (sum !== n * (n - 1) / 2) throw new Error(`bad sum ${sum}`);
  return ns;
}

const PREFIX = "floor-result ";
const RUNS = 7;
const args = hostArgs();
const child = args.indexOf("--case");
if (child >= 0) {
  const fn = CASES[args[child + 1]];
  const n = Number(args[child + 2]);
  await fn(Math.max(1, Math.floor(n / 10)));
  console.log(PREFIX + (await fn(n)));
} else {
  const n = Number(args[0] ?? 1e6);
  const script = fileURLToPath(import.meta.url);
  // Rounds of every case in turn, so a drift of the machine's speed between
  // runs (this VM's is large) falls on all cases alike.
  const runs: Record<string, number[]> = {};
  for (let r = 0; r < RUNS; r++) {
    for (const name of Object.keys(CASES)) {
      const argv = childArgv(host, script, ["--case", name, String(n)]);
      const out = spawnSync(execPath, argv, { encoding: "utf8" });
      const line = out.stdout.split("\n").find((l) => l.startsWith(PREFIX));
      if (line === undefined) throw new Error(`${name}: ${out.stderr}`);
      (runs[name] ??= []).push(Number(line.slice(PREFIX.length)));
    }
  }
  const median: Record<string, number> = {};
  for (const [name, all] of Object.entries(runs)) {
    all.sort((a, b) => a - b);
    median[name] = all[RUNS >> 1];
  }
  console.log(
    `spawn + join floor on ${host}, ${n} tasks, median of ${RUNS} rounds of fresh processes`,
  );
  for (const [name, ns] of Object.entries(median)) {
    const all = runs[name].map((v) => v.toFixed(0)).join(" ");
    console.log(
      `${name.padEnd(20)} ${ns.toFixed(0).padStart(5)} ns  ${
        (ns / median.async).toFixed(2)
      }x async  (runs: ${all})`,
    );
  }
}
