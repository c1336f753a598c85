/**
 * What every scheduler benchmark shares: the shapes and their sizes, the
 * measurement a child process reports, and the runtime-neutral probes (peak
 * RSS and CPU time from /proc, a seeded random source, percentiles).
 *
 * @module
 */

import { readFileSync } from "node:fs";

/** The contenders: strom, the effection npm package, plain async/await. */
export const IMPLS = ["strom", "effection", "async"] as const;
/** One of {@linkcode IMPLS}. */
export type Impl = typeof IMPLS[number];

/** The shapes, in the order they run and print. */
export const SHAPES = [
  "spawn-join",
  "pingpong-yield",
  "pingpong-handoff",
  "awaitall-2",
  "awaitall-10k",
  "depth-1",
  "depth-100",
  "sleeps",
  "sleepers-100k",
  "sleepers-100k-young1",
  "timeout",
  "spawn-cancel",
  "yield-10k",
] as const;
/** One of {@linkcode SHAPES}. */
export type Shape = typeof SHAPES[number];

/** What one shape measures per op, for the table's unit column. */
export const UNIT: Record<Shape, string> = {
  "spawn-join": "task (spawn+join)",
  "pingpong-yield": "switch",
  "pingpong-handoff": "switch",
  "awaitall-2": "awaitAll call",
  "awaitall-10k": "awaitAll call",
  "depth-1": "resume",
  "depth-100": "resume",
  "sleeps": "sleeper",
  "sleepers-100k": "sleeper",
  "sleepers-100k-young1": "sleeper",
  "timeout": "timeout call",
  "spawn-cancel": "task (spawn+cancel)",
  "yield-10k": "switch",
};

/**
 * How many ops each contender runs per shape, default and `--quick`.
 * effection gets fewer ops where one op costs tens of µs (a spawn is
 * ~30-100 µs here), so the default run stays within minutes; figures are
 * per op, so the ratios stay comparable. The sleep shape's peak RSS is also
 * reported per sleeper for that reason.
 */
export const SIZES: Record<Shape, Record<Impl, [number, number]>> = {
  "spawn-join": { strom: [1e6, 1e5], effection: [1e5, 1e4], async: [1e6, 1e5] },
  "pingpong-yield": { strom: [1e6, 2e5], effection: [1e5, 2e4], async: [1e6, 2e5] },
  "pingpong-handoff": { strom: [1e6, 2e5], effection: [1e5, 2e4], async: [1e6, 2e5] },
  "awaitall-2": { strom: [2e5, 4e4], effection: [1e4, 2e3], async: [2e5, 4e4] },
  "awaitall-10k": { strom: [40, 8], effection: [3, 1], async: [40, 8] },
  "depth-1": { strom: [1e6, 2e5], effection: [1e5, 2e4], async: [1e6, 2e5] },
  "depth-100": { strom: [2e5, 4e4], effection: [2e4, 4e3], async: [2e5, 4e4] },
  "sleeps": { strom: [1e6, 1e5], effection: [1e5, 2e4], async: [1e6, 1e5] },
  // Issue 12's rows (effection has no time-out or cheap cancel to compare:
  // strom and async/await only; a shape an impl lacks is skipped).
  "sleepers-100k": { strom: [1e5, 1e5], effection: [1e4, 1e4], async: [1e5, 1e5] },
  "sleepers-100k-young1": { strom: [1e5, 1e5], effection: [1e4, 1e4], async: [1e5, 1e5] },
  "timeout": { strom: [1e6, 2e5], effection: [1e4, 2e3], async: [1e6, 2e5] },
  "spawn-cancel": { strom: [1e6, 1e5], effection: [1e4, 2e3], async: [1e6, 1e5] },
  "yield-10k": { strom: [4e6, 1e6], effection: [2e5, 4e4], async: [4e6, 1e6] },
};

/** The sleepers-100k shape: each task sleeps a random time in [0, this) from its first step. */
export const SLEEPERS_SPAN_MS = 200;

/**
 * Host flags of a shape's child process. `sleepers-100k-young1` is the
 * sleepers case on Deno with V8's young generation held at 1 MiB per
 * semi-space: what sets the default run's p99 is the scavenger copying the
 * young live tasks (16 MiB semi-spaces, ~10-15 ms a pause; see
 * docs/model.md). JSC has no such flag: the shape runs on Deno only.
 */
