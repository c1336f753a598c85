/**
 * `Runtime`: strom on several threads. The host thread creates it; N Web
 * Workers each run their own scheduler and reactor; root tasks (named
 * exports of modules, see `rootTask`) are shared out among them through a
 * bounded queue in shared memory.
 *
 * The shape, and why:
 * - **One queue, any worker.** Root tasks wait in one bounded FIFO
 *   (`SharedQueue`) that every worker pops, so a busy worker never holds
 *   work another could run. A worker runs at most `maxTasksPerWorker` root
 *   tasks at once and takes nothing while at that limit.
 * - **Shared memory and eventfds, not messages, towards workers.** A worker
 *   asleep in epoll_wait does not see messages, and the loop of a worker
 *   never returns to its event loop, so a queued task, the phase of the
 *   runtime and the counters all live in SharedArrayBuffers, and a push
 *   wakes ONE idle worker by writing its eventfd (see `runtime_shared.ts`).
 *   Results travel back to the host by postMessage, which is delivered at
 *   once whatever the worker is doing; the host is never blocked.
 * - **Limits are results.** `trySpawn` says `queued`, `full` or
 *   `shutting-down` without waiting; `spawn` waits for room (in FIFO order)
 *   and never drops a task; a task on a worker uses `submit` (waits) or
 *   `trySubmit` (does not).
 * - **Workers are not restarted.** A worker whose loop fails is reported
 *   (`onWorkerCrash`, by default a line on stderr) with its cause; the
 *   promises of the tasks it ran reject with a {@linkcode WorkerCrashedError};
 *   the runtime keeps running on the remaining workers, and fails what is
 *   queued once none remains. A halt (a usage-model violation) on a worker
 *   ends the whole process, as it does on any thread.
 *
 * @module
 */

import { hardwareConcurrency } from "../ffi/mod.ts";
import type { ReactorKind } from "../io/reactor.ts";
import { defaultReactorKind } from "../io/reactors.ts";
import { TaskCancelledError } from "../sched/scheduler.ts";
import { encodePayload, type ErrorShape, extractShared, reviveError } from "./codec.ts";
import { cachedModule, checkExport, importModule, type RootTask } from "./root_task.ts";
import { Phase, RuntimeControl } from "./shared.ts";
import { SharedQueue } from "./shared_queue.ts";
import { enqueue, RuntimeShutdownError, type SubmitStatus } from "./worker_context.ts";
import type { DoneItem, ShareMessage, WorkerInit } from "./worker_main.ts";

/** Options of {@linkcode Runtime.create}; every one is checked (a `RangeError`/`TypeError` names the bad one). */
export interface RuntimeOptions {
  /** Worker threads, 1..256 (default: the number of CPUs). */
  workers?: number;
  /** Root tasks that may wait for a worker, 1..2^20 (default 1024). */
  queueCapacity?: number;
  /** Bytes of the queue's ring for the waiting tasks' encoded arguments (default 4 MiB, at least 1 KiB). */
  queueBytes?: number;
  /** Root tasks one worker runs at once, 1..65536 (default 256). */
  maxTasksPerWorker?: number;
  /** How long `shutdown()` lets running tasks finish before cancelling them, ms (default 5000). */
  shutdownGraceMs?: number;
  /** The workers' reactor backend (default: `STROM_REACTOR`, else epoll). */
  reactor?: ReactorKind;
  /** Told of each failed task that no host promise receives (tasks submitted from workers). Default: a stderr line. */
  onTaskError?: (error: Error, taskId: number) => void;
  /** Told when a worker's loop failed (the worker is gone). Default: a stderr line. */
  onWorkerCrash?: (error: Error, worker: number) => void;
}

/** What {@linkcode Runtime.trySpawn} did: queued with the result's promise, or refused (and why). */
export type SpawnResult<T> =
  | { status: "queued"; result: Promise<T> }
  | { status: "full" }
  | { status: "shutting-down" };

/** A snapshot of a runtime for an operator. */
export interface RuntimeStats {
  /** Workers created. */
  workers: number;
  /** Workers still alive (not crashed, not ended). */
  liveWorkers: number;
  /** Root tasks waiting for a worker in the queue. */
  queued: number;
  /** The queue's capacity. */
  queueCapacity: number;
  /** `spawn` calls on the host waiting for room (not yet in the queue). */
  waitingForRoom: number;
  /** Root tasks each worker runs now. */
  running: number[];
  /** Root tasks put in the queue (from the host and from workers). */
  accepted: number;
  /** `trySpawn`/`trySubmit` calls refused because the queue was full. */
  rejected: number;
  /** Root tasks that returned. */
  completed: number;
  /** Root tasks that threw, were cancelled, died with their worker or never ran (shutdown). */
  failed: number;
}

