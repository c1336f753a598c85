// The single-thread scheduler: tasks, spawn/join/cancel, awaitAll/awaitAny,
// timers and the usage model. Runs on Deno and on Bun, on either reactor.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  awaitAll,
  awaitAny,
  JoinHandle,
  now,
  type Operation,
  run,
  sleep,
  sleepUntil,
  spawn,
  TaskCancelledError,
  timeout,
  TimeoutError,
  yieldNow,
} from "../mod.ts";
import { threadScheduler } from "../src/sched/current.ts";
import type { TaskRecord } from "../src/sched/scheduler.ts";
import { Slab } from "../src/sched/slab.ts";
import { TimerHeap } from "../src/sched/timer_heap.ts";
import { assertHalts, runScenario } from "./helpers/child.ts";
import { runChecked } from "./helpers/fds.ts";

function* value<T>(v: T): Operation<T> {
  return v;
}

function* fail(message: string, afterTurns = 0): Operation<never> {
  for (let i = 0; i < afterTurns; i++) yield* yieldNow();
  throw new Error(message);
}

test("run returns the task's value and throws its error", () => {
  assert.equal(runChecked(value(42)), 42);
  assert.throws(() => run(fail("oops")), /oops/);
  assert.throws(() => run(fail("later", 3)), /later/);
});

test("ready tasks run in FIFO order and yieldNow interleaves them fairly", () => {
  const log: string[] = [];
  function* worker(name: string): Operation<void> {
    for (let i = 0; i < 3; i++) {
      log.push(`${name}${i}`);
      yield* yieldNow();
    }
  }
  runChecked(function*() {
    const handles = [
      yield* spawn(worker("a")),
      yield* spawn(worker("b")),
      yield* spawn(worker("c")),
    ];
    for (const h of handles) yield* h.join();
  }());
  assert.deepEqual(log, ["a0", "b0", "c0", "a1", "b1", "c1", "a2", "b2", "c2"]);
});

test("one yieldNow operation yields at each yield*, and a task cancelled in one leaves nothing behind", () => {
  // yieldNow's state is the task's (one shared operation object): a second
  // yield* of the same object must yield again, and a task cancelled while
  // in yieldNow must not hand that state to the next task in its record.
  const log: string[] = [];
  runChecked(function*() {
    const other = yield* spawn(function*(): Operation<void> {
      for (let i = 0; i < 3; i++) {
        log.push(`o${i}`);
        yield* yieldNow();
      }
    }());
    const y = yieldNow();
    log.push("m0");
    yield* y;
    log.push("m1");
    yield* y;
    log.push("m2");
    yield* other.join();
    // Tasks cancelled inside yieldNow; then fresh tasks still yield.
    const doomed = [];
    for (let i = 0; i < 10; i++) {
      doomed.push(
        yield* spawn(function*(): Operation<void> {
          for (;;) yield* yieldNow();
        }()),
      );
    }
    yield* yieldNow();
    for (const d of doomed) d.cancel();
    const order: string[] = [];
    const a = yield* spawn(function*(): Operation<void> {
      order.push("a0");
      yield* yieldNow();
      order.push("a1");
    }());
    const b = yield* spawn(function*(): Operation<void> {
      order.push("b0");
      yield* yieldNow();
      order.push("b1");
    }());
    yield* a.join();
    yield* b.join();
    assert.deepEqual(order, ["a0", "b0", "a1", "b1"]);
  }());
  assert.deepEqual(log, ["m0", "o0", "m1", "o1", "m2", "o2"]);
});

test("100k spawned tasks all run and are joined", () => {
  const n = 100_000;
  const sum = runChecked(function*() {
    const handles: JoinHandle<number>[] = [];
    for (let i = 0; i < n; i++) handles.push(yield* spawn(value(i)));
    let total = 0;
    for (const h of handles) total += yield* h.join();
    return total;
  }());
  assert.equal(sum, (n * (n - 1)) / 2);
});

test("tasks spawn tasks that spawn tasks", () => {
  function* tree(depth: number): Operation<number> {
    if (depth === 0) return 1;
    const left = yield* spawn(tree(depth - 1));
    const right = yield* spawn(tree(depth - 1));
    return (yield* left.join()) + (yield* right.join());
  }
  assert.equal(runChecked(tree(10)), 1024);
});

