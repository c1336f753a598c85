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
import type { Reactor, Waiter } from "../io/reactor.ts";
import { ReadyQueue } from "./ready_queue.ts";
import { Slab, SLAB_CAPACITY } from "./slab.ts";
import { TimerHeap } from "./timer_heap.ts";
import { SUSPEND, type Task } from "./types.ts";
import { halt, Rule } from "./usage.ts";

// The longest single kernel wait for a timer (about 24 days).
const MAX_WAIT_MS = 2 ** 31;

// Task states. A number compare is what the hot path can afford.
const READY = 0; // in the ready queue
const RUNNING = 1; // on the JS stack (being resumed or cancelled)
const WAITING = 2; // suspended until woken
const DONE = 3; // finished: returned, threw or was cancelled

/** How a finished task ended. */
export const Ending = { Returned: 0, Threw: 1, Cancelled: 2 } as const;
/** One of the values of {@linkcode Ending}. */
export type Ending = typeof Ending[keyof typeof Ending];

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

/** A resource a scheduler owns until it is closed (see `Scheduler.owned`). */
export interface Closeable {
  /** Releases the resource; idempotent. */
  close(): void;
}

/** What a child task tells when it ends: its group (see `group.ts`). */
export interface ChildObserver {
  /** Called once, when `child` has ended. */
  childDone(child: TaskRecord): void;
}

/** One task: its generator and everything the scheduler knows about it. */
export class TaskRecord implements Waiter {
  /** Slab id (index + generation). */
  id = -1;
  state = READY;
  /** What the next resume delivers, and whether it is thrown. */
  resumeValue: unknown = undefined;
  resumeThrows = false;
  /** Woken while RUNNING: queue it again once it suspends. */
  wokenWhileRunning = false;
  /** `cancel` reached it while RUNNING: cancel it once it suspends. */
  cancelRequested = false;
  /** A leaf registered a wait and has not yet yielded SUSPEND to us. */
  suspendPending = false;
  /** How it ended, once DONE. */
  ending: Ending = Ending.Returned;
  /** Its return value or thrown error, once DONE. */
  result: unknown = undefined;
  /** Tasks waiting in `join()` for this one. */
  joiners: TaskRecord[] | null = null;
  /** The awaitAll/awaitAny group this task is a child of, told when it ends. */
  group: ChildObserver | null = null;
  /** Its position in that group. */
  groupIndex = 0;
  /** Neighbours in the scheduler's list of live root tasks. */
  prevRoot: TaskRecord | null = null;
  nextRoot: TaskRecord | null = null;
  /** Someone observed the ending (a join or a group): no unjoined-error report. */
  observed = false;
  /** Joiners woken by this task's end that have not resumed yet. */
  wokenJoiners = 0;
  /**
   * Called once when the task ends, before its joiners and group hear of it
   * (a task set cancels the tasks its owner left behind: `sync/task_set.ts`).
   */
  endHooks: Set<() => void> | null = null;

  constructor(
    readonly scheduler: Scheduler,
    readonly gen: Task<unknown>,
    /** A root task (run/spawn) rather than a child of a group. */
    readonly isRoot: boolean,
  ) {}

  /** Whether the task has finished. */
  get done(): boolean {
    return this.state === DONE;
  }

