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
 * - **Workers are not restarted.** A worker whose loop fails, or whose
 *   thread ends without stopping (`process.exit()` in a task: the host
 *   checks each worker's thread every {@linkcode LIVENESS_MS} ms), or that
 *   does not stop when shut down, is reported (`onWorkerCrash`, by default
 *   a line on stderr) with its cause; the promises of the tasks it ran
 *   reject with a {@linkcode WorkerCrashedError}; the host closes its
 *   reactor's fds if the worker could not; the runtime keeps running on the
 *   remaining workers, and fails what is queued once none remains. A halt
 *   (a usage-model violation) on a worker ends the whole process, as it
 *   does on any thread.
 * - **Shared buffers go to the worker that takes the task**, through the
 *   host, and nowhere else (see `worker_main.ts`): the host holds them while
 *   the task is queued, so a buffer lives as long as its tasks.
 *
 * @module
 */

import { existsSync } from "node:fs";
import { hardwareConcurrency, libc } from "../ffi/mod.ts";
import type { ReactorKind } from "../io/reactor.ts";
import { defaultReactorKind } from "../io/reactors.ts";
import { TaskCancelledError } from "../sched/scheduler.ts";
import {
  decodePayload,
  encodePayload,
  type ErrorShape,
  ownedFdsOf,
  prepareArgs,
  reviveError,
} from "./codec.ts";
import { describeValue } from "./describe.ts";
import {
  cachedModule,
  checkExport,
  checkRootTask,
  importModule,
  type RootTask,
} from "./root_task.ts";
import { Phase, recordableFds, registerControl, RuntimeControl } from "./shared.ts";
import { SharedQueue } from "./shared_queue.ts";
import {
  closeOwnedArgs,
  enqueue,
  RuntimeShutdownError,
  type SubmitStatus,
} from "./worker_context.ts";
import type { DoneItem, ShareMessage, SharesDelivery, WorkerInit } from "./worker_main.ts";

/** How often (ms) the host checks that each worker's thread still exists. */
export const LIVENESS_MS = 100;

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
  /**
   * How long a worker may take to end once `shutdown()` cancelled its tasks
   * before it is terminated, ms (default 2000): a task that never yields
   * cannot be cancelled. Its tasks then reject with `WorkerCrashedError`.
   */
  stopTimeoutMs?: number;
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
  /** Shared buffers the host holds for queued tasks (each goes to the worker that takes its task). */
  heldSharedBuffers: number;
}

/**
 * The promise of a task whose worker was lost rejects with this: its loop
 * failed, its thread ended (`process.exit()` in a task), or shutdown had to
 * terminate it.
 */
export class WorkerCrashedError extends Error {
  /** Always `"WorkerCrashedError"`. */
  override readonly name = "WorkerCrashedError";
  /** `worker`: the index of the lost worker; `cause`: why it was lost. */
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
  task: RootTask<unknown>;
  buffers: SharedArrayBuffer[];
}

interface WorkerSlot {
  worker: Worker;
  /** The host's end of the worker's port for shared buffers. */
  port: MessagePort;
  tid: number;
  alive: boolean;
  /** Set once its ending was handled ("exited", or lost and reaped). */
  gone: boolean;
  exited: Promise<void>;
  markExited(): void;
}

type WorkerMessage =
  | { t: "ready"; tid: number }
  | { t: "done"; items: DoneItem[]; taken: number[] }
  | { t: "crashed"; error: ErrorShape; ids: number[] }
  | ShareMessage
  | { t: "exited" };

const OPTION_NAMES = new Set<string>([
  "workers",
  "queueCapacity",
  "queueBytes",
  "maxTasksPerWorker",
  "shutdownGraceMs",
  "stopTimeoutMs",
  "reactor",
  "onTaskError",
  "onWorkerCrash",
]);

function intOption(
  name: string,
  value: unknown,
  fallback: number,
  min: number,
  max: number,
): number {
  const v = value ?? fallback;
  if (typeof v !== "number" || !Number.isInteger(v) || v < min || v > max) {
    const Err = typeof v === "number" ? RangeError : TypeError;
    throw new Err(
      `Runtime option ${name} must be an integer in [${min}, ${max}], got ${describeValue(value)}`,
    );
  }
  return v;
}

