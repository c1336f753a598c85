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
 * hosts deliver at once even while the worker loops in FFI calls; and from
 * the host once to start the worker.
 *
 * Shared buffers (task arguments that are SharedArrayBuffers) are the one
 * thing only postMessage can hand over. They travel on a MessagePort of the
 * worker's own, which the loop reads synchronously (`receiveMessageOnPort`),
 * so a worker never waits for them on its event loop: a task whose buffers
 * have not arrived is *parked* (it holds its slot but has not started) and
 * the loop keeps turning. The buffers of a task go to the one worker that
 * took it, and to nobody else: the submitter gives them to the host (`hold`,
 * before the push), the worker that pops the task asks for them (`want`),
 * the host posts them on that worker's port and rings its eventfd. A worker
 * keeps the buffers its running tasks use (by buffer id, counted), so a task
 * whose buffers are all in use there (a board shared by many tasks) starts
 * at once, and one whose missing buffers another parked task already asked
 * for waits for that delivery instead of asking again; the host drops the
 * copies of such tasks when told (`taken`, in the next `done` message). A
 * buffer leaves a worker when the last of its tasks there ends.
 *
 * Messages to the host:
 * - `{ t: "ready", tid }` once the scheduler exists and the eventfd is published;
 * - `{ t: "done", items, taken }`: the endings of root tasks, batched per turn of
 *   the loop (one message for all the tasks that ended in it, not one each:
 *   the host's cost per message is what limits a CPU-bound mix), each
 *   `{ id, ok, value | error, cancelled }`, for a host-submitted task and for
 *   a failed worker-submitted one (`reply: false`);
 * - `{ t: "crashed", error, ids }` if the loop itself failed;
 * - `{ t: "exited" }` after the reactor's fds were closed;
 * - `{ t: "hold", id, buffers }` / `{ t: "drop", id }`: the shared buffers of
 *   a task this worker submits (see above);
 * - `{ t: "want", id }`: this worker took task `id` and needs its buffers.
 *
 * @module
 */

import { receiveMessageOnPort } from "node:worker_threads";
import { closeOffThreadPoller, libc } from "../ffi/mod.ts";
import { HostTurns } from "../host/host_turns.ts";
import type { ReactorKind } from "../io/reactor.ts";
import { initThreadScheduler } from "../sched/current.ts";
import { Ending, type Scheduler, TaskCancelledError, type TaskRecord } from "../sched/scheduler.ts";
import type { Task } from "../sched/types.ts";
import {
  decodePayload,
  type ErrorShape,
  errorShape,
  ownedFdsOf,
  restoreShared,
  type TaskPayload,
} from "./codec.ts";
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
  /** This worker's end of its port for shared buffers ({@linkcode SharesDelivery}). */
  port: MessagePort;
}

/** Messages about shared buffers from a worker to the host. */
export type ShareMessage =
  | { t: "hold"; id: number; buffers: SharedArrayBuffer[] }
  | { t: "drop"; id: number }
  | { t: "want"; id: number };

/** What the host posts on a worker's port: the buffers of task `id`, which that worker took. */
export interface SharesDelivery {
  id: number;
  buffers: SharedArrayBuffer[];
}

interface WorkerScope {
  onmessage: ((e: { data: WorkerInit }) => void) | null;
  postMessage(message: unknown): void;
}

const scope = globalThis as unknown as WorkerScope;

scope.onmessage = (e) => {
  if (e.data.t === "init") void main(e.data);
};

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
  const ctx = new WorkerContext(index, control, queue, {
    hold: (id, buffers) => scope.postMessage({ t: "hold", id, buffers } satisfies ShareMessage),
    drop: (id) => scope.postMessage({ t: "drop", id } satisfies ShareMessage),
  });
  setWorkerContext(ctx);
  // Another thread may always wake us: never a deadlock halt for idling.
  scheduler.externalHolds++;
  scheduler.onExternalWake = () => ctx.onWake();
  // Sockets the tasks open are recorded for the host (see RuntimeControl.fdOpened).
  scheduler.fdRecord = {
    opened: (fd) => control.fdOpened(index, fd),
    closing: (fd) => control.fdClosing(index, fd),
  };
  control.attach(index, scheduler.reactor.wakeFd, scheduler.reactor.ownFd);
  scope.postMessage({ t: "ready", tid: libc.gettid() });

  const worker = new WorkerLoop(index, control, queue, scheduler, init.port);
  try {
    await worker.run();
  } catch (error) {
    worker.crash(error);
  }
  try {
    worker.dropParked();
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
    init.port.close();
    scope.postMessage({ t: "exited" });
  }
}

/** A task taken from the queue whose shared buffers have not arrived yet (it holds its slot). */
interface Parked {
  slot: number;
  payload: TaskPayload;
  /**
   * Whether it asked the host for its buffers (`want`). A task whose missing
   * buffers another parked task already asked for does not ask: it starts
   * from #inUse when that one's buffers arrive (and reports itself `taken`).
   */
  asked: boolean;
}

