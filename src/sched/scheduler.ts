/**
 * The scheduler of one thread: task records, the ready queue, the timers and
 * the reactor, and the loop that drives them.
 *
 * A task is a generator. The scheduler resumes it with `next(value)` or
 * `throw(error)`; the task runs until a strom leaf operation yields
 * {@linkcode SUSPEND} (it registered itself with a timer, a reactor source,
 * a join or a group first), or until it returns or throws. Children of
 * `awaitAll`/`awaitAny` are tasks of their own, so resuming one never
 * re-enters its parent's `yield*` chain.
 *
 * @module
 */

import { libc, monotonicNowMs, PR_SET_TIMERSLACK } from "../ffi/mod.ts";
import { PollHint, type Reactor, type Waiter } from "../io/reactor.ts";
import { JoinHandle } from "./join.ts";
import { ReadyQueue } from "./ready_queue.ts";
import { Slab, SLAB_CAPACITY } from "./slab.ts";
import { type HeapEntry, TimerHeap } from "./timer_heap.ts";
import { SUSPEND, type Task } from "./types.ts";
import { halt, Rule } from "./usage.ts";

// The longest single kernel wait for a timer (about 24 days).
const MAX_WAIT_MS = 2 ** 31;

// TaskRecord.flags packs a task's state and its booleans into one small
// integer: a record is a dozen words, not twenty (a million sleeping tasks
// are a million records), and a number compare is what the hot path affords.
const STATE = 0b11; // the low two bits: one of the four states
const READY = 0; // in the ready queue
const RUNNING = 1; // on the JS stack (being resumed or cancelled)
const WAITING = 2; // suspended until woken
const DONE = 3; // finished: returned, threw or was cancelled
/** The next resume throws `value` into the task (else it is `next(value)`). */
const RESUME_THROWS = 1 << 2;
/** The next resume unwinds the task with `return()` for a time-out (see `unwind`). */
const RESUME_UNWINDS = 1 << 3;
/** Woken while RUNNING: queue it again once it suspends. */
const WOKEN_WHILE_RUNNING = 1 << 4;
/** `cancel` reached it while RUNNING: cancel it once it suspends. */
const CANCEL_REQUESTED = 1 << 5;
/** A leaf registered a wait and has not yet yielded SUSPEND to us. */
const SUSPEND_PENDING = 1 << 6;
/** Someone observed the ending (a join or a group): no unjoined-error report. */
const OBSERVED = 1 << 7;
/** A root task (run/spawn) rather than a child of a group. */
const ROOT = 1 << 8;
/** How it ended (an {@linkcode Ending}), once DONE: two bits from here. */
const ENDING_SHIFT = 9;
const ENDING_BITS = 0b11 << ENDING_SHIFT;
/** It has end hooks, kept by the scheduler (see Scheduler.addEndHook). */
const HAS_END_HOOKS = 1 << 11;
/** It suspended in `yieldNow` and has not come back out (see time/sleep.ts). */
const YIELDED = 1 << 12;
/** A group's child: `TaskRecord.ends` holds its group's observer, not joiners. */
const GROUPED = 1 << 13;

/**
 * How many task steps may run between two looks at the timers and the
 * reactor while tasks stay ready, so a long ready queue cannot starve them
 * (tokio's `event_interval` is 61). A look reads the clock (tens of ns, and
 * only if there are timers or watched fds) and fires the due timers.
 */
export const FAIR_INTERVAL = 61;

/**
 * At a look, a reactor that cannot tell whether events arrived (the poll
 * backend; epoll without its io_uring doorbell: see `Reactor.pollHint`) is
 * polled (a zero-timeout epoll_pwait2/ppoll: one syscall, 1-3 µs here) only
 * if this many ms passed since the last poll or kernel wait. Chosen by
 * measurement (bench/sched/fair_sweep.ts): polling at every look (every 61
 * steps, ~3 µs of task work) cost CPU-bound churn 35-54%; every 0.1 ms costs
 * a few %, and bounds how long I/O and another thread's wake-up wait behind
 * ready tasks.
 */
export const FAIR_POLL_MS = 0.1;

/**
 * How many fair looks in a row (tasks ready throughout, about 1,000 task
 * steps) before the scheduler tells its reactor it is busy
 * (`Reactor.setBusy`): epoll then arms its doorbell and the looks poll only
 * when an event arrived. A wait for the kernel because no task is ready
 * disarms it. Short bursts (a turn of 64 connections' tasks) never arm it:
 * armed, every fd wake-up costs the kernel some work for the thread.
 */
export const DOORBELL_AFTER_LOOKS = 16;

/**
 * The cooperative budget of one task step: how many strom operations
 * (`join`, channel `send`/`recv`, socket reads and writes, ...) may run in
 * one step before the next one yields once, so that a task looping over
 * operations that are always ready (joining finished tasks, a channel that
 * always has values, a socket that always has data) cannot hold the thread
 * while timers, I/O and other tasks wait (tokio's coop budget is 128 too).
 * Each such operation spends one unit (a `join` only when its task has
 * already ended); each step starts with the whole budget. Leaf waits that
 * always suspend (`sleep`, `yieldNow`) do not count.
 */
export const TASK_BUDGET = 128;