function callbackOption<F>(name: string, value: unknown, fallback: F): F {
  if (value === undefined) return fallback;
  if (typeof value !== "function") {
    throw new TypeError(`Runtime option ${name} must be a function, got ${describeValue(value)}`);
  }
  return value as F;
}

/** Whether the kernel thread `tid` of this process still exists. */
function threadExists(tid: number): boolean {
  return existsSync(`/proc/self/task/${tid}`);
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
  // Shared buffers of queued tasks, by task id, until a worker takes the
  // task and asks for them (or says it started it with buffers it had); and takers that asked before a submitting
  // worker's buffers reached the host (messages of two threads race).
  readonly #held = new Map<number, SharedArrayBuffer[]>();
  readonly #wanted = new Map<number, number>();
  // Tasks a worker started with buffers it already had (it did not ask for
  // them) before their submitting worker's buffers reached the host.
  readonly #takenEarly = new Set<number>();
  // Ids of the shared buffers submitted from this thread (one per buffer).
  readonly #bufferIds = new WeakMap<SharedArrayBuffer, number>();
  readonly #graceMs: number;
  readonly #stopTimeoutMs: number;
  readonly #onTaskError: (error: Error, taskId: number) => void;
  readonly #onWorkerCrash: (error: Error, worker: number) => void;
  #pumping = false;
  #shutdown: Promise<void> | null = null;
  #watch: ReturnType<typeof setInterval> | null = null;

  private constructor(
    control: RuntimeControl,
    queue: SharedQueue,
    options: RuntimeOptions,
    graceMs: number,
    stopTimeoutMs: number,
  ) {
    this.#control = control;
    this.#queue = queue;
    this.#graceMs = graceMs;
    this.#stopTimeoutMs = stopTimeoutMs;
    this.#onTaskError = callbackOption("onTaskError", options.onTaskError, defaultTaskError);
    this.#onWorkerCrash = callbackOption(
      "onWorkerCrash",
      options.onWorkerCrash,
      defaultWorkerCrash,
    );
  }

  /**
   * Creates a runtime and starts its workers, one after another (each is
   * ready, with its reactor, before the next starts: concurrent FFI loading
   * in fresh Bun workers can crash, oven-sh/bun#40972). Resolves once every
   * worker is ready.
   *
   * Throws (as a rejection) a `TypeError` when `options` is not an object
   * (or undefined), for an unknown option or an option of the wrong type,
   * a `RangeError` for a number out of range (each names the option, what
   * it expects and what it got), and an `Error` if a worker fails to start
   * (the others are ended first).
   */
  static async create(options: RuntimeOptions = {}): Promise<Runtime> {
    if (options === null || typeof options !== "object" || Array.isArray(options)) {
      throw new TypeError(
        `Runtime.create takes an options object (or nothing), got ${describeValue(options)}`,
      );
    }
    for (const key of Object.keys(options)) {
      if (!OPTION_NAMES.has(key)) {
        throw new TypeError(
          `unknown Runtime option ${key} (the options are ${[...OPTION_NAMES].join(", ")})`,
        );
      }
    }
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
    const stopMs = intOption("stopTimeoutMs", options.stopTimeoutMs, 2000, 0, 2 ** 31 - 1);
    const reactor = options.reactor ?? defaultReactorKind();
    if (reactor !== "epoll" && reactor !== "poll") {
      throw new TypeError(
        `Runtime option reactor must be "epoll" or "poll", got ${describeValue(reactor)}`,
      );
    }
    const control = RuntimeControl.create(workers, maxTasksPerWorker, recordableFds());
    const queue = SharedQueue.create(queueCapacity, queueBytes - (queueBytes % 4));
    const runtime = new Runtime(control, queue, options, graceMs, stopMs);
    registerControl(control, true); // SharedChannels used here ring its workers
    try {
      for (let i = 0; i < workers; i++) await runtime.#startWorker(i, reactor);
    } catch (error) {
      await runtime.close();
      throw error;
    }
    // A worker's thread may end without a word (process.exit() in a task):
    // Bun fires a "close" event then, Deno nothing (docs/findings.md), so the
    // host looks for each worker's thread itself. (The interval keeps the
    // event loop alive, as the workers do anyway, until the runtime ends.)
    runtime.#watch = setInterval(() => runtime.#checkLiveness(), LIVENESS_MS);
    return runtime;
  }

  async #startWorker(index: number, reactor: ReactorKind): Promise<void> {
    const worker = new Worker(new URL("./worker_main.ts", import.meta.url), { type: "module" });
    const channel = new MessageChannel();
    let markExited!: () => void;
    const exited = new Promise<void>((resolve) => markExited = resolve);
    const slot: WorkerSlot = {
      worker,
      port: channel.port1,
      tid: 0,
      alive: true,
      gone: false,
      exited,
      markExited,
    };
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
      port: channel.port2,
    };
    worker.postMessage(init, [channel.port2]);
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
      case "hold": {
        if (this.#takenEarly.delete(msg.id)) return; // started without them
        const taker = this.#wanted.get(msg.id);
        if (taker === undefined) this.#held.set(msg.id, msg.buffers);
        else {
          this.#wanted.delete(msg.id);
          this.#deliver(taker, msg.id, msg.buffers);
        }
        return;
      }
      case "drop":
        this.#held.delete(msg.id);
        return;
      case "want": {
        const buffers = this.#held.get(msg.id);
        if (buffers === undefined) this.#wanted.set(msg.id, index);
        else {
          this.#held.delete(msg.id);
          this.#deliver(index, msg.id, buffers);
        }
        return;
      }
      case "done": {
        if (!this.#slots[index]!.alive) return; // written off: its tasks already failed
        // Tasks started with buffers the worker had (in use by its other
        // tasks): the host's copies are not needed.
        for (const id of msg.taken) if (!this.#held.delete(id)) this.#takenEarly.add(id);
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
        if (!this.#slots[index]!.alive) return; // written off already
        const cause = reviveError(msg.error);
        this.#fail(index, cause, msg.ids);
        return;
      }
      case "exited": {
        const slot = this.#slots[index]!;
        if (slot.gone) return;
        slot.alive = false;
        this.#gone(slot);
        this.#afterWorkerGone();
        return;
      }
    }
  }

  // Posts task `id`'s buffers on worker `index`'s port, then rings it: its
  // loop reads the port when it wakes (see worker_main.ts).
  #deliver(index: number, id: number, buffers: SharedArrayBuffer[]): void {
    const slot = this.#slots[index]!;
    if (!slot.alive) return; // its tasks failed with it
    slot.port.postMessage({ id, buffers } satisfies SharesDelivery);
    this.#control.ring(index);
  }

  // The worker's ending is handled: release what the host keeps for it.
  #gone(slot: WorkerSlot): void {
    slot.gone = true;
    slot.worker.terminate();
    slot.port.close();
    for (const [id, taker] of this.#wanted) {
      if (this.#slots[taker] === slot) this.#wanted.delete(id);
    }
    slot.markExited();
    if (this.#slots.every((s) => s.gone) && this.#watch !== null) {
      clearInterval(this.#watch);
      this.#watch = null;
    }
  }

  // A worker whose thread is gone although it never detached (its ALIVE
  // word is still set) died without ending itself.
  #checkLiveness(): void {
    this.#slots.forEach((slot, i) => {
      if (slot.alive && slot.tid !== 0 && this.#control.alive(i) && !threadExists(slot.tid)) {
        void this.#workerLost(
          i,
          new Error(
            `worker ${i} ended without stopping (its thread exited: process.exit() in a task?)`,
          ),
        );
      }
    });
  }

  // The worker's loop failed; it still ends itself (cancels, closes its fds).
  #fail(index: number, cause: Error, ids: number[]): void {
    this.#slots[index]!.alive = false;
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

  // The worker died without ending itself (an error escaped its loop, its
  // thread exited, or it did not stop and is terminated): fail its tasks at
  // once, and once its thread is gone, close the reactor fds it left open.
  #workerLost(index: number, cause: Error): void {
    const slot = this.#slots[index]!;
    if (!slot.alive) return;
    this.#control.disown(index);
    this.#fail(index, cause, this.#control.runningIds(index));
    this.#control.clearWorker(index);
    this.#gone(slot); // terminates it
    this.#afterWorkerGone();
    void this.#reclaimFds(index, slot.tid);
  }

  // terminate() stops a thread asynchronously (and Deno's not at all while
  // it runs JavaScript that never returns, docs/findings.md): its fds may be
  // closed only once the thread is gone, since a live one may still use
  // them. A thread still there after 10 s keeps them (never a risk of
  // closing a reused fd number); if it ends itself later, it closes them.
  async #reclaimFds(index: number, tid: number): Promise<void> {
    for (let t = 0; tid !== 0 && threadExists(tid) && t < 1000; t++) await delay(10);
    if (tid === 0 || !threadExists(tid)) {
      for (const fd of this.#control.reclaimFds(index)) libc.close(fd);
    }
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
      this.#held.delete(r.id);
      this.#wanted.delete(r.id);
      try {
        for (const fd of ownedFdsOf(decodePayload(r.payload))) libc.close(fd);
      } catch {
        // Undecodable: it carried nothing of ours.
      }
      const pending = this.#pending.get(r.id);
      this.#pending.delete(r.id);
      if (pending !== undefined) pending.reject(error);
      else this.#onTaskError(error, r.id);
    }
    for (const w of this.#waiting.splice(0)) {
      this.#control.count("rejected"); // never queued, so never accepted
      closeOwnedArgs(w.task.args);
      w.reject(error);
    }
    this.#control.roomOpened(); // release a pump waiting for room
  }

  /**
   * Encodes `task` for the queue. Throws (closing its owned fds: they were
   * given up at the call) for arguments that cannot cross or do not fit.
   */
  #encode(task: RootTask<unknown>): { bytes: Uint8Array; buffers: SharedArrayBuffer[] } {
    try {
      const p = prepareArgs(task.args, (buffer) => {
        let id = this.#bufferIds.get(buffer);
        if (id === undefined) this.#bufferIds.set(buffer, id = this.#control.nextId());
        return id;
      });
      const bytes = encodePayload({
        module: task.module,
        name: task.name,
        args: p.args,
        reply: true,
        shares: p.shares,
        fds: p.fds,
        bufferIds: p.bufferIds,
      });
      // Checked here, before any bookkeeping: such a task could never be queued
      // (bad input, nothing queued), not even after waiting for room.
      if (bytes.length > this.#queue.maxPayload) {
        throw new RangeError(
          `root task ${task.name}: its encoded arguments take ${bytes.length} bytes; this runtime's queue carries at most ${this.#queue.maxPayload} (the queueBytes option)`,
        );
      }
      return { bytes, buffers: p.buffers };
    } catch (error) {
      closeOwnedArgs(task.args);
      throw error;
    }
  }

  // Pushes task `id`, holding its buffers for the worker that will take it.
  #enqueue(id: number, bytes: Uint8Array, buffers: SharedArrayBuffer[]): SubmitStatus {
    if (buffers.length > 0) this.#held.set(id, buffers); // before the push: a taker may ask at once
    const status = enqueue(this.#control, this.#queue, id, bytes);
    if (status !== "queued") this.#held.delete(id);
    return status;
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
   * Throws a `TypeError` (nothing queued) for something that is not a root
   * task, or arguments that cannot cross faithfully (see `rootTask`), and a
   * `RangeError` for arguments too large for the queue. An `ownedFd`
   * argument is closed whenever the task does not start, `"full"` and
   * `"shutting-down"` included. Halts (`root-task-not-named-export`) if the
   * task's module, when already imported here (e.g. by an earlier `spawn`),
   * does not export the function; otherwise the worker that imports it checks.
   */
  trySpawn<T>(task: RootTask<T>): SpawnResult<T> {
    checkRootTask(task, "runtime.trySpawn");
    const ns = cachedModule(task.module);
    if (ns !== undefined) checkExport(task, ns);
    const { bytes, buffers } = this.#encode(task);
    if (this.#control.phase !== Phase.Open) {
      closeOwnedArgs(task.args);
      return { status: "shutting-down" };
    }
    if (this.#waiting.length > 0) {
      this.#control.count("rejected");
      closeOwnedArgs(task.args);
      return { status: "full" };
    }
    const id = this.#control.nextId();
    let pending!: Pending;
    const result = new Promise<T>((resolve, reject) => {
      pending = { resolve: resolve as (v: unknown) => void, reject, name: task.name };
    });
    this.#pending.set(id, pending); // before the push: the result may come back at once
    const status: SubmitStatus = this.#enqueue(id, bytes, buffers);
    if (status === "queued") return { status, result };
    this.#pending.delete(id);
    closeOwnedArgs(task.args);
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
   * rejection) a `TypeError` for something that is not a root task or for
   * arguments that cannot cross faithfully (see `rootTask`). An `ownedFd`
   * argument belongs to the runtime from the call on: it is closed on every
   * path where the task does not start, rejections included.
   */
  async spawn<T>(task: RootTask<T>): Promise<T> {
    checkRootTask(task, "runtime.spawn");
    try {
      checkExport(task, await importModule(task.module));
    } catch (error) {
      closeOwnedArgs(task.args);
      throw error;
    }
    const { bytes, buffers } = this.#encode(task);
    if (this.#control.phase !== Phase.Open) {
      closeOwnedArgs(task.args);
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
        const status = this.#enqueue(id, bytes, buffers);
        if (status === "queued") return;
        if (status === "shutting-down") {
          this.#pending.delete(id);
          closeOwnedArgs(task.args);
          reject(new RuntimeShutdownError(`root task ${task.name} was not queued`));
          return;
        }
      }
      this.#pending.delete(id);
      this.#waiting.push({ ...pending, id, bytes, task, buffers });
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
          const w = this.#waiting[0]!;
          this.#pending.set(w.id, w);
          const status = this.#enqueue(w.id, w.bytes, w.buffers);
          if (status === "full") {
            this.#pending.delete(w.id);
            break;
          }
          this.#waiting.shift();
          if (status === "shutting-down") {
            this.#pending.delete(w.id);
            closeOwnedArgs(w.task.args);
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
      heldSharedBuffers: [...this.#held.values()].reduce((n, b) => n + b.length, 0),
    };
  }

  /**
   * Shuts the runtime down: from now on `trySpawn` says `shutting-down` and
   * `spawn` rejects; spawns waiting for room and tasks still queued are
   * failed with a `RuntimeShutdownError` (counted as failed); running tasks
   * may finish for up to `graceMs` (default: the `shutdownGraceMs` option);
   * then the rest are cancelled at their suspension points (their `finally`
   * blocks run; their promises reject with `TaskCancelledError`), each worker
   * closes its reactor's fds and ends. A worker still running `stopTimeoutMs`
   * later (a task that never yields cannot be cancelled) is terminated: its
   * tasks reject with a `WorkerCrashedError` and the host closes its
   * reactor's fds (sockets its tasks opened are lost with it). Resolves when
   * every worker has ended. Calling it again returns the same promise.
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
    const allExited = Promise.all(this.#slots.map((s) => s.exited));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = await Promise.race([
      allExited.then(() => false),
      new Promise<boolean>((resolve) =>
        timer = setTimeout(() => resolve(true), this.#stopTimeoutMs)
      ),
    ]);
    clearTimeout(timer);
    if (late) {
      // A worker that did not end: a task that never yields, a finally block
      // that loops. It cannot be cancelled; it is terminated.
      this.#slots.forEach((slot, i) => {
        if (slot.gone) return;
        if (slot.alive) {
          this.#workerLost(
            i,
            new Error(
              `worker ${i} did not stop within ${this.#stopTimeoutMs} ms of the cancellation (a task that never yields?) and was terminated`,
            ),
          );
        } else {
          // It crashed (already reported) and has not finished ending itself.
          this.#control.disown(i);
          this.#gone(slot);
          void this.#reclaimFds(i, slot.tid);
        }
      });
    }
    await allExited;
    // A worker-submitted task may have slipped in before the phase changed.
    this.#failQueued(new RuntimeShutdownError("the task was queued but no worker took it"));
    this.#held.clear(); // buffers of worker-submitted tasks failed before they reached the host
    this.#wanted.clear();
    this.#takenEarly.clear();
    registerControl(c, false);
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
