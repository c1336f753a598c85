// The epoll reactor's doorbell (issue 12, echo beside busy tasks): an
// io_uring multishot poll of the epoll fd tells a busy thread, without a
// syscall, that an event arrived, so the fair looks between task steps poll
// only then. Counts of polls and of task steps only: nothing here depends on
// how fast the machine is.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { type Operation, spawn, UnixStream, yieldNow } from "../mod.ts";
import { AF_UNIX, libc, SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_STREAM } from "../src/ffi/mod.ts";
import { EpollReactor } from "../src/io/epoll_reactor.ts";
import { PollHint } from "../src/io/reactor.ts";
import { threadScheduler } from "../src/sched/current.ts";
import { DOORBELL_AFTER_LOOKS, FAIR_INTERVAL } from "../src/sched/scheduler.ts";
import { fdTable, newFds, runChecked } from "./helpers/fds.ts";

/**
 * Whether this kernel serves the doorbell: io_uring enabled for everyone
 * (`kernel.io_uring_disabled` 0) and Linux >= 6.3 (see src/ffi/uring.ts).
 * Where it does not, the tests check the fallback instead.
 */
function kernelHasDoorbell(): boolean {
  let disabled = "0";
  try {
    disabled = readFileSync("/proc/sys/kernel/io_uring_disabled", "utf8").trim();
  } catch {
    // the knob is newer than io_uring itself: absent means enabled
  }
  const [major, minor] = readFileSync("/proc/sys/kernel/osrelease", "utf8").split(".").map(Number);
  return disabled === "0" && (major > 6 || (major === 6 && minor >= 3));
}
const DOORBELL = kernelHasDoorbell();

function socketPair(): [number, number] {
  const fds = new Int32Array(2);
  const flags = SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC;
  assert.equal(libc.socketpair(AF_UNIX, flags, 0, fds), 0);
  return [fds[0], fds[1]];
}

function writeByte(fd: number): void {
  assert.equal(libc.write(fd, new Uint8Array([7]), 1), 1);
}

/**
 * Runs `body` with a fresh epoll reactor (doorbell allowed) and a socket
 * pair, and closes all three after, whatever happens.
 */
function withReactorAndPair(body: (reactor: EpollReactor, a: number, b: number) => void): void {
  const reactor = new EpollReactor({ doorbell: true });
  const [a, b] = socketPair();
  try {
    body(reactor, a, b);
  } finally {
    reactor.close();
    libc.close(a);
    libc.close(b);
  }
}

/** Waits (polls) until the doorbell is quiet, at most `rounds` times. */
function waitUntilQuiet(reactor: EpollReactor, rounds: number): void {
  for (let i = 0; i < rounds && reactor.pollHint() !== PollHint.Nothing; i++) reactor.wait(0);
}

/** Reads what `fd` holds, so the writes of the next round have room. */
function drain(fd: number): void {
  const buf = new Uint8Array(4096);
  while (libc.read(fd, buf, buf.length) > 0) { /* again */ }
}

test("epoll doorbell: Nothing until an fd event, Something until a wait collects it", () => {
  const before = fdTable();
  withReactorAndPair((reactor, a, b) => {
    assert.equal(reactor.pollHint(), PollHint.Unknown, "not armed before setBusy");
    if (!DOORBELL) {
      assert.equal(reactor.setBusy(true), false);
      assert.equal(reactor.pollHint(), PollHint.Unknown);
      assert.equal(reactor.hasDoorbell, false);
      return;
    }
    const source = reactor.register(a);
    assert.equal(reactor.setBusy(true), true, "sets the doorbell up, armed");
    assert.equal(reactor.hasDoorbell, true);
    reactor.wait(0); // collects the registration's first edge (writable)
    reactor.wait(0); // and a completion the set-up posted for it
    assert.equal(reactor.pollHint(), PollHint.Nothing, "quiet after the waits");
    assert.equal(reactor.pollHint(), PollHint.Nothing, "asking does not change it");
    let woken = 0;
    source.readable = false;
    reactor.waitReadable(source, { wake: () => woken++ });
    writeByte(b);
    assert.equal(reactor.pollHint(), PollHint.Something, "the write rang");
    reactor.wait(0);
    assert.equal(woken, 1, "the wait collected the event");
    assert.equal(reactor.pollHint(), PollHint.Nothing, "no ring left after the wait");
    writeByte(b);
    assert.equal(reactor.pollHint(), PollHint.Something, "it rings again for the next edge");
  });
  assert.deepEqual(newFds(before, fdTable()), []);
});

