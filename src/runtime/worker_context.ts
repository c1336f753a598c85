/**
 * What a task running on a runtime worker can do with its runtime: submit
 * more root tasks (waiting for room, or not), and know which worker it is on.
 *
 * @module
 */

import { libc } from "../ffi/mod.ts";
import { beginWait, currentTask } from "../sched/current.ts";
import type { TaskRecord } from "../sched/scheduler.ts";
import { type Operation, SUSPEND } from "../sched/types.ts";
import { halt, Rule } from "../sched/usage.ts";
import { encodePayload, prepareArgs } from "./codec.ts";
import { cachedModule, checkExport, checkRootTask, OwnedFd, type RootTask } from "./root_task.ts";
import { Phase, type RuntimeControl } from "./shared.ts";
import type { SharedQueue } from "./shared_queue.ts";

/** What a try-submit did: queued, refused because the queue is full, or refused because the runtime shuts down. */
export type SubmitStatus = "queued" | "full" | "shutting-down";

/**
 * Thrown by {@linkcode submit} (and delivered to host promises) when the
 * runtime shuts down before the task could be queued or run.
 */
export class RuntimeShutdownError extends Error {
  /** Always `"RuntimeShutdownError"`. */
  override readonly name = "RuntimeShutdownError";
  /** `detail` says which task and what became of it. */
  constructor(detail: string) {
    super(`the runtime is shutting down: ${detail}`);
  }
}

/**
 * Pushes an encoded task unless the runtime shuts down; on success counts it
 * and wakes one idle worker.
 */
export function enqueue(
  control: RuntimeControl,
  queue: SharedQueue,
  id: number,
  bytes: Uint8Array,
): SubmitStatus {
  if (control.phase !== Phase.Open) return "shutting-down";
  const r = queue.tryPush(id, bytes);
  if (r === "queued") {
    control.count("accepted");
    control.wakeOneIdle();
  }
  return r;
}

/** Closes the fds of the `OwnedFd` arguments of a task that will not start (never twice: each call site owns its task). */
export function closeOwnedArgs(args: readonly unknown[]): void {
  for (const a of args) if (a instanceof OwnedFd) libc.close(a.fd);
}

/**
 * How a worker hands the shared buffers of a task it submits to the host,
 * which gives them to whichever worker takes the task (see `runtime.ts`).
 */
export interface ShareSender {
  /** The host holds `buffers` for task `id` (posted before the task is pushed). */
  hold(id: number, buffers: SharedArrayBuffer[]): void;
  /** Task `id` was not queued after all: the host forgets its buffers. */
  drop(id: number): void;
}

interface Encoded {
  id: number;
  bytes: Uint8Array;
  /** Whether the host was given shared buffers for it. */
  held: boolean;
}

/** The runtime seen from one of its workers (set up by `worker_main.ts`). */
export class WorkerContext {
  readonly #roomWaiters = new Set<TaskRecord>();
  // Ids of the shared buffers this worker submits (one per buffer).
  readonly #bufferIds = new WeakMap<SharedArrayBuffer, number>();

  constructor(
    /** This worker's index in the runtime. */
    readonly index: number,
    readonly control: RuntimeControl,
    readonly queue: SharedQueue,
    readonly shares: ShareSender,
  ) {}

  /** Told when another thread rang this worker (cross-worker channels: `shared_channel.ts`). */
  readonly wakeListeners: Set<() => void> = new Set<() => void>();

  /** Called when another thread rang this worker: room may have opened, or the phase changed. */
  onWake(): void {
    for (const task of this.#roomWaiters) task.wake();
    for (const listener of this.wakeListeners) listener();
  }

  /**
   * Checks and encodes `task` for the queue with a fresh id; hands its
   * shared buffers to the host. Closes its owned fds if it throws.
   */
  #encode(task: RootTask<unknown>, where: string): Encoded {
    checkRootTask(task, where);
    try {
      const ns = cachedModule(task.module);
      if (ns !== undefined) checkExport(task, ns);
      const p = prepareArgs(task.args, (buffer) => this.#bufferId(buffer));
      const bytes = encodePayload({
        module: task.module,
        name: task.name,
        args: p.args,
        reply: false,
        shares: p.shares,
        fds: p.fds,
        bufferIds: p.bufferIds,
      });
      const id = this.control.nextId();
      const held = p.buffers.length > 0;
      if (held) this.shares.hold(id, p.buffers);
      return { id, bytes, held };
    } catch (error) {
      closeOwnedArgs(task.args);
      throw error;
    }
  }

  #bufferId(buffer: SharedArrayBuffer): number {
    let id = this.#bufferIds.get(buffer);
    if (id === undefined) this.#bufferIds.set(buffer, id = this.control.nextId());
    return id;
  }