test("join delivers errors, cancel runs finally blocks, joiners see TaskCancelledError", () => {
  let finallyRan = 0;
  runChecked(function*() {
    const failing = yield* spawn(fail("child failed", 2));
    yield* assertRejects(failing.join(), /child failed/);

    const sleeper = yield* spawn(function*() {
      try {
        yield* sleep(60_000);
      } finally {
        finallyRan++;
      }
    }());
    yield* yieldNow();
    assert.equal(sleeper.done, false);
    sleeper.cancel();
    assert.equal(finallyRan, 1, "finally ran before cancel returned");
    assert.equal(sleeper.done, true);
    yield* assertRejects(sleeper.join(), TaskCancelledError);
    sleeper.cancel(); // cancelling an ended task does nothing
    assert.equal(finallyRan, 1);
  }());
});

test("a joiner waiting on a task is woken with the cancellation", () => {
  runChecked(function*() {
    const sleeper = yield* spawn(sleep(60_000));
    const joiner = yield* spawn(function*() {
      yield* assertRejects(sleeper.join(), TaskCancelledError);
      return "saw it";
    }());
    yield* yieldNow();
    sleeper.cancel();
    assert.equal(yield* joiner.join(), "saw it");
  }());
});

test("a handle's join() given as a task joins it: awaitAll and awaitAny of joins", () => {
  runChecked(function*() {
    const a = yield* spawn(function*() {
      yield* yieldNow();
      return "a";
    }());
    const b = yield* spawn(value("b"));
    // Each join() is an operation of its own: one handle joined by two
    // children of one awaitAll is no reused generator.
    assert.deepEqual(yield* awaitAll(a.join(), a.join(), b.join()), ["a", "a", "b"]);
    const waiting = yield* spawn(sleep(60_000));
    assert.deepEqual(yield* awaitAny(waiting.join(), b.join()), { index: 1, value: "b" });
    assert.equal(waiting.done, false); // the loser was the join, not the task
    waiting.cancel();
    yield* assertRejects(waiting.join(), TaskCancelledError);
  }());
});

test("a join left by a time-out leaves the joiner's state clean for what comes next", () => {
  runChecked(function*() {
    const sleeper = yield* spawn(sleep(60_000));
    yield* assertRejects(timeout(0, sleeper.join()), TimeoutError);
    // No longer a joiner: the next join waits for its own target's end (a
    // stale state would take its first step for the wake-up), and a
    // yield yields.
    const later = yield* spawn(function*() {
      yield* yieldNow();
      return 7;
    }());
    assert.equal(later.done, false);
    assert.equal(yield* later.join(), 7);
    sleeper.cancel();
    yield* assertRejects(sleeper.join(), TaskCancelledError);
  }());
});

test("a detached task runs to its end; run cancels what is left when its root ends", () => {
  const log: string[] = [];
  runChecked(function*() {
    yield* spawn(function*() {
      yield* yieldNow();
      log.push("detached done");
    }());
    yield* spawn(function*() {
      try {
        yield* sleep(60_000);
      } finally {
        log.push("leftover cancelled");
      }
    }());
    // The detached task ends on its own while the root still runs (waiting
    // for that, not sleeping: a busy machine can outlast a short sleep).
    for (let turn = 0; turn < 100 && log.length === 0; turn++) yield* yieldNow();
    log.push("root done");
  }());
  assert.deepEqual(log, ["detached done", "root done", "leftover cancelled"]);
});

test("an error in a task nobody joins is reported on stderr, not swallowed", () => {
  const r = runScenario("unjoined_error");
  assert.equal(r.code, 0, r.stderr);
  assert.match(
    r.stderr,
    /strom: task \d+ failed and nobody joined it: Error: boom from a detached task/,
  );
  assert.match(r.stdout, /main finished/);
});

