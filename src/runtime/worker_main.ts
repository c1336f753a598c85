/**
 * The module each runtime Worker runs: its own scheduler and reactor, a loop
 * of `scheduler.turn()`, and the taking of root tasks from the shared queue.
 *
 * Choice of channel (SharedArrayBuffer, not postMessage, towards workers):
 * the loop below never returns to the Worker's event loop except to import a
 * task module, so `onmessage` would never fire; and a worker asleep in
 * epoll_wait would not see a message anyway. So everything that reaches a
 * worker after its start goes through shared memory: queued root tasks (with
 * their encoded arguments) in the `SharedQueue`, the phase and the counters
 * in the `RuntimeControl`, and a write to the worker's eventfd to wake it
 * (one idle worker per new task, coalesced by its idle word). postMessage is
 * used from a worker to the host (results, crash reports), which both
 * hosts deliver at once even while the worker loops in FFI calls; from the
 * host once to start the worker; and to hand over a SharedArrayBuffer that
 * a task argument refers to (only postMessage can share one): a worker that
 * pops such a task and lacks the buffer awaits it on its event loop (the
 * message was posted before the task was pushed, so it is already queued,
 * or arrives as soon as the host relays a worker's buffer).
 *
 * Messages to the host:
 * - `{ t: "ready", tid }` once the scheduler exists and the eventfd is published;
 * - `{ t: "done", items }`: the endings of root tasks, batched per turn of
 *   the loop (one message for all the tasks that ended in it, not one each:
 *   the host's cost per message is what limits a CPU-bound mix), each
 *   `{ id, ok, value | error, cancelled }`, for a host-submitted task and for
 *   a failed worker-submitted one (`reply: false`);
 * - `{ t: "crashed", error, ids }` if the loop itself failed;
 * - `{ t: "exited" }` after the reactor's fds were closed.
 *
 * @module
 */

import { closeOffThreadPoller, libc } from "../ffi/mod.ts";
import { HostTurns } from "../host/host_turns.ts";
import type { ReactorKind } from "../io/reactor.ts";
import { initThreadScheduler } from "../sched/current.ts";
import { Ending, type Scheduler, type TaskRecord } from "../sched/scheduler.ts";
import type { Task } from "../sched/types.ts";
import { decodePayload, type ErrorShape, errorShape, restoreShared } from "./codec.ts";
import { checkExport, importModule, type RootTask } from "./root_task.ts";
import { Phase, RuntimeControl } from "./shared.ts";
import { SharedQueue } from "./shared_queue.ts";
import { setWorkerContext, WorkerContext } from "./worker_context.ts";

/** The ending of one root task, as posted to the host. */
export type DoneItem =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; reply: boolean; cancelled: boolean; error: ErrorShape };

/** The start message from the host. */
export interface WorkerInit {
  t: "init";
  index: number;
  control: SharedArrayBuffer;
  queue: SharedArrayBuffer;
  reactor: ReactorKind;
}

/** A shared buffer given an id by another thread (relayed by the host). */
export interface ShareMessage {
  t: "share";
  id: number;
  buffer: SharedArrayBuffer;
}

