// A CPU-bound mix of root tasks on 1 vs 2 workers (not a test: prints
// figures; the target is a speed-up of at least 1.8x on 2 cores).
// `deno run -A bench/runtime/cpu_mix.ts [TASKS] [ROUNDS]` / `bun bench/runtime/cpu_mix.ts`.
//
// TASKS root tasks (default 10 000) of `crunch(seed, rounds)` with rounds
// drawn from a fixed mix (0.5x..1.5x of ROUNDS, default 20 000: ~30-60 µs
// each), all submitted at once with spawn (the queue holds them all), each
// result awaited. Reports the wall time per worker count and the ratio.
import { rootTask, Runtime } from "../../mod.ts";
import { host, hostArgs } from "../../src/ffi/mod.ts";
import { crunch } from "./tasks.ts";

const [tasksArg = "10000", roundsArg = "20000"] = hostArgs();
const N = Number(tasksArg);
const ROUNDS = Number(roundsArg);
const TASKS = new URL("./tasks.ts", import.meta.url);

async function measure(workers: number): Promise<number> {
  const rt = await Runtime.create({ workers, queueCapacity: N + 16, queueBytes: 64 << 20 });
  // Warm each worker (import, JIT) with a first batch, not measured.
  await Promise.all(
    Array.from({ length: 200 }, (_, i) => rt.spawn(rootTask(TASKS, crunch, i, ROUNDS))),
  );
  const t0 = performance.now();
  const all = [];
  for (let i = 0; i < N; i++) {
    const rounds = Math.round(ROUNDS * (0.5 + ((i * 7919) % 1000) / 1000));
    all.push(rt.spawn(rootTask(TASKS, crunch, i, rounds)));
  }
  await Promise.all(all);
  const ms = performance.now() - t0;
  await rt.close();
  return ms;
}

const one = await measure(1);
const two = await measure(2);
console.log(
  `${host} cpu mix: ${N} tasks, 1 worker ${one.toFixed(0)} ms, 2 workers ${
    two.toFixed(0)
  } ms, speed-up ${(one / two).toFixed(2)}x`,
);
