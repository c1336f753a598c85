/**
 * Turns of a thread's loop that never hold the JS thread: the driver of
 * `runAsync`, and of a runtime worker while its tasks wait for promises.
 *
 * What runs when: ready tasks run in batches (one `Scheduler.turn` with a
 * zero time-out each: run the ready tasks, fire due timers, collect fd
 * events without sleeping) for at most {@linkcode HOST_SLICE_MS}; then the
 * host's event loop gets one turn (a `setImmediate` macrotask, 1-2 µs), so
 * host timers, I/O callbacks and settled promises run within about a slice
 * of their time even while strom tasks keep busy. When no task is ready, the
 * thread waits for the kernel off the JS thread (`pollOffThread`: the
 * reactor's epoll fd, or its poll set) until the next strom timer, while
 * the host loop runs; a promise settling for `until` rings the wake fd,
 * which ends that wait.
 *
 * @module
 */

import {
  PollFds,
  POLLIN,
  pollOffThread,
  prepareOffThreadPoller,
  yieldToHostLoop,
} from "../ffi/mod.ts";
import { WakeFd } from "../io/wake_fd.ts";
import type { Scheduler, TaskRecord } from "../sched/scheduler.ts";
import { halt, Rule } from "../sched/usage.ts";
import { type BackgroundWaits, backgroundWaitsOf } from "./until.ts";

/** The longest stretch (ms) of strom tasks before the host's event loop gets a turn. */
export const HOST_SLICE_MS = 1;

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
   * ended; waits for the kernel only if `maySleep` and no task is ready.
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
      if (waitMs > 0) hostTurnCounts.onThreadWaits++;
      else waitMs = 0;
    }
    s.turn(waitMs, until);
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
      // The slice is over with nothing ready: the host loop's turn, then a
      // new slice that may wait here again.
      return this.#yield();
    }
    this.#quietMs = 0;
    return this.#waitOffThread();
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
    this.#interrupt.close();
  }
}