test("awaitAll returns tuple results in order, whatever order they finish in", () => {
  const [a, b, c] = runChecked(awaitAll(
    function*() {
      yield* sleep(3);
      return "slow";
    }(),
    value(2),
    function*() {
      yield* yieldNow();
      return true;
    }(),
  ));
  const typed: [string, number, boolean] = [a, b, c];
  assert.deepEqual(typed, ["slow", 2, true]);
});

test("awaitAll over an array, over one task and over none", () => {
  assert.deepEqual(runChecked(awaitAll([value(1), value(2), value(3)])), [1, 2, 3]);
  assert.deepEqual(runChecked(awaitAll([value("x")])), ["x"]);
  assert.deepEqual(runChecked(awaitAll([])), []);
});

test("awaitAll runs children concurrently, not one after another", () => {
  const log: string[] = [];
  function* step(name: string): Operation<void> {
    log.push(`${name} start`);
    yield* yieldNow();
    log.push(`${name} end`);
  }
  runChecked(awaitAll(step("a"), step("b")));
  assert.deepEqual(log, ["a start", "b start", "a end", "b end"]);
});

test("the first error in awaitAll cancels the siblings (finally blocks run) and propagates", () => {
  let cleaned = 0;
  function* longChild(): Operation<void> {
    try {
      yield* sleep(60_000);
    } finally {
      cleaned++;
    }
  }
  assert.throws(
    () => runChecked(awaitAll(longChild(), fail("second failed", 1), longChild())),
    /second failed/,
  );
  assert.equal(cleaned, 2);
});

test("awaitAll over 10k children", () => {
  const children = Array.from({ length: 10_000 }, (_, i) =>
    function*() {
      yield* yieldNow();
      return i;
    }());
  const results = runChecked(awaitAll(children));
  assert.equal(results.length, 10_000);
  assert.equal(results[9_999], 9_999);
});

test("awaitAny: the first to finish wins and the others' finally blocks ran before it returns", () => {
  const cleaned: string[] = [];
  function* slow(name: string, ms: number): Operation<string> {
    try {
      yield* sleep(ms);
      return name;
    } finally {
      cleaned.push(name);
    }
  }
  const winner = runChecked(function*() {
    const w = yield* awaitAny(slow("slow", 60_000), slow("fast", 1), slow("slower", 60_000));
    assert.deepEqual(cleaned.slice().sort(), ["fast", "slow", "slower"]);
    return w;
  }());
  assert.deepEqual(winner, { index: 1, value: "fast" });
});

test("awaitAny: an error that comes first is thrown; an empty list is a RangeError", () => {
  assert.throws(() => runChecked(awaitAny(sleep(60_000), fail("first"))), /first/);
  assert.throws(() => run(awaitAny([])), RangeError);
});

test("awaitAll and awaitAny given as tasks, and closed by a time-out: the children end first", () => {
  runChecked(function*() {
    // The operations are not generators: as tasks of a group they run too.
    assert.deepEqual(yield* awaitAll(awaitAll(value(1), value(2)), value(3)), [[1, 2], 3]);
    assert.deepEqual(yield* awaitAll(awaitAny(sleep(60_000), value("b"))), [
      { index: 1, value: "b" },
    ]);
    const ended: string[] = [];
    function* sleeper(name: string): Operation<void> {
      try {
        yield* sleep(60_000);
      } finally {
        ended.push(name);
      }
    }
    yield* assertRejects(timeout(1, awaitAll(sleeper("a"), sleeper("b"))), TimeoutError);
    assert.deepEqual(ended, ["a", "b"]);
    yield* assertRejects(timeout(1, awaitAny(sleeper("c"), sleeper("d"))), TimeoutError);
    assert.deepEqual(ended, ["a", "b", "c", "d"]);
  }());
});

test("nesting awaitAll and awaitAny 1000 levels deep", () => {
  function* nest(depth: number): Operation<number> {
    if (depth === 0) return 0;
    if (depth % 2 === 0) {
      const [inner] = yield* awaitAll(nest(depth - 1), value(0));
      return inner + 1;
    }
    const { value: inner } = yield* awaitAny(nest(depth - 1), sleep(60_000));
    return (inner as number) + 1;
  }
  assert.equal(runChecked(nest(1000)), 1000);
});

