/**
 * The benchmark shapes written with effection 4 (the npm package), the way
 * an effection user writes them: `spawn` + `yield* task`, `all`, `sleep`,
 * `withResolvers` for a handoff.
 *
 * effection has no `yieldNow`; its cheapest "suspend and be resumed" is an
 * `action` that resolves at once, which goes through its reducer like any
 * other resumption. That is what the yield and depth shapes use.
 *
 * @module
 */

import { action, all, type Operation, run, sleep, spawn, withResolvers } from "effection";
import { sleepOffsets, type Workload } from "./common.ts";

function* trivial(i: number): Operation<number> {
  return i;
}

const noop = () => {};

/** Suspends and is resumed by effection's reducer at once. */
function yieldNow(): Operation<void> {
  return action<void>((resolve) => {
    resolve();
    return noop;
  });
}

async function spawnJoin(n: number): Promise<Workload> {
  const t0 = performance.now();
  const sum = await run(function*() {
    const tasks = new Array(n);
    for (let i = 0; i < n; i++) tasks[i] = yield* spawn(() => trivial(i));
    let s = 0;
    for (let i = 0; i < n; i++) s += yield* tasks[i];
    return s;
  });
  const ms = performance.now() - t0;
  if (sum !== n * (n - 1) / 2) throw new Error(`spawn-join: bad sum ${sum}`);
  return { ops: n, ms };
}

async function pingpongYield(n: number): Promise<Workload> {
  let switches = 0;
  function* player(rounds: number): Operation<void> {
    for (let i = 0; i < rounds; i++) {
      switches++;
      yield* yieldNow();
    }
  }
  const t0 = performance.now();
  await run(function*() {
    yield* all([player(n / 2), player(n / 2)]);
  });
  return { ops: switches, ms: performance.now() - t0 };
}

async function pingpongHandoff(n: number): Promise<Workload> {
  let toPing = withResolvers<void>();
  let toPong = withResolvers<void>();
  let switches = 0;
  const rounds = n / 2;
  function* ping(): Operation<void> {
    for (let i = 0; i < rounds; i++) {
      const mine = toPing;
      toPong.resolve();
      yield* mine.operation;
      toPing = withResolvers<void>();
      switches += 2;
    }
  }
  function* pong(): Operation<void> {
    for (let i = 0; i < rounds; i++) {
      yield* toPong.operation;
      toPong = withResolvers<void>();
      toPing.resolve();
    }
  }
  const t0 = performance.now();
  await run(function*() {
    yield* all([ping(), pong()]);
  });
  return { ops: switches, ms: performance.now() - t0 };
}

function awaitAllOf(width: number): (calls: number) => Promise<Workload> {
  return async (calls) => {
    const t0 = performance.now();
    const sum = await run(function*() {
      let s = 0;
      for (let c = 0; c < calls; c++) {
        const children: Operation<number>[] = new Array(width);
        for (let i = 0; i < width; i++) children[i] = trivial(i);
        const results = yield* all(children);
        s += results[width - 1];
      }
      return s;
    });
    const ms = performance.now() - t0;
    if (sum !== calls * (width - 1)) throw new Error(`awaitall: bad sum ${sum}`);
    return { ops: calls, ms };
  };
}

function depth(d: number): (resumes: number) => Promise<Workload> {
  function* chain(level: number, resumes: number): Operation<number> {
    if (level > 1) return yield* chain(level - 1, resumes);
    let done = 0;
    for (let i = 0; i < resumes; i++) {
      yield* yieldNow();
      done++;
    }
    return done;
  }
  return async (resumes) => {
    const t0 = performance.now();
    const done = await run(() => chain(d, resumes));
    return { ops: done, ms: performance.now() - t0 };
  };
}

async function sleeps(n: number): Promise<Workload> {
  const offsets = sleepOffsets(n);
  const lateness = new Float64Array(n);
  let lastStart = 0;
  function* sleeper(i: number): Operation<void> {
    const deadline = performance.now() + offsets[i];
    lastStart = deadline - offsets[i];
    yield* sleep(offsets[i]);
    lateness[i] = performance.now() - deadline;
  }
  const t0 = performance.now();
  const c0 = performance.now();
  await run(function*() {
    const children: Operation<void>[] = new Array(n);
    for (let i = 0; i < n; i++) children[i] = sleeper(i);
    yield* all(children);
  });
  return { ops: n, ms: performance.now() - t0, lateness, setupMs: lastStart - c0 };
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
};
