// interval: ticks on a schedule from the start, with tokio's missed-tick policies.
import assert from "node:assert/strict";
import { test } from "node:test";
import { awaitAny, interval, now, run, type Task } from "../mod.ts";

const P = 10_000; // a long period: "missed" is set up by a start in the past, not by timing

test("deadlines stay on the grid start + k * period however late each tick is taken", () => {
  run(function*(): Task<void> {
    const period = 2;
    const every = interval(period);
    const start = every.nextDeadline;
    for (let k = 0; k < 10; k++) {
      const deadline = yield* every.tick();
      assert.equal(deadline, start + k * period, `tick ${k} on the grid (no drift)`);
      assert.ok(now() >= deadline, "never early");
      const busyUntil = now() + period / 2; // late by half a period: no tick missed
      while (now() < busyUntil) { /* busy */ }
    }
  }());
});

test("burst: missed ticks complete at once until caught up", () => {
  run(function*(): Task<void> {
    const start = now() - 3.5 * P;
    const every = interval(P, { start, missedTick: "burst" });
    for (let k = 0; k < 4; k++) assert.equal(yield* every.tick(), start + k * P);
    assert.equal(every.nextDeadline, start + 4 * P, "back on the grid, in the future");
  }());
});

test("delay: a missed tick restarts the schedule one period after it", () => {
  run(function*(): Task<void> {
    const start = now() - 3.5 * P;
    const every = interval(P, { start, missedTick: "delay" });
    const before = now();
    assert.equal(yield* every.tick(), start);
    const after = now();
    assert.ok(every.nextDeadline >= before + P && every.nextDeadline <= after + P);
  }());
});

test("skip: a missed tick drops the missed deadlines and keeps the grid", () => {
  run(function*(): Task<void> {
    const start = now() - 3.5 * P;
    const every = interval(P, { start, missedTick: "skip" });
    assert.equal(yield* every.tick(), start);
    assert.equal(every.nextDeadline, start + 4 * P);
  }());
});

test("a cancelled tick consumes nothing: the same deadline is next", () => {
  run(function*(): Task<void> {
    const every = interval(P, { start: now() + P });
    const due = every.nextDeadline;
    const r = yield* awaitAny(
      every.tick(),
      (function*(): Task<string> {
        return "first";
      })(),
    );
    assert.equal(r.index, 1);
    assert.equal(every.nextDeadline, due);
    every.reset();
    assert.ok(every.nextDeadline > due - P, "reset: one period from now");
  }());
});

test("bad input: period and missedTick are checked", () => {
  assert.throws(() => interval(0), RangeError);
  assert.throws(() => interval(Number.NaN), RangeError);
  assert.throws(() => interval(Infinity), RangeError);
  assert.throws(() => interval(5, { missedTick: "wait" as "burst" }), TypeError);
});