  // The task was not queued: nothing will start it, so its fds and buffers go.
  #notQueued(task: RootTask<unknown>, encoded: Encoded): void {
    closeOwnedArgs(task.args);
    if (encoded.held) this.shares.drop(encoded.id);
  }

  trySubmit(task: RootTask<unknown>): SubmitStatus {
    const encoded = this.#encode(task, "trySubmit");
    const r = enqueue(this.control, this.queue, encoded.id, encoded.bytes);
    if (r === "full") this.control.count("rejected");
    if (r !== "queued") this.#notQueued(task, encoded);
    return r;
  }

  *submit(task: RootTask<unknown>): Operation<void> {
    const me = currentTask("submit");
    const encoded = this.#encode(task, "submit");
    const { id, bytes } = encoded;
    let queued = false;
    try {
      for (;;) {
        let r = enqueue(this.control, this.queue, id, bytes);
        if (r === "full") {
          // Publish that we wait, then try once more: a pop after the flag rings us.
          this.control.setRoomWait(this.index, true);
          r = enqueue(this.control, this.queue, id, bytes);
        }
        if (r === "queued") {
          queued = true;
          return;
        }
        if (r === "shutting-down") {
          throw new RuntimeShutdownError(`root task ${task.name} was not queued`);
        }
        beginWait("submit");
        this.#roomWaiters.add(me);
        try {
          yield SUSPEND;
        } finally {
          this.#roomWaiters.delete(me);
        }
      }
    } finally {
      // Shut down, or cancelled while waiting for room.
      if (!queued) this.#notQueued(task, encoded);
    }
  }
}

let context: WorkerContext | null = null;

/** Installs this worker's context (`worker_main.ts` only). */
export function setWorkerContext(ctx: WorkerContext): void {
  context = ctx;
}

function need(op: string): WorkerContext {
  if (context === null) {
    throw new Error(
      `${op}: this thread is not a worker of a strom Runtime (use runtime.spawn on the host)`,
    );
  }
  return context;
}

/**
 * Submits a root task to the runtime this worker belongs to, waiting while
 * the runtime's queue is full; returns once the task is queued (some worker,
 * maybe this one, will run it). The result is not returned to the
 * submitter: a failure is reported on the host (`onTaskError`) and counted.
 *
 * Cancel-safe: cancelled while waiting for room, nothing was queued (and
 * the task's `ownedFd` arguments were closed: they were given up at the call).
 * Throws `RuntimeShutdownError` when the runtime shuts down, a `TypeError`
 * for something that is not a root task or arguments that cannot cross
 * faithfully (see `rootTask`), and an `Error` on a thread that is not
 * a runtime worker. Halts outside a task, and (`root-task-not-named-export`)
 * when the module, already loaded here, does not export the function.
 *
 * @example
 * ```ts
 * export function* acceptor(listenerFd: number): Task<void> {
 *   for (;;) {
 *     const fd = yield* acceptFd(listenerFd);
 *     yield* submit(rootTask(import.meta.url, serve, ownedFd(fd))); // closed if it never starts
 *   }
 * }
 * ```
 */
export function* submit(task: RootTask<unknown>): Operation<void> {
  currentTask("submit");
  yield* need("submit").submit(task);
}

/**
 * Submits a root task without waiting: `"queued"`, `"full"` (counted as
 * rejected: the caller decides what to do; an `ownedFd` argument was
 * closed, as it is whenever the task does not start) or
 * `"shutting-down"`. Throws and halts like {@linkcode submit}; may be called
 * from any code on a worker thread, in a task or not.
 */
export function trySubmit(task: RootTask<unknown>): SubmitStatus {
  return need("trySubmit").trySubmit(task);
}

/** This thread's worker context, or null off a runtime worker. */
export function workerContext(): WorkerContext | null {
  return context;
}

/** The index (0..workers-1) of the runtime worker running the caller, or -1 off a worker. */
export function workerIndex(): number {
  return context?.index ?? -1;
}

/**
 * Halts (`shutdown-from-own-worker`): a worker cannot shut down the runtime
 * it belongs to, because shutting down waits for that worker's own tasks to
 * end and then ends the worker under the caller. Return a result (or
 * submit a task) that tells the host to call `runtime.shutdown()`.
 *
 * It exists so that the mistake is caught where it is made, with a message
 * that says what to do instead; on a thread that is not a runtime worker it
 * throws an `Error` (there is no runtime to shut down).
 */
export function shutdownRuntime(): never {
  const ctx = need("shutdownRuntime");
  halt(
    Rule.ShutdownFromWorker,
    `worker ${ctx.index} tried to shut down its own runtime (only the host thread can; return a result that asks it to)`,
  );
}
