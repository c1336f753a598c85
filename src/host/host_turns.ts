/**
 * Turns of a thread's loop that hold the JS thread for at most a slice: the
 * driver of `runAsync`, and of a runtime worker while its tasks wait for
 * promises.
 *
 * What runs when:
 *
 * 1. Ready tasks run in turns (one `Scheduler.turn` each: run the ready
 *    tasks, fire due timers, collect fd events) for at most
 *    {@linkcode HOST_SLICE_MS} (1 ms); then the host's event loop gets one
 *    turn (a `setImmediate` macrotask, 2-4 µs), so host timers, I/O
 *    callbacks and settled promises run within about a slice of their time
 *    even while strom tasks keep busy.
 * 2. When no task is ready, the turn waits for the kernel on the JS thread,
 *    blocking, for the rest of the slice, just as `run` does (with less
 *    than half a slice left, the host loop's turn comes first and a fresh
 *    slice starts), if nothing needs the host loop to run sooner: no task
 *    waits in `until` (such a task can only go on once the host loop ran;
 *    `untilSignal`'s wait is a background wait and does not count; when a
 *    task begins an `until` during the turn, the turn's wait becomes a
 *    poll), and no off-thread wait is still in flight. Under load the
 *    next event comes within the slice: the thread stays on strom, with
 *    one host turn per slice, and pays no thread hop. Host work that no
 *    task waits for (a host timer, a host server's request) may wait about
 *    a slice, as it may while tasks keep busy. The wait runs with a coarse
 *    timer slack (see SLICE_SLACK_NS) unless a strom timer falls due in it.
 * 3. When a task waits in `until`, or the on-thread waits found nothing for
 *    a whole slice (the thread is idle), the thread waits for the kernel off
 *    the JS thread (`pollOffThread`: the reactor's epoll fd, or its poll set)
 *    until the next strom timer, while the host loop runs freely; a promise
 *    settling for `until` rings the wake fd, which ends that wait. This
 *    costs a thread hop (tens of µs) per wake-up; an idle thread costs no
 *    CPU.
 *
 * {@linkcode hostTurnCounts} counts the waits of both kinds.
 *
 * @module
 */

import {
  libc,
  PollFds,
  POLLIN,
  pollOffThread,
  PR_SET_TIMERSLACK,
  prepareOffThreadPoller,
  yieldToHostLoop,
} from "../ffi/mod.ts";
import { WakeFd } from "../io/wake_fd.ts";
import type { Scheduler, TaskRecord } from "../sched/scheduler.ts";
import { halt, Rule } from "../sched/usage.ts";
import { type BackgroundWaits, backgroundWaitsOf } from "./until.ts";

/** The longest stretch (ms) of strom tasks before the host's event loop gets a turn. */
export const HOST_SLICE_MS = 1;

// The shortest on-thread kernel wait worth starting (see turn).
const MIN_ON_THREAD_WAIT_MS = HOST_SLICE_MS / 2;
// The timer slack (ns) of a kernel wait bounded by the slice, not by a strom
// timer: the kernel may end it up to this much late, which lets it fold the
// wait's time-out into a timer it has armed anyway. Measured on this (2-core,
// virtual, loaded) machine, one echo connection, bench/bridge/echo_ab.mjs
// with every wait given a fixed time-out: 1 ms with the 1 µs slack strom
// keeps for its timers cost 1.31-1.36x the CPU per round trip of `run`, a far
// time-out 1.02x, 1 ms with this slack 1.08-1.24x (arming and cancelling the
// CPU's timer each wait costs; a virtual machine pays more for it).
const SLICE_SLACK_NS = HOST_SLICE_MS * 1e6;
// The timer slack (ns) the Scheduler sets for its thread (for its timers).
const PRECISE_SLACK_NS = 1000;
// The longest single kernel wait for a timer (about 24 days), as in turn().
const MAX_WAIT_MS = 2 ** 31;
// Consecutive failed off-thread waits before giving up (a poll that fails
// at once would otherwise spin).
const MAX_WAIT_FAILURES = 100;
// Turns in a row that may skip the kernel poll for a microtask checkpoint
// (tasks waiting on promises that already settled); then one full turn, so
// timers and fds are never starved.
const MAX_CHECKPOINT_TURNS = 32;
// What the race in #waitOffThread resolves with when a promise ended it.
const WOKEN_BY_HOST = -2;

/**
 * How this thread's host turns waited for the kernel, counted since it
 * started (for tests and benchmarks: a count, unlike a time, does not
 * depend on the machine's load). A turn that may wait for the kernel on
 * the JS thread counts one `onThreadWaits` (whether or not it then
 * sleeps); each wait off the JS thread counts one `offThreadWaits`.
 */
export const hostTurnCounts: { onThreadWaits: number; offThreadWaits: number } = {
  onThreadWaits: 0,
  offThreadWaits: 0,
};

/**
 * Drives a scheduler in turns that leave the JS thread free for the host.
 * Owns an eventfd of its own (the interrupt) for as long as it lives: call
 * {@linkcode close} when done.
 */