export const V8_FLAGS: Partial<Record<Shape, string>> = {
  "sleepers-100k-young1": "--max-semi-space-size=1",
};

/**
 * The arguments that run `script` with `args` in a child process of the
 * same host (`execPath`), with V8 flags on Deno if given.
 */
export function childArgv(
  host: string,
  script: string,
  args: readonly string[],
  v8Flags?: string,
): string[] {
  if (host !== "deno") return [script, ...args];
  const flags = v8Flags === undefined ? [] : [`--v8-flags=${v8Flags}`];
  return ["run", "-A", "--no-check", ...flags, script, ...args];
}

/** Whether `shape` is one of the lateness cases (no warm-up, median of runs). */
export function isLateness(shape: Shape): boolean {
  return shape === "sleepers-100k" || shape === "sleepers-100k-young1";
}

/** The yield-10k shape: how many tasks loop on yieldNow at once. */
export const YIELD_TASKS = 10_000;

/** The sleep shape's deadlines are uniform in [0, SLEEP_SPAN_MS). */
export const SLEEP_SPAN_MS = 1000;

/** What a shape's workload hands back to the harness. */
export interface Workload {
  /** Ops completed (checked against the requested count). */
  ops: number;
  /** Wall time of the timed part, ms (performance.now). */
  ms: number;
  /** For the sleep shape: wake time minus deadline of every sleeper, ms. */
  lateness?: Float64Array;
  /** For the sleep shape: from the start until the last sleeper set its deadline, ms. */
  setupMs?: number;
  /** The timeout shape: ns per bare op (no time-out), measured in the same process. */
  bareNsPerOp?: number;
}

/** One measured case, as a child prints it and the JSON report stores it. */
export interface CaseResult {
  shape: Shape;
  impl: Impl;
  host: string;
  ops: number;
  ms: number;
  nsPerOp: number;
  opsPerSec: number;
  /** CPU time (user + system, all threads) of the timed part, ms. */
  cpuMs: number;
  /** VmRSS when the child started, KiB. */
  baseRssKiB: number;
  /** VmHWM (peak RSS) when the child ended, KiB. */
  peakRssKiB: number;
  /** (peak − base) RSS per op, bytes. */
  rssBytesPerOp: number;
  /** Sleep shape: lateness percentiles, ms. */
  lateP50?: number;
  lateP99?: number;
  lateMax?: number;
  lateMin?: number;
  /** The lateness case: the p99 of each run, ascending (the result is the median run). */
  lateP99Runs?: number[];
  /** spawn-join: the ns per op of each run, ascending (the result is the median run). */
  nsPerOpRuns?: number[];
  /** Sleep shape: until every sleeper had set its deadline, ms. */
  setupMs?: number;
  /** Timeout shape: ns per bare op; `nsPerOp` − this is the time-out's cost. */
  bareNsPerOp?: number;
}

/** The prefix of the one stdout line a child reports its result on. */
export const RESULT_PREFIX = "STROM_BENCH_RESULT ";

function statusKiB(field: string): number {
  const text = readFileSync("/proc/self/status", "utf8");
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(text);
  return m === null ? NaN : Number(m[1]);
}

/** Resident set size now, KiB (/proc/self/status VmRSS). */
export function rssKiB(): number {
  return statusKiB("VmRSS");
}

/** Peak resident set size of this process so far, KiB (VmHWM). */
export function peakRssKiB(): number {
  return statusKiB("VmHWM");
}

/** CPU time of this process (all threads, user + system), ms; 10 ms ticks. */
export function cpuMs(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  // Fields after the parenthesised command name; utime and stime are 14, 15.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** A seeded PRNG (mulberry32): every contender sleeps the same deadlines. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` sleep durations uniform in [0, span), the same for every run. */
export function sleepOffsets(n: number, span = SLEEP_SPAN_MS): Float64Array {
  const rand = seededRandom(42);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rand() * span;
  return out;
}

/** The `q` quantile (0..1) of `sorted` (ascending), nearest rank. */
export function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}