/** How a finished task ended. */
export const Ending = { Returned: 0, Threw: 1, Cancelled: 2 } as const;
/** One of the values of {@linkcode Ending}. */
export type Ending = typeof Ending[keyof typeof Ending];
const CANCELLED_BITS = Ending.Cancelled << ENDING_SHIFT;

/**
 * Thrown from `join()` (and delivered to groups) for a task that was
 * cancelled before it finished.
 */
export class TaskCancelledError extends Error {
  /** Always `"TaskCancelledError"`. */
  override readonly name = "TaskCancelledError";
  /** The id of the cancelled task. */
  readonly taskId: number;

  /** Creates the error for the cancelled task `taskId`. */
  constructor(taskId: number) {
    super(`task ${taskId} was cancelled`);
    this.taskId = taskId;
  }
}

/**
 * Thrown by `spawn` (and `awaitAll`/`awaitAny`) when the thread already runs
 * its most tasks: overload is reported to the caller, nothing is dropped.
 */
export class TaskLimitError extends RangeError {
  /** Always `"TaskLimitError"`. */
  override readonly name = "TaskLimitError";
  /** The thread's task limit that was reached. */
  readonly limit: number;

  /** Creates the error for a thread whose limit is `limit` tasks. */
  constructor(limit: number) {
    super(`this thread already runs its limit of ${limit} tasks`);
    this.limit = limit;
  }
}

/** Where a thread's scheduler reports the fds strom opens and closes (see `Scheduler.fdRecord`). */
export interface FdRecord {
  /** `fd` was opened and is owned by this thread now. */
  opened(fd: number): void;
  /** `fd` is about to be closed (or handed over): no longer this thread's. */
  closing(fd: number): void;
}

/** A resource a scheduler owns until it is closed (see `Scheduler.owned`). */
export interface Closeable {
  /** Releases the resource; idempotent. */
  close(): void;
}

/** A time-out that ran out, as {@linkcode Scheduler.unwind} takes it. */
export interface Expiry {
  /**
   * Ends the timed operation with `return()` at its suspension point (its
   * `finally` blocks run); called inside the task's step, before the expiry
   * is thrown into the task.
   */
  close(): void;
}

/** What a child task tells when it ends: its group (see `group.ts`). */
export interface ChildObserver {
  /** Called once, when `child` has ended. */
  childDone(child: TaskRecord): void;
}

/**
 * One task: its generator and everything the scheduler knows about it.
 *
 * Kept small (a million sleeping tasks are a million records): the state
 * and the booleans share one integer (`flags`), and one field holds what the
 * next resume delivers while the task lives and its result once it ended.
 * A spawned task's record is also its {@linkcode JoinHandle}: a spawn
 * allocates no handle.
 */
export class TaskRecord extends JoinHandle<unknown> implements Waiter {
  /** Slab id (index + generation). */
  id = -1;
  /** The state and the flags (see the bit constants above). */
  flags: number;
  /**
   * While the task lives: what the next resume delivers (see RESUME_THROWS).
   * Once DONE: its return value or thrown error; for a cancelled task the
   * `TaskCancelledError` is made only when someone reads {@linkcode result}
   * (building an error with its stack costs microseconds on V8).
   */
  value: unknown = undefined;
  /**
   * Who hears of this task's end: the tasks waiting in `join()` for it (the
   * one joiner itself, or an array when several join: see addJoiner) or,
   * for a group's child (the GROUPED flag), its {@linkcode group}. Never
   * both: a group's child (of awaitAll/awaitAny, a task set, a runtime
   * worker) is never handed out as a handle, so nobody joins it.
   *
   * One field, not two: with a ninth field a record takes 112 B on Bun
   * (JSC's next size class), with eight 80 B, and every live task has one
   * (a million sleeping tasks, or a million spawned and not yet joined:
   * bun:jsc heapStats, 200k records). Memory only: spawn + join's
   * instruction count stayed the same (callgrind, 200k tasks).
   */
  ends: TaskRecord | TaskRecord[] | ChildObserver | null = null;
  /**
   * A group's child: its position in the group. A root task, once ended: how
   * many joiners its end woke that have not resumed yet.
   */
  slot = 0;
  /**
   * A sleeping task is its own timer (no Timer object per sleep): its
   * position in the scheduler's timer heap, or -1 (see `sleep`).
   */
  heapIndex = -1;

  /**
   * The task's generator; null once it ended (a handle may be kept long
   * after: the generator's frame, and what its locals hold, can go).
   */
  gen: Task<unknown> | null;

  constructor(
    readonly scheduler: Scheduler,
    gen: Task<unknown>,
    /** A root task (run/spawn) rather than a child of a group. */
    isRoot: boolean,
  ) {
    super();
    this.gen = gen;
    this.flags = isRoot ? READY | ROOT : READY;
  }

  /** Cancels the task (see {@linkcode Scheduler.cancel}). */
  cancel(): void {
    this.scheduler.cancel(this);
  }

  /**
   * Calls `hook` once when this task ends, before its joiners and group
   * hear of it (a task set cancels the tasks its owner left behind:
   * `sync/task_set.ts`).
   */
  addEndHook(hook: () => void): void {
    this.scheduler.addEndHook(this, hook);
  }

