// Synchronization primitives on one thread (not a test: prints figures).
// `deno run -A bench/sync/local.ts [N]` / `bun bench/sync/local.ts [N]`.
//
// - Channel: messages/s from one producer task to one consumer task
//   (capacity 1024, numbers).
// - Semaphore: ns per tryAcquire + release (uncontended), per
//   `yield* acquire()` + release (uncontended: never waits), and per
//   hand-over when two tasks contend for one permit (each acquire waits).
// - TaskSet: ns per task for spawn into a set + joinNext, against
//   spawn + JoinHandle.join for the same trivial tasks.
//
// Each figure is the best of 3 runs in this process (the machine is shared).
import {
  awaitAll,
  Channel,
  run,
  Semaphore,
  spawn,
  type Task,
  TaskSet,
  yieldNow,
} from "../../mod.ts";
import { host, hostArgs } from "../../src/ffi/mod.ts";

const N = Number(hostArgs()[0] ?? 1_000_000);

function best(f: () => number): number {
  let b = Infinity;
  for (let i = 0; i < 3; i++) b = Math.min(b, f());
  return b;
}

function time(body: () => void): number {
  const t0 = performance.now();
  body();
  return performance.now() - t0;
}

function channelMs(): number {
  const ch = new Channel<number>(1024);
  return time(() =>
    run(awaitAll(
      function*(): Task<void> {
        for (let i = 0; i < N; i++) yield* ch.send(i);
        ch.close();
      }(),
      function*(): Task<number> {
        let sum = 0;
        for (let r = yield* ch.recv(); !r.done; r = yield* ch.recv()) sum += r.value;
        return sum;
      }(),
    ))
  );
}

function tryAcquireMs(): number {
  const sem = new Semaphore(1);
  return time(() => {
    for (let i = 0; i < N; i++) sem.tryAcquire()!.release();
  });
}

function acquireMs(): number {
  const sem = new Semaphore(1);
  return time(() =>
    run(function*(): Task<void> {
      for (let i = 0; i < N; i++) (yield* sem.acquire()).release();
    }())
  );
}

function contendedMs(): number {
  const sem = new Semaphore(1);
  const half = N / 2;
  function* worker(): Task<void> {
    for (let i = 0; i < half; i++) {
      const p = yield* sem.acquire();
      yield* yieldNow(); // hold it across a turn: the other task waits
      p.release();
    }
  }
  return time(() => run(awaitAll(worker(), worker())));
}

const TASKS = Math.min(N, 200_000);

function* trivial(i: number): Task<number> {
  return i;
}

function taskSetMs(): number {
  return time(() =>
    run(function*(): Task<void> {
      using set = new TaskSet<number>();
      for (let i = 0; i < TASKS; i++) set.spawn(trivial(i));
      for (let r = yield* set.joinNext(); !r.done; r = yield* set.joinNext()) { /* drain */ }
    }())
  );
}

function spawnJoinMs(): number {
  return time(() =>
    run(function*(): Task<void> {
      const handles = [];
      for (let i = 0; i < TASKS; i++) handles.push(yield* spawn(trivial(i)));
      for (const h of handles) yield* h.join();
    }())
  );
}

const rows: [string, string][] = [
  ["Channel, 1 producer -> 1 consumer", `${Math.round(N / best(channelMs) * 1000)} msgs/s`],
  ["Semaphore tryAcquire + release", `${(best(tryAcquireMs) * 1e6 / N).toFixed(0)} ns`],
  ["Semaphore acquire (no wait) + release", `${(best(acquireMs) * 1e6 / N).toFixed(0)} ns`],
  [
    "Semaphore hand-over, 2 tasks, 1 permit",
    `${(best(contendedMs) * 1e6 / N).toFixed(0)} ns per acquire, incl. a yieldNow`,
  ],
  ["TaskSet spawn + joinNext", `${(best(taskSetMs) * 1e6 / TASKS).toFixed(0)} ns per task`],
  [
    "spawn + JoinHandle.join (reference)",
    `${(best(spawnJoinMs) * 1e6 / TASKS).toFixed(0)} ns per task`,
  ],
];
for (const [what, figure] of rows) console.log(`${host} ${what}: ${figure}`);