export class HostTurns {
  readonly #fds = new PollFds(8);
  // Rung to end an off-thread wait early; only this class drains it, so the
  // thread's own zero-timeout waits cannot swallow it (the reactor's wake fd
  // they do drain: a helper thread could miss that edge and sleep on).
  readonly #interrupt = new WakeFd();
  // An off-thread wait that a settled promise cut short: still in flight
  // until settle() rings the interrupt; must end before the next one starts.
  #outstanding: Promise<number> | null = null;
  #sliceStart: number;
  #failures = 0;
  #checkpoints = 0;
  // Ms spent in on-thread kernel waits that found nothing, since work was
  // last found: a whole slice of it sends the thread off the JS thread.
  #quietMs = 0;
  readonly #background: BackgroundWaits;
  // Whether the thread's timer slack is SLICE_SLACK_NS now (see #setCoarseSlack).
  #coarseSlack = false;
  // When the current on-thread wait ends at the latest, without slack (ms).
  #waitEnd = 0;
  // The scheduler's own beforeWait, called first by ours during a wait.
  #beforeWait: (() => boolean | void) | null = null;
  readonly #onBeforeWait = (): boolean => {
    if (this.#beforeWait !== null) this.#beforeWait();
    const s = this.scheduler;
    // A zero-time-out poll between task steps: no time-out to fold.
    if (s.ready.length > 0) return false;
    if (s.hostWaits > this.#background.count) {
      // A task of this turn began to wait in `until`: it needs the host
      // loop now, not after this wait, which becomes a poll (the next turn
      // goes off the JS thread). Cheaper than ringing the wake fd (a write,
      // then a read to drain it).
      return true;
    }
    // A strom timer due before the wait's end plus the slack keeps its
    // precision; else the wait ends with the slice, and may do so late.
    this.#setCoarseSlack(
      s.timers.size === 0 || s.timers.nextDeadline > this.#waitEnd + HOST_SLICE_MS,
    );
    return false;
  };

  constructor(readonly scheduler: Scheduler) {
    this.#sliceStart = scheduler.now();
    this.#background = backgroundWaitsOf(scheduler);
    // Bun: the helper Worker of the off-thread wait starts now, not at the
    // first idle moment, which a server flooded with connections may reach
    // only once every fd is taken (Bun then ends the process).
    prepareOffThreadPoller();
  }

  /**
   * One turn. Returns undefined when it is complete, or a promise to await
   * first (a turn of the host loop, a microtask checkpoint, or a wait for the
   * kernel off the JS thread). Returns without waiting once `until` has
   * ended; waits for the kernel only if `maySleep` and no task is ready, on
   * the JS thread for at most the rest of the slice when it may (see the
   * module doc).
   * Halts (`deadlock`) when it would wait forever: no task ready, no timer,
   * no fd or promise waited on, no hold.
   */
  turn(until: TaskRecord | null, maySleep = true): Promise<void> | undefined {
    const s = this.scheduler;
    if (
      s.hostWaits > this.#background.count && s.ready.length > 0
      && this.#checkpoints < MAX_CHECKPOINT_TURNS
    ) {
      // Tasks that wait on promises which already settled resume at the
      // next microtask checkpoint: if running the ready tasks leaves none
      // ready, take that checkpoint before asking the kernel (a syscall).
      // (Not for background waits: they may wait for the next host turn.)
      s.runReady();
      if (until !== null && until.done) return undefined;
      if (s.ready.length === 0 && s.hostWaits > this.#background.count) {
        this.#checkpoints++;
        // The slice holds here too: a task looping on settled promises
        // would otherwise keep the host loop (its timers, its I/O) waiting.
        if (s.now() - this.#sliceStart >= HOST_SLICE_MS) return this.#yield();
        return Promise.resolve();
      }
    }
    this.#checkpoints = 0;
    // With time left in the slice and nothing the host loop must do for a
    // task, the turn may wait for the kernel here, on the JS thread, for
    // the rest of the slice (see the module doc): no host turn, no hop.
    let waitMs = 0;
    let waitStart = 0;
    if (maySleep && this.#mayWaitOnThread()) {
      waitStart = s.now();
      waitMs = HOST_SLICE_MS - (waitStart - this.#sliceStart);
      // Too little of the slice left: rather than a wait that the slice's
      // end would cut short (a time-out, a wake-up for nothing), the host
      // loop's turn first (if nothing is ready after this turn's poll),
      // then a fresh slice to wait in.
      if (waitMs >= MIN_ON_THREAD_WAIT_MS) hostTurnCounts.onThreadWaits++;
      else waitMs = 0;
    }
    if (waitMs > 0) {
      // The slack is set right before the kernel wait, once this turn's
      // tasks ran (they may have set a timer).
      this.#waitEnd = waitStart + waitMs;
      this.#beforeWait = s.beforeWait;
      s.beforeWait = this.#onBeforeWait;
      try {
        s.turn(waitMs, until);
      } finally {
        s.beforeWait = this.#beforeWait;
        this.#beforeWait = null;
      }
    } else {
      s.turn(0, until);
    }
    if (until !== null && until.done) return undefined;
    // The wake fd rang (its edge is taken): the driver looks at what another
    // thread announced (a runtime worker: a task, a shutdown) before any
    // off-thread wait, which would not hear it again.
    if (s.wakeHeard) {
      this.#quietMs = 0;
      return undefined;
    }
    if (s.ready.length > 0) {
      this.#quietMs = 0;
      if (s.now() - this.#sliceStart >= HOST_SLICE_MS) return this.#yield();
      return undefined;
    }
    if (!maySleep) return undefined;
    if (waitMs > 0) {
      // Nothing came (or a strom timer is due: the next turn fires it).
      const now = s.now();
      this.#quietMs += now - waitStart;
      if (now - this.#sliceStart >= HOST_SLICE_MS) return this.#yield();
      return undefined;
    }
    if (this.#mayWaitOnThread()) {
      // (Almost) the end of the slice, nothing ready: the host loop's turn,
      // then a new slice that may wait here.
      return this.#yield();
    }
    this.#quietMs = 0;
    return this.#waitOffThread();
  }

  // Sets the thread's timer slack for a wait bounded by the slice (coarse)
  // or by a strom timer (precise); a syscall only when it changes.
  #setCoarseSlack(coarse: boolean): void {
    if (this.#coarseSlack === coarse) return;
    this.#coarseSlack = coarse;
    libc.prctl(PR_SET_TIMERSLACK, coarse ? SLICE_SLACK_NS : PRECISE_SLACK_NS);
  }

  /**
   * Gives the thread back the precise timer slack of its scheduler, for a
   * kernel wait that another driver makes (a runtime worker's own turns).
   * Cheap when it is already precise; {@linkcode close} does it too.
   */
  preciseTimers(): void {
    this.#setCoarseSlack(false);
  }

  // Whether the next kernel wait may hold the JS thread: no task waits on a
  // host promise that needs the host loop to settle (background waits
  // excepted), no off-thread wait is still in flight (it watches the same
  // fds), and the thread has not been quiet for a whole slice already (an
  // idle thread waits off it, so the host loop runs freely and at no cost).
  #mayWaitOnThread(): boolean {
    return this.scheduler.hostWaits === this.#background.count && this.#outstanding === null
      && this.#quietMs < HOST_SLICE_MS;
  }

  async #yield(): Promise<void> {
    await yieldToHostLoop();
    this.#sliceStart = this.scheduler.now();
  }

  async #waitOffThread(): Promise<void> {
    const s = this.scheduler;
    if (s.hostWaits > 0) {
      // Promises that already settled run their callbacks (and queue their
      // tasks) at the next microtask checkpoint: take it before a kernel wait.
      await null;
      if (s.ready.length > 0) {
        if (s.now() - this.#sliceStart >= HOST_SLICE_MS) await this.#yield();
        return;
      }
    }
    let timeoutNs = -1;
    if (s.timers.size > 0) {
      const ms = s.timers.nextDeadline - s.now();
      if (ms <= 0) return;
      timeoutNs = Math.ceil(Math.min(ms, MAX_WAIT_MS) * 1e6);
    } else if (s.reactor.waiting === 0 && s.externalHolds === 0 && s.hostWaits === 0) {
      halt(Rule.Deadlock, "every task waits and nothing can wake one");
    }
    await this.settle();
    if (s.ready.length > 0) return;
    let n = s.reactor.watchFds(this.#fds);
    this.#fds.set(n++, this.#interrupt.fd, POLLIN);
    if (s.beforeWait !== null) s.beforeWait();
    hostTurnCounts.offThreadWaits++;
    const poll = pollOffThread(this.#fds.bytes, n, timeoutNs);
    let wake!: (why: number) => void;
    const woken = new Promise<number>((resolve) => (wake = resolve));
    s.offThreadWake = () => {
      s.offThreadWake = null;
      wake(WOKEN_BY_HOST);
    };
    let result: number;
    try {
      result = await Promise.race([poll, woken]);
    } finally {
      s.offThreadWake = null;
    }
    this.#sliceStart = s.now();
    if (result === WOKEN_BY_HOST) {
      // The helper still waits: let it be until the next wait needs it
      // (settle rings the interrupt), so waking it costs the woken task no
      // latency (on two busy cores, waking a thread first cost 20-40 µs).
      this.#outstanding = poll;
      return;
    }
    this.#interrupt.drain(); // in case it was rung as the poll returned anyway
    if (result >= 0) this.#failures = 0;
    else if (++this.#failures >= MAX_WAIT_FAILURES) {
      throw new Error(
        `strom: waiting for the kernel off the JS thread failed ${this.#failures} times`,
      );
    }
  }

  /**
   * Ends the off-thread wait of this driver that a settled promise cut
   * short, if any: rings the interrupt and waits for the helper to return.
   * Call before {@linkcode close} and before the thread ends.
   */
  async settle(): Promise<void> {
    const outstanding = this.#outstanding;
    if (outstanding === null) return;
    this.#interrupt.signal();
    await outstanding;
    this.#outstanding = null;
    this.#interrupt.drain();
  }

  /** Closes the interrupt eventfd; call after {@linkcode settle}. */
  close(): void {
    this.preciseTimers();
    this.#interrupt.close();
  }
}
