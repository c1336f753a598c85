// Semaphore: permits that bound concurrency, FIFO, cancel-safe.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  awaitAll,
  type Operation,
  run,
  Semaphore,
  spawn,
  type Task,
  timeout,
  TimeoutError,
  yieldNow,
} from "../mod.ts";

test("at most `permits` tasks hold a permit at once; released by using and by finally", () => {
  const sem = new Semaphore(2);
  let inside = 0;
  let most = 0;
  function* worker(i: number): Task<void> {
    if (i % 2 === 0) {
      using _permit = yield* sem.acquire();
      inside++;
      most = Math.max(most, inside);
      yield* yieldNow();
      yield* yieldNow();
      inside--;
    } else {
      const permit = yield* sem.acquire();
      try {
        inside++;
        most = Math.max(most, inside);
        yield* yieldNow();
        inside--;
      } finally {
        permit.release();
      }
    }
  }
  run(awaitAll(Array.from({ length: 10 }, (_, i) => worker(i))));
  assert.equal(most, 2);
  assert.equal(sem.available, 2, "every permit came back");
});

test("tryAcquire takes free permits and never waits; release is idempotent", () => {
  const sem = new Semaphore(3);
  const a = sem.tryAcquire(2)!;
  assert.equal(a.count, 2);
  assert.equal(sem.available, 1);
  assert.equal(sem.tryAcquire(2), null);
  a.release();
  a.release();
  a[Symbol.dispose]();
  assert.equal(sem.available, 3, "released once");
  assert.equal(a.released, true);
});

test("FIFO: a waiter asking for many permits is not overtaken by smaller or later requests", () => {
  const sem = new Semaphore(2);
  const order: string[] = [];
  run(function*(): Task<void> {
    const held = sem.tryAcquire(2)!;
    const big = yield* spawn(function*(): Task<void> {
      using _p = yield* sem.acquire(2);
      order.push("big");
    }());
    yield* yieldNow(); // big waits first
    const small = yield* spawn(function*(): Task<void> {
      using _p = yield* sem.acquire(1);
      order.push("small");
    }());
    yield* yieldNow(); // small waits behind it
    held.release(); // 2 permits: all go to big
    assert.equal(sem.tryAcquire(1), null, "a task that did not wait cannot take big's permits");
    yield* awaitAll(big.join(), small.join());
    assert.deepEqual(order, ["big", "small"]);
    // Head collects permits as they come, and nobody overtakes it meanwhile.
    const one = sem.tryAcquire(1)!;
    const two = sem.tryAcquire(1)!;
    const waiter = yield* spawn(sem.acquire(2));
    yield* yieldNow();
    one.release(); // collected by the waiter, not free
    assert.equal(sem.available, 0);
    assert.equal(sem.tryAcquire(1), null);
    two.release();
    const p = yield* waiter.join();
    assert.equal(p.count, 2);
    p.release();
    assert.equal(sem.available, 2);
  }());
});

test("a cancelled acquire takes nothing: permits it collected or was handed go on", () => {
  const sem = new Semaphore(2);
  run(function*(): Task<void> {
    const held = sem.tryAcquire(2)!;
    yield* assertThrows(timeout(1, sem.acquire()), TimeoutError);
    assert.equal(sem.waiting, 0);
    // Collected one of two, then cancelled: the one goes to the next waiter.
    const first = yield* spawn(sem.acquire(2));
    const second = yield* spawn(sem.acquire(1));
    yield* yieldNow();
    held.release(); // both to `first`
    first.cancel(); // handed, not run: both go on
    const p = yield* second.join();
    assert.equal(p.count, 1);
    assert.equal(sem.available, 1);
    p.release();
    assert.equal(sem.available, 2);
    const partialOnly = sem.tryAcquire(1)!;
    const third = yield* spawn(sem.acquire(2));
    yield* yieldNow();
    assert.equal(sem.available, 0, "the waiter collected the free permit");
    third.cancel();
    assert.equal(sem.available, 1, "given back on cancel");
    partialOnly.release();
  }());
});

test("bad input: permits and counts must be integers in range", () => {
  assert.throws(() => new Semaphore(-1), RangeError);
  assert.throws(() => new Semaphore(1.5), RangeError);
  const sem = new Semaphore(1);
  assert.throws(() => sem.tryAcquire(0), RangeError);
  assert.throws(() => sem.addPermits(-1), RangeError);
  run(function*(): Task<void> {
    yield* assertThrows(sem.acquire(0), RangeError);
  }());
  assert.equal(sem.available, 1);
});

function* assertThrows(
  op: Operation<unknown>,
  expected: new(...a: never[]) => Error,
): Operation<void> {
  try {
    yield* op;
  } catch (error) {
    assert.ok(error instanceof expected, `expected ${expected.name}, got ${error}`);
    return;
  }
  assert.fail("expected an error");
}