class WorkerLoop {
  // Free slots of this worker's row in the running-ids table.
  readonly #free: number[] = [];
  #crashing = false;

  // Turns that leave the JS thread free, while tasks wait in `until`.
  #hostTurns: HostTurns | null = null;

  // Endings not yet posted to the host (see flush).
  #outbox: DoneItem[] = [];

  // Taken tasks waiting for their shared buffers, by task id.
  readonly #parked = new Map<number, Parked>();

  // The shared buffers this worker's running tasks use, by buffer id, with
  // the count of those tasks: a task taken whose buffers are all here starts
  // at once, with no message through the host. An entry goes when its last
  // task ends, so a worker keeps a buffer only while a task of its uses it.
  readonly #inUse = new Map<number, { buffer: SharedArrayBuffer; uses: number }>();
  // The buffer ids each running task (by slot) holds in #inUse.
  readonly #slotBuffers: (number[] | undefined)[] = [];
  // Tasks started from #inUse since the last flush: the host drops its copies.
  #taken: number[] = [];
  // Buffer ids that parked tasks asked the host for, with the count of those tasks.
  readonly #asked = new Map<number, number>();

  constructor(
    readonly index: number,
    readonly control: RuntimeControl,
    readonly queue: SharedQueue,
    readonly scheduler: Scheduler,
    readonly port: MessagePort,
  ) {
    for (let s = control.maxTasksPerWorker - 1; s >= 0; s--) this.#free.push(s);
    scheduler.beforeWait = () => this.flush();
    // The loop awaits host turns while tasks wait in `until`.
    scheduler.hostLoop = true;
    // This loop drives the scheduler (as `run` would): a `run` on this thread,
    // e.g. in a task module's top level, halts (run-inside-task) instead of
    // driving it too and cancelling this worker's root tasks when it returns.
    scheduler.driving = true;
  }

  /**
   * Posts the endings collected since the last flush as one message. If one
   * result cannot be cloned, the batch is posted item by item so only that
   * task fails (with a TypeError saying why).
   */
  flush(): void {
    const items = this.#outbox;
    const taken = this.#taken;
    if (items.length === 0 && taken.length === 0) return;
    this.#outbox = [];
    this.#taken = [];
    try {
      scope.postMessage({ t: "done", items, taken });
      return;
    } catch {
      // Some result is not cloneable: find it below.
    }
    scope.postMessage({ t: "done", items: [], taken });
    for (const item of items) {
      try {
        scope.postMessage({ t: "done", items: [item], taken: [] });
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
        scope.postMessage({ t: "done", items: [errorItem], taken: [] });
      }
    }
  }

  async run(): Promise<void> {
    const { control, queue, scheduler, index } = this;
    for (;;) {
      const phase = control.phase;
      if (phase === Phase.Stopping) return;
      if (this.#parked.size > 0) await this.#receiveShares();
      // Take root tasks while this worker has room (its limit) and the runtime is open.
      while (phase === Phase.Open && this.#free.length > 0) {
        const record = queue.tryPop();
        if (record === null) break;
        control.roomOpened();
        const slot = this.#free.pop()!;
        control.started(index, slot, record.id);
        await this.#take(slot, record.id, record.payload);
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
        this.#hostTurns?.preciseTimers(); // its turns may have left the slack coarse
        scheduler.turn(maySleep ? Infinity : 0);
      }
      this.flush(); // (also flushed before the turn's kernel wait)
      control.setIdle(index, false);
    }
  }

  // A task just taken from the queue: started, or parked until its buffers arrive.
  async #take(slot: number, id: number, bytes: Uint8Array): Promise<void> {
    let payload: TaskPayload;
    try {
      payload = decodePayload(bytes);
    } catch (error) {
      this.#report(slot, id, true, Ending.Threw, error);
      return;
    }
    // Until it starts, the task's fds are recorded where the host finds them
    // should this thread die (process.exit() in another task).
    const fds = ownedFdsOf(payload);
    if (fds.length > 0) this.control.holdFds(this.index, slot, fds);
    if (payload.shares === undefined) return await this.#start(slot, id, payload);
    const buffers = this.#buffersInUse(payload);
    if (buffers !== null) {
      this.#taken.push(id);
      return await this.#startShared(slot, id, payload, buffers);
    }
    const parked: Parked = { slot, payload, asked: false };
    this.#parked.set(id, parked);
    if (this.#mustAsk(parked)) this.#ask(id, parked);
  }

  // Whether a parked task that has not asked must: one of its buffers is
  // neither in use here nor asked for by another parked task.
  #mustAsk(parked: Parked): boolean {
    return !parked.asked
      && parked.payload.bufferIds!.some((b) => !this.#inUse.has(b) && !this.#asked.has(b));
  }

  #ask(id: number, parked: Parked): void {
    parked.asked = true;
    for (const b of parked.payload.bufferIds!) this.#asked.set(b, (this.#asked.get(b) ?? 0) + 1);
    scope.postMessage({ t: "want", id } satisfies ShareMessage);
  }