test("a yield* chain 1000 deep resumes and returns", () => {
  function* chain(depth: number): Operation<number> {
    if (depth === 0) {
      yield* yieldNow();
      return 0;
    }
    return 1 + (yield* chain(depth - 1));
  }
  assert.equal(runChecked(chain(1000)), 1000);
});

test("cancelling a parent cancels its children first, at every level, finally blocks counted", () => {
  const order: string[] = [];
  let leavesAsleep = 0;
  function* level(depth: number, name: string): Operation<void> {
    try {
      if (depth === 0) {
        leavesAsleep++;
        yield* sleep(60_000);
      } else yield* awaitAll(level(depth - 1, name + "L"), level(depth - 1, name + "R"));
    } finally {
      order.push(name);
    }
  }
  runChecked(function*() {
    const root = yield* spawn(level(3, "r"));
    // The tree takes a few turns to grow: cancel once all 8 leaves sleep
    // (not after a sleep, which a busy machine can outlast by those turns).
    for (let turn = 0; turn < 100 && leavesAsleep < 8; turn++) yield* yieldNow();
    assert.equal(leavesAsleep, 8);
    root.cancel();
  }());
  assert.equal(order.length, 15, "every task of a depth-3 binary tree ran its finally");
  // Children end before their parent: each name comes after its extensions.
  for (const name of order) {
    for (const child of [name + "L", name + "R"]) {
      if (order.includes(child)) {
        assert.ok(order.indexOf(child) < order.indexOf(name), `${child} before ${name}`);
      }
    }
  }
  assert.equal(order[order.length - 1], "r");
});

test("timers fire in deadline order; equal deadlines fire in the order they were set", () => {
  const log: string[] = [];
  runChecked(function*() {
    const at = now() + 5;
    function* sleeper(name: string, deadline: number): Operation<void> {
      yield* sleepUntil(deadline);
      log.push(name);
    }
    yield* awaitAll(
      sleeper("late", at + 5),
      sleeper("eq1", at),
      sleeper("early", at - 4),
      sleeper("eq2", at),
      sleeper("eq3", at),
    );
  }());
  assert.deepEqual(log, ["early", "eq1", "eq2", "eq3", "late"]);
});

test("a task never wakes before its deadline", () => {
  runChecked(function*() {
    for (const ms of [0, 0.3, 1, 2.5, 7]) {
      const start = now();
      yield* sleep(ms);
      const slept = now() - start;
      assert.ok(slept >= ms, `slept ${slept} ms, asked ${ms}`);
    }
  }());
});

test("a cancelled sleep leaves no timer behind", () => {
  const scheduler = threadScheduler();
  runChecked(function*() {
    const h = yield* spawn(sleep(60_000));
    yield* yieldNow();
    assert.equal(scheduler.timers.size, 1);
    h.cancel();
    assert.equal(scheduler.timers.size, 0);
  }());
});

test("timeout fires: TimeoutError and the inner task cancelled; not firing: the result", () => {
  let innerCleaned = false;
  runChecked(function*() {
    yield* assertRejects(
      timeout(
        2,
        function*() {
          try {
            yield* sleep(60_000);
          } finally {
            innerCleaned = true;
          }
        }(),
      ),
      TimeoutError,
    );
    assert.equal(innerCleaned, true);
    assert.equal(yield* timeout(60_000, value("in time")), "in time");
    yield* assertRejects(timeout(60_000, fail("inner error")), /inner error/);
  }());
  assert.equal(threadScheduler().timers.size, 0, "no timer left behind");
});

test("bad input is a clear error: negative sleep, non-generator task", () => {
  assert.throws(() => run(sleep(-1)), RangeError);
  assert.throws(() => run(timeout(NaN, value(1))), RangeError);
  // deno-lint-ignore no-explicit-any
  assert.throws(() => run(42 as any), /expected a task/);
});

