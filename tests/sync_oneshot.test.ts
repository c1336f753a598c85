// oneshot: one value from one task to another.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  oneshot,
  OneshotClosedError,
  type Operation,
  run,
  spawn,
  type Task,
  timeout,
  TimeoutError,
  yieldNow,
} from "../mod.ts";

test("recv waits for the value the sender sends", () => {
  const [tx, rx] = oneshot<number>();
  const got = run(function*(): Task<number> {
    yield* spawn(function*(): Task<void> {
      yield* yieldNow();
      assert.equal(tx.send(42), true);
    }());
    return yield* rx.recv();
  }());
  assert.equal(got, 42);
});

test("a sender closed without sending (or by using) makes recv throw OneshotClosedError", () => {
  run(function*(): Task<void> {
    const [tx, rx] = oneshot<string>();
    const receiver = yield* spawn(function*(): Task<string> {
      try {
        return yield* rx.recv();
      } catch (error) {
        return error instanceof OneshotClosedError ? "closed" : String(error);
      }
    }());
    yield* yieldNow();
    tx.close();
    assert.equal(yield* receiver.join(), "closed");

    const [tx2, rx2] = oneshot<string>();
    yield* (function*(): Task<void> {
      using _sender = tx2; // the path that never sends
      yield* yieldNow();
    })();
    yield* assertThrows(rx2.recv(), OneshotClosedError);
  }());
});

test("a cancelled recv takes nothing: the value stays for the next recv", () => {
  const [tx, rx] = oneshot<number>();
  run(function*(): Task<void> {
    yield* assertThrows(timeout(1, rx.recv()), TimeoutError);
    const early = yield* spawn(rx.recv());
    yield* yieldNow();
    tx.send(5); // wakes early...
    early.cancel(); // ...which is cancelled before it ran
    assert.equal(yield* rx.recv(), 5);
    yield* assertThrows(rx.recv(), OneshotClosedError); // only once
  }());
});

test("send twice throws; send after the receiver closed returns false", () => {
  const [tx, rx] = oneshot<number>();
  assert.equal(tx.send(1), true);
  assert.throws(() => tx.send(2), /already sent/);
  const [tx2, rx2] = oneshot<number>();
  rx2.close();
  assert.equal(tx2.receiverClosed, true);
  assert.equal(tx2.send(3), false);
  assert.deepEqual(rx.tryRecv(), { done: false, value: 1 });
  assert.deepEqual(rx.tryRecv(), { done: true, value: undefined });
  const [, rx3] = oneshot<number>();
  assert.equal(rx3.tryRecv(), null);
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
