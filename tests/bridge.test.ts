// The bridge to the host: `until` (a task waits for a host promise) and
// `runAsync` (a task driven while the host's event loop lives), on the host
// thread and on runtime workers. The host-served peers (node:http, node:net)
// run in this process: they answer only if the host loop really runs while
// strom drives its tasks.
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { connect as netConnect } from "node:net";
import process from "node:process";
import { test } from "node:test";
import {
  awaitAll,
  rootTask,
  runAsync,
  Runtime,
  sleep,
  spawn,
  type Task,
  TcpListener,
  timeout,
  TimeoutError,
  until,
  untilSignal,
  yieldNow,
} from "../mod.ts";
import { threadScheduler } from "../src/sched/current.ts";
import { fetchOnWorker, hostTimerOnWorker, waitForever } from "./fixtures/bridge_tasks.ts";
import { assertHalts, runScenario } from "./helpers/child.ts";
import { fdTable, openFds } from "./helpers/fds.ts";

// This thread's off-thread poller lives as long as the thread, like its
// reactor (on Bun a helper Worker, with its own event loop's two fds): start
// it before any fd is counted.
await runAsync(function*(): Task<void> {
  yield* until(new Promise((resolve) => setTimeout(resolve, 5)));
}());
// Deno keeps two fds of its own open for good once a first Worker existed
// (see tests/runtime.test.ts): create and close one runtime, and let the
// count settle before any fd count is taken.
await (await Runtime.create({ workers: 1 })).close();
for (let n = -1, stable = 0; stable < 10; stable = openFds() === n ? stable + 1 : 0) {
  n = openFds();
  await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Runs `task` with runAsync and checks it left no fd open (as runChecked does for run). */
async function runAsyncChecked<T>(task: Task<T>): Promise<T> {
  threadScheduler();
  const before = fdTable();
  try {
    return await runAsync(task);
  } finally {
    const leaked = [...fdTable()].filter(([fd, what]) => before.get(fd) !== what);
    assert.deepEqual(leaked, [], "fds opened by the test and still open");
  }
}

/** A host-served HTTP upstream on 127.0.0.1:0: `/hello` answers, `/hang` never does. */
async function upstream(): Promise<
  { server: Server; url: string; hangClosed: Promise<void>; close(): Promise<void> }
> {
  let onHangClosed!: () => void;
  const hangClosed = new Promise<void>((resolve) => (onHangClosed = resolve));
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    if (req.url === "/hang") {
      res.on("close", onHangClosed); // the client went away before an answer
      return;
    }
    res.writeHead(200, { "content-type": "text/plain", connection: "close" });
    res.end(`hello from ${req.url}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  return {
    server,
    url: `http://127.0.0.1:${port}`,
    hangClosed,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** The fd count once it equals `expected` (threads close theirs as they end), or after 5 s. */
async function settledFds(expected: number): Promise<number> {
  const deadline = performance.now() + 5000;
  let n = openFds();
  while (n !== expected && performance.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
    n = openFds();
  }
  return n;
}

/** Resolves `p`, or rejects after `ms` with `what` (a generous bound: a hang, not a timing). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

test("until gives a resolved promise's value and throws a rejected one's error", async () => {
  const result = await runAsyncChecked(function*(): Task<string[]> {
    const a = yield* until(Promise.resolve("resolved"));
    const b = yield* until(
      new Promise<string>((resolve) => setTimeout(() => resolve("later"), 10)),
    );
    let c = "";
    try {
      yield* until(Promise.reject(new RangeError("rejected")));
    } catch (error) {
      assert.ok(error instanceof RangeError);
      c = error.message;
    }
    // A thenable that is not a Promise, and a function given the signal.
    const thenable = { then: (ok: (v: string) => void) => ok("thenable") };
    const d = yield* until(thenable as unknown as PromiseLike<string>);
    const e = yield* until((signal) => Promise.resolve(signal.aborted ? "aborted" : "signal"));
    return [a, b, c, d, e];
  }());
  assert.deepEqual(result, ["resolved", "later", "rejected", "thenable", "signal"]);
});

test("until takes neither a value nor a function returning one: TypeError", async () => {
  await runAsync(function*(): Task<void> {
    for (const bad of [42, null, "x", { then: 1 }]) {
      assert.throws(() => until(bad as unknown as Promise<void>).next(), TypeError);
    }
    let message = "";
    try {
      yield* until((() => 42) as unknown as () => Promise<number>);
    } catch (error) {
      assert.ok(error instanceof TypeError);
      message = error.message;
    }
    assert.match(message, /must return a promise, got number/);
  }());
});

test("runAsync resolves with the result, rejects with the error, and TypeError for a non-task", async () => {
  assert.equal(
    await runAsync(function*(): Task<number> {
      yield* sleep(1);
      return 7;
    }()),
    7,
  );
  await assert.rejects(
    runAsync(function*(): Task<void> {
      yield* sleep(1);
      throw new Error("from the task");
    }()),
    /from the task/,
  );
  await assert.rejects(runAsync(42 as unknown as Task<void>), TypeError);
});

test("runAsync runs the task up to its first wait before it returns the promise", async () => {
  const steps: string[] = [];
  const done = runAsync(function*(): Task<void> {
    steps.push("first step");
    yield* until(Promise.resolve());
    steps.push("after the wait");
  }());
  steps.push("runAsync returned");
  await done;
  assert.deepEqual(steps, ["first step", "runAsync returned", "after the wait"]);
});

test("the other tasks of the thread keep running while one waits in until", async () => {
  const ticks = await runAsyncChecked(function*(): Task<number> {
    let ticks = 0;
    let waiting = true;
    yield* awaitAll(
      function*(): Task<void> {
        yield* until(new Promise((resolve) => setTimeout(resolve, 50)));
        waiting = false;
      }(),
      function*(): Task<void> {
        while (waiting) {
          yield* sleep(1);
          ticks++;
        }
      }(),
    );
    return ticks;
  }());
  // Without the bridge the ticker could not run at all; 50 ms of 1 ms sleeps.
  assert.ok(ticks >= 5, `ticks while waiting: ${ticks}`);
});

test("host timers fire while strom tasks keep busy (the host loop gets turns)", async () => {
  const events: string[] = [];
  let intervalTicks = 0;
  setTimeout(() => events.push("host timer (5 ms)"), 5);
  const interval = setInterval(() => intervalTicks++, 2);
  try {
    await runAsync(function*(): Task<void> {
      // 300 ms of strom work that never waits for the kernel.
      const end = performance.now() + 300;
      while (performance.now() < end) yield* yieldNow();
      events.push("strom work done (300 ms)");
    }());
  } finally {
    clearInterval(interval);
  }
  assert.deepEqual(events, ["host timer (5 ms)", "strom work done (300 ms)"]);
  assert.ok(intervalTicks >= 10, `a 2 ms host interval ran ${intervalTicks} times in 300 ms`);
});

test("host timers fire while a task loops on until of settled promises (the slice holds)", async () => {
  const events: string[] = [];
  setTimeout(() => events.push("host timer (5 ms)"), 5);
  await runAsync(function*(): Task<void> {
    // 300 ms of waits on promises that settled already: no kernel wait, no
    // ready task between them, only microtask checkpoints.
    const end = performance.now() + 300;
    while (performance.now() < end) yield* until(Promise.resolve());
    events.push("strom work done (300 ms)");
  }());
  assert.deepEqual(events, ["host timer (5 ms)", "strom work done (300 ms)"]);
});

test("host timers fire while strom sleeps (the kernel wait is off the JS thread)", async () => {
  let intervalTicks = 0;
  const interval = setInterval(() => intervalTicks++, 2);
  try {
    await runAsync(sleep(100));
  } finally {
    clearInterval(interval);
  }
  assert.ok(intervalTicks >= 5, `a 2 ms host interval ran ${intervalTicks} times in 100 ms`);
});

test("fetch inside a task, against a host-served upstream in this process", async () => {
  const up = await upstream();
  try {
    const got = await runAsyncChecked(function*(): Task<[number, string][]> {
      // Several at once, each in its own task.
      return yield* awaitAll(["/a", "/b", "/c"].map((path) =>
        function*(): Task<[number, string]> {
          const response = yield* until((signal) => fetch(up.url + path, { signal }));
          return [response.status, yield* until(response.text())];
        }()
      ));
    }());
    assert.deepEqual(got, [[200, "hello from /a"], [200, "hello from /b"], [
      200,
      "hello from /c",
    ]]);
  } finally {
    await up.close();
  }
});

test("a cancelled until aborts its signal: the upstream sees the fetch go away", async () => {
  const up = await upstream();
  try {
    let aborted = false;
    await runAsync(function*(): Task<void> {
      try {
        yield* timeout(
          100,
          until((signal) => {
            signal.addEventListener("abort", () => (aborted = true));
            return fetch(up.url + "/hang", { signal });
          }),
        );
        assert.fail("the hanging fetch returned");
      } catch (error) {
        assert.ok(error instanceof TimeoutError, `got ${error}`);
      }
      assert.ok(aborted, "the signal was aborted by the time the cancelled wait returned");
    }());
    await within(up.hangClosed, 10_000, "the upstream seeing the request go away");
  } finally {
    await up.close();
  }
});

test("a promise that rejects after its wait was cancelled is not an unhandled rejection", async () => {
  let unhandled = 0;
  const onUnhandled = () => unhandled++;
  process.on("unhandledRejection", onUnhandled);
  try {
    let reject!: (e: Error) => void;
    const late = new Promise<void>((_, r) => (reject = r));
    await runAsync(function*(): Task<void> {
      try {
        yield* timeout(5, until(late));
      } catch (error) {
        assert.ok(error instanceof TimeoutError);
      }
      reject(new Error("late rejection"));
      yield* until(new Promise((resolve) => setTimeout(resolve, 20)));
    }());
    await new Promise((resolve) => setTimeout(resolve, 20));
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
  assert.equal(unhandled, 0);
});

test("a strom TCP server answers a host client (node:net) in the same process", async () => {
  const listener = TcpListener.bind("127.0.0.1:0");
  const port = listener.localAddr.port;
  const reply = new Promise<string>((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1", () => socket.write("ping"));
    let got = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => {
      got += d;
      if (got.length >= 4) socket.end();
    });
    socket.on("close", () => resolve(got));
    socket.on("error", reject);
  });
  let finallyRan = false;
  await runAsync(function*(): Task<void> {
    try {
      const conn = yield* listener.accept();
      try {
        const buf = new Uint8Array(16);
        let n = 0;
        while (n < 4) n += yield* conn.read(buf.subarray(n));
        yield* conn.writeAll(buf, n);
        assert.equal(yield* conn.read(buf), 0); // the client's FIN
      } finally {
        conn.close();
      }
    } finally {
      listener.close();
      finallyRan = true;
    }
  }());
  assert.equal(await reply, "ping");
  assert.ok(finallyRan);
});

test("when the runAsync task ends, the tasks it spawned are cancelled (finally blocks run)", async () => {
  let cancelled = false;
  await runAsync(function*(): Task<void> {
    yield* spawn(function*(): Task<void> {
      try {
        yield* until(new Promise(() => {}));
      } finally {
        cancelled = true;
      }
    }());
    yield* sleep(5);
  }());
  assert.ok(cancelled);
});

test("runAsync keeps the process alive for a strom timer alone, then lets it end", () => {
  const r = runScenario("run_async_alive");
  assert.equal(r.code, 0, `stderr: ${r.stderr}`);
  assert.equal(r.stdout.trim(), "done ok");
});

test("untilSignal gives the signal's name; cancelled, it gives the signal back to its default", () => {
  const r = runScenario("until_signal");
  assert.equal(r.stdout, "got SIGTERM\ncancelled\n", r.stderr);
  assert.equal(r.signal, "SIGINT", `ended by ${r.signal}, code ${r.code}`);
});

test("untilSignal takes a non-empty list of names the host knows: TypeError", async () => {
  await runAsync(function*(): Task<void> {
    assert.throws(() => untilSignal([]).next(), TypeError);
    for (const bad of ["SIGNOTATHING", "SIGKILL", "sigint"]) {
      let caught: unknown;
      try {
        yield* untilSignal(["SIGINT", bad]);
      } catch (error) {
        caught = error;
      }
      assert.ok(caught instanceof TypeError, `${bad}: got ${caught}`);
      assert.match(String(caught), new RegExp(`got ${bad}`));
    }
  }());
});

test("halts: until under the blocking run (a promise could never settle), naming runAsync", () => {
  const r = assertHalts("until_under_run", "until-under-blocking-run");
  assert.match(r.stderr, /runAsync/);
});

test("halts: a deadlock under runAsync", () => {
  assertHalts("run_async_deadlock", "deadlock");
});

test("halts: runAsync while run drives the thread", () => {
  assertHalts("run_async_inside_run", "run-inside-task");
});

test("until on a runtime worker: the worker's tasks run and its host timers fire meanwhile", async () => {
  const tasks = new URL("./fixtures/bridge_tasks.ts", import.meta.url);
  const before = openFds();
  const rt = await Runtime.create({ workers: 1 });
  const up = await upstream();
  try {
    // (The first wait may start the worker's off-thread poller: on Bun a Worker.)
    const a = await rt.spawn(rootTask(tasks, hostTimerOnWorker, 200, "from the host timer"));
    assert.equal(a.value, "from the host timer");
    assert.equal(a.worker, 0);
    assert.ok(a.ticks >= 3, `ticks on the worker while it waited: ${a.ticks}`);
    const b = await rt.spawn(rootTask(tasks, fetchOnWorker, up.url + "/w"));
    assert.deepEqual(b, { status: 200, body: "hello from /w" });
    // A wait that never ends is cancelled at shutdown.
    const forever = assert.rejects(rt.spawn(rootTask(tasks, waitForever)), /cancelled/);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await rt.close();
    await forever;
  } finally {
    await rt.close();
    await up.close();
  }
  // The worker's off-thread poller (on Bun a helper Worker of its own) ended with it.
  assert.equal(await settledFds(before), before, "open fds after the runtime ended");
});
