// TaskSet: tasks owned by one task, joined in the order they finish.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  Notify,
  type Operation,
  run,
  sleep,
  spawn,
  type Task,
  TaskSet,
  timeout,
  TimeoutError,
  yieldNow,
} from "../mod.ts";
import { threadScheduler } from "../src/sched/current.ts";
import { runScenario } from "./helpers/child.ts";

// A task that finishes when `gate` is notified (no timing involved).
function* after(gate: Notify, value: string, log?: string[]): Task<string> {
  try {
    yield* gate.notified();
    return value;
  } finally {
    log?.push(`end ${value}`);
  }
}

test("joinNext returns results in the order the tasks finish, then done", () => {
  run(function*(): Task<void> {
    const gates = [new Notify(), new Notify(), new Notify()];
    const set = new TaskSet<string>();
    set.spawn(after(gates[0], "a"));
    set.spawn(after(gates[1], "b"));
    set.spawn(after(gates[2], "c"));
    assert.equal(set.size, 3);
    yield* yieldNow(); // all three wait
    gates[2].notifyOne();
    assert.deepEqual(yield* set.joinNext(), { done: false, value: "c" });
    gates[0].notifyOne();
    gates[1].notifyOne();
    assert.deepEqual(yield* set.joinNext(), { done: false, value: "a" });
    assert.deepEqual(yield* set.joinNext(), { done: false, value: "b" });
    assert.deepEqual(yield* set.joinNext(), { done: true, value: undefined });
    assert.equal(set.size, 0);
    set.close();
  }());
});

test("an empty set's joinNext is done at once; tryJoinNext is null while tasks run", () => {
  run(function*(): Task<void> {
    using set = new TaskSet<number>();
    assert.deepEqual(yield* set.joinNext(), { done: true, value: undefined });
    const gate = new Notify();
    set.spawn(function*(): Task<number> {
      yield* gate.notified();
      return 7;
    }());
    assert.equal(set.tryJoinNext(), null);
    gate.notifyOne();
    assert.deepEqual(yield* set.joinNext(), { done: false, value: 7 });
  }());
});

test("joinNext throws a task's error; the set stays usable and the others go on", () => {
  run(function*(): Task<void> {
    using set = new TaskSet<string>();
    const gate = new Notify();
    set.spawn(function*(): Task<string> {
      yield* yieldNow();
      throw new Error("boom");
    }());
    set.spawn(after(gate, "ok"));
    yield* assertThrows(set.joinNext(), /boom/);
    gate.notifyOne();
    assert.deepEqual(yield* set.joinNext(), { done: false, value: "ok" });
  }());
});

test("leaving the owner cancels the tasks still in the set (using, and without it)", () => {
  const log: string[] = [];
  run(function*(): Task<void> {
    const gate = new Notify();
    yield* (function*(): Task<void> {
      using set = new TaskSet<string>();
      set.spawn(after(gate, "u1", log));
      set.spawn(after(gate, "u2", log));
      yield* yieldNow();
    })();
    assert.deepEqual(log, ["end u1", "end u2"], "cancelled where the using block ended");
    log.length = 0;
    // No `using`: the owner task's end cancels them.
    const owner = yield* spawn(function*(): Task<void> {
      const set = new TaskSet<string>();
      set.spawn(after(gate, "o1", log));
      yield* yieldNow();
    }());
    yield* owner.join();
    assert.deepEqual(log, ["end o1"], "cancelled when the owner returned");
    log.length = 0;
    // The owner cancelled: the same.
    const cancelled = yield* spawn(function*(): Task<void> {
      const set = new TaskSet<string>();
      set.spawn(after(gate, "c1", log));
      yield* sleep(60_000);
    }());
    yield* yieldNow();
    yield* yieldNow();
    cancelled.cancel();
    assert.deepEqual(log, ["end c1"], "cancelled with its owner");
  }());
});

test("a cancelled joinNext takes nothing: timeout loses no result", () => {
  run(function*(): Task<void> {
    using set = new TaskSet<string>();
    const gate = new Notify();
    set.spawn(after(gate, "x"));
    yield* assertThrows(timeout(1, set.joinNext()), TimeoutError);
    // Handed a result, then cancelled before it ran: the result stays.
    const joiner = yield* spawn(set.joinNext());
    yield* yieldNow();
    gate.notifyOne();
    yield* yieldNow(); // x ends and is handed to the joiner
    joiner.cancel();
    assert.deepEqual(set.tryJoinNext(), { done: false, value: "x" });
  }());
});

test("cancelAll cancels every task and reports the failures nobody joined", () => {
  const reported: unknown[] = [];
  const scheduler = threadScheduler();
  const original = scheduler.onUnjoinedError;
  (scheduler as unknown as { onUnjoinedError: (e: unknown) => void }).onUnjoinedError = (e) =>
    reported.push(e);
  try {
    run(function*(): Task<void> {
      const set = new TaskSet<string>();
      const gate = new Notify();
      set.spawn(function*(): Task<string> {
        throw new Error("unjoined failure");
      }());
      set.spawn(after(gate, "slow"));
      yield* yieldNow();
      yield* yieldNow();
      assert.equal(reported.length, 0, "held for joinNext, not reported yet");
      set.cancelAll();
      assert.equal(set.size, 0);
      assert.equal(reported.length, 1);
      assert.match(String(reported[0]), /unjoined failure/);
      assert.deepEqual(yield* set.joinNext(), { done: true, value: undefined });
      set.spawn(after(gate, "again")); // still usable
      gate.notifyOne();
      assert.deepEqual(yield* set.joinNext(), { done: false, value: "again" });
      set.close();
      assert.throws(() => set.spawn(after(gate, "late")), /closed/);
    }());
  } finally {
    (scheduler as unknown as { onUnjoinedError: unknown }).onUnjoinedError = original;
  }
});

test("cancelAll wakes a waiting joinNext with done", () => {
  run(function*(): Task<void> {
    using set = new TaskSet<string>();
    const gate = new Notify();
    const id = set.spawn(after(gate, "x"));
    assert.equal(typeof id, "number");
    const joiner = yield* spawn(set.joinNext());
    yield* yieldNow();
    set.cancelAll();
    assert.deepEqual(yield* joiner.join(), { done: true, value: undefined });
  }());
});

test("an unjoined failure of a set whose owner ended is reported on stderr", () => {
  const r = runScenario("task_set_unjoined");
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /strom: task \d+ failed and nobody joined it: Error: lost in a set/);
});

test("bad input: spawn of a non-generator is a TypeError and starts nothing", () => {
  run(function*(): Task<void> {
    using set = new TaskSet<number>();
    assert.throws(() => set.spawn(42 as unknown as Task<number>), TypeError);
    assert.equal(set.size, 0);
  }());
});

function* assertThrows(
  op: Operation<unknown>,
  expected: RegExp | (new(...a: never[]) => Error),
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
