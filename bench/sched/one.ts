// Runs one shape of one impl once, with no JIT warm-up, no child process and
// no output but one line: for instruction counts under valgrind (the busy
// 2-core machine makes wall time useless; see the issue 12 report).
//   valgrind --tool=callgrind deno run -A --no-check bench/sched/one.ts SHAPE IMPL N
import { hostArgs } from "../../src/ffi/mod.ts";
import type { Impl, Shape } from "./common.ts";

const [shape, impl, n] = hostArgs();
const mod = impl === "strom"
  ? await import("./strom.ts")
  : impl === "async"
  ? await import("./async.ts")
  : await import("./effection.ts");
const fn = (mod.shapes as Record<string, (n: number) => unknown>)[shape as Shape];
if (fn === undefined) throw new Error(`${impl as Impl} has no shape ${shape}`);
const w = await fn(Number(n)) as { ops: number };
console.log(`${shape} ${impl} ops ${w.ops}`);