  /** Whether the task is on the JS stack right now. */
  get running(): boolean {
    return this.state === RUNNING;
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
  readonly timers: TimerHeap<Waiter> = new TimerHeap<Waiter>();
  /** The task being resumed or cancelled right now. */
  current: TaskRecord | null = null;
  /**
   * Root tasks still running, cancelled when `run` returns: an intrusive
   * doubly-linked list through the records (a Set's hashing cost 40% of a
   * spawn-and-join).
   */
  rootsHead: TaskRecord | null = null;
  /**
   * What strom opened on this thread and not yet closed (sockets): closed by
   * {@linkcode closeOwned} when a runtime worker ends, so a task that leaked
   * a socket leaks no fd past the runtime.
   */
  readonly owned: Set<Closeable> = new Set<Closeable>();
  /** Reasons to keep waiting although no task waits on a timer or fd. */
  externalHolds = 0;
  /** Called right before each kernel wait (a runtime worker flushes its replies). */
  beforeWait: (() => void) | null = null;
  /** Called when another thread signalled the reactor's wake fd. */
  onExternalWake: (() => void) | null = null;
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
    if (isRoot) {
      task.nextRoot = this.rootsHead;
      if (this.rootsHead !== null) this.rootsHead.prevRoot = task;
      this.rootsHead = task;
    }
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
    if (task.state === WAITING) {
      task.resumeThrows = throws;
      task.resumeValue = value;
      task.state = READY;
      this.ready.push(task);
    } else if (task.state === RUNNING && !task.wokenWhileRunning) {
      task.resumeThrows = throws;
      task.resumeValue = value;
      task.wokenWhileRunning = true;
    }
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
    if (task.state !== READY) return; // cancelled while queued
    task.state = RUNNING;
    this.current = task;
    let r: IteratorResult<unknown, unknown>;
    try {
      const value = task.resumeValue;
      task.resumeValue = undefined;
      if (task.resumeThrows) {
        task.resumeThrows = false;
        r = task.gen.throw(value);
      } else {
        r = task.gen.next(value);
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
    task.suspendPending = false;
    if (task.wokenWhileRunning) {
      task.wokenWhileRunning = false;
      task.state = READY;
      this.ready.push(task);
    } else {
      task.state = WAITING;
    }
    if (task.cancelRequested) this.cancel(task);
  }

  /**
   * Cancels `task`: `return()` at its suspension point, so its `finally`
   * blocks run (and leaf operations deregister) before this returns. A task
   * on the stack right now is cancelled as soon as it suspends. Halts if a
   * `finally` block tries to wait.
   */
  cancel(task: TaskRecord): void {
    if (task.state === DONE) return;
    if (task.state === RUNNING) {
      task.cancelRequested = true;
      return;
    }
    const previous = this.current;
    task.state = RUNNING;
    this.current = task;
    let r: IteratorResult<unknown, unknown>;
    try {
      r = task.gen.return(undefined);
    } catch (error) {
      this.current = previous;
      this.#finish(task, Ending.Threw, error);
      return;
    }
    this.current = previous;
    if (!r.done) {
      halt(
        Rule.WaitDuringCancel,
        `task ${task.id} waited in a finally block while being cancelled`,
      );
    }
    this.#finish(task, Ending.Cancelled, new TaskCancelledError(task.id));
  }

  #finish(task: TaskRecord, ending: Ending, result: unknown): void {
    if (task.suspendPending) {
      halt(Rule.OutsideTask, `task ${task.id} advanced a strom operation by hand (use yield*)`);
    }
    task.state = DONE;
    task.ending = ending;
    task.result = result;
    task.wokenWhileRunning = false;
    this.tasks.remove(task.id);
    if (task.isRoot) this.#unlinkRoot(task);
    if (task.endHooks !== null) runEndHooks(task);
    const joiners = task.joiners;
    task.joiners = null;
    if (joiners !== null) {
      // Observed once a joiner resumes with it (see JoinHandle.join): one
      // cancelled before it runs must not swallow the error.
      task.wokenJoiners = joiners.length;
      for (const joiner of joiners) this.resume(joiner, ending !== Ending.Returned, result);
    }
    const group = task.group;
    if (group !== null) {
      task.observed = true;
      task.group = null;
      group.childDone(task);
    }
    if (ending === Ending.Threw && !task.observed && task.isRoot && task.wokenJoiners === 0) {
      this.onUnjoinedError(result, task.id);
    }
  }

  /** A joiner woken by `task`'s end resumed with it. */
  joinerResumed(task: TaskRecord): void {
    task.wokenJoiners--;
  }

  /**
   * A joiner woken by `task`'s end will not see it (it was cancelled first):
   * if it was the last one and nobody observed the error, report it now.
   */
  joinerGone(task: TaskRecord): void {
    task.wokenJoiners--;
    if (task.wokenJoiners === 0 && task.ending === Ending.Threw && !task.observed) {
      this.onUnjoinedError(task.result, task.id);
    }
  }

  /** Runs every task that is ready now (not those it wakes: they wait a turn). */
  runReady(): void {
    for (let n = this.ready.length; n > 0; n--) this.step(this.ready.shift()!);
  }

  /** Wakes the owners of timers whose deadline has passed. */
  fireTimers(): void {
    if (this.timers.size === 0) return;
    const now = this.now();
    for (let t = this.timers.popExpired(now); t !== undefined; t = this.timers.popExpired(now)) {
      t.owner.wake();
    }
  }

  /**
   * One turn of the loop: run the ready tasks, fire due timers, then ask the
   * reactor for I/O — without sleeping if tasks are ready, else sleeping until
   * the next deadline (or `maxWaitMs`, if smaller). Returns before waiting
   * if `until` has ended.
   */
  turn(maxWaitMs = Infinity, until: TaskRecord | null = null): void {
    this.runReady();
    if (until !== null && until.state === DONE) return;
    this.fireTimers();
    let waitMs = maxWaitMs;
    if (this.ready.length > 0) {
      // Ready tasks don't wait for the kernel; poll fds only if some wait on one.
      if (this.reactor.waiting === 0) return;
      waitMs = 0;
    } else if (this.timers.size > 0) {
      waitMs = Math.min(waitMs, Math.max(0, this.timers.nextDeadline - this.now()));
    }
    if (waitMs === Infinity && this.reactor.waiting === 0 && this.externalHolds === 0) {
      // Sleeping now would be forever: nothing can wake this thread.
      halt(Rule.Deadlock, "every task waits and nothing can wake one");
    }
    // A far deadline waits in slices (the loop checks the timers again): a
    // timespec holds only so much, and sleep() takes any finite ms.
    const timeoutNs = waitMs === Infinity ? -1 : Math.ceil(Math.min(waitMs, MAX_WAIT_MS) * 1e6);
    if (this.beforeWait !== null) this.beforeWait();
    if (this.reactor.wait(timeoutNs) && this.onExternalWake !== null) this.onExternalWake();
    this.fireTimers();
  }

  /** Drives the loop until `task` is done. Halts (`deadlock`) if it never can be. */
  runUntilDone(task: TaskRecord): void {
    while (task.state !== DONE) this.turn(Infinity, task);
  }

  #unlinkRoot(task: TaskRecord): void {
    if (task.prevRoot !== null) task.prevRoot.nextRoot = task.nextRoot;
    else if (this.rootsHead === task) this.rootsHead = task.nextRoot;
    if (task.nextRoot !== null) task.nextRoot.prevRoot = task.prevRoot;
    task.prevRoot = task.nextRoot = null;
  }

  /** Closes everything in {@linkcode owned} (each close removes itself). */
  closeOwned(): void {
    for (const resource of [...this.owned]) resource.close();
  }

  /** Cancels every root task still running (used when `run` returns). */
  cancelRoots(): void {
    // Cancelling unlinks the task (and may end others): take the head anew.
    // (No task runs when `run` returns; the check only guards the loop.)
    for (let t = this.rootsHead; t !== null && t.state !== RUNNING; t = this.rootsHead) {
      this.cancel(t);
    }
  }
}

function runEndHooks(task: TaskRecord): void {
  const hooks = task.endHooks as Set<() => void>;
  task.endHooks = null;
  for (const hook of hooks) hook();
}

// Marks a generator strom has taken: giving one again (started or finished)
// would resume it from the wrong place, so it halts instead. A symbol-keyed
// property, not a WeakSet: a million-entry WeakSet makes every GC pay for its
// ephemerons (measured: ~2x slower 1M-sleep runs on Deno).
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