/** The promise of a task whose worker's loop failed rejects with this. */
export class WorkerCrashedError extends Error {
  /** Always `"WorkerCrashedError"`. */
  override readonly name = "WorkerCrashedError";
  /** The error for worker number `worker` (0-based) failing with `cause`. */
  constructor(readonly worker: number, override readonly cause: Error) {
    super(`runtime worker ${worker} crashed: ${cause.message}`);
  }
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: unknown): void;
  name: string;
}

interface Waiting extends Pending {
  id: number;
  bytes: Uint8Array;
}

interface WorkerSlot {
  worker: Worker;
  tid: number;
  alive: boolean;
  exited: Promise<void>;
  markExited(): void;
}

type WorkerMessage =
  | { t: "ready"; tid: number }
  | { t: "done"; items: DoneItem[] }
  | { t: "crashed"; error: ErrorShape; ids: number[] }
  | ShareMessage
  | { t: "exited" };

function intOption(
  name: string,
  value: number | undefined,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    throw new RangeError(
      `Runtime option ${name} must be an integer in [${min}, ${max}], got ${String(value)}`,
    );
  }
  return v;
}

function defaultTaskError(error: Error, taskId: number): void {
  console.error(
    `strom: root task ${taskId} (submitted from a worker) failed: ${error.stack ?? error.message}`,
  );
}

function defaultWorkerCrash(error: Error, worker: number): void {
  console.error(
    `strom: runtime worker ${worker} crashed (not restarted): ${error.stack ?? error.message}`,
  );
}

/**
 * A multi-worker runtime. Create it with {@linkcode Runtime.create} on the
 * host thread; submit root tasks with {@linkcode spawn} / {@linkcode trySpawn};
 * end it with {@linkcode shutdown} (or `close()`, or `await using`).
 *
 * @example
 * ```ts
 * // tasks.ts
 * export function* square(n: number): Task<number> {
 *   return n * n;
 * }
 * // main.ts
 * import { square } from "./tasks.ts";
 * await using runtime = await Runtime.create({ workers: 2 });
 * const nine = await runtime.spawn(rootTask(new URL("./tasks.ts", import.meta.url), square, 3));
 * ```
 */
export class Runtime {
  readonly #control: RuntimeControl;
  readonly #queue: SharedQueue;
  readonly #slots: WorkerSlot[] = [];
  readonly #pending = new Map<number, Pending>();
  readonly #waiting: Waiting[] = [];
  readonly #sharedIds = new WeakMap<SharedArrayBuffer, number>();
  readonly #graceMs: number;
  readonly #onTaskError: (error: Error, taskId: number) => void;
  readonly #onWorkerCrash: (error: Error, worker: number) => void;
  #pumping = false;
  #shutdown: Promise<void> | null = null;

  private constructor(
    control: RuntimeControl,
    queue: SharedQueue,
    options: RuntimeOptions,
    graceMs: number,
  ) {
    this.#control = control;
    this.#queue = queue;
    this.#graceMs = graceMs;
    this.#onTaskError = options.onTaskError ?? defaultTaskError;
    this.#onWorkerCrash = options.onWorkerCrash ?? defaultWorkerCrash;
  }

