/**
 * The benchmark shapes written with strom.
 *
 * @module
 */

import {
  awaitAll,
  Channel,
  now,
  type Operation,
  run,
  sleep,
  sleepUntil,
  spawn,
  timeout,
  yieldNow,
} from "../../mod.ts";
import { beginWait } from "../../src/sched/current.ts";
import type { TaskRecord } from "../../src/sched/scheduler.ts";
import { SUSPEND } from "../../src/sched/types.ts";
import { SLEEPERS_SPAN_MS, sleepOffsets, type Workload, YIELD_TASKS } from "./common.ts";

function* trivial(i: number): Operation<number> {
  return i;
}

function spawnJoin(n: number): Workload {
  const t0 = performance.now();
  const sum = run(function*() {
    const handles = new Array(n);
    for (let i = 0; i < n; i++) handles[i] = yield* spawn(trivial(i));
    let s = 0;
    for (let i = 0; i < n; i++) s += yield* handles[i].join();
    return s;
  }());
  const ms = performance.now() - t0;
  if (sum !== n * (n - 1) / 2) throw new Error(`spawn-join: bad sum ${sum}`);
  return { ops: n, ms };
}

function pingpongYield(n: number): Workload {
  let switches = 0;
  function* player(rounds: number): Operation<void> {
    for (let i = 0; i < rounds; i++) {
      switches++;
      yield* yieldNow();
    }
  }
  const t0 = performance.now();
  run(function*() {
    yield* awaitAll(player(n / 2), player(n / 2));
  }());
  return { ops: switches, ms: performance.now() - t0 };
}

/**
 * A one-slot handoff written as a strom leaf operation (the pattern of the
 * brief): strom has no channel yet, so this is the least a channel would do.
 */
class Baton {
  waiter: TaskRecord | null = null;
  given = false;

  give(): void {
    const w = this.waiter;
    if (w !== null) {
      this.waiter = null;
      w.wake();
    } else {
      this.given = true;
    }
  }

  *take(): Operation<void> {
    if (this.given) {
      this.given = false;
      return;
    }
    const task = beginWait("take");
    this.waiter = task;
    try {
      yield SUSPEND;
    } finally {
      if (this.waiter === task) this.waiter = null;
    }
  }
}

function pingpongHandoff(n: number): Workload {
  const toPing = new Baton();
  const toPong = new Baton();
  let switches = 0;
  const rounds = n / 2;
  function* ping(): Operation<void> {
    for (let i = 0; i < rounds; i++) {
      toPong.give();
      yield* toPing.take();
      switches += 2;
    }
  }
  function* pong(): Operation<void> {
    for (let i = 0; i < rounds; i++) {
      yield* toPong.take();
      toPing.give();
    }
  }
  const t0 = performance.now();
  run(function*() {
    yield* awaitAll(ping(), pong());
  }());
  return { ops: switches, ms: performance.now() - t0 };
}

function awaitAllOf(width: number): (calls: number) => Workload {
  return (calls) => {
    const t0 = performance.now();
    const sum = run(function*() {
      let s = 0;
      for (let c = 0; c < calls; c++) {
        const children = new Array(width);
        for (let i = 0; i < width; i++) children[i] = trivial(i);
        const results: number[] = yield* awaitAll(children);
        s += results[width - 1];
      }
      return s;
    }());
    const ms = performance.now() - t0;
    if (sum !== calls * (width - 1)) throw new Error(`awaitall: bad sum ${sum}`);
    return { ops: calls, ms };
  };
}

function depth(d: number): (resumes: number) => Workload {
  function* chain(level: number, resumes: number): Operation<number> {
    if (level > 1) return yield* chain(level - 1, resumes);
    let done = 0;
    for (let i = 0; i < resumes; i++) {
      yield* yieldNow();
      done++;
    }
    return done;
  }
  return (resumes) => {
    const t0 = performance.now();
    const done = run(chain(d, resumes));
    return { ops: done, ms: performance.now() - t0 };
  };
}

function sleeps(n: number): Workload {
  const offsets = sleepOffsets(n);
  const lateness = new Float64Array(n);
  let lastStart = 0;
  function* sleeper(i: number): Operation<void> {
    const deadline = now() + offsets[i];
    lastStart = deadline - offsets[i];
    yield* sleepUntil(deadline);
    lateness[i] = now() - deadline;
  }
  const t0 = performance.now();
  const c0 = now();
  run(function*() {
    const children = new Array(n);
    for (let i = 0; i < n; i++) children[i] = sleeper(i);
    yield* awaitAll(children);
  }());
  return { ops: n, ms: performance.now() - t0, lateness, setupMs: lastStart - c0 };
}

/**
 * Issue 12's fairness case: `n` root tasks, each sleeping a random time in
 * [0, 200 ms) from its first step. Lateness is what a long ready queue (the
 * other tasks' first steps) adds to a timer.
 */
function sleepers(n: number): Workload {
  const offsets = sleepOffsets(n, SLEEPERS_SPAN_MS);
  const lateness = new Float64Array(n);
  function* sleeper(i: number): Operation<void> {
    const deadline = now() + offsets[i];
    yield* sleep(offsets[i]);
    lateness[i] = now() - deadline;
  }
  const t0 = performance.now();
  run(function*() {
    const handles = new Array(n);
    for (let i = 0; i < n; i++) handles[i] = yield* spawn(sleeper(i));
    for (let i = 0; i < n; i++) yield* handles[i].join();
  }());
  return { ops: n, ms: performance.now() - t0, lateness };
}

/**
 * `timeout(1000, op)` against the bare `op` (one suspension: yieldNow), in
 * the same process, alternating three times; the fastest round of each.
 */
function timeouts(n: number): Workload {
  function* bare(): Operation<void> {
    for (let i = 0; i < n; i++) yield* yieldNow();
  }
  function* timed(): Operation<void> {
    for (let i = 0; i < n; i++) yield* timeout(1000, yieldNow());
  }
  let bareMs = Infinity;
  let timedMs = Infinity;
  for (let round = 0; round < 3; round++) {
    const t0 = performance.now();
    run(bare());
    const t1 = performance.now();
    run(timed());
    const t2 = performance.now();
    bareMs = Math.min(bareMs, t1 - t0);
    timedMs = Math.min(timedMs, t2 - t1);
  }
  return { ops: n, ms: timedMs, bareNsPerOp: bareMs * 1e6 / n };
}

/** Spawn `n` tasks that wait (on an empty channel), let them start, cancel them all. */
function spawnCancel(n: number): Workload {
  const t0 = performance.now();
  run(function*() {
    const empty = new Channel<number>(1);
    const handles = new Array(n);
    for (let i = 0; i < n; i++) handles[i] = yield* spawn(empty.recv());
    yield* yieldNow(); // every task runs its first step and waits
    for (let i = 0; i < n; i++) handles[i].cancel();
  }());
  return { ops: n, ms: performance.now() - t0 };
}

/** CPU-bound churn: 10k tasks looping on yieldNow, `n` switches in all. */
function yield10k(n: number): Workload {
  const rounds = Math.max(1, Math.floor(n / YIELD_TASKS));
  function* looper(): Operation<void> {
    for (let i = 0; i < rounds; i++) yield* yieldNow();
  }
  const t0 = performance.now();
  run(function*() {
    const children = new Array(YIELD_TASKS);
    for (let i = 0; i < YIELD_TASKS; i++) children[i] = looper();
    yield* awaitAll(children);
  }());
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
