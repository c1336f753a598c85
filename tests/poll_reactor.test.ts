// The poll reactor's pollfd list (issue 9's "suite green on a busy machine":
// examples/echo.ts under `ulimit -n 256` died with "ppoll failed: EINVAL"
// in tests/slow_peers.test.ts, about 1 run in 10 on Bun with the poll
// reactor). ppoll counts every pollfd against RLIMIT_NOFILE, fd -1 or not,
// so the list it is given must hold only the sources a task waits on.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AsyncFd, spawn, type Task, yieldNow } from "../mod.ts";
import { libc, O_CLOEXEC, O_NONBLOCK, PollFds } from "../src/ffi/mod.ts";
import { threadScheduler } from "../src/sched/current.ts";
import { runChecked } from "./helpers/fds.ts";
import { testLibc } from "./helpers/test_libc.ts";

test("poll reactor: a source whose waiter left is not handed to ppoll (nfds stays within RLIMIT_NOFILE)", () => {
  const reactor = threadScheduler().reactor;
  if (reactor.kind !== "poll") return; // epoll keeps no pollfd list (the suite runs both)
  runChecked(function*(): Task<void> {
    const pipes: [number, number][] = [];
    for (let i = 0; i < 3; i++) {
      const fds = new Int32Array(2);
      assert.equal(testLibc.pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0, "pipe2");
      pipes.push([fds[0]!, fds[1]!]);
    }
    const readers = pipes.map(([r]) => new AsyncFd(r));
    try {
      const waiting = [];
      for (const r of readers) {
        r.clearReadable(); // readiness is cached as true until a try meets EAGAIN
        waiting.push(yield* spawn(r.readable()));
      }
      yield* yieldNow(); // all three wait now
      const out = new PollFds(8);
      assert.equal(reactor.watchFds(out), 4, "the wake fd and three waiting readers");
      waiting[0]!.cancel();
      // Before: 4 (the cancelled reader's slot stayed, fd -1, until after the next wait).
      assert.equal(reactor.watchFds(out), 3, "the wake fd and the two still waiting");
      for (const w of waiting) w.cancel();
      assert.equal(reactor.watchFds(out), 1, "the wake fd alone");
    } finally {
      for (const r of readers) r.close();
      for (const [, w] of pipes) libc.close(w);
    }
  }());
});