  // Takes a parked task out of #parked (and its request out of #asked).
  #unpark(id: number, parked: Parked): void {
    this.#parked.delete(id);
    if (!parked.asked) return;
    for (const b of parked.payload.bufferIds!) {
      const n = this.#asked.get(b)! - 1;
      if (n === 0) this.#asked.delete(b);
      else this.#asked.set(b, n);
    }
  }

  // The task's buffers if this worker's running tasks already use them all.
  #buffersInUse(payload: TaskPayload): SharedArrayBuffer[] | null {
    const buffers: SharedArrayBuffer[] = [];
    for (const bufferId of payload.bufferIds!) {
      const entry = this.#inUse.get(bufferId);
      if (entry === undefined) return null;
      buffers.push(entry.buffer);
    }
    return buffers;
  }

  async #startShared(
    slot: number,
    id: number,
    payload: TaskPayload,
    buffers: SharedArrayBuffer[],
  ): Promise<void> {
    const ids = payload.bufferIds!;
    ids.forEach((bufferId, k) => {
      const entry = this.#inUse.get(bufferId);
      if (entry === undefined) this.#inUse.set(bufferId, { buffer: buffers[k]!, uses: 1 });
      else entry.uses++;
    });
    this.#slotBuffers[slot] = ids; // released by #report, however the task ends
    restoreShared(payload.args, payload.shares!, buffers);
    await this.#start(slot, id, payload);
  }

  // Starts the parked tasks whose buffers the host posted on our port (it
  // rang our eventfd after posting, so none is missed while we sleep).
  async #receiveShares(): Promise<void> {
    for (;;) {
      const m = receiveMessageOnPort(
        this.port as unknown as Parameters<typeof receiveMessageOnPort>[0],
      );
      if (m === undefined) return;
      const { id, buffers } = m.message as SharesDelivery;
      const parked = this.#parked.get(id);
      if (parked === undefined) continue; // started meanwhile (below), or dropped at shutdown
      this.#unpark(id, parked);
      await this.#startShared(parked.slot, id, parked.payload, buffers);
      // Parked tasks waiting for the same buffers need not wait for their
      // own delivery (which will find them gone). One that relied on the
      // request of the task just started, for a buffer no longer in use,
      // asks for itself now.
      for (const [other, p] of this.#parked) {
        const inUse = this.#buffersInUse(p.payload);
        if (inUse === null) {
          if (this.#mustAsk(p)) this.#ask(other, p);
          continue;
        }
        this.#unpark(other, p);
        if (!p.asked) this.#taken.push(other); // the host still holds its copy
        await this.#startShared(p.slot, other, p.payload, inUse);
      }
    }
  }

  async #start(slot: number, id: number, payload: TaskPayload): Promise<void> {
    const reply = payload.reply;
    let started = false;
    try {
      const ns = await importModule(payload.module);
      const task: RootTask<unknown> = { ...payload, fn: undefined };
      checkExport(task, ns); // halts: the submitter could not check it
      const fn = ns[payload.name] as (...args: unknown[]) => Task<unknown>;
      started = true; // from here the task owns its fds, even if it throws at once
      this.control.releaseFds(this.index, slot);
      const record = this.scheduler.spawn(fn(...payload.args), true);
      // The record's observer: its ending goes to the host (and is "observed":
      // no onUnjoinedError report on this thread).
      record.group = { childDone: (t) => this.#ended(slot, id, reply, t) };
    } catch (error) {
      // The module failed to load, or the thread is at its task limit.
      if (!started) this.#closeFds(slot, payload);
      this.#report(slot, id, reply, Ending.Threw, error);
    }
  }

  /** The worker ends: parked tasks never start (cancelled; their fds closed). */
  dropParked(): void {
    for (const [id, { slot, payload, asked }] of this.#parked) {
      if (!asked) this.#taken.push(id); // the host drops its copy
      this.#closeFds(slot, payload);
      this.#report(slot, id, payload.reply, Ending.Cancelled, new TaskCancelledError(id));
    }
    this.#parked.clear();
    this.#asked.clear();
  }

  // Closes the owned fds of a task that will not start (unrecorded first:
  // the host must never close them again, once their numbers may be reused).
  #closeFds(slot: number, payload: TaskPayload): void {
    this.control.releaseFds(this.index, slot);
    for (const fd of ownedFdsOf(payload)) libc.close(fd);
  }

  #ended(slot: number, id: number, reply: boolean, task: TaskRecord): void {
    this.#report(slot, id, reply, task.ending, task.result);
  }

  #report(slot: number, id: number, reply: boolean, ending: Ending, result: unknown): void {
    const bufferIds = this.#slotBuffers[slot];
    if (bufferIds !== undefined) {
      this.#slotBuffers[slot] = undefined;
      for (const bufferId of bufferIds) {
        const entry = this.#inUse.get(bufferId)!;
        if (--entry.uses === 0) this.#inUse.delete(bufferId);
      }
    }
    // Written off by the host (it terminated us, and terminate() did not stop
    // this thread at once): it failed our tasks and cleared our counts.
    if (!this.control.alive(this.index)) return;
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
