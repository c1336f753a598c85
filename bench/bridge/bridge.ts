// The bridge's figures (issue 10), one case per run, printed as one JSON line:
//
//   deno run -A bench/bridge/bridge.ts CASE [--quick]    (or: bun bench/bridge/bridge.ts ...)
//
// CASE:
// - `until`: `yield* until(p)` of an already-settled promise under runAsync,
//   ns per op, against `await p` in an async function (the host's own way).
// - `wake`: from a host callback resolving a promise to the task waiting on
//   it running again, µs p50/p99: with the thread idle (its kernel wait off
//   the JS thread must end) and with another strom task busy (the settle
//   lands between slices); against `await` of the same promise.
// - `idle`: a strom TCP server (a listener, an accept loop, no traffic) under
//   runAsync with an idle host loop, for 10 s (2 s with --quick): the CPU
//   the process used (utime+stime from /proc/self/stat), as a percentage.
//
// `node bench/bridge/run.mjs` runs every case on both hosts and reactors.
import { readFileSync } from "node:fs";
import process from "node:process";
import {
  now,
  reactorKind,
  runAsync,
  spawn,
  type Task,
  TcpListener,
  until,
  yieldNow,
} from "../../mod.ts";

const [which, ...rest] = (globalThis as { Deno?: { args: string[] } }).Deno?.args
  ?? process.argv.slice(2);
const quick = rest.includes("--quick");

function emit(result: Record<string, unknown>): void {
  console.log(JSON.stringify({ case: which, reactor: reactorKind(), ...result }));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

async function untilCase(): Promise<void> {
  const n = quick ? 100_000 : 1_000_000;
  const settled = Promise.resolve(1);
  const rounds: { strom: number; await: number }[] = [];
  for (let round = 0; round < 3; round++) {
    let t = now();
    await runAsync(function*(): Task<void> {
      for (let i = 0; i < n; i++) yield* until(settled);
    }());
    const strom = (now() - t) * 1e6 / n;
    t = now();
    await (async () => {
      for (let i = 0; i < n; i++) await settled;
    })();
    rounds.push({ strom, await: (now() - t) * 1e6 / n });
  }
  const best = (k: "strom" | "await") => Math.min(...rounds.map((r) => r[k]));
  emit({ n, untilNsPerOp: best("strom"), awaitNsPerOp: best("await") });
}

/** A promise resolved by a host timer; records when the callback resolved it. */
function hostSettled(): { promise: Promise<void>; at: () => number } {
  let at = 0;
  const promise = new Promise<void>((resolve) =>
    setTimeout(() => {
      at = now();
      resolve();
    }, 0)
  );
  return { promise, at: () => at };
}

function stats(samples: number[]): { p50: number; p99: number } {
  const sorted = samples.map((ms) => ms * 1000).sort((a, b) => a - b);
  return { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99) };
}

async function wakeCase(): Promise<void> {
  const n = quick ? 300 : 2000;
  const idle: number[] = [];
  const busy: number[] = [];
  const host: number[] = [];
  await runAsync(function*(): Task<void> {
    for (let i = 0; i < n; i++) {
      const s = hostSettled();
      yield* until(s.promise);
      idle.push(now() - s.at());
    }
    let spinning = true;
    yield* spawn(function*(): Task<void> {
      while (spinning) yield* yieldNow(); // never waits for the kernel
    }());
    for (let i = 0; i < n; i++) {
      const s = hostSettled();
      yield* until(s.promise);
      busy.push(now() - s.at());
    }
    spinning = false;
  }());
  for (let i = 0; i < n; i++) {
    const s = hostSettled();
    await s.promise;
    host.push(now() - s.at());
  }
  emit({ n, idleUs: stats(idle), busyUs: stats(busy), awaitUs: stats(host) });
}

function cpuMs(): number {
  // Fields 14 and 15 (utime, stime) in clock ticks (100 per second on Linux).
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

async function idleCase(): Promise<void> {
  const seconds = quick ? 2 : 10;
  let cpu = 0;
  await runAsync(function*(): Task<void> {
    const listener = TcpListener.bind("127.0.0.1:0");
    yield* spawn(function*(): Task<void> {
      try {
        for (;;) (yield* listener.accept()).close();
      } finally {
        listener.close();
      }
    }());
    yield* until(new Promise((resolve) => setTimeout(resolve, 200))); // settle start-up
    const before = cpuMs();
    const t = now();
    yield* until(new Promise((resolve) => setTimeout(resolve, seconds * 1000)));
    cpu = (cpuMs() - before) / (now() - t);
  }());
  emit({ seconds, cpuPercent: cpu * 100 });
}

const cases: Record<string, () => Promise<void>> = {
  until: untilCase,
  wake: wakeCase,
  idle: idleCase,
};
const run = cases[which ?? ""];
if (run === undefined) {
  console.error(`usage: bridge.ts ${Object.keys(cases).join("|")} [--quick]`);
  process.exit(2);
}
await run();
