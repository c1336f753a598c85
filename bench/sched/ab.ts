/**
 * A/B of strom's shapes in one process: another checkout of strom (BASE, a
 * directory holding the same bench/sched/strom.ts) against this one,
 * alternating, the fastest of seven rounds, wall and CPU time per op. What
 * issue 12's report measured on a busy machine, where separate runs differ
 * by 2x and more.
 *
 *   deno run -A bench/sched/ab.ts BASE [shape=n ...]  |  bun bench/sched/ab.ts BASE [shape=n ...]
 *
 * (Each tree has its own scheduler module, hence its own scheduler and
 * reactor: the two never share a task.)
 *
 * @module
 */
import { resolve } from "node:path";
import { cpuUsage } from "node:process";
import { hostArgs } from "../../src/ffi/mod.ts";

type Shapes = Record<string, (n: number) => { ops: number; ms: number; bareNsPerOp?: number }>;
const [baseDir, ...args] = hostArgs();
if (baseDir === undefined) throw new Error("usage: ab.ts BASE_CHECKOUT [shape=n ...]");
const base = (await import(resolve(baseDir, "bench/sched/strom.ts"))).shapes as Shapes;
const next = (await import("./strom.ts")).shapes as Shapes;
const shapes: [string, number][] = args.length
  ? args.map((a: string) => {
    const [s, n] = a.split("=");
    return [s, Number(n)];
  })
  : [
    ["spawn-join", 2e5],
    ["pingpong-yield", 1e6],
    ["pingpong-handoff", 1e6],
    ["depth-1", 1e6],
    ["depth-100", 1e5],
    ["awaitall-2", 1e5],
    ["yield-10k", 2e6],
    ["timeout", 2e5],
    ["spawn-cancel", 2e5],
  ];
const reps = 7;
for (const [shape, n] of shapes) {
  const best: Record<string, { wall: number; cpu: number; bare?: number }> = {};
  for (const s of [base, next]) s[shape](n / 10); // warm
  for (let r = 0; r < reps; r++) {
    for (
      const [name, s]
        of (r % 2 ? [["new", next], ["base", base]] : [["base", base], ["new", next]]) as [
          string,
          typeof base,
        ][]
    ) {
      const c0 = cpuUsage();
      const w = s[shape](n);
      const c = cpuUsage(c0);
      const wall = w.ms * 1e6 / w.ops;
      const cpu = (c.user + c.system) * 1e3 / w.ops;
      const b = best[name] ??= { wall: Infinity, cpu: Infinity, bare: Infinity };
      b.wall = Math.min(b.wall, wall);
      b.cpu = Math.min(b.cpu, cpu);
      if (w.bareNsPerOp !== undefined) b.bare = Math.min(b.bare!, w.bareNsPerOp);
    }
  }
  const f = (v: number) => v.toFixed(1).padStart(8);
  console.log(
    `${shape.padEnd(17)} n=${String(n).padEnd(8)} base wall ${f(best.base.wall)} cpu ${
      f(best.base.cpu)
    }${best.base.bare! < Infinity ? ` bare ${f(best.base.bare!)}` : ""} | new wall ${
      f(best.new.wall)
    } cpu ${f(best.new.cpu)}${
      best.new.bare! < Infinity ? ` bare ${f(best.new.bare!)}` : ""
    }  (ns/op, min of ${reps})`,
  );
}