// A million sleepers is the benchmark's case (bench/sched, "1M sleeps"); the
// suite keeps a size that proves the same thing in well under a second.
test("fifty thousand concurrent sleeps on one thread all wake", () => {
  const n = 50_000;
  let woke = 0;
  runChecked(function*() {
    const base = now();
    const sleepers: Operation<void>[] = [];
    for (let i = 0; i < n; i++) {
      sleepers.push(function*() {
        yield* sleepUntil(base + (i % 50));
        woke++;
      }());
    }
    yield* awaitAll(sleepers);
  }());
  assert.equal(woke, n);
});

// --- the usage model: each rule halts with its own line -----------------

test("halts: a strom operation advanced outside a task", () => {
  assertHalts("outside_task", "operation-outside-task");
});

test("halts: a strom operation advanced by hand inside a task", () => {
  assertHalts("hand_advanced", "operation-outside-task");
});

test("halts: yield where yield* was meant", () => {
  const r = assertHalts("yield_without_star", "yield-without-star");
  assert.match(r.stderr, /yield\*/);
});

test("halts: a task yields a Promise", () => {
  const r = assertHalts("yield_promise", "yield-without-star");
  assert.match(r.stderr, /Promise/);
  assert.match(r.stderr, /yield\* until\(promise\)/, "the halt names the bridge");
});

test("halts: run inside a task", () => {
  assertHalts("run_inside_task", "run-inside-task");
});

test("halts: the same generator given twice", () => {
  assertHalts("reused_generator", "generator-reused");
});

test("a finished task's handle no longer holds its generator", () => {
  runChecked(function*() {
    const handle = yield* spawn(value("x"));
    const record = handle as unknown as TaskRecord;
    assert.notEqual(record.gen, null);
    assert.equal(yield* handle.join(), "x");
    // The handle (the task's record) may be kept for long: the generator's
    // frame, and what its locals hold, are let go at the end.
    assert.equal(record.gen, null);
  }());
});

test("a task's record and a join stay within their field budgets", () => {
  // Every live task holds a record, and every join allocates its operation:
  // on Bun (JSC) an object of 8 fields is 80 B and one of 9 is 112 B; one of
  // 3 or 4 is 48 B, of 5 64 B (size classes and inline capacity, measured
  // with bun:jsc heapStats). Class fields are own enumerable properties;
  // JoinOp has one private field besides its three.
  runChecked(function*() {
    const handle = yield* spawn(value(1));
    const record = handle as unknown as TaskRecord;
    assert.ok(Object.keys(record).length <= 8, `TaskRecord: ${Object.keys(record)}`);
    const joinOp = handle.join();
    assert.ok(Object.keys(joinOp).length <= 3, `JoinOp: ${Object.keys(joinOp)}`);
    assert.equal(yield* joinOp, 1);
  }());
});

test("halts: a finished generator given to awaitAll", () => {
  assertHalts("finished_generator", "generator-reused");
});

test("halts: a finally block waits during cancellation", () => {
  assertHalts("wait_during_cancel", "wait-during-cancel");
});

test("halts: joining a task that belongs to another scheduler", () => {
  assertHalts("foreign_join", "join-from-other-thread");
});

test("halts: tasks that wait on each other forever", () => {
  assertHalts("deadlock", "deadlock");
});

/** Asserts that `op` throws an error matching `expected`. */
function* assertRejects(
  op: Operation<unknown>,
  expected: RegExp | (new(...args: never[]) => Error),
): Operation<void> {
  try {
    yield* op;
  } catch (error) {
    if (expected instanceof RegExp) assert.match(String(error), expected);
    else assert.ok(error instanceof expected, `expected ${expected.name}, got ${error}`);
    return;
  }
  assert.fail("expected an error");
}

test("the timer heap pops in (deadline, insertion) order after random inserts and cancels", () => {
  const heap = new TimerHeap<number>();
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const timers = [];
  for (let i = 0; i < 5000; i++) timers.push(heap.insert(Math.floor(random() * 100), i));
  const cancelled = new Set<number>();
  for (let i = 0; i < 5000; i += 3) {
    heap.cancel(timers[i]);
    heap.cancel(timers[i]); // twice: the second is ignored
    cancelled.add(i);
  }
  assert.equal(heap.size, 5000 - cancelled.size);
  const popped: { deadline: number; owner: number }[] = [];
  for (let t = heap.popExpired(Infinity); t !== undefined; t = heap.popExpired(Infinity)) {
    assert.equal(t.pending, false);
    popped.push({ deadline: t.deadline, owner: t.owner });
  }
  assert.equal(popped.length, 5000 - cancelled.size);
  for (let i = 1; i < popped.length; i++) {
    const a = popped[i - 1];
    const b = popped[i];
    assert.ok(
      a.deadline < b.deadline || (a.deadline === b.deadline && a.owner < b.owner),
      `order at ${i}`,
    );
  }
  assert.ok(popped.every((p) => !cancelled.has(p.owner)));
  assert.equal(heap.popExpired(Infinity), undefined);
});

