// Channel: a bounded FIFO between the tasks of one thread.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  awaitAll,
  awaitAny,
  Channel,
  ChannelClosedError,
  type Operation,
  run,
  sleep,
  spawn,
  type Task,
  timeout,
  TimeoutError,
  yieldNow,
} from "../mod.ts";

function* drain<T>(ch: Channel<T>): Operation<T[]> {
  const got: T[] = [];
  for (let r = yield* ch.recv(); !r.done; r = yield* ch.recv()) got.push(r.value);
  return got;
}

test("values arrive in order; a full channel makes the sender wait", () => {
  const log: string[] = [];
  const ch = new Channel<number>(2);
  const [, got] = run(awaitAll(
    function*(): Task<void> {
      for (let i = 0; i < 5; i++) {
        yield* ch.send(i);
        log.push(`sent ${i}`);
      }
      ch.close();
    }(),
    function*(): Task<number[]> {
      yield* yieldNow();
      yield* yieldNow(); // the sender fills the channel meanwhile and waits
      log.push(`length ${ch.length}`);
      return yield* drain(ch);
    }(),
  ));
  assert.deepEqual(got, [0, 1, 2, 3, 4]);
  assert.deepEqual(log.slice(0, 3), ["sent 0", "sent 1", "length 2"], "blocked at capacity");
});

test("many producers and consumers: every value received exactly once", () => {
  const ch = new Channel<number>(4);
  const producers = [0, 1, 2].map((p) =>
    function*(): Task<void> {
      for (let i = 0; i < 1000; i++) yield* ch.send(p * 1000 + i);
    }()
  );
  const consumers = [0, 1].map(() => drain(ch));
  const results = run(function*(): Task<number[][]> {
    const cs = yield* spawn(awaitAll(consumers));
    yield* awaitAll(producers);
    ch.close();
    return yield* cs.join();
  }());
  const all = results.flat().sort((a, b) => a - b);
  assert.deepEqual(all, Array.from({ length: 3000 }, (_, i) => i));
});

test("close: receivers get what was sent, then done; senders throw ChannelClosedError", () => {
  const ch = new Channel<string>(3);
  run(function*(): Task<void> {
    yield* ch.send("a");
    yield* ch.send("b");
    ch.close();
    ch.close(); // idempotent
    assert.equal(ch.closed, true);
    assert.throws(() => ch.trySend("c"), ChannelClosedError);
    assert.deepEqual(yield* drain(ch), ["a", "b"]);
    assert.deepEqual(yield* ch.recv(), { done: true, value: undefined });
  }());
});

test("close wakes waiting receivers (done) and waiting senders (ChannelClosedError)", () => {
  const empty = new Channel<number>();
  const full = new Channel<number>(1);
  run(function*(): Task<void> {
    full.trySend(1);
    const receiver = yield* spawn(empty.recv());
    const sender = yield* spawn(function*(): Task<string> {
      try {
        yield* full.send(2);
        return "sent";
      } catch (error) {
        return error instanceof ChannelClosedError ? "closed" : String(error);
      }
    }());
    yield* yieldNow();
    empty.close();
    full.close();
    assert.deepEqual(yield* receiver.join(), { done: true, value: undefined });
    assert.equal(yield* sender.join(), "closed");
    assert.deepEqual(
      full.tryRecv(),
      { done: false, value: 1 },
      "the value sent before close stays",
    );
  }());
});

test("a cancelled recv takes nothing: timeout and awaitAny lose no value", () => {
  const ch = new Channel<number>(1);
  run(function*(): Task<void> {
    yield* assertRejects(timeout(2, ch.recv()), TimeoutError);
    const winner = yield* awaitAny(ch.recv(), sleep(1));
    assert.equal(winner.index, 1);
    yield* ch.send(7);
    assert.deepEqual(yield* ch.recv(), { done: false, value: 7 });
  }());
});