interface WorkerScope {
  onmessage: ((e: { data: WorkerInit | ShareMessage }) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;

// Shared buffers passed as task arguments, by id (see runtime_codec.ts), and
// tasks waiting for one still in flight.
const sharedBuffers = new Map<number, SharedArrayBuffer>();
const bufferWaiters = new Map<number, () => void>();
const sharedIds = new WeakMap<SharedArrayBuffer, number>();

scope.onmessage = (e) => {
  const msg = e.data;
  if (msg.t === "init") void main(msg);
  else if (msg.t === "share") {
    sharedBuffers.set(msg.id, msg.buffer);
    bufferWaiters.get(msg.id)?.();
    bufferWaiters.delete(msg.id);
  }
};

/** The buffer `id`, waiting (on the event loop, where messages arrive) if it is still in flight. */
async function sharedBuffer(id: number): Promise<void> {
  if (sharedBuffers.has(id)) return;
  await new Promise<void>((resolve) => bufferWaiters.set(id, resolve));
}

async function main(init: WorkerInit): Promise<void> {
  const control = new RuntimeControl(init.control);
  const queue = new SharedQueue(init.queue);
  const index = init.index;
  let scheduler: Scheduler;
  try {
    scheduler = initThreadScheduler(init.reactor);
  } catch (error) {
    scope.postMessage({ t: "crashed", error: errorShape(error), ids: [] });
    scope.postMessage({ t: "exited" });
    return;
  }
  const ctx = new WorkerContext(index, control, queue, (buffer) => {
    let id = sharedIds.get(buffer);
    if (id === undefined) {
      id = control.nextId();
      sharedIds.set(buffer, id);
      sharedBuffers.set(id, buffer);
      scope.postMessage({ t: "share", id, buffer }); // the host relays it to every worker
    }
    return id;
  });
  setWorkerContext(ctx);
  // Another thread may always wake us: never a deadlock halt for idling.
  scheduler.externalHolds++;
  scheduler.onExternalWake = () => ctx.onWake();
  control.attach(index, scheduler.reactor.wakeFd);
  scope.postMessage({ t: "ready", tid: libc.gettid() });

  const worker = new WorkerLoop(index, control, queue, scheduler);
  try {
    await worker.run();
  } catch (error) {
    worker.crash(error);
  }
  try {
    worker.cancelAll();
    worker.flush(); // the endings of the cancelled tasks
    await worker.endHostTurns();
  } finally {
    // Even if a cancelled task's finally threw: sockets the tasks left open
    // end with the worker, and the host hears that it exited.
    scheduler.closeOwned();
    closeOffThreadPoller();
    control.detach(index);
    scheduler.reactor.close();
    scope.postMessage({ t: "exited" });
  }
}

class WorkerLoop {
  // Free slots of this worker's row in the running-ids table.
  readonly #free: number[] = [];
  #crashing = false;

  // Turns that leave the JS thread free, while tasks wait in `until`.
  #hostTurns: HostTurns | null = null;

  // Endings not yet posted to the host (see flush).
  #outbox: DoneItem[] = [];

  constructor(
    readonly index: number,
    readonly control: RuntimeControl,
    readonly queue: SharedQueue,
    readonly scheduler: Scheduler,
  ) {
    for (let s = control.maxTasksPerWorker - 1; s >= 0; s--) this.#free.push(s);
    scheduler.beforeWait = () => this.flush();
    // The loop awaits host turns while tasks wait in `until`.
    scheduler.hostLoop = true;
  }

  /**
   * Posts the endings collected since the last flush as one message. If one
   * result cannot be cloned, the batch is posted item by item so only that
   * task fails (with a TypeError saying why).
   */
  flush(): void {
    const items = this.#outbox;
    if (items.length === 0) return;
    this.#outbox = [];
    try {
      scope.postMessage({ t: "done", items });
      return;
    } catch {
      // Some result is not cloneable: find it below.
    }
    for (const item of items) {
      try {
        scope.postMessage({ t: "done", items: [item] });
      } catch (error) {
        // (A failure's shape is plain strings: only a result can be uncloneable.)
        if (item.ok) {
          this.control.count("completed", -1);
          this.control.count("failed");
        }
        const failure = new TypeError(
          `the result of root task ${item.id} cannot be cloned to the host: ${
            error instanceof Error ? error.message : String(error)
          }`,
        );
        const errorItem: DoneItem = {
          id: item.id,
          ok: false,
          reply: true,
          cancelled: false,
          error: errorShape(failure),
        };
        scope.postMessage({ t: "done", items: [errorItem] });
      }
    }
  }

  async run(): Promise<void> {
    const { control, queue, scheduler, index } = this;
    for (;;) {
      const phase = control.phase;
      if (phase === Phase.Stopping) return;
      // Take root tasks while this worker has room (its limit) and the runtime is open.
      while (phase === Phase.Open && this.#free.length > 0) {
        const record = queue.tryPop();
        if (record === null) break;
        control.roomOpened();
        const slot = this.#free.pop()!;
        control.started(index, slot, record.id);
        await this.#start(slot, record.id, record.payload);
      }
      // A turn runs the ready tasks first and sleeps after; a task ending in
      // it frees room the idle word would not announce. So only a turn that
      // starts with nothing ready may sleep.
      const maySleep = scheduler.ready.length === 0;
      if (maySleep && phase === Phase.Open && this.#free.length > 0) {
        // About to sleep with room: say so, then look once more (see runtime_shared.ts).
        control.setIdle(index, true);
        if (queue.length > 0) {
          control.setIdle(index, false);
          continue;
        }
      }
      if (scheduler.hostWaits > 0) {
        // Tasks wait for host promises: the event loop must run (see host_turns.ts).
        const pending = (this.#hostTurns ??= new HostTurns(scheduler)).turn(null, maySleep);
        if (pending !== undefined) await pending;
      } else {
        scheduler.turn(maySleep ? Infinity : 0);
      }
      this.flush(); // (also flushed before the turn's kernel wait)
      control.setIdle(index, false);
    }
  }

  async #start(slot: number, id: number, bytes: Uint8Array): Promise<void> {
    let reply = true;
    try {
      const payload = decodePayload(bytes);
      reply = payload.reply;
      if (payload.shares !== undefined) {
        for (const ref of payload.shares) await sharedBuffer(ref[1]);
        restoreShared(payload.args, payload.shares, sharedBuffers);
      }
      const ns = await importModule(payload.module);
      const task: RootTask<unknown> = { ...payload, fn: undefined };
      checkExport(task, ns); // halts: the submitter could not check it
      const fn = ns[payload.name] as (...args: unknown[]) => Task<unknown>;
      const record = this.scheduler.spawn(fn(...payload.args), true);
      // The record's observer: its ending goes to the host (and is "observed":
      // no onUnjoinedError report on this thread).
      record.group = { childDone: (t) => this.#ended(slot, id, reply, t) };
    } catch (error) {
      // The module failed to load, or the thread is at its task limit.
      this.#report(slot, id, reply, Ending.Threw, error);
    }
  }

  #ended(slot: number, id: number, reply: boolean, task: TaskRecord): void {
    this.#report(slot, id, reply, task.ending, task.result);
  }

  #report(slot: number, id: number, reply: boolean, ending: Ending, result: unknown): void {
    this.control.ended(this.index, slot);
    this.#free.push(slot);
    if (this.#crashing) return; // the host already failed these tasks
    const ok = ending === Ending.Returned;
    this.control.count(ok ? "completed" : "failed");
    if (ok && !reply) return;
    if (ok) this.#outbox.push({ id, ok: true, value: result });
    else {
      this.#outbox.push({
        id,
        ok: false,
        reply,
        cancelled: ending === Ending.Cancelled,
        error: errorShape(result),
      });
    }
  }

  /** The loop failed: tell the host which tasks die with it. */
  crash(error: unknown): void {
    this.#crashing = true;
    scope.postMessage({
      t: "crashed",
      error: errorShape(error),
      ids: this.control.runningIds(this.index),
    });
  }

  /** Cancels every task still running (their finally blocks run); they end as cancelled. */
  cancelAll(): void {
    this.scheduler.cancelRoots();
  }

  /** Ends the host turns' kernel wait, if one is in flight, and closes their fd. */
  async endHostTurns(): Promise<void> {
    const turns = this.#hostTurns;
    if (turns === null) return;
    this.#hostTurns = null;
    await turns.settle();
    turns.close();
  }
}
