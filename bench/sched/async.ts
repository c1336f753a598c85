/**
 * The benchmark shapes written with plain async/await and setTimeout, the
 * way a JavaScript user writes them: async functions, `Promise.all`, a
 * promise per handoff, `await null` to let others run.
 *
 * @module
 */

import { SLEEPERS_SPAN_MS, sleepOffsets, type Workload, YIELD_TASKS } from "./common.ts";

// deno-lint-ignore require-await
async function trivial(i: number): Promise<number> {
  return i;
}

async function spawnJoin(n: number): Promise<Workload> {
  const t0 = performance.now();
  const promises: Promise<number>[] = new Array(n);
  for (let i = 0; i < n; i++) promises[i] = trivial(i);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += await promises[i];
  const ms = performance.now() - t0;
  if (sum !== n * (n - 1) / 2) throw new Error(`spawn-join: bad sum ${sum}`);
  return { ops: n, ms };
}

async function pingpongYield(n: number): Promise<Workload> {
  let switches = 0;
  async function player(rounds: number): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      switches++;
      await null;
    }
  }
  const t0 = performance.now();
  await Promise.all([player(n / 2), player(n / 2)]);
  return { ops: switches, ms: performance.now() - t0 };
}

async function pingpongHandoff(n: number): Promise<Workload> {
  let toPing = Promise.withResolvers<void>();
  let toPong = Promise.withResolvers<void>();
  let switches = 0;
  const rounds = n / 2;
  async function ping(): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      const mine = toPing;
      toPong.resolve();
      await mine.promise;
      toPing = Promise.withResolvers<void>();
      switches += 2;
    }
  }
  async function pong(): Promise<void> {
    for (let i = 0; i < rounds; i++) {
      await toPong.promise;
      toPong = Promise.withResolvers<void>();
      toPing.resolve();
    }
  }
  const t0 = performance.now();
  await Promise.all([ping(), pong()]);
  return { ops: switches, ms: performance.now() - t0 };
}

function awaitAllOf(width: number): (calls: number) => Promise<Workload> {
  return async (calls) => {
    const t0 = performance.now();
    let sum = 0;
    for (let c = 0; c < calls; c++) {
      const children: Promise<number>[] = new Array(width);
      for (let i = 0; i < width; i++) children[i] = trivial(i);
      const results = await Promise.all(children);
      sum += results[width - 1];
    }
    const ms = performance.now() - t0;
    if (sum !== calls * (width - 1)) throw new Error(`awaitall: bad sum ${sum}`);
    return { ops: calls, ms };
  };
}

function depth(d: number): (resumes: number) => Promise<Workload> {
  async function chain(level: number, resumes: number): Promise<number> {
    if (level > 1) return await chain(level - 1, resumes);
    let done = 0;
    for (let i = 0; i < resumes; i++) {
      await null;
      done++;
    }
    return done;
  }
  return async (resumes) => {
    const t0 = performance.now();
    const done = await chain(d, resumes);
    return { ops: done, ms: performance.now() - t0 };
  };
}

async function sleeps(n: number): Promise<Workload> {
  const offsets = sleepOffsets(n);
  const lateness = new Float64Array(n);
  let lastStart = 0;
  async function sleeper(i: number): Promise<void> {
    const deadline = performance.now() + offsets[i];
    lastStart = deadline - offsets[i];
    await new Promise<void>((resolve) => setTimeout(resolve, offsets[i]));
    lateness[i] = performance.now() - deadline;
  }
  const t0 = performance.now();
  const c0 = performance.now();
  const all: Promise<void>[] = new Array(n);
  for (let i = 0; i < n; i++) all[i] = sleeper(i);
  await Promise.all(all);
  return { ops: n, ms: performance.now() - t0, lateness, setupMs: lastStart - c0 };
}

async function sleepers(n: number): Promise<Workload> {
  const offsets = sleepOffsets(n, SLEEPERS_SPAN_MS);
  const lateness = new Float64Array(n);
  async function sleeper(i: number): Promise<void> {
    const deadline = performance.now() + offsets[i];
    await new Promise<void>((resolve) => setTimeout(resolve, offsets[i]));
    lateness[i] = performance.now() - deadline;
  }
  const t0 = performance.now();
  const all: Promise<void>[] = new Array(n);
  for (let i = 0; i < n; i++) all[i] = sleeper(i);
  await Promise.all(all);
  return { ops: n, ms: performance.now() - t0, lateness };
}

/** The usual JavaScript time-out: a race with a timer, cleared either way. */
async function withTimeout<T>(ms: number, op: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      op,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

async function yieldOnce(): Promise<void> {
  await null;
}

async function timeouts(n: number): Promise<Workload> {
  let bareMs = Infinity;
  let timedMs = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) await yieldOnce();
    const t1 = performance.now();
    for (let i = 0; i < n; i++) await withTimeout(1000, yieldOnce());
    const t2 = performance.now();
    bareMs = Math.min(bareMs, t1 - t0);
    timedMs = Math.min(timedMs, t2 - t1);
  }
  return { ops: n, ms: timedMs, bareNsPerOp: bareMs * 1e6 / n };
}

/** Start `n` async functions that wait until aborted, abort them all, await their ends. */
async function spawnCancel(n: number): Promise<Workload> {
  const noop = () => {};
  async function waiter(signal: AbortSignal): Promise<void> {
    await new Promise<void>((_, reject) =>
      signal.addEventListener("abort", () => reject(signal.reason), { once: true })
    );
  }
  const t0 = performance.now();
  const controllers: AbortController[] = new Array(n);
  const ends: Promise<void>[] = new Array(n);
  for (let i = 0; i < n; i++) {
    controllers[i] = new AbortController();
    ends[i] = waiter(controllers[i].signal).catch(noop);
  }
  await null;
  for (let i = 0; i < n; i++) controllers[i].abort();
  await Promise.all(ends);
  return { ops: n, ms: performance.now() - t0 };
}

async function yield10k(n: number): Promise<Workload> {
  const rounds = Math.max(1, Math.floor(n / YIELD_TASKS));
  async function looper(): Promise<void> {
    for (let i = 0; i < rounds; i++) await null;
  }
  const t0 = performance.now();
  const all: Promise<void>[] = new Array(YIELD_TASKS);
  for (let i = 0; i < YIELD_TASKS; i++) all[i] = looper();
  await Promise.all(all);
  return { ops: rounds * YIELD_TASKS, ms: performance.now() - t0 };
}

/** The shapes, each a workload of `n` ops. */
export const shapes = {
  "spawn-join": spawnJoin,
  "pingpong-yield": pingpongYield,
  "pingpong-handoff": pingpongHandoff,
  "awaitall-2": awaitAllOf(2),
  "awaitall-10k": awaitAllOf(10_000),
  "depth-1": depth(1),
  "depth-100": depth(100),
  "sleeps": sleeps,
  "sleepers-100k": sleepers,
  "sleepers-100k-young1": sleepers,
  "timeout": timeouts,
  "spawn-cancel": spawnCancel,
  "yield-10k": yield10k,
};
