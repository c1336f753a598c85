// Deadline (issue 9 item 14): a time limit a task moves while it works, the
// idle and header time-outs of the example servers.
import assert from "node:assert/strict";
import { test } from "node:test";
import { awaitAll, Deadline, now, run, sleep, type Task, TimeoutError, yieldNow } from "../mod.ts";

test("a task that finishes in time: its result; its error passes through", () => {
  assert.equal(
    run(new Deadline(5000).guard(function*(): Task<string> {
      yield* sleep(1);
      return "done";
    }())),
    "done",
  );
  assert.throws(
    () =>
      run(new Deadline(5000).guard(function*(): Task<void> {
        yield* sleep(1);
        throw new Error("own error");
      }())),
    /own error/,
  );
});

test("no progress: the task is cancelled (finally ran) and TimeoutError carries the last ms", () => {
  let cleaned = false;
  const error = run(function*(): Task<unknown> {
    const d = new Deadline();
    try {
      yield* d.guard(function*(): Task<void> {
        d.reset(30);
        try {
          yield* sleep(60_000);
        } finally {
          cleaned = true;
        }
      }());
    } catch (e) {
      return e;
    }
  }());
  assert.ok(error instanceof TimeoutError, String(error));
  assert.equal(error.ms, 30);
  assert.ok(cleaned);
});

test("reset on progress keeps a task alive past the limit; no progress then ends it", () => {
  const steps = run(function*(): Task<number> {
    const d = new Deadline();
    let n = 0;
    try {
      yield* d.guard(function*(): Task<void> {
        for (;;) {
          if (n < 15) d.reset(200); // progress: 15 steps of 20 ms, 300 ms in all
          yield* sleep(20);
          n++;
        }
      }());
    } catch (e) {
      assert.ok(e instanceof TimeoutError);
    }
    return n;
  }());
  assert.ok(steps >= 15, `steps before the time-out: ${steps}`);
});

test("moved earlier from another task: the guard ends at the new deadline", () => {
  const elapsed = run(function*(): Task<number> {
    const d = new Deadline(60_000);
    const start = now();
    const [error] = yield* awaitAll(
      function*(): Task<unknown> {
        try {
          yield* d.guard(sleep(60_000));
        } catch (e) {
          return e;
        }
      }(),
      function*(): Task<void> {
        yield* yieldNow();
        d.reset(20);
      }(),
    );
    assert.ok(error instanceof TimeoutError && error.ms === 20, String(error));
    return now() - start;
  }());
  assert.ok(elapsed < 30_000, `ended after ${elapsed} ms`);
});

test("clear: no deadline until the next reset", () => {
  assert.equal(
    run(function*(): Task<string> {
      const d = new Deadline(10);
      d.clear();
      assert.equal(d.at, Infinity);
      return yield* d.guard(function*(): Task<string> {
        yield* sleep(50);
        return "unlimited";
      }());
    }()),
    "unlimited",
  );
});

test("bad input: RangeError for ms, TypeError for a second guard at once", () => {
  assert.throws(() => new Deadline(-1), RangeError);
  assert.throws(() => new Deadline().reset("5" as unknown as number), /number >= 0, got 5/);
  assert.throws(() => new Deadline().reset(NaN), RangeError);
  run(function*(): Task<void> {
    const d = new Deadline(5000);
    const [, second] = yield* awaitAll(
      d.guard(sleep(20)),
      function*(): Task<unknown> {
        try {
          yield* d.guard(sleep(1));
        } catch (e) {
          return e;
        }
      }(),
    );
    assert.ok(second instanceof TypeError, String(second));
  }());
});