  /** Forgets `hook` (see {@linkcode addEndHook}). */
  removeEndHook(hook: () => void): void {
    this.scheduler.removeEndHook(this, hook);
  }

  /**
   * Told when this task ends: its awaitAll/awaitAny group, its task set or
   * a runtime worker; null for a root task. Set once, right after the spawn.
   */
  get group(): ChildObserver | null {
    return (this.flags & GROUPED) !== 0 ? this.ends as ChildObserver : null;
  }
  set group(observer: ChildObserver | null) {
    if (observer === null) {
      if ((this.flags & GROUPED) !== 0) this.ends = null;
      this.flags &= ~GROUPED;
    } else {
      if ((this.flags & GROUPED) === 0 && this.ends !== null) {
        throw new Error(`strom: task ${this.id} has joiners and cannot join a group`);
      }
      this.ends = observer;
      this.flags |= GROUPED;
    }
  }

  /** Registers `joiner` to be woken when this task ends. */
  addJoiner(joiner: TaskRecord): void {
    if ((this.flags & GROUPED) !== 0) {
      throw new Error(`strom: task ${this.id} belongs to a group and cannot be joined`);
    }
    const joiners = this.ends as TaskRecord | TaskRecord[] | null;
    // One joiner is the common case: it needs no array.
    if (joiners === null) this.ends = joiner;
    else if (Array.isArray(joiners)) joiners.push(joiner);
    else this.ends = [joiners, joiner];
  }

  /**
   * A joiner left before resuming: deregisters it. Returns false when this
   * task's end had already woken its joiners (the list is gone).
   */
  removeJoiner(joiner: TaskRecord): boolean {
    const joiners = this.ends as TaskRecord | TaskRecord[] | null;
    if (joiners === null) return false;
    if (joiners === joiner) {
      this.ends = null;
    } else if (Array.isArray(joiners)) {
      const i = joiners.indexOf(joiner);
      if (i >= 0) joiners.splice(i, 1);
    }
    return true;
  }

  /**
   * For a joiner, once done: marks the ending observed (no unjoined-error
   * report) and returns the return value, or throws the error.
   */
  joinResult(): unknown {
    const flags = this.flags | OBSERVED;
    this.flags = flags;
    if ((flags & ENDING_BITS) !== 0) throw this.result; // not Ending.Returned
    return this.value;
  }

  /** Whether the task has finished. */
  get done(): boolean {
    return (this.flags & STATE) === DONE;
  }

  /** Whether the task is on the JS stack right now. */
  get running(): boolean {
    return (this.flags & STATE) === RUNNING;
  }

  /** A child's position in its group or task set (the same field as `slot`). */
  get groupIndex(): number {
    return this.slot;
  }
  set groupIndex(i: number) {
    this.slot = i;
  }

  /** A root task (run/spawn) rather than a child of a group. */
  get isRoot(): boolean {
    return (this.flags & ROOT) !== 0;
  }

  /** How it ended, once done. */
  get ending(): Ending {
    return ((this.flags & ENDING_BITS) >> ENDING_SHIFT) as Ending;
  }

  /** Its return value or thrown error (a `TaskCancelledError` if cancelled), once done. */
  get result(): unknown {
    if (this.value === undefined && (this.flags & ENDING_BITS) === CANCELLED_BITS) {
      this.value = new TaskCancelledError(this.id);
    }
    return this.value;
  }

  /** Whether a join or a group observed the ending (no unjoined-error report then). */
  get observed(): boolean {
    return (this.flags & OBSERVED) !== 0;
  }
  set observed(yes: boolean) {
    this.flags = yes ? this.flags | OBSERVED : this.flags & ~OBSERVED;
  }

  /** Whether a leaf registered a wait and has not yet yielded SUSPEND (see beginWait). */
  get suspendPending(): boolean {
    return (this.flags & SUSPEND_PENDING) !== 0;
  }
  set suspendPending(yes: boolean) {
    this.flags = yes ? this.flags | SUSPEND_PENDING : this.flags & ~SUSPEND_PENDING;
  }

  /** Whether it suspended in `yieldNow` and has not come back out (`yieldNow`'s state). */
  get yielded(): boolean {
    return (this.flags & YIELDED) !== 0;
  }
  set yielded(yes: boolean) {
    this.flags = yes ? this.flags | YIELDED : this.flags & ~YIELDED;
  }

  /** As a timer: what it wakes, itself. */
  get owner(): TaskRecord {
    return this;
  }

  /** Resumes the task normally at its next turn (a no-op unless it waits). */
  wake(): void {
    this.scheduler.resume(this, false, undefined);
  }
}

/** Options of a thread's scheduler. */
export interface SchedulerOptions {
  /** The most live tasks (roots and children) at once; default 2^24. */
  maxTasks?: number;
  /** Called with a task's error when it failed and nobody joined it. */
  onUnjoinedError?: (error: unknown, taskId: number) => void;
}

function describe(value: unknown): string {
  if (value instanceof Promise) {
    return "a Promise (wait for one with `yield* until(promise)`, not `yield`)";
  }
  if (
    value !== null && typeof value === "object"
    && typeof (value as Iterator<unknown>).next === "function"
  ) {
    return "a generator (write `yield*`, not `yield`)";
  }
  return `a ${value === null ? "null" : typeof value} value`;
}