test("epoll doorbell: a full completion queue ends the kernel's poll, and the next wait re-arms it", () => {
  if (!DOORBELL) return; // the fallback is checked by the test above
  withReactorAndPair((reactor, a, b) => {
    reactor.register(a);
    assert.equal(reactor.setBusy(true), true);
    reactor.wait(0);
    reactor.wait(0);
    assert.equal(reactor.pollHint(), PollHint.Nothing);
    // Each write wakes the epoll fd once: more completions than the queue's
    // 64 entries, none consumed, so the kernel ends the multishot poll.
    for (let i = 0; i < 100; i++) writeByte(b);
    assert.equal(reactor.pollHint(), PollHint.Something);
    // Re-arming finds the epoll fd readable: at most one completion more.
    waitUntilQuiet(reactor, 2);
    assert.equal(reactor.pollHint(), PollHint.Nothing, "quiet once collected");
    writeByte(b);
    assert.equal(reactor.pollHint(), PollHint.Something, "the re-armed poll rings");
    assert.equal(reactor.hasDoorbell, true);
  });
});

test("epoll doorbell: disarmed while not busy, armed again without a second poll left behind", () => {
  if (!DOORBELL) return; // the fallback is checked by the first test
  withReactorAndPair((reactor, a, b) => {
    reactor.register(a);
    for (let round = 0; round < 3; round++) {
      assert.equal(reactor.setBusy(true), true, `round ${round}: armed`);
      waitUntilQuiet(reactor, 3);
      assert.equal(reactor.pollHint(), PollHint.Nothing, `round ${round}: quiet`);
      writeByte(b);
      assert.equal(reactor.pollHint(), PollHint.Something, `round ${round}: rings`);
      reactor.setBusy(false);
      assert.equal(reactor.pollHint(), PollHint.Unknown, `round ${round}: disarmed`);
      reactor.wait(0); // reads the cancelled poll's last completion and the cancel's
      const before = reactor.doorbellCompletions;
      // Wake-ups while disarmed post nothing (no kernel work for the thread).
      for (let i = 0; i < 100; i++) writeByte(b);
      reactor.wait(0);
      assert.equal(reactor.doorbellCompletions - before, 0, `round ${round}: disarmed, yet posted`);
      drain(a);
    }
    // One poll armed, not one per round: a single wake-up, a single completion.
    assert.equal(reactor.setBusy(true), true);
    waitUntilQuiet(reactor, 3);
    const before = reactor.doorbellCompletions;
    writeByte(b);
    reactor.wait(0);
    assert.equal(reactor.doorbellCompletions - before, 1, "one poll armed");
    assert.equal(reactor.pollHint(), PollHint.Nothing);
  });
});

test("epoll doorbell: closing a reactor releases its ring (40 in turn each get one, no fd left)", () => {
  // A thread may register at most 16 ring fds: a close that kept the
  // registration would leave the 17th reactor without a doorbell.
  const before = fdTable();
  for (let i = 0; i < 40; i++) {
    const reactor = new EpollReactor({ doorbell: true });
    try {
      assert.equal(reactor.setBusy(true), DOORBELL, `reactor ${i}`);
      assert.equal(reactor.pollHint() !== PollHint.Unknown, DOORBELL, `reactor ${i}`);
    } finally {
      reactor.close();
    }
  }
  const off = new EpollReactor({ doorbell: false });
  try {
    assert.equal(off.setBusy(true), false);
    assert.equal(off.pollHint(), PollHint.Unknown, "doorbell: false leaves the clock to decide");
    assert.equal(off.hasDoorbell, false);
  } finally {
    off.close();
  }
  assert.deepEqual(newFds(before, fdTable()), []);
});