  /**
   * Creates a runtime and starts its workers, one after another (each is
   * ready, with its reactor, before the next starts: concurrent FFI loading
   * in fresh Bun workers can crash, oven-sh/bun#40972). Resolves once every
   * worker is ready.
   *
   * Throws a `RangeError`/`TypeError` naming the option for a bad option,
   * and an `Error` if a worker fails to start (the others are ended first).
   */
  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    const workers = intOption("workers", options.workers, hardwareConcurrency(), 1, 256);
    const queueCapacity = intOption("queueCapacity", options.queueCapacity, 1024, 1, 1 << 20);
    const queueBytes = intOption("queueBytes", options.queueBytes, 4 << 20, 1024, 1 << 30);
    const maxTasksPerWorker = intOption(
      "maxTasksPerWorker",
      options.maxTasksPerWorker,
      256,
      1,
      65536,
    );
    const graceMs = intOption("shutdownGraceMs", options.shutdownGraceMs, 5000, 0, 2 ** 31 - 1);
    const reactor = options.reactor ?? defaultReactorKind();
    if (reactor !== "epoll" && reactor !== "poll") {
      throw new TypeError(
        `Runtime option reactor must be "epoll" or "poll", got ${String(reactor)}`,
      );
    }
    const control = RuntimeControl.create(workers, maxTasksPerWorker);
    const queue = SharedQueue.create(queueCapacity, queueBytes - (queueBytes % 4));
    const runtime = new Runtime(control, queue, options, graceMs);
    try {
      for (let i = 0; i < workers; i++) await runtime.#startWorker(i, reactor);
    } catch (error) {
      await runtime.close();
      throw error;
    }
    return runtime;
  }

  async #startWorker(index: number, reactor: ReactorKind): Promise<void> {
    const worker = new Worker(new URL("./worker_main.ts", import.meta.url), { type: "module" });
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => markExited = resolve);
    const slot: WorkerSlot = { worker, tid: 0, alive: true, exited, markExited };
    this.#slots.push(slot);
    const ready = new Promise<void>((resolve, reject) => {
      worker.onmessage = (e: MessageEvent<WorkerMessage>) => {
        if (e.data.t === "ready") {
          slot.tid = e.data.tid;
          worker.onmessage = (m: MessageEvent<WorkerMessage>) => this.#onMessage(index, m.data);
          resolve();
        } else {
          this.#onMessage(index, e.data);
          reject(new Error(`runtime worker ${index} failed to start`));
        }
      };
      worker.onerror = (e: ErrorEvent) => {
        e.preventDefault();
        const error = new Error(`runtime worker ${index} failed: ${e.message}`);
        reject(error);
        this.#workerLost(index, error);
      };
    });
    const init: WorkerInit = {
      t: "init",
      index,
      control: this.#control.buffer,
      queue: this.#queue.buffer,
      reactor,
    };
    worker.postMessage(init);
    await ready;
  }

  /** The kernel thread ids of the workers (by index), e.g. to check where tasks ran. */
  get workerThreadIds(): number[] {
    return this.#slots.map((s) => s.tid);
  }

  #ended(item: DoneItem): void {
    const pending = this.#pending.get(item.id);
    if (pending !== undefined) this.#pending.delete(item.id);
    if (item.ok) {
      pending?.resolve(item.value);
      return;
    }
    const error = item.cancelled ? new TaskCancelledError(item.id) : reviveError(item.error);
    if (pending !== undefined) pending.reject(error);
    else if (!item.cancelled) this.#onTaskError(error, item.id);
  }

  #onMessage(index: number, msg: WorkerMessage): void {
    switch (msg.t) {
      case "share":
        this.#relay(msg);
        return;
      case "done": {
        // Every ending is delivered even if a user callback (onTaskError)
        // throws for one; the first such error is rethrown afterwards.
        let failure: { error: unknown } | null = null;
        for (const item of msg.items) {
          try {
            this.#ended(item);
          } catch (error) {
            failure ??= { error };
          }
        }
        if (failure !== null) throw failure.error;
        return;
      }
      case "crashed": {
        const cause = reviveError(msg.error);
        this.#fail(index, cause, msg.ids);
        return;
      }
      case "exited": {
        const slot = this.#slots[index];
        slot.alive = false;
        slot.worker.terminate();
        slot.markExited();
        this.#afterWorkerGone();
        return;
      }
    }
  }

  // The worker's loop failed; it still ends itself (cancels, closes its fds).
  #fail(index: number, cause: Error, ids: number[]): void {
    this.#slots[index].alive = false;
    const error = new WorkerCrashedError(index, cause);
    this.#control.count("failed", ids.length);
    for (const id of ids) {
      const pending = this.#pending.get(id);
      if (pending === undefined) continue;
      this.#pending.delete(id);
      pending.reject(error);
    }
    this.#onWorkerCrash(cause, index);
  }

  // The worker died without ending itself (an error escaped its loop).
  #workerLost(index: number, cause: Error): void {
    const slot = this.#slots[index];
    if (!slot.alive) return;
    this.#fail(index, cause, this.#control.runningIds(index));
    this.#control.clearWorker(index);
    this.#control.detach(index);
    slot.worker.terminate();
    slot.markExited();
    this.#afterWorkerGone();
  }

  #afterWorkerGone(): void {
    if (this.#slots.some((s) => s.alive) || this.#shutdown !== null) return;
    // No worker left: nothing queued can ever run.
    this.#control.phase = Phase.Draining;
    this.#failQueued(new Error("strom: every runtime worker has crashed"));
  }

  #failQueued(error: Error): void {
    for (let r = this.#queue.tryPop(); r !== null; r = this.#queue.tryPop()) {
      this.#control.count("failed");
      const pending = this.#pending.get(r.id);
      this.#pending.delete(r.id);
      if (pending !== undefined) pending.reject(error);
      else this.#onTaskError(error, r.id);
    }
    for (const w of this.#waiting.splice(0)) {
      this.#control.count("rejected"); // never queued, so never accepted
      w.reject(error);
    }
    this.#control.roomOpened(); // release a pump waiting for room
  }

  #encode(task: RootTask<unknown>): Uint8Array {
    const args = [...task.args];
    const shares = extractShared(args, (buffer) => this.#share(buffer));
    const bytes = encodePayload({
      module: task.module,
      name: task.name,
      args,
      reply: true,
      shares,
    });
    // Checked here, before any bookkeeping: such a task could never be queued
    // (bad input, nothing queued), not even after waiting for room.
    if (bytes.length > this.#queue.maxPayload) {
      throw new RangeError(
        `root task ${task.name}: its encoded arguments take ${bytes.length} bytes; this runtime's queue carries at most ${this.#queue.maxPayload} (the queueBytes option)`,
      );
    }
    return bytes;
  }

  // Gives `buffer` an id and posts it to every worker, once per buffer.
  #share(buffer: SharedArrayBuffer): number {
    let id = this.#sharedIds.get(buffer);
    if (id === undefined) {
      id = this.#control.nextId();
      this.#sharedIds.set(buffer, id);
      this.#relay({ t: "share", id, buffer });
    }
    return id;
  }

  #relay(msg: ShareMessage): void {
    for (const slot of this.#slots) if (slot.alive) slot.worker.postMessage(msg);
  }

  /**
   * Submits `task` without waiting for room: `{ status: "queued", result }`
   * with the promise of its result, or `{ status: "full" }` (the queue holds
   * `queueCapacity` tasks, or host `spawn` calls already wait for room:
   * counted as rejected), or `{ status: "shutting-down" }`. Nothing is
   * queued unless the status is `"queued"`.
   *
   * `result` resolves with the task's return value, or rejects with its
   * error re-created on this thread (same name, message and stack), a
   * `TaskCancelledError` if shutdown cancelled it, a `WorkerCrashedError`,
   * or a `RuntimeShutdownError` if it never ran.
   *
   * Throws a `TypeError` (nothing queued) for arguments that cannot be
   * structured-cloned. Halts (`root-task-not-named-export`) if the task's
   * module, when already imported here (e.g. by an earlier `spawn`), does not
   * export the function; otherwise the worker that imports it checks.
   */
  trySpawn<T>(task: RootTask<T>): SpawnResult<T> {
    const ns = cachedModule(task.module);
    if (ns !== undefined) checkExport(task, ns);
    const bytes = this.#encode(task);
    if (this.#control.phase !== Phase.Open) return { status: "shutting-down" };
    if (this.#waiting.length > 0) {
      this.#control.count("rejected");
      return { status: "full" };
    }
    const id = this.#control.nextId();
    let pending!: Pending;
    const result = new Promise<T>((resolve, reject) => {
      pending = { resolve: resolve as (v: unknown) => void, reject, name: task.name };
    });
    this.#pending.set(id, pending); // before the push: the result may come back at once
    const status: SubmitStatus = enqueue(this.#control, this.#queue, id, bytes);
    if (status === "queued") return { status, result };
    this.#pending.delete(id);
    if (status === "full") this.#control.count("rejected");
    return { status };
  }

  /**
   * Submits `task`, waiting (without blocking the thread) while the queue is
   * full; waiting spawns enter the queue in call order. Resolves with the
   * task's result; rejects as {@linkcode trySpawn}'s `result` does, and with
   * a `RuntimeShutdownError` if shutdown began before it was queued.
   *
   * Imports the task's module on this thread (once) to check that it exports
   * the function: halts (`root-task-not-named-export`) if not. Throws (as a
   * rejection) a `TypeError` for arguments that cannot be cloned.
   */
  async spawn<T>(task: RootTask<T>): Promise<T> {
    checkExport(task, await importModule(task.module));
    const bytes = this.#encode(task);
    if (this.#control.phase !== Phase.Open) {
      throw new RuntimeShutdownError(`root task ${task.name} was not queued`);
    }
    const id = this.#control.nextId();
    return await new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        resolve: resolve as (v: unknown) => void,
        reject,
        name: task.name,
      };
      this.#pending.set(id, pending);
      if (this.#waiting.length === 0) {
        const status = enqueue(this.#control, this.#queue, id, bytes);
        if (status === "queued") return;
        if (status === "shutting-down") {
          this.#pending.delete(id);
          reject(new RuntimeShutdownError(`root task ${task.name} was not queued`));
          return;
        }
      }
      this.#pending.delete(id);
      this.#waiting.push({ ...pending, id, bytes });
      void this.#pumpRoom();
    });
  }

  // Moves waiting spawns into the queue as room opens (a pop bumps ROOM_SEQ).
  async #pumpRoom(): Promise<void> {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#waiting.length > 0) {
        this.#control.setHostRoomWaiter(true);
        const seq = this.#control.roomSeq;
        while (this.#waiting.length > 0) {
          const w = this.#waiting[0];
          this.#pending.set(w.id, w);
          const status = enqueue(this.#control, this.#queue, w.id, w.bytes);
          if (status === "full") {
            this.#pending.delete(w.id);
            break;
          }
          this.#waiting.shift();
          if (status === "shutting-down") {
            this.#pending.delete(w.id);
            w.reject(new RuntimeShutdownError(`root task ${w.name} was not queued`));
          }
        }
        if (this.#waiting.length === 0) break;
        await this.#control.waitRoom(seq);
      }
    } finally {
      this.#control.setHostRoomWaiter(false);
      this.#pumping = false;
    }
  }

  /** A snapshot of the queue, the workers and the counters. */
  stats(): RuntimeStats {
    const c = this.#control;
    const running: number[] = [];
    for (let i = 0; i < c.workers; i++) running.push(c.running(i));
    return {
      workers: c.workers,
      liveWorkers: this.#slots.filter((s) => s.alive).length,
      queued: this.#queue.length,
      queueCapacity: this.#queue.capacity,
      waitingForRoom: this.#waiting.length,
      running,
      accepted: c.read("accepted"),
      rejected: c.read("rejected"),
      completed: c.read("completed"),
      failed: c.read("failed"),
    };
  }

  /**
   * Shuts the runtime down: from now on `trySpawn` says `shutting-down` and
   * `spawn` rejects; spawns waiting for room and tasks still queued are
   * failed with a `RuntimeShutdownError` (counted as failed); running tasks
   * may finish for up to `graceMs` (default: the `shutdownGraceMs` option);
   * then the rest are cancelled at their suspension points (their `finally`
   * blocks run; their promises reject with `TaskCancelledError`), each worker
   * closes its reactor's fds and ends. Resolves when every worker has ended.
   * Calling it again returns the same promise.
   *
   * Only the host thread can shut a runtime down; a task on one of its
   * workers that tries (`shutdownRuntime()`) halts.
   */
  shutdown(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#shutdown === null) {
      const grace = intOption("graceMs", options.graceMs, this.#graceMs, 0, 2 ** 31 - 1);
      this.#shutdown = this.#stop(grace);
    }
    return this.#shutdown;
  }

  async #stop(graceMs: number): Promise<void> {
    const c = this.#control;
    if (c.phase === Phase.Open) c.phase = Phase.Draining;
    c.ringAll(); // tasks waiting in submit() learn of it
    this.#failQueued(new RuntimeShutdownError("the task was queued but no worker took it"));
    const deadline = performance.now() + graceMs;
    for (;;) {
      const running = c.runningTotal;
      const left = deadline - performance.now();
      if (running === 0 || left <= 0) break;
      await c.waitRunning(running, left);
    }
    c.phase = Phase.Stopping;
    c.ringAll();
    await Promise.all(this.#slots.map((s) => s.exited));
    // A worker-submitted task may have slipped in before the phase changed.
    this.#failQueued(new RuntimeShutdownError("the task was queued but no worker took it"));
  }

  /** Shuts down at once: {@linkcode shutdown} with no grace (running tasks are cancelled). */
  close(): Promise<void> {
    return this.shutdown({ graceMs: 0 });
  }

  /** `await using runtime = await Runtime.create()` closes it at the end of the scope. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