function defaultUnjoinedError(error: unknown, taskId: number): void {
  let text: string;
  try {
    text = error instanceof Error ? (error.stack ?? String(error)) : String(error);
  } catch {
    // Not convertible (a null-prototype object, a throwing getter): still report.
    text = Object.prototype.toString.call(error);
  }
  console.error(`strom: task ${taskId} failed and nobody joined it: ${text}`);
}

/** The scheduler of one thread. Get it with {@linkcode threadScheduler}. */
export class Scheduler {
  readonly tasks: Slab<TaskRecord> = new Slab<TaskRecord>();
  readonly ready: ReadyQueue<TaskRecord> = new ReadyQueue<TaskRecord>();
  /**
   * The timers: `Timer`s, tasks that are their own sleep timer, and other
   * entries that wake their owner (a `timeout`'s guard).
   */
  readonly timers: TimerHeap<Waiter, HeapEntry<Waiter>> = new TimerHeap<
    Waiter,
    HeapEntry<Waiter>
  >();
  /** The task being resumed or cancelled right now. */
  current: TaskRecord | null = null;
  /**
   * What is left of the running step's cooperative budget: operations that
   * complete without waiting spend one each, and one that finds it spent
   * yields first (see {@linkcode TASK_BUDGET}).
   */
  budget = 0;
  /**
   * What strom opened on this thread and not yet closed (sockets): closed by
   * {@linkcode closeOwned} when a runtime worker ends, so a task that leaked
   * a socket leaks no fd past the runtime.
   */
  readonly owned: Set<Closeable> = new Set<Closeable>();
  /**
   * Told of every fd strom opens on this thread and of its close (before
   * the close): a runtime worker records them where the host can close them
   * if the worker's thread dies without closing them itself.
   */
  fdRecord: FdRecord | null = null;

  /** Adds `resource` (holding `fd`) to {@linkcode owned} and tells {@linkcode fdRecord}. */
  own(resource: Closeable, fd: number): void {
    this.owned.add(resource);
    this.fdRecord?.opened(fd);
  }

  /**
   * Removes `resource` (holding `fd`) from {@linkcode owned}; call before
   * closing or handing over its fd, so that no record names an fd number
   * that may be reused.
   */
  disown(resource: Closeable, fd: number): void {
    this.owned.delete(resource);
    this.fdRecord?.closing(fd);
  }
  /** Reasons to keep waiting although no task waits on a timer or fd. */
  externalHolds = 0;
  /**
   * Called right before each kernel wait (a runtime worker flushes its
   * replies). Returning true makes that wait a poll (zero time-out): the
   * driver learned meanwhile that it must not sleep (`runAsync`: a task
   * began to wait for a promise, which needs the host loop).
   */
  beforeWait: (() => boolean | void) | null = null;
  /** Called when another thread signalled the reactor's wake fd. */
  onExternalWake: (() => void) | null = null;
  /**
   * The wake fd rang during the current turn (set by every reactor wait,
   * the fair polls between task steps included). A turn that heard it
   * returns before its sleeping wait: its driver (a runtime worker's loop)
   * must look at what the other thread announced (a new task, a shutdown)
   * before it sleeps, or the wake-up is lost.
   */
  wakeHeard = false;
  /** Whether `run` is driving this scheduler. */
  driving = false;
  /**
   * Whether the driver returns to the host's event loop (`runAsync`, a
   * runtime worker), so a host promise can settle; false under the blocking
   * `run`, where `until` halts.
   */
  hostLoop = false;
  /** Tasks waiting in `until` for a host promise to settle. */
  hostWaits = 0;
  /**
   * Set while the driver waits for the kernel off the JS thread: ends that
   * wait (see `resumeFromHost` and `src/host/host_turns.ts`).
   */
  offThreadWake: (() => void) | null = null;
  readonly maxTasks: number;
  readonly onUnjoinedError: (error: unknown, taskId: number) => void;

  constructor(readonly reactor: Reactor, options: SchedulerOptions = {}) {
    const maxTasks = options.maxTasks ?? SLAB_CAPACITY;
    if (!Number.isInteger(maxTasks) || maxTasks < 1 || maxTasks > SLAB_CAPACITY) {
      throw new RangeError(`maxTasks must be an integer in [1, ${SLAB_CAPACITY}], got ${maxTasks}`);
    }
    this.maxTasks = maxTasks;
    // Linux lets a sleeping thread's timer expire up to its "timer slack"
    // late (50 µs by default) to batch wake-ups. strom promises sub-ms
    // timers, so the thread that runs a scheduler asks for 1 µs.
    libc.prctl(PR_SET_TIMERSLACK, 1000);
    this.onUnjoinedError = options.onUnjoinedError ?? defaultUnjoinedError;
  }

  /** The monotonic clock, in ms (sub-µs precision), shared by all threads. */
  now(): number {
    return monotonicNowMs();
  }

  /**
   * Creates a task for `gen` and queues it. Throws {@linkcode TaskLimitError}
   * at the task limit; halts if `gen` was given to strom before.
   */
  spawn(gen: Task<unknown>, isRoot: boolean): TaskRecord {
    checkTask(gen);
    // The limit before the claim: a generator refused for overload was not
    // taken, so the caller may offer it again later.
    this.checkRoom(1);
    claimGenerator(gen);
    const task = new TaskRecord(this, gen, isRoot);
    task.id = this.tasks.insert(task);
    this.ready.push(task);
    return task;
  }

