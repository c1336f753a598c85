// The multi-worker runtime: distribution, limits at their edges, back-pressure,
// results and errors across threads, shutdown, crashes, usage rules. Tasks
// block on eventfds the test writes (gates), never on sleeps.
import assert from "node:assert/strict";
import { connect } from "node:net";
import { test } from "node:test";
import {
  decodeRlimit,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  libc,
  RLIMIT_NOFILE,
  RLIMIT_SIZE,
} from "../src/ffi/mod.ts";
import { type OwnedFd, ownedFd, rootTask } from "../src/runtime/root_task.ts";
import { Runtime, type RuntimeOptions, WorkerCrashedError } from "../src/runtime/runtime.ts";
import { MAX_RECORDED_FDS, recordableFds, RuntimeControl } from "../src/runtime/shared.ts";
import { RuntimeShutdownError } from "../src/runtime/worker_context.ts";
import { TaskCancelledError } from "../src/sched/scheduler.ts";
import { acceptor, reusePortServer, ServerBoard } from "./fixtures/runtime_servers.ts";
import {
  Board,
  crashOnGate,
  exitHolding,
  EXITING,
  exitWithSockets,
  exitWorker,
  failWith,
  gated,
  identity,
  leakListener,
  mark,
  producer,
  readShared,
  spinForever,
  square,
  startTicker,
  submitOwnedWhenFull,
  submitShared,
  takeFd,
  takeFdWith,
  takeFive,
  textLength,
  throwOddError,
  throwProxy,
  throwUnprintable,
  TickBoard,
  uncloneableResult,
  whereAmI,
} from "./fixtures/runtime_tasks.ts";
import { assertHalts } from "./helpers/child.ts";
import { fdTable, openFds, settledLeaks } from "./helpers/fds.ts";

const TASKS = new URL("./fixtures/runtime_tasks.ts", import.meta.url);
const SERVERS = new URL("./fixtures/runtime_servers.ts", import.meta.url);

/** Connects with node:net, sends `text`, half-closes, and resolves with all it read back. */
function echoOnce(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: "127.0.0.1", port }, () => socket.end(text));
    let got = "";
    socket.setEncoding("utf8");
    socket.on("data", (d: string) => got += d);
    socket.on("error", reject);
    socket.on("close", () => resolve(got));
  });
}

/** Whether a connection to `port` is refused (true) or accepted (false). */
function echoOnceRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port }, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on("error", () => resolve(true));
  });
}

/** Keeps a task's promise from being an unhandled rejection; resolves with its error (or null). */
function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(() => null, (e: unknown) => e);
}

function newBoard(): Int32Array {
  return new Int32Array(new SharedArrayBuffer(4 * 256));
}

/** Waits (without blocking the thread) until `board[word] >= n`. */
async function until(board: Int32Array, word: number, n: number): Promise<void> {
  for (let v = Atomics.load(board, word); v < n; v = Atomics.load(board, word)) {
    const r = Atomics.waitAsync(board, word, v);
    if (r.async) await r.value;
  }
}

