// Notify: wake one (with a stored permit) or all.
import assert from "node:assert/strict";
import { test } from "node:test";
import { awaitAny, Notify, run, sleep, spawn, type Task, yieldNow } from "../mod.ts";

test("notifyOne with nobody waiting stores one permit: the next notified returns at once", () => {
  const n = new Notify();
  run(function*(): Task<void> {
    n.notifyOne();
    n.notifyOne(); // coalesced: still one permit
    assert.equal(n.hasPermit, true);
    yield* n.notified(); // consumes it
    assert.equal(n.hasPermit, false);
    const r = yield* awaitAny(n.notified(), sleep(5));
    assert.equal(r.index, 1, "no second permit");
  }());
});

test("notifyOne wakes waiters one at a time, in the order they came", () => {
  const n = new Notify();
  const woke: string[] = [];
  run(function*(): Task<void> {
    const tasks = [];
    for (const name of ["a", "b", "c"]) {
      tasks.push(
        yield* spawn(function*(): Task<void> {
          yield* n.notified();
          woke.push(name);
        }()),
      );
      yield* yieldNow();
    }
    assert.equal(n.waiting, 3);
    n.notifyOne();
    yield* yieldNow();
    assert.deepEqual(woke, ["a"]);
    n.notifyOne();
    n.notifyOne();
    for (const t of tasks) yield* t.join();
    assert.deepEqual(woke, ["a", "b", "c"]);
    assert.equal(n.hasPermit, false);
  }());
});

test("notifyAll wakes every waiter and stores no permit", () => {
  const n = new Notify();
  run(function*(): Task<void> {
    const a = yield* spawn(n.notified());
    const b = yield* spawn(n.notified());
    yield* yieldNow();
    n.notifyAll();
    yield* a.join();
    yield* b.join();
    assert.equal(n.hasPermit, false);
    const r = yield* awaitAny(n.notified(), sleep(5));
    assert.equal(r.index, 1, "a later notified() waits");
  }());
});

test("a waiter woken by notifyOne and cancelled before it ran passes the notification on", () => {
  const n = new Notify();
  run(function*(): Task<void> {
    const first = yield* spawn(n.notified());
    const second = yield* spawn(n.notified());
    yield* yieldNow();
    n.notifyOne(); // to first
    first.cancel();
    yield* second.join(); // second got it
    // With nobody else waiting it becomes the stored permit.
    const only = yield* spawn(n.notified());
    yield* yieldNow();
    n.notifyOne();
    only.cancel();
    assert.equal(n.hasPermit, true);
  }());
});