  /** Throws {@linkcode TaskLimitError} unless `n` more tasks fit the limit. */
  checkRoom(n: number): void {
    if (this.tasks.size + n > this.maxTasks) throw new TaskLimitError(this.maxTasks);
  }

  /**
   * Makes a waiting task runnable with `value` (thrown into it if `throws`).
   * The first wake of a suspension wins; later ones are ignored.
   */
  resume(task: TaskRecord, throws: boolean, value: unknown): void {
    const flags = task.flags;
    const state = flags & STATE;
    if (state === WAITING) {
      task.value = value;
      task.flags = (flags & ~(STATE | RESUME_THROWS)) | READY | (throws ? RESUME_THROWS : 0);
      this.ready.push(task);
    } else if (state === RUNNING && (flags & WOKEN_WHILE_RUNNING) === 0) {
      task.value = value;
      task.flags = (flags & ~RESUME_THROWS) | WOKEN_WHILE_RUNNING | (throws ? RESUME_THROWS : 0);
    }
  }

  /**
   * The time-out `expiry` (a `timeout` of src/time) ran out: if `task`
   * waits, it is queued; at its step, `expiry.close()` first ends the timed
   * operation (its `finally` blocks run, as in a cancellation), then
   * `expiry` itself is thrown into the task, down its `yield*` chain to the
   * `timeout` frame that owns it, which throws `TimeoutError` from there.
   *
   * Returns false, changing nothing, when the task does not wait (it was
   * woken first in this turn): the caller tries again once it waits.
   */
  unwind(task: TaskRecord, expiry: Expiry): boolean {
    const flags = task.flags;
    if ((flags & STATE) !== WAITING) return false;
    task.value = expiry;
    task.flags = (flags & ~(STATE | RESUME_THROWS)) | READY | RESUME_UNWINDS;
    this.ready.push(task);
    return true;
  }

  /**
   * {@linkcode resume} from a host callback (a settled promise): if the
   * driver is waiting for the kernel off the JS thread, ends that wait so
   * the task runs.
   */
  resumeFromHost(task: TaskRecord, throws: boolean, value: unknown): void {
    this.resume(task, throws, value);
    if (this.offThreadWake !== null) this.offThreadWake();
  }

  /** Resumes `task` until it suspends, returns or throws. */
  step(task: TaskRecord): void {
    const flags = task.flags;
    if ((flags & STATE) !== READY) return; // cancelled while queued
    task.flags = (flags & ~(STATE | RESUME_THROWS | RESUME_UNWINDS)) | RUNNING;
    this.current = task;
    this.budget = TASK_BUDGET;
    const value = task.value;
    task.value = undefined;
    let r: IteratorResult<unknown, unknown>;
    try {
      if ((flags & (RESUME_THROWS | RESUME_UNWINDS)) === 0) {
        r = task.gen!.next(value);
      } else if ((flags & RESUME_THROWS) !== 0) {
        r = task.gen!.throw(value);
      } else {
        // A time-out ran out (see unwind): end the timed operation, then
        // throw the expiry down to its `timeout` frame.
        this.budget = Infinity; // finally blocks may not wait (see cancel)
        (value as Expiry).close();
        this.budget = TASK_BUDGET;
        // A wake-up a finally block of the closed operation caused was for
        // that operation: it must not resume whatever the task waits in next.
        task.flags &= ~(WOKEN_WHILE_RUNNING | RESUME_THROWS);
        task.value = undefined;
        r = task.gen!.throw(value);
      }
    } catch (error) {
      this.current = null;
      this.#finish(task, Ending.Threw, error);
      return;
    }
    this.current = null;
    if (r.done) {
      this.#finish(task, Ending.Returned, r.value);
    } else if (r.value !== SUSPEND) {
      halt(Rule.ForeignYield, `task ${task.id} yielded ${describe(r.value)}`);
    } else {
      this.#suspended(task);
    }
  }