/** `n` eventfds a task can wait on; `open(k)` lets task k go on. */
class Gates {
  readonly fds: number[] = [];
  constructor(n: number) {
    for (let i = 0; i < n; i++) this.fds.push(libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    assert.ok(this.fds.every((fd) => fd >= 0));
  }
  open(k: number): void {
    const one = new Uint8Array(8);
    one[0] = 1;
    assert.equal(libc.write(this.fds[k], one, 8), 8);
  }
  close(): void {
    for (const fd of this.fds) libc.close(fd);
  }
}

// Deno keeps two fds of its own open for good once a first Worker existed:
// create and close one runtime, and let the count settle (no change for
// 100 ms: set-up, not an assertion) before any fd count is taken.
await (await Runtime.create({ workers: 1 })).close();
for (let n = -1, stable = 0; stable < 10; stable = openFds() === n ? stable + 1 : 0) {
  n = openFds();
  await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Creates a runtime, runs `body`, shuts it down, and checks no fd was left open. */
async function withRuntime(
  options: RuntimeOptions,
  body: (rt: Runtime) => Promise<void>,
): Promise<void> {
  const before = fdTable();
  const rt = await Runtime.create(options);
  try {
    await body(rt);
  } finally {
    await rt.close();
  }
  // strom's reactor fds are closed before a worker reports it exited; the
  // hosts' own per-Worker fds a little later (docs/findings.md): wait for
  // those to go, then nothing the runtime opened may be left.
  assert.deepEqual(await settledLeaks(before), [], "fds left open after the runtime ended");
}

test("options are checked at creation with an error naming the option", async () => {
  const bad: [RuntimeOptions, RegExp][] = [
    [{ workers: 0 }, /workers/],
    [{ workers: 1.5 }, /workers/],
    [{ queueCapacity: 0 }, /queueCapacity/],
    [{ maxTasksPerWorker: -1 }, /maxTasksPerWorker/],
    [{ shutdownGraceMs: -5 }, /shutdownGraceMs/],
    [{ queueBytes: 10 }, /queueBytes/],
    [{ reactor: "kqueue" as "epoll" }, /reactor/],
  ];
  for (const [options, message] of bad) {
    await assert.rejects(Runtime.create(options), message);
  }
});

test("results and errors come back through the host promises", async () => {
  await withRuntime({ workers: 2 }, async (rt) => {
    assert.equal(await rt.spawn(rootTask(TASKS, square, 12)), 144);
    const queued = rt.trySpawn(rootTask(TASKS, square, 5));
    assert.equal(queued.status, "queued");
    if (queued.status === "queued") assert.equal(await queued.result, 25);

    const error = await rt.spawn(rootTask(TASKS, failWith, "line 3: bad token")).then(
      () => assert.fail("should reject"),
      (e: Error) => e,
    );
    assert.equal(error.name, "ParseError");
    assert.equal(error.message, "line 3: bad token");
    assert.match(error.stack ?? "", /failWith/, "the worker's stack comes along");

    await assert.rejects(rt.spawn(rootTask(TASKS, uncloneableResult)), (e: Error) => {
      assert.equal(e.name, "TypeError");
      assert.match(e.message, /result of root task \d+ cannot be cloned/);
      return true;
    });
    const stats = rt.stats();
    assert.equal(stats.completed, 2);
    assert.equal(stats.failed, 2);
  });
});

test("odd thrown values come back as errors; the worker and the counters survive them", async () => {
  await withRuntime({ workers: 1 }, async (rt) => {
    const unprintable = await outcome(rt.spawn(rootTask(TASKS, throwUnprintable)));
    assert.ok(unprintable instanceof Error, String(unprintable));
    assert.match((unprintable as Error).message, /a non-Error value was thrown: \[object Object\]/);
    // Names that are Object.prototype keys must not find Object's members.
    for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty"]) {
      const e = await outcome(rt.spawn(rootTask(TASKS, throwOddError, name, false)));
      assert.ok(e instanceof Error, `${name}: ${e}`);
      assert.equal((e as Error).name, name);
      assert.equal((e as Error).message, "odd");
    }
    const broken = await outcome(rt.spawn(rootTask(TASKS, throwOddError, "Broken", true)));
    assert.equal((broken as Error).name, "Broken");
    assert.equal(await rt.spawn(rootTask(TASKS, square, 3)), 9, "the worker still runs");
    const stats = rt.stats();
    assert.equal(stats.liveWorkers, 1);
    assert.equal(stats.failed, 6);
    assert.equal(stats.completed, 1);
  });
});

test("a task too large for the queue is a RangeError at once, even behind waiting spawns", async () => {
  const gates = new Gates(2);
  const board = newBoard();
  try {
    await withRuntime(
      { workers: 1, maxTasksPerWorker: 1, queueCapacity: 1, queueBytes: 1024 },
      async (rt) => {
        const running = rt.spawn(rootTask(TASKS, gated, board, 0, gates.fds[0]));
        await until(board, Board.STARTED, 1);
        const queued = rt.spawn(rootTask(TASKS, gated, board, 1, gates.fds[1]));
        const waiting = rt.spawn(rootTask(TASKS, square, 4)); // waits for room
        await assert.rejects(rt.spawn(rootTask(TASKS, textLength, "x".repeat(2000))), RangeError);
        assert.throws(() => rt.trySpawn(rootTask(TASKS, textLength, "x".repeat(2000))), RangeError);
        gates.open(0);
        gates.open(1);
        await Promise.all([running, queued]);
        assert.equal(await waiting, 16, "the spawn waiting for room went on");
        assert.equal(await rt.spawn(rootTask(TASKS, textLength, "x".repeat(100))), 100);
      },
    );
  } finally {
    gates.close();
  }
});

test("at shutdown, spawns still waiting for room are rejected and counted as rejected", async () => {
  const gates = new Gates(2);
  const board = newBoard();
  try {
    await withRuntime({ workers: 1, maxTasksPerWorker: 1, queueCapacity: 1 }, async (rt) => {
      const running = outcome(rt.spawn(rootTask(TASKS, gated, board, 0, gates.fds[0])));
      await until(board, Board.STARTED, 1);
      const queued = outcome(rt.spawn(rootTask(TASKS, gated, board, 1, gates.fds[1])));
      const waiting = outcome(rt.spawn(rootTask(TASKS, square, 4)));
      // spawn first imports the module (async): wait until it waits for room
      // (a 10 s backstop, not 1000 polls: an import can take a while on a busy machine).
      const end = performance.now() + 10_000;
      while (rt.stats().waitingForRoom === 0 && performance.now() < end) {
        await new Promise((resolve) => setTimeout(resolve, 1));
      }
      assert.equal(rt.stats().waitingForRoom, 1);
      const before = rt.stats().rejected;
      await rt.shutdown({ graceMs: 0 });
      assert.ok((await running) instanceof TaskCancelledError);
      assert.ok((await queued) instanceof RuntimeShutdownError);
      assert.ok((await waiting) instanceof RuntimeShutdownError);
      const stats = rt.stats();
      assert.equal(stats.rejected, before + 1, "the waiting spawn");
      assert.equal(stats.failed, 2, "the running and the queued task");
      assert.equal(stats.accepted, stats.completed + stats.failed);
    });
  } finally {
    gates.close();
  }
});

test("task ids stay valid Int32 values across the 2^31 wrap", () => {
  const control = RuntimeControl.create(1, 1);
  control.words[1] = 0x7ffffffe; // NEXT_ID, as after 2^31 - 2 ids
  const ids = [control.nextId(), control.nextId(), control.nextId(), control.nextId()];
  assert.deepEqual(ids, [0x7fffffff, 1, 2, 3]);
  for (const id of ids) assert.equal(id | 0, id, "fits an Int32 slot");
});

test("a worker's sockets are recorded up to the process's hard fd limit, not only below 65,536", () => {
  // What the host closes for a dead worker (see the exitWithSockets test):
  // the bitmap now covers every fd the process may open.
  const rlimit = new Uint8Array(RLIMIT_SIZE);
  assert.equal(libc.getrlimit(RLIMIT_NOFILE, rlimit), 0);
  const { hard } = decodeRlimit(rlimit);
  assert.equal(recordableFds(), Math.min(Math.ceil(hard / 32) * 32, MAX_RECORDED_FDS));
  // As on a machine whose hard limit is above 65,536 (this one's may not be).
  const control = RuntimeControl.create(2, 1, 70_016);
  assert.equal(control.recordedFds, 70_016);
  control.fdOpened(0, 5);
  control.fdOpened(0, 70_000);
  control.fdOpened(0, 70_016); // at the bound: not recorded
  control.fdOpened(1, 69_999); // another worker's
  control.fdClosing(0, 5);
  assert.deepEqual(control.reclaimFds(0), [70_000]);
  assert.deepEqual(control.reclaimFds(1), [69_999]);
  // A worker reads the same bounds from the shared memory.
  assert.equal(new RuntimeControl(control.buffer).recordedFds, 70_016);
});

test("arguments that cannot be cloned are a TypeError at submit and nothing is queued", async () => {
  await withRuntime({ workers: 1 }, async (rt) => {
    const fn = (() => 1) as unknown as number;
    assert.throws(() => rt.trySpawn(rootTask(TASKS, square, fn)), (e: Error) => {
      assert.equal(e.name, "TypeError");
      assert.match(e.message, /argument 0 of root task square: a function/);
      return true;
    });
    await assert.rejects(rt.spawn(rootTask(TASKS, square, fn)), TypeError);
    assert.equal(rt.stats().accepted, 0);
  });
});

test("each worker really runs tasks: two blocked tasks run on two threads", async () => {
  const gates = new Gates(2);
  const board = newBoard();
  try {
    await withRuntime({ workers: 2, maxTasksPerWorker: 1 }, async (rt) => {
      const results = [0, 1].map((k) => rt.spawn(rootTask(TASKS, gated, board, k, gates.fds[k])));
      await until(board, Board.STARTED, 2);
      // Both blocked at once, one per worker (each takes at most one).
      assert.deepEqual(rt.stats().running, [1, 1]);
      gates.open(0);
      gates.open(1);
      const done = await Promise.all(results);
      const tids = new Set(done.map((r) => r.tid));
      assert.deepEqual([...tids].sort(), [...rt.workerThreadIds].sort());
      assert.ok(!tids.has(libc.gettid()), "not on the host thread");
      assert.deepEqual(done.map((r) => r.index).sort(), [0, 1]);
      const where = await rt.spawn(rootTask(TASKS, whereAmI));
      assert.ok(rt.workerThreadIds.includes(where.tid));
    });
  } finally {
    gates.close();
  }
});

test("a worker at maxTasksPerWorker = K runs K tasks at once; the K+1th waits for one to end", async () => {
  const K = 3;
  const gates = new Gates(K + 1);
  const board = newBoard();
  try {
    await withRuntime({ workers: 1, maxTasksPerWorker: K }, async (rt) => {
      const results = [];
      for (let k = 0; k <= K; k++) {
        results.push(rt.spawn(rootTask(TASKS, gated, board, k, gates.fds[k])));
      }
      await until(board, Board.STARTED, K);
      const stats = rt.stats();
      assert.deepEqual(stats.running, [K]);
      assert.equal(stats.queued, 1);
      gates.open(0);
      await until(board, Board.STARTED, K + 1);
      const endOf0 = Atomics.load(board, Board.SLOTS + 1);
      const startOfLast = Atomics.load(board, Board.SLOTS + 2 * K);
      assert.ok(
        endOf0 > 0 && startOfLast > endOf0,
        `task ${K} started (${startOfLast}) after task 0 ended (${endOf0})`,
      );
      for (let k = 1; k <= K; k++) gates.open(k);
      assert.deepEqual((await Promise.all(results)).map((r) => r.k), [0, 1, 2, 3]);
      assert.deepEqual(rt.stats().running, [0]);
    });
  } finally {
    gates.close();
  }
});

test("a queue of capacity C takes C tasks, refuses the C+1th (full), and spawn waits for room", async () => {
  const C = 3;
  const gates = new Gates(1);
  const board = newBoard();
  try {
    await withRuntime({ workers: 1, maxTasksPerWorker: 1, queueCapacity: C }, async (rt) => {
      const blocker = rt.spawn(rootTask(TASKS, gated, board, 0, gates.fds[0]));
      await until(board, Board.STARTED, 1); // the worker is at its limit: it takes nothing
      const queued = [];
      for (let k = 1; k <= C; k++) {
        const r = rt.trySpawn(rootTask(TASKS, mark, board, k));
        assert.equal(r.status, "queued", `task ${k} of ${C}`);
        if (r.status === "queued") queued.push(r.result);
      }
      assert.equal(rt.trySpawn(rootTask(TASKS, mark, board, C + 1)).status, "full");
      let stats = rt.stats();
      assert.equal(stats.queued, C);
      assert.equal(stats.rejected, 1);
      assert.equal(stats.accepted, C + 1);

      // spawn waits for room instead; a trySpawn behind it is refused (FIFO).
      const waited = rt.spawn(rootTask(TASKS, mark, board, C + 1));
      await Promise.resolve();
      await Promise.resolve(); // let spawn's module check finish
      stats = rt.stats();
      assert.equal(stats.waitingForRoom, 1);
      assert.equal(rt.trySpawn(rootTask(TASKS, mark, board, C + 2)).status, "full");

      gates.open(0);
      await blocker;
      await Promise.all(queued);
      await waited;
      stats = rt.stats();
      assert.equal(stats.completed, C + 2);
      assert.equal(stats.rejected, 2);
      assert.equal(stats.queued, 0);
      assert.equal(stats.waitingForRoom, 0);
      // Every accepted task started exactly once: the blocker, C queued, the waited one.
      assert.equal(Atomics.load(board, Board.STARTED), C + 2);
    });
  } finally {
    gates.close();
  }
});

test("from a task: trySubmit says full at capacity, submit waits for room", async () => {
  const gates = new Gates(1);
  const board = newBoard();
  try {
    await withRuntime({ workers: 1, maxTasksPerWorker: 2, queueCapacity: 1 }, async (rt) => {
      const blocker = rt.spawn(rootTask(TASKS, gated, board, 0, gates.fds[0]));
      await until(board, Board.STARTED, 1);
      // The producer is the worker's 2nd task: it queues mark 1 (the queue is
      // then full), is refused mark 2, and waits in submit for room.
      const produced = rt.spawn(rootTask(TASKS, producer, board, 1));
      // Room opens only when the blocker ends and the worker takes mark 1.
      gates.open(0);
      await blocker;
      assert.deepEqual(await produced, ["queued", "full"]);
      await until(board, Board.STARTED, 3); // blocker, mark 1, mark 2
      await until(board, Board.ENDED, 3);
      const stats = rt.stats();
      assert.equal(stats.rejected, 1);
      assert.equal(stats.accepted, 4);
    });
  } finally {
    gates.close();
  }
});

test("shutdown lets running tasks finish within the grace period and refuses new work", async () => {
  const gates = new Gates(2);
  const board = newBoard();
  try {
    await withRuntime({ workers: 2, maxTasksPerWorker: 1 }, async (rt) => {
      const results = [0, 1].map((k) => rt.spawn(rootTask(TASKS, gated, board, k, gates.fds[k])));
      await until(board, Board.STARTED, 2);
      const down = rt.shutdown({ graceMs: 600_000 });
      assert.equal(rt.trySpawn(rootTask(TASKS, square, 2)).status, "shutting-down");
      await assert.rejects(rt.spawn(rootTask(TASKS, square, 2)), RuntimeShutdownError);
      gates.open(0);
      gates.open(1);
      assert.deepEqual((await Promise.all(results)).map((r) => r.k), [0, 1]);
      await down;
      assert.equal(Atomics.load(board, Board.RETURNED), 2);
      assert.equal(rt.stats().liveWorkers, 0);
    });
  } finally {
    gates.close();
  }
});

test("shutdown cancels what still runs at the deadline: finally blocks run, queued tasks fail, fds close", async () => {
  const gates = new Gates(4);
  const board = newBoard();
  try {
    await withRuntime({ workers: 2, maxTasksPerWorker: 2 }, async (rt) => {
      const running = [0, 1, 2, 3].map((k) =>
        rt.spawn(rootTask(TASKS, gated, board, k, gates.fds[k]))
      );
      await until(board, Board.STARTED, 4);
      const queued = rt.trySpawn(rootTask(TASKS, square, 3)); // no worker has room
      assert.equal(queued.status, "queued");
      // Observe the outcomes now: they reject while shutdown is awaited.
      const outcomes = [...running, queued.status === "queued" ? queued.result : null].map((p) =>
        p?.then(() => null, (e: unknown) => e)
      );
      await rt.shutdown({ graceMs: 0 });
      const errors = await Promise.all(outcomes);
      for (const e of errors.slice(0, 4)) assert.ok(e instanceof TaskCancelledError, String(e));
      assert.ok(errors[4] instanceof RuntimeShutdownError, String(errors[4]));
      assert.equal(Atomics.load(board, Board.FINALLY), 4, "every finally block ran");
      assert.equal(Atomics.load(board, Board.RETURNED), 0);
      const stats = rt.stats();
      assert.equal(stats.failed, 5);
      assert.deepEqual(stats.running, [0, 0]);
    });
  } finally {
    gates.close();
  }
});

test("shutdown closes the sockets a task left open", async () => {
  await withRuntime({ workers: 1 }, async (rt) => {
    const port = await rt.spawn(rootTask(TASKS, leakListener));
    assert.ok(port > 0);
    // The listener outlives its task: still accepting until the runtime ends.
    assert.equal(await echoOnceRefused(port), false, "the leaked listener is still open");
  });
  // withRuntime asserted the fd count is back: the worker closed the listener.
});

test("a crashed worker is reported, its tasks fail, and the runtime runs on the others", async () => {
  const gates = new Gates(2);
  const board = newBoard();
  const crashes: [number, string][] = [];
  try {
    await withRuntime({
      workers: 2,
      maxTasksPerWorker: 1,
      onWorkerCrash: (e, i) => crashes.push([i, e.message]),
    }, async (rt) => {
      const survivor = rt.spawn(rootTask(TASKS, gated, board, 0, gates.fds[0]));
      await until(board, Board.STARTED, 1);
      const doomed = rt.spawn(rootTask(TASKS, crashOnGate, board, 1, gates.fds[1]));
      await until(board, Board.STARTED, 2); // on the other worker (the first is at its limit)
      gates.open(1);
      const error = await doomed.then(() => assert.fail("should reject"), (e: unknown) => e);
      assert.ok(error instanceof WorkerCrashedError);
      assert.equal(error.cause.message, "injected worker loop fault");
      assert.equal(crashes.length, 1);
      assert.equal(crashes[0][1], "injected worker loop fault");
      const dead = crashes[0][0];
      assert.equal(rt.stats().liveWorkers, 1);
      await until(board, Board.FINALLY, 1); // the dead worker cancelled its task on the way out
      gates.open(0);
      const survived = await survivor;
      assert.notEqual(survived.index, dead);
      assert.equal(await rt.spawn(rootTask(TASKS, square, 9)), 81);
    });
  } finally {
    gates.close();
  }
});

test("one acceptor hands accepted fds to other workers as root tasks", async () => {
  const board = newBoard();
  const N = 8;
  await withRuntime({ workers: 2, maxTasksPerWorker: 1 }, async (rt) => {
    // The acceptor fills its worker's only slot: every connection it accepts
    // must be served on the other worker, through its fd number.
    const server = outcome(rt.spawn(rootTask(SERVERS, acceptor, "127.0.0.1", 0, board)));
    await until(board, ServerBoard.BOUND, 1);
    const port = Atomics.load(board, ServerBoard.PORT);
    const texts = Array.from({ length: N }, (_, i) => `hello ${i} `.repeat(100 * (i + 1)));
    const echoed = await Promise.all(texts.map((t) => echoOnce(port, t)));
    assert.deepEqual(echoed, texts);
    await until(board, ServerBoard.SERVED, N);
    const mine = Atomics.load(board, ServerBoard.ACCEPTOR);
    const other = 1 - mine;
    assert.equal(Atomics.load(board, ServerBoard.PER_WORKER + other), N);
    assert.equal(Atomics.load(board, ServerBoard.PER_WORKER + mine), 0);
    await rt.close();
    assert.ok(await server instanceof TaskCancelledError);
    assert.equal(Atomics.load(board, ServerBoard.FINALLY), 1, "the acceptor closed its listener");
  });
});

test("one listener per worker with SO_REUSEPORT: the kernel spreads connections over both", async () => {
  const board = newBoard();
  const M = 64;
  await withRuntime({ workers: 2, maxTasksPerWorker: 1 }, async (rt) => {
    const first = outcome(rt.spawn(rootTask(SERVERS, reusePortServer, "127.0.0.1", 0, board)));
    await until(board, ServerBoard.BOUND, 1);
    const port = Atomics.load(board, ServerBoard.PORT);
    // The first worker is at its limit: the second listener runs on the other.
    const second = outcome(rt.spawn(rootTask(SERVERS, reusePortServer, "127.0.0.1", port, board)));
    await until(board, ServerBoard.BOUND, 2);
    const texts = Array.from({ length: M }, (_, i) => `conn ${i}`);
    assert.deepEqual(await Promise.all(texts.map((t) => echoOnce(port, t))), texts);
    await until(board, ServerBoard.SERVED, M);
    const a = Atomics.load(board, ServerBoard.PER_WORKER);
    const b = Atomics.load(board, ServerBoard.PER_WORKER + 1);
    assert.equal(a + b, M);
    // The kernel picks a listener by a hash of the 4-tuple (the client port
    // varies): both served some; all M on one would have probability 2^-63.
    assert.ok(a > 0 && b > 0, `worker 0 served ${a}, worker 1 served ${b}`);
    await rt.close();
    assert.ok(await first instanceof TaskCancelledError);
    assert.ok(await second instanceof TaskCancelledError);
    assert.equal(Atomics.load(board, ServerBoard.FINALLY), 2, "both listeners closed");
  });
});

test("a root task that is not a named export halts the submitter", () => {
  assertHalts("runtime_unnamed_task", "root-task-not-named-export");
});

test("a root task whose export only the worker can check halts the whole process", () => {
  assertHalts("runtime_unnamed_task_worker", "root-task-not-named-export");
});

test("shutting the runtime down from one of its own workers halts", () => {
  assertHalts("runtime_shutdown_from_worker", "shutdown-from-own-worker");
});

test("run() on a worker (a task module's top level) halts instead of cancelling the worker's tasks", () => {
  assertHalts("runtime_run_on_worker", "run-inside-task");
});

test("a thrown value whose inspection throws settles its promise with a clear error; the worker lives", async () => {
  await withRuntime({ workers: 1 }, async (rt) => {
    const error = await outcome(rt.spawn(rootTask(TASKS, throwProxy)));
    assert.ok(error instanceof Error, "an Error comes back");
    assert.match(error.message, /a value was thrown that cannot be inspected/);
    assert.equal(await rt.spawn(rootTask(TASKS, square, 7)), 49, "the worker still runs");
    assert.equal(rt.stats().liveWorkers, 1);
    assert.equal(rt.stats().failed, 1);
  });
});

class Point {
  #x = 1;
  get x(): number {
    return this.#x;
  }
}

test("bad options and things that are not root tasks are TypeErrors naming what was expected", async () => {
  const bad: [unknown, RegExp][] = [
    [null, /Runtime\.create takes an options object \(or nothing\), got null/],
    [42, /Runtime\.create takes an options object \(or nothing\), got the number 42/],
    [{ onTaskError: 5 }, /option onTaskError must be a function, got the number 5/],
    [{ onWorkerCrash: "log" }, /option onWorkerCrash must be a function, got the string "log"/],
    [{ worker: 2 }, /unknown Runtime option worker/],
    [{ workers: "2" }, /option workers must be an integer in \[1, 256\], got the string "2"/],
  ];
  for (const [options, message] of bad) {
    await assert.rejects(Runtime.create(options as RuntimeOptions), (e: Error) => {
      assert.equal(e.name, "TypeError", e.message);
      assert.match(e.message, message);
      return true;
    });
  }
  await withRuntime({ workers: 1 }, async (rt) => {
    const notATask = 42 as unknown as ReturnType<typeof rootTask>;
    const what =
      /expected a root task \(rootTask\(moduleUrl, fn, \.\.\.args\)\), got the number 42/;
    await assert.rejects(
      rt.spawn(notATask),
      (e: Error) => e.name === "TypeError" && what.test(e.message),
    );
    assert.throws(
      () => rt.trySpawn(notATask),
      (e: Error) => e.name === "TypeError" && what.test(e.message),
    );
    assert.throws(
      () =>
        rt.trySpawn({ module: TASKS.href, name: "square", args: 3 } as unknown as typeof notATask),
      /expected a root task .*got an object whose args is not an array/,
    );
  });
});

test("root-task arguments that cannot cross faithfully are refused, naming the argument and why", async () => {
  await withRuntime({ workers: 1 }, async (rt) => {
    const refused: [unknown, RegExp][] = [
      [new Point(), /argument 0 of root task identity: an instance of the class Point/],
      [{ a: [1, { f: () => 1 }] }, /argument 0 of root task identity: \.a\[1\]\.f is a function/],
      [Symbol("s"), /argument 0 of root task identity: a symbol/],
      [{ [Symbol("k")]: 1 }, /argument 0 of root task identity: an object with a symbol key/],
      [new WeakMap(), /argument 0 of root task identity: an instance of the class WeakMap/],
      [
        { board: new Int32Array(new SharedArrayBuffer(8)) },
        /\.board is a view on a SharedArrayBuffer/,
      ],
    ];
    for (const [arg, message] of refused) {
      assert.throws(() => rt.trySpawn(rootTask(TASKS, identity, arg)), (e: Error) => {
        assert.equal(e.name, "TypeError", e.message);
        assert.match(e.message, message);
        return true;
      });
    }
    assert.equal(rt.stats().accepted, 0, "nothing was queued");
    // What crosses faithfully still does.
    const date = new Date(5);
    const value = {
      d: date,
      m: new Map([[1, { s: new Set(["x"]) }]]),
      r: /a+/g,
      n: null,
      u: undefined,
      b: 2n,
    };
    const back = await rt.spawn(rootTask(TASKS, identity, value)) as typeof value;
    assert.deepEqual(back, value);
    assert.ok(back.d instanceof Date && back.m instanceof Map);
  });
});

/** Blocks the host thread (no event loop) until `board[word]` >= n, at most `ms`; true if it got there. */
function blockUntil(board: Int32Array, word: number, n: number, ms: number): boolean {
  const deadline = performance.now() + ms;
  for (let v = Atomics.load(board, word); v < n; v = Atomics.load(board, word)) {
    const left = deadline - performance.now();
    if (left <= 0) return false;
    Atomics.wait(board, word, v, left);
  }
  return true;
}

test("a worker keeps turning while a task's shared buffer is on its way (the host is busy)", async () => {
  const gates = new Gates(2);
  const board = newBoard();
  try {
    await withRuntime({ workers: 2, maxTasksPerWorker: 1 }, async (rt) => {
      // A ticker (a local task, outside the runtime's limit) on each worker.
      for (let i = 0; i < 1000 && placedTickers(board) < 2; i++) {
        await rt.spawn(rootTask(TASKS, startTicker, board));
      }
      assert.equal(placedTickers(board), 2, "a ticker on each worker");
      // The submitter fills its worker; once told to go, it submits a task
      // with a fresh buffer, which only it has, and the other worker takes
      // that task. The host is blocked meanwhile: whatever relays the buffer
      // through it waits, and must not stop that worker's scheduler.
      const submitter = rt.spawn(rootTask(TASKS, submitShared, board, gates.fds[0], gates.fds[1]));
      submitter.catch(() => {}); // (awaited below; not unhandled if an assertion fails first)
      await until(board, Board.STARTED, 1);
      gates.open(0);
      assert.ok(blockUntil(board, TickBoard.SUBMITTED, 1, 20_000), "the task was submitted");
      const t0 = Atomics.load(board, TickBoard.TICKS);
      const t1 = Atomics.load(board, TickBoard.TICKS + 1);
      const advanced = blockUntil(board, TickBoard.TICKS, t0 + 20, 20_000)
        && blockUntil(board, TickBoard.TICKS + 1, t1 + 20, 20_000);
      const now = [Atomics.load(board, TickBoard.TICKS), Atomics.load(board, TickBoard.TICKS + 1)];
      assert.ok(advanced, `both workers kept ticking (${t0}, ${t1} -> ${now})`);
      await until(board, TickBoard.USED, 1); // the host is free: the buffer arrives
      gates.open(1);
      const shared = await submitter;
      assert.equal(Atomics.load(shared, 0), 42, "the task wrote into the submitter's very buffer");
    });
  } finally {
    gates.close();
  }
});

function placedTickers(board: Int32Array): number {
  let n = 0;
  for (let i = 0; i < 8; i++) if (Atomics.load(board, TickBoard.WHERE + i) !== 0) n++;
  return n;
}

test("a task whose shared buffer a task of its worker already uses starts without the host", async () => {
  const gates = new Gates(1);
  const board = newBoard();
  try {
    await withRuntime({ workers: 1, maxTasksPerWorker: 2 }, async (rt) => {
      const running = rt.spawn(rootTask(TASKS, gated, board, 0, gates.fds[0]));
      await until(board, Board.STARTED, 1); // the board is in use on the worker
      const queued = rt.trySpawn(rootTask(TASKS, mark, board, 1));
      assert.equal(queued.status, "queued");
      // The host is blocked: only a start that needs no message through it
      // can happen now.
      assert.ok(blockUntil(board, Board.STARTED, 2, 20_000), "the second task started");
      if (queued.status === "queued") await queued.result;
      gates.open(0);
      await running;
      assert.equal(rt.stats().heldSharedBuffers, 0, "the host dropped its copy");
    });
  } finally {
    gates.close();
  }
});

test("tasks taken together with the same new buffer ask the host for it once and all run", async () => {
  await withRuntime({ workers: 1, maxTasksPerWorker: 16 }, async (rt) => {
    const shared = new Int32Array(new SharedArrayBuffer(8));
    shared[0] = 7;
    const results = [];
    for (let k = 0; k < 10; k++) {
      const r = rt.trySpawn(rootTask(TASKS, readShared, shared));
      assert.equal(r.status, "queued");
      if (r.status === "queued") results.push(r.result);
    }
    assert.equal(rt.stats().heldSharedBuffers, 10, "one copy per queued task");
    assert.deepEqual(await Promise.all(results), Array(10).fill(7));
    // Whether a task asked for its copy or started with its sibling's, the
    // host let go of every copy.
    assert.equal(rt.stats().heldSharedBuffers, 0);
  });
});

test("the host holds a task's shared buffers only while the task is queued", async () => {
  const gates = new Gates(1);
  const board = newBoard();
  try {
    await withRuntime({ workers: 1, maxTasksPerWorker: 1 }, async (rt) => {
      const blocker = rt.spawn(rootTask(TASKS, gated, board, 0, gates.fds[0]));
      await until(board, Board.STARTED, 1);
      const results = [];
      for (let k = 0; k < 20; k++) {
        const shared = new Int32Array(new SharedArrayBuffer(8));
        shared[0] = k;
        const r = rt.trySpawn(rootTask(TASKS, readShared, shared));
        assert.equal(r.status, "queued");
        if (r.status === "queued") results.push(r.result);
      }
      assert.equal(rt.stats().queued, 20);
      assert.equal(rt.stats().heldSharedBuffers, 20, "one buffer per queued task, not per worker");
      gates.open(0);
      await blocker;
      assert.deepEqual(await Promise.all(results), Array.from({ length: 20 }, (_, k) => k));
      assert.equal(rt.stats().heldSharedBuffers, 0, "each went to the worker that ran its task");
    });
  } finally {
    gates.close();
  }
});

test("an owned fd goes to the task that starts, and is closed when its task never starts", async () => {
  const board = newBoard();
  const gates = new Gates(1);
  try {
    await withRuntime({ workers: 1, maxTasksPerWorker: 1, queueCapacity: 1 }, async (rt) => {
      const eventfd = () => libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      assert.equal(
        await rt.spawn(rootTask(TASKS, takeFd, ownedFd(eventfd()))),
        0,
        "the task got it open",
      );
      // A module that fails to load: the task never starts.
      const missing = rootTask(
        new URL("./fixtures/no_such_module.ts", import.meta.url),
        takeFd,
        ownedFd(eventfd()),
      );
      const r = rt.trySpawn(missing);
      assert.equal(r.status, "queued");
      if (r.status === "queued") await assert.rejects(r.result);
      const running = outcome(rt.spawn(rootTask(TASKS, gated, board, 0, gates.fds[0])));
      await until(board, Board.STARTED, 1);
      const queuedFd = eventfd();
      const queued = rt.trySpawn(rootTask(TASKS, takeFd, ownedFd(queuedFd)));
      assert.equal(queued.status, "queued");
      const queuedOutcome = queued.status === "queued" ? outcome(queued.result) : null;
      const refusedFd = eventfd();
      assert.equal(rt.trySpawn(rootTask(TASKS, takeFd, ownedFd(refusedFd))).status, "full");
      // By fd, not by count: the hosts open and close fds of their own meanwhile.
      const open = fdTable();
      assert.notEqual(
        open.get(String(refusedFd)),
        "anon_inode:[eventfd]",
        "the refused task's fd was closed at once",
      );
      assert.equal(open.get(String(queuedFd)), "anon_inode:[eventfd]", "the queued one waits");
      await rt.close();
      assert.ok(await queuedOutcome instanceof RuntimeShutdownError);
      assert.ok(await running instanceof TaskCancelledError);
      // withRuntime checks the queued task's fd was closed with the rest.
    });
  } finally {
    gates.close();
  }
  // More owned fds than a worker records per task: a RangeError, all closed.
  await withRuntime({ workers: 1 }, (rt) => {
    const fds = [0, 1, 2, 3, 4].map(() => libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    const five = (fd: number[]) =>
      rootTask(
        TASKS,
        takeFive,
        ...fd.map((n) => ownedFd(n)) as [OwnedFd, OwnedFd, OwnedFd, OwnedFd, OwnedFd],
      );
    assert.throws(() => rt.trySpawn(five(fds)), /at most 4 ownedFd arguments, got 5/);
    const open = fdTable();
    assert.deepEqual(fds.filter((fd) => open.get(String(fd)) === "anon_inode:[eventfd]"), []);
    return Promise.resolve();
  });
  assert.throws(() => ownedFd(-1), RangeError);
  assert.throws(() => ownedFd(1.5 as number), RangeError);
  assert.throws(
    () => ownedFd("3" as unknown as number),
    /ownedFd expects an fd \(an integer >= 0\), got the string "3"/,
  );
});

test("an owned fd submitted from a worker and refused (full) is closed by the runtime", async () => {
  const gates = new Gates(1);
  const board = newBoard();
  try {
    await withRuntime({ workers: 1, maxTasksPerWorker: 2, queueCapacity: 1 }, async (rt) => {
      const blocker = rt.spawn(rootTask(TASKS, gated, board, 0, gates.fds[0]));
      await until(board, Board.STARTED, 1);
      const fd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
      // The worker is full while this task runs: the mark it queues stays queued.
      const statuses = await rt.spawn(rootTask(TASKS, submitOwnedWhenFull, board, 1, fd));
      assert.deepEqual(statuses, ["queued", "full"]);
      gates.open(0);
      await blocker;
      await until(board, Board.ENDED, 2); // the mark ran
      // withRuntime checks the fd count: the refused task's fd was closed.
    });
  } finally {
    gates.close();
  }
});

test("a worker whose thread exits (process.exit in a task) is noticed: reported, its task rejected, the rest go on", async () => {
  const gates = new Gates(1);
  const board = newBoard();
  const crashes: [number, string][] = [];
  try {
    await withRuntime({
      workers: 2,
      maxTasksPerWorker: 1,
      onWorkerCrash: (e, i) => crashes.push([i, e.message]),
    }, async (rt) => {
      const survivor = rt.spawn(rootTask(TASKS, gated, board, 0, gates.fds[0]));
      await until(board, Board.STARTED, 1);
      const doomed = outcome(rt.spawn(rootTask(TASKS, exitWorker, board)));
      const error = await doomed;
      assert.ok(error instanceof WorkerCrashedError, String(error));
      assert.match(error.cause.message, /ended without stopping/);
      assert.equal(crashes.length, 1);
      assert.equal(rt.stats().liveWorkers, 1);
      // The survivor serves what comes next, and its own task.
      const next = rt.spawn(rootTask(TASKS, square, 9));
      gates.open(0);
      assert.equal((await survivor).k, 0);
      assert.equal(await next, 81);
    });
    // withRuntime: shutdown resolved and the dead worker's reactor fds were closed.
  } finally {
    gates.close();
  }
});

test("a worker whose thread exits while it holds taken, unstarted tasks: the host closes their fds and rejects them", async () => {
  const board = newBoard();
  const crashes: number[] = [];
  await withRuntime(
    { workers: 1, maxTasksPerWorker: 4, onWorkerCrash: (_, i) => crashes.push(i) },
    async (rt) => {
      const doomed = outcome(rt.spawn(rootTask(TASKS, exitHolding, board, 3)));
      await until(board, Board.STARTED, 1);
      // Two tasks that own an fd each and take a fresh shared buffer: the
      // worker takes them and parks them until the host posts the buffer,
      // which it cannot while it is blocked below. Then the worker exits.
      const shared = new Int32Array(new SharedArrayBuffer(8));
      const held = [0, 1].map(() => {
        const fd = libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        const r = rt.trySpawn(rootTask(TASKS, takeFdWith, ownedFd(fd), shared));
        assert.equal(r.status, "queued");
        return r.status === "queued" ? outcome(r.result) : null;
      });
      assert.ok(blockUntil(board, EXITING, 1, 20_000), "the worker took both, then exited");
      for (const error of [await doomed, ...(await Promise.all(held))]) {
        assert.ok(error instanceof WorkerCrashedError, String(error));
      }
      assert.deepEqual(crashes, [0]);
    },
  );
  // withRuntime: no eventfd more than before (the two owned ones were closed).
});

test("a worker whose thread exits while its tasks hold sockets: the host closes them", async () => {
  const board = newBoard();
  const crashes: number[] = [];
  await withRuntime(
    { workers: 1, onWorkerCrash: (_, i) => crashes.push(i) },
    async (rt) => {
      const error = await outcome(rt.spawn(rootTask(TASKS, exitWithSockets, board)));
      assert.ok(error instanceof WorkerCrashedError, String(error));
      assert.equal(Atomics.load(board, Board.STARTED), 1);
      assert.deepEqual(crashes, [0]);
    },
  );
  // withRuntime: no socket more than before (the listener and the UDP
  // socket the dead worker left open were closed by the host).
});

test("shutdown resolves when a task never yields: its worker is terminated, its task rejected, its fds closed", async () => {
  const board = newBoard();
  const crashes: number[] = [];
  await withRuntime(
    { workers: 1, stopTimeoutMs: 200, onWorkerCrash: (_, i) => crashes.push(i) },
    async (rt) => {
      const stuck = outcome(rt.spawn(rootTask(TASKS, spinForever, board)));
      await until(board, Board.STARTED, 1);
      await rt.shutdown({ graceMs: 0 });
      const error = await stuck;
      assert.ok(error instanceof WorkerCrashedError, String(error));
      assert.match(error.cause.message, /did not stop within 200 ms/);
      assert.deepEqual(crashes, [0]);
      assert.equal(rt.stats().liveWorkers, 0);
      // Bun's terminate() stopped the thread; Deno's does not stop a thread
      // that runs JavaScript without returning (docs/findings.md): let it
      // end, so that its fds close and the process can exit.
      Atomics.store(board, Board.STOP, 1);
    },
  );
});