/** Tasks that loop on yieldNow until `stop` says so, counting their steps. */
function busyLoops(count: number, counter: { steps: number; stop: boolean }): Operation<void>[] {
  const loops = [];
  for (let i = 0; i < count; i++) {
    loops.push(function*(): Operation<void> {
      while (!counter.stop) {
        counter.steps++;
        yield* yieldNow();
      }
    }());
  }
  return loops;
}

test("a busy thread polls its reactor only when the doorbell rang (epoll), else on its clock", () => {
  const scheduler = threadScheduler();
  const clock = scheduler.fairPollMs;
  // Without a doorbell, poll at every fair look: the count then shows it.
  scheduler.fairPollMs = 0;
  try {
    const polls = runChecked(function*() {
      const [mine, theirs] = UnixStream.pair();
      try {
        // A task waits on an fd that stays quiet, so the looks have a reason to poll.
        const reader = yield* spawn(mine.read(new Uint8Array(1)));
        const counter = { steps: 0, stop: false };
        const loops = [];
        for (const loop of busyLoops(4, counter)) loops.push(yield* spawn(loop));
        yield* yieldNow(); // the reader waits now
        // Busy long enough for the scheduler to arm the doorbell.
        while (counter.steps < (DOORBELL_AFTER_LOOKS + 2) * FAIR_INTERVAL) yield* yieldNow();
        const from = scheduler.fairPolls;
        while (counter.steps < 220 * FAIR_INTERVAL) yield* yieldNow();
        const polls = scheduler.fairPolls - from;
        counter.stop = true;
        for (const loop of loops) yield* loop.join();
        reader.cancel();
        return polls;
      } finally {
        mine.close();
        theirs.close();
      }
    }());
    if (scheduler.reactor.kind === "poll" || !DOORBELL) {
      assert.ok(polls >= 100, `the clock (0 ms) polled at the looks: ${polls} polls`);
    } else {
      assert.ok(polls <= 2, `nothing happened, yet ${polls} polls`);
    }
  } finally {
    scheduler.fairPollMs = clock;
  }
});

test("epoll: an fd event reaches a busy thread within one fair look (the doorbell, not the clock)", () => {
  const scheduler = threadScheduler();
  const clock = scheduler.fairPollMs;
  // The clock never polls within this test: only the doorbell can.
  scheduler.fairPollMs = 1e9;
  try {
    const { wroteAt, readAt } = runChecked(function*() {
      const [mine, theirs] = UnixStream.pair();
      try {
        const counter = { steps: 0, stop: false };
        let readAt = -1;
        const reader = yield* spawn(function*(): Operation<void> {
          yield* mine.read(new Uint8Array(1));
          readAt = counter.steps;
          counter.stop = true;
        }());
        const loops = [];
        for (const loop of busyLoops(4, counter)) loops.push(yield* spawn(loop));
        while (counter.steps < 20 * FAIR_INTERVAL) yield* yieldNow();
        yield* theirs.writeAll(new Uint8Array([1]));
        const wroteAt = counter.steps;
        // Bounded: with neither doorbell nor clock the reader waits for the
        // loops to end (the turn's own wait).
        while (!counter.stop && counter.steps < wroteAt + 2000 * FAIR_INTERVAL) yield* yieldNow();
        counter.stop = true;
        for (const loop of loops) yield* loop.join();
        yield* reader.join();
        return { wroteAt, readAt };
      } finally {
        mine.close();
        theirs.close();
      }
    }());
    if (scheduler.reactor.kind === "epoll" && DOORBELL) {
      assert.ok(
        readAt - wroteAt <= 2 * FAIR_INTERVAL,
        `read ${readAt - wroteAt} busy steps after the write`,
      );
    } else {
      // No doorbell and no clock: the event waited until the loops stopped.
      assert.ok(readAt - wroteAt >= 1000 * FAIR_INTERVAL, `read after ${readAt - wroteAt}`);
    }
  } finally {
    scheduler.fairPollMs = clock;
  }
});