  #suspended(task: TaskRecord): void {
    const flags = task.flags & ~(STATE | SUSPEND_PENDING);
    if ((flags & WOKEN_WHILE_RUNNING) !== 0) {
      task.flags = (flags & ~WOKEN_WHILE_RUNNING) | READY;
      this.ready.push(task);
    } else {
      task.flags = flags | WAITING;
    }
    if ((flags & CANCEL_REQUESTED) !== 0) this.cancel(task);
  }

  /**
   * Cancels `task`: `return()` at its suspension point, so its `finally`
   * blocks run (and leaf operations deregister) before this returns. A task
   * on the stack right now is cancelled as soon as it suspends. Halts if a
   * `finally` block tries to wait.
   *
   * The task's `TaskCancelledError` is made only if someone reads its
   * result (a joiner, a group, the runtime): see {@linkcode TaskRecord.result}.
   */
  cancel(task: TaskRecord): void {
    const flags = task.flags;
    const state = flags & STATE;
    if (state === DONE) return;
    if (state === RUNNING) {
      task.flags = flags | CANCEL_REQUESTED;
      return;
    }
    const previous = this.current;
    const budget = this.budget;
    task.flags = (flags & ~(STATE | RESUME_THROWS | RESUME_UNWINDS)) | RUNNING;
    task.value = undefined;
    this.current = task;
    // finally blocks may not wait: nothing in them yields for the budget.
    this.budget = Infinity;
    let r: IteratorResult<unknown, unknown>;
    try {
      r = task.gen!.return(undefined);
    } catch (error) {
      this.current = previous;
      this.budget = budget;
      this.#finish(task, Ending.Threw, error);
      return;
    }
    this.current = previous;
    this.budget = budget;
    if (!r.done) {
      halt(
        Rule.WaitDuringCancel,
        `task ${task.id} waited in a finally block while being cancelled`,
      );
    }
    this.#finish(task, Ending.Cancelled, undefined);
  }

  #finish(task: TaskRecord, ending: Ending, result: unknown): void {
    const flags = task.flags;
    if ((flags & SUSPEND_PENDING) !== 0) {
      halt(Rule.OutsideTask, `task ${task.id} advanced a strom operation by hand (use yield*)`);
    }
    task.flags = (flags & ~(STATE | WOKEN_WHILE_RUNNING | CANCEL_REQUESTED)) | DONE
      | (ending << ENDING_SHIFT);
    task.value = result;
    task.gen = null;
    this.tasks.remove(task.id, task);
    if ((flags & HAS_END_HOOKS) !== 0) this.#runEndHooks(task);
    const ends = task.ends;
    if (ends !== null) {
      task.ends = null;
      if ((flags & GROUPED) !== 0) {
        task.flags = (task.flags & ~GROUPED) | OBSERVED;
        (ends as ChildObserver).childDone(task);
      } else if (Array.isArray(ends)) {
        // Observed once a joiner resumes with it (see JoinHandle.join): one
        // cancelled before it runs must not swallow the error.
        // Each joiner reads the ending itself once it resumes.
        task.slot = ends.length;
        for (const joiner of ends) this.resume(joiner, false, undefined);
      } else {
        task.slot = 1;
        this.resume(ends as TaskRecord, false, undefined);
      }
    }
    if (
      ending === Ending.Threw && (task.flags & (OBSERVED | ROOT)) === ROOT && task.slot === 0
    ) {
      this.onUnjoinedError(result, task.id);
    }
  }

  /**
   * The end hooks of the few tasks that have any (task set owners): kept
   * here rather than in a field of every record (a million records are a
   * million fields).
   */
  readonly #endHooks: Map<TaskRecord, Set<() => void>> = new Map();

  /** See {@linkcode TaskRecord.addEndHook}. */
  addEndHook(task: TaskRecord, hook: () => void): void {
    let hooks = this.#endHooks.get(task);
    if (hooks === undefined) {
      hooks = new Set();
      this.#endHooks.set(task, hooks);
      task.flags |= HAS_END_HOOKS;
    }
    hooks.add(hook);
  }

  /** See {@linkcode TaskRecord.removeEndHook}. */
  removeEndHook(task: TaskRecord, hook: () => void): void {
    this.#endHooks.get(task)?.delete(hook);
  }

  #runEndHooks(task: TaskRecord): void {
    const hooks = this.#endHooks.get(task)!;
    this.#endHooks.delete(task);
    task.flags &= ~HAS_END_HOOKS;
    for (const hook of hooks) hook();
  }

  /** A joiner woken by `task`'s end resumed with it. */
  joinerResumed(task: TaskRecord): void {
    task.slot--;
  }

  /**
   * A joiner woken by `task`'s end will not see it (it was cancelled first):
   * if it was the last one and nobody observed the error, report it now.
   */
  joinerGone(task: TaskRecord): void {
    task.slot--;
    if (task.slot === 0 && task.ending === Ending.Threw && !task.observed) {
      this.onUnjoinedError(task.value, task.id);
    }
  }

  // ---- the loop ------------------------------------------------------------
  //
  // A turn is four steps, each a method of its own so another driver (an
  // async one beside `run`) can compose them: run the ready tasks
  // (runReady, with a fair look at timers and I/O every FAIR_INTERVAL
  // steps), fire the due timers (fireTimers, the turn's one clock read),
  // compute how long the kernel may wait (waitTimeoutNs), and wait
  // (waitForEvents).

  /** Task steps since timers and the reactor were last looked at. */
  #stepsSinceCheck = 0;
  /** When the reactor was last polled or waited on (NaN: at an unread time, just now). */
  #lastPollMs = NaN;
  /** Steps between two fair looks ({@linkcode FAIR_INTERVAL}; a field for bench/sched's sweep). */
  fairInterval: number = FAIR_INTERVAL;
  /** Ms between two fair polls ({@linkcode FAIR_POLL_MS}; a field for bench/sched's sweep). */
  fairPollMs: number = FAIR_POLL_MS;
  /** How many zero-timeout waits the fair looks made (a diagnostic for tests and benches). */
  fairPolls = 0;
  /** See {@linkcode useDoorbell}. */
  #useDoorbell = true;
  /** Fair looks since the last wait that was not a poll (see DOORBELL_AFTER_LOOKS). */
  #busyLooks = 0;
  /** Whether the reactor was told the thread is busy and can answer pollHint. */
  #doorbell = false;

  /**
   * Whether a busy thread may use the reactor's doorbell (see
   * {@linkcode DOORBELL_AFTER_LOOKS}; a switch for bench/sched's sweep).
   * Turning it off disarms an armed doorbell: the looks poll on the clock.
   */
  get useDoorbell(): boolean {
    return this.#useDoorbell;
  }
  set useDoorbell(on: boolean) {
    this.#useDoorbell = on;
    if (!on) this.#notBusy();
  }

  /**
   * Runs every task that is ready now (not those it wakes: they wait a
   * turn). Every {@linkcode FAIR_INTERVAL} steps it looks at the timers and
   * the reactor (see {@linkcode fairCheck}), so a long queue of ready tasks
   * cannot starve them.
   *
   * What timers and fd events wake goes to the ready queue's event lane,
   * which runs ahead of the tasks already queued: first thing here, and
   * right after each fair look that found something. Each time, it runs the
   * tasks the lane held when it began; what the looks meanwhile add waits
   * for the next time, after at least FAIR_INTERVAL steps of the queue, so
   * neither lane starves the other.
   */
  runReady(): void {
    if (this.ready.events > 0) this.#runEvents();
    for (let n = this.ready.queued; n > 0; n--) {
      this.step(this.ready.shift()!);
      if (++this.#stepsSinceCheck >= this.fairInterval) this.fairCheck();
    }
  }

  /** Whether #runEvents is running (a fair look inside it only collects). */
  #inEventLane = false;

  #runEvents(): void {
    const ready = this.ready;
    this.#inEventLane = true;
    try {
      for (let n = ready.events; n > 0; n--) {
        this.step(ready.shiftEvent()!);
        if (++this.#stepsSinceCheck >= this.fairInterval) this.fairCheck();
      }
    } finally {
      this.#inEventLane = false;
    }
    // The queue lane's turn: a full FAIR_INTERVAL steps before the next look.
    this.#stepsSinceCheck = 0;
  }

  /**
   * The look at timers and I/O between task steps while tasks stay ready:
   * fires the due timers and polls the reactor without sleeping (if a task
   * waits on an fd or another thread may ring the wake fd): once the thread
   * has been busy for {@linkcode DOORBELL_AFTER_LOOKS} looks, when the
   * reactor's {@linkcode Reactor.pollHint} says something arrived (if it can
   * tell); else every {@linkcode FAIR_POLL_MS}. Reads the clock at
   * most once, and not at all when there is no timer and the hint answers.
   * What it wakes runs next (see {@linkcode runReady}).
   */
  fairCheck(): void {
    this.#stepsSinceCheck = 0;
    if (this.reactor.waiting === 0 && this.externalHolds === 0) {
      this.fireTimers();
    } else {
      if (!this.#doorbell && ++this.#busyLooks >= DOORBELL_AFTER_LOOKS && this.#useDoorbell) {
        this.#doorbell = this.reactor.setBusy(true);
      }
      if (this.#doorbell) {
        this.fireTimers();
        if (this.reactor.pollHint() !== PollHint.Nothing) this.#fairPoll();
      } else {
        this.#lookOnClock();
      }
    }
    if (this.ready.events > 0 && !this.#inEventLane) this.#runEvents();
  }

  /** A look without the doorbell: fires the due timers, polls every {@linkcode FAIR_POLL_MS}. */
  #lookOnClock(): void {
    const now = this.now();
    this.#fireTimersAt(now);
    const last = this.#lastPollMs;
    if (last !== last) { // NaN: the last kernel wait ended at an unread time
      this.#lastPollMs = now;
    } else if (now - last >= this.fairPollMs) {
      this.#lastPollMs = now;
      this.#fairPoll();
    }
  }

  #fairPoll(): void {
    this.fairPolls++;
    this.waitForEvents(0);
  }

  /**
   * Wakes the owners of timers whose deadline has passed. Reads the clock
   * once (not at all without timers) and returns the reading, or NaN.
   */
  fireTimers(): number {
    if (this.timers.size === 0) return NaN;
    const now = this.now();
    this.#fireTimersAt(now);
    return now;
  }

  #fireTimersAt(now: number): void {
    let t = this.timers.popExpired(now);
    if (t === undefined) return;
    // What a timer wakes takes the event lane: served ahead of the ready queue.
    const before = this.ready.length;
    try {
      for (; t !== undefined; t = this.timers.popExpired(now)) t.owner.wake();
    } finally {
      this.ready.promoteLast(this.ready.length - before);
    }
  }

  /**
   * How long the next kernel wait may sleep, in ns (-1: no limit, 0: poll):
   * 0 while tasks are ready, else until the next timer's deadline (measured
   * from `now`, a clock reading; NaN when there are no timers) or
   * `maxWaitMs`, whichever is sooner. Halts (`deadlock`) when it would be
   * forever and nothing can wake the thread.
   */
  waitTimeoutNs(now: number, maxWaitMs = Infinity): number {
    if (this.ready.length > 0) return 0;
    let waitMs = maxWaitMs;
    if (this.timers.size > 0) {
      waitMs = Math.min(waitMs, Math.max(0, this.timers.nextDeadline - now));
    }
    if (waitMs === Infinity) {
      if (this.reactor.waiting === 0 && this.externalHolds === 0) {
        // Sleeping now would be forever: nothing can wake this thread.
        halt(Rule.Deadlock, "every task waits and nothing can wake one");
      }
      return -1;
    }
    // A far deadline waits in slices (the loop checks the timers again): a
    // timespec holds only so much, and sleep() takes any finite ms.
    return Math.ceil(Math.min(waitMs, MAX_WAIT_MS) * 1e6);
  }

  /**
   * Waits in the kernel for fd events, the wake fd or `timeoutNs` (-1: no
   * limit, 0: just poll), and wakes the tasks whose events fired.
   */
  waitForEvents(timeoutNs: number): void {
    if (this.beforeWait !== null && this.beforeWait() === true) timeoutNs = 0;
    if (timeoutNs !== 0) this.#notBusy(); // no task is ready
    // What fd events wake takes the event lane: served ahead of the ready queue.
    const before = this.ready.length;
    let rang: boolean;
    try {
      rang = this.reactor.wait(timeoutNs);
    } finally {
      this.ready.promoteLast(this.ready.length - before);
    }
    if (rang) {
      this.wakeHeard = true;
      if (this.onExternalWake !== null) this.onExternalWake();
    }
  }

  /**
   * One turn of the loop: run the ready tasks, fire due timers, then, if no
   * task is ready, wait in the kernel until the next deadline (or
   * `maxWaitMs`, if smaller) for I/O. While tasks stay ready the turn does
   * not wait: timers and the reactor are looked at between task steps
   * instead (see runReady and fairCheck). Returns before waiting if `until`
   * has ended. Timers that come due during the wait fire in the next turn:
   * a turn reads the clock once.
   */
  turn(maxWaitMs = Infinity, until: TaskRecord | null = null): void {
    this.wakeHeard = false;
    this.runReady();
    if (until !== null && (until.flags & STATE) === DONE) return;
    const now = this.fireTimers();
    if (this.ready.length > 0) return;
    // A fair poll between the steps took the wake fd's edge: sleeping now
    // would lose it (the kernel will not report it again).
    if (this.wakeHeard) return;
    const timeoutNs = this.waitTimeoutNs(now, maxWaitMs);
    // The wait looks at everything: the fair counters start again.
    this.#stepsSinceCheck = 0;
    this.#lastPollMs = NaN;
    this.waitForEvents(timeoutNs);
  }

  /** Drives the loop until `task` is done. Halts (`deadlock`) if it never can be. */
  runUntilDone(task: TaskRecord): void {
    while ((task.flags & STATE) !== DONE) this.turn(Infinity, task);
    this.#notBusy(); // the thread goes on with other things
  }

  /** The thread is not busy running tasks: the doorbell is disarmed (see DOORBELL_AFTER_LOOKS). */
  #notBusy(): void {
    this.#busyLooks = 0;
    if (this.#doorbell) {
      this.#doorbell = false;
      this.reactor.setBusy(false);
    }
  }

  /** Closes everything in {@linkcode owned} (each close removes itself). */
  closeOwned(): void {
    for (const resource of [...this.owned]) resource.close();
  }

  /**
   * Cancels every root task still running (used when `run` returns), the
   * newest slots first. The live roots are found in the slab at this one
   * moment rather than kept in a list through every spawn and end.
   */
  cancelRoots(): void {
    // A finally block may spawn (spawn never waits), into any free slot:
    // scan again until a pass cancels nothing. (No task runs when `run`
    // returns; the running check only guards the loop.)
    for (let cancelled = true; cancelled;) {
      cancelled = false;
      for (let i = this.tasks.span - 1; i >= 0; i--) {
        const t = this.tasks.at(i);
        if (t === undefined || (t.flags & ROOT) === 0) continue;
        const state = t.flags & STATE;
        if (state === READY || state === WAITING) {
          this.cancel(t);
          cancelled = true;
        }
      }
    }
  }
}