test("joiners that leave: the others still see the ending; with none left the error is reported", () => {
  const r = runScenario("cancelled_joiners");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /second got the value/);
  assert.match(r.stdout, /first saw: failed with joiners left/);
  assert.match(r.stdout, /third saw: failed with joiners left/);
  assert.match(r.stdout, /main finished/);
  assert.match(r.stderr, /nobody joined it: Error: failed after its only joiner left/);
  assert.doesNotMatch(r.stderr, /failed with joiners left/);
});

test("run cancels every leftover root, in reused slots and spawned by a finally block", () => {
  const log: string[] = [];
  const handles: JoinHandle<void>[] = [];
  function* sleeper(name: string, spawnWhenCancelled: boolean): Operation<void> {
    try {
      yield* sleep(60_000);
    } finally {
      log.push(name);
      // spawn never waits, so a finally block may call it during cancellation.
      if (spawnWhenCancelled) handles.push(yield* spawn(sleeper("never ran", false)));
    }
  }
  runChecked(function*() {
    // Ended tasks free their slots: the leftovers below reuse them.
    for (let i = 0; i < 8; i++) yield* (yield* spawn(value(i))).join();
    handles.push(yield* spawn(sleeper("a", true)));
    for (let i = 0; i < 3; i++) handles.push(yield* spawn(sleeper(`b${i}`, false)));
    yield* yieldNow(); // every sleeper waits
  }());
  assert.deepEqual(log.sort(), ["a", "b0", "b1", "b2"]);
  assert.equal(handles.length, 5);
  assert.ok(handles.every((h) => h.done), "every root ended before run returned");
  assert.ok(handles.every((h) => h instanceof JoinHandle), "a handle is a JoinHandle");
});

test("the slab recognises stale ids after a slot is reused", () => {
  const slab = new Slab<string>();
  const a = slab.insert("a");
  slab.remove(a, "a");
  const b = slab.insert("b"); // the same slot, a new generation
  assert.notEqual(a, b);
  slab.remove(a, "a"); // stale: ignored, "b" stays
  assert.equal(slab.size, 1);
  assert.equal(slab.at(b & 0xffffff), "b");
  slab.remove(b, "b");
  assert.equal(slab.size, 0);
  assert.equal(slab.at(b & 0xffffff), undefined);
  const c = slab.insert("c"); // a third generation of the slot
  assert.ok(c !== a && c !== b);
});

test("a task's error is reported when its only joiner was cancelled after being woken", () => {
  const r = runScenario("lost_join_error");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /winner 1, task done true/);
  assert.match(
    r.stderr,
    /failed and nobody joined it: Error: failed while its joiner was cancelled/,
  );
});

test("errors thrown by finally blocks of children a group cancelled are reported", () => {
  const r = runScenario("group_cleanup_error");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /awaitAll threw: first failure/);
  assert.match(r.stdout, /timeout threw: TimeoutError/);
  assert.match(r.stderr, /Error: cleanup of awaitAll child failed/);
  assert.match(r.stderr, /Error: cleanup of timeout child failed/);
});

test("an absurdly far timer still lets the thread wait for fd events", () => {
  const r = runScenario("far_timer");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /received far/);
});

test("at the task limit, spawn and awaitAll take nothing: the generators can be offered again", () => {
  const r = runScenario("limit_retry");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(
    r.stdout,
    "awaitAll: TaskLimitError\nspawn: TaskLimitError\nretried spawn: 1\nretried awaitAll: 2,3\n",
  );
});
