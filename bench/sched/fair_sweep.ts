/**
 * How FAIR_POLL_MS was chosen: the cost of the fair looks on CPU-bound churn
 * (10k tasks looping on yieldNow) when the wake fd is watched (a runtime
 * worker always watches it), looking every FAIR_INTERVAL (61) steps and
 * polling the kernel at most every `fairPollMs`, for several values, in one
 * process, alternating, fastest of the rounds. The last row is the epoll
 * doorbell (what a busy thread on epoll uses where io_uring serves: it polls
 * only when an event arrived, here never); the others run without it.
 *
 *   deno run -A bench/sched/fair_sweep.ts   |   bun bench/sched/fair_sweep.ts
 *
 * @module
 */

import { awaitAll, type Operation, run, yieldNow } from "../../mod.ts";
import { threadScheduler } from "../../src/sched/current.ts";

const TASKS = 10_000;
const ROUNDS = 100; // switches = TASKS * ROUNDS
const NEVER = 1e9;
const INTERVALS = [0, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, NEVER]; // ms between polls
const DOORBELL = -1; // the doorbell instead of a clock

function* looper(): Operation<void> {
  for (let i = 0; i < ROUNDS; i++) yield* yieldNow();
}

function churn(): number {
  const t0 = performance.now();
  run(function*() {
    const children = new Array(TASKS);
    for (let i = 0; i < TASKS; i++) children[i] = looper();
    yield* awaitAll(children);
  }());
  return (performance.now() - t0) * 1e6 / (TASKS * ROUNDS);
}

const scheduler = threadScheduler();
scheduler.externalHolds++; // the wake fd is watched (as on a runtime worker)
const best = new Map<number, number>();
churn(); // warm up
for (let round = 0; round < 5; round++) {
  const cases = [...INTERVALS, DOORBELL];
  for (const n of round % 2 ? cases.reverse() : cases) {
    scheduler.useDoorbell = n === DOORBELL;
    scheduler.fairPollMs = n === DOORBELL ? NEVER : n;
    best.set(n, Math.min(best.get(n) ?? Infinity, churn()));
  }
}
scheduler.useDoorbell = true;
scheduler.externalHolds--;
const none = best.get(NEVER)!;
for (const ms of [...INTERVALS, DOORBELL]) {
  const ns = best.get(ms)!;
  const label = ms === NEVER ? "never" : ms === DOORBELL ? "doorbell" : `${ms} ms`;
  console.log(
    `poll every ${label.padStart(8)}: ${ns.toFixed(1)} ns/switch (+${
      ((ns / none - 1) * 100).toFixed(1)
    }% over never polling)`,
  );
}