// Marks a generator strom has taken: giving one again (started or finished)
// would resume it from the wrong place, so it halts instead. A symbol-keyed
// property, not a WeakSet: a million-entry WeakSet makes every GC pay for its
// ephemerons (measured: ~2x slower 1M-sleep runs on Deno). Nor
// `Object.preventExtensions` (no property array for V8 to keep): it is a
// runtime call, 45-60 ns per task on V8 and ~20 ns on JSC, where the
// property costs 4-5 ns while the task is short-lived (same-process A/B:
// awaitAll of 2 ~110 ns slower per call on Deno, spawn + join and spawn +
// cancel no faster). See docs/findings.md.
const CLAIMED = Symbol("strom.claimed");

/** Throws a `TypeError` unless `gen` looks like a generator (bad input). */
export function checkTask(gen: Task<unknown>): void {
  if (
    gen === null || typeof gen !== "object" || typeof gen.next !== "function"
    || typeof gen.return !== "function" || typeof gen.throw !== "function"
  ) {
    throw new TypeError(
      `expected a task (the generator a function* returns), got ${describe(gen)}`,
    );
  }
}

function claimGenerator(gen: Task<unknown>): void {
  const marked = gen as unknown as { [CLAIMED]?: true };
  if (marked[CLAIMED] === true) {
    halt(Rule.ReusedGenerator, "a generator strom already ran was given to it again");
  }
  marked[CLAIMED] = true;
}