test("a receiver cancelled after it was woken hands the value to the next receiver", () => {
  const ch = new Channel<number>(1);
  run(function*(): Task<void> {
    const first = yield* spawn(ch.recv());
    const second = yield* spawn(ch.recv());
    yield* yieldNow(); // both wait, first in line
    assert.equal(ch.trySend(42), true); // wakes `first`...
    first.cancel(); // ...which is cancelled before it runs
    assert.deepEqual(yield* second.join(), { done: false, value: 42 });
  }());
});

test("a cancelled send sends nothing; a sender cancelled after it was woken passes the room on", () => {
  const ch = new Channel<string>(1);
  run(function*(): Task<void> {
    ch.trySend("x");
    const a = yield* spawn(ch.send("a"));
    const b = yield* spawn(ch.send("b"));
    yield* yieldNow(); // both wait for room, a first
    assert.deepEqual(ch.tryRecv(), { done: false, value: "x" }); // room: wakes a
    a.cancel(); // a never sent
    yield* b.join();
    assert.deepEqual(ch.tryRecv(), { done: false, value: "b" });
    assert.equal(ch.tryRecv(), null);
  }());
});

test("bad input: capacity must be an integer >= 1", () => {
  assert.throws(() => new Channel(0), RangeError);
  assert.throws(() => new Channel(1.5), RangeError);
  assert.equal(new Channel().capacity, 1);
});

function* assertRejects(
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

test("a woken receiver keeps the value it was woken for: recv/tryRecv of a task that did not wait cannot take it", () => {
  const ch = new Channel<number>(1);
  run(function*(): Task<void> {
    const waiter = yield* spawn(ch.recv());
    yield* yieldNow(); // waiter waits for a value
    assert.equal(ch.trySend(1), true); // handed to the waiter
    assert.equal(ch.tryRecv(), null, "a task that never waited cannot overtake the waiter");
    const late = yield* spawn(ch.recv()); // queues behind
    yield* yieldNow();
    assert.equal(ch.trySend(2), true);
    assert.deepEqual(yield* waiter.join(), { done: false, value: 1 });
    assert.deepEqual(yield* late.join(), { done: false, value: 2 });
  }());
});

test("waiting receivers are served in the order they came, even when others take values meanwhile", () => {
  const ch = new Channel<number>(4);
  const order: string[] = [];
  run(function*(): Task<void> {
    const receivers = ["a", "b"].map((name) =>
      function*(): Task<void> {
        const r = yield* ch.recv();
        order.push(`${name}:${r.done ? "done" : r.value}`);
      }()
    );
    const all = yield* spawn(awaitAll(receivers));
    for (let i = 0; i < 3; i++) yield* yieldNow(); // a and b wait, a first
    ch.trySend(1); // for a
    const stolen = ch.tryRecv(); // a task that never waited
    if (stolen !== null && !stolen.done) order.push(`intruder:${stolen.value}`);
    yield* yieldNow(); // a runs (before the fix: finds nothing, queues again behind b)
    ch.trySend(2);
    ch.trySend(3);
    yield* all.join();
    assert.deepEqual(order, ["a:1", "b:2"]);
  }());
});

test("a sender woken for room keeps it: trySend of a task that did not wait cannot take it", () => {
  const ch = new Channel<string>(1);
  run(function*(): Task<void> {
    ch.trySend("x");
    const waiter = yield* spawn(ch.send("w"));
    yield* yieldNow(); // the sender waits for room
    assert.deepEqual(ch.tryRecv(), { done: false, value: "x" }); // room: reserved for it
    assert.equal(ch.trySend("intruder"), false, "the room belongs to the waiting sender");
    yield* waiter.join();
    assert.deepEqual(ch.tryRecv(), { done: false, value: "w" });
  }());
});

test("a receiver cancelled after it was handed a value gives it back in order", () => {
  const ch = new Channel<number>(2);
  run(function*(): Task<void> {
    const first = yield* spawn(ch.recv());
    yield* yieldNow();
    ch.trySend(1); // handed to `first`
    ch.trySend(2); // buffered behind it
    first.cancel(); // 1 goes back to the front
    assert.deepEqual(ch.tryRecv(), { done: false, value: 1 });
    assert.deepEqual(ch.tryRecv(), { done: false, value: 2 });
  }());
});
