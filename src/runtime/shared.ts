/**
 * The control block of a multi-worker runtime: the words in a
 * SharedArrayBuffer that every thread of the runtime reads and writes with
 * `Atomics`, and the wake protocol built on them.
 *
 * Wake protocol (one idle worker per new task, no lost wake-up):
 * - A worker about to sleep in its reactor with room for another root task
 *   stores 1 in its `idle` word, then looks at the queue once more; if the
 *   queue is not empty it clears the word and does not sleep.
 * - A pusher, after a successful push, claims ONE idle worker by a
 *   compare-exchange of its `idle` word from 1 to 0 and writes that worker's
 *   eventfd. The claim coalesces wakes: a sleeping worker gets at most one
 *   eventfd write per sleep, however many tasks are pushed.
 * Atomics are sequentially consistent, so either the worker's re-check sees
 * the record or the pusher sees the idle word.
 *
 * Writing another thread's eventfd is safe only while it is open: a ringer
 * counts itself in the target's `ringing` word and checks `alive`; a worker
 * that ends clears `alive`, waits for `ringing` to drop to 0, and only then
 * closes its fds (so a write can never hit a reused fd number).
 *
 * @module
 */

import { decodeRlimit, libc, RLIMIT_NOFILE, RLIMIT_SIZE } from "../ffi/mod.ts";

/** The runtime's phase, in the `STATE` word. */
export const Phase = {
  /** Taking work. */
  Open: 0,
  /** Shutting down: no new work, workers take nothing more from the queue. */
  Draining: 1,
  /** Workers cancel what they run, close their reactors and end. */
  Stopping: 2,
} as const;

// Global words.
const STATE = 0;
const NEXT_ID = 1;
const ACCEPTED = 2;
const REJECTED = 3;
const COMPLETED = 4;
const FAILED = 5;
const RUNNING_TOTAL = 6;
const ROOM_SEQ = 7;
const HOST_ROOM_WAITER = 8;
const WAKE_CURSOR = 9;
const RUNTIME_ID = 10; // a random nonzero id: which runtime a SharedChannel's workers belong to
const GLOBAL_WORDS = 16;
// Per-worker words.
const IDLE = 0;
const RUNNING = 1;
const WAKE_FD = 2;
const RINGING = 3;
const ROOM_WAIT = 4;
const ALIVE = 5;
const REACTOR_FD = 6; // the reactor's fd other than the eventfd (epoll), or -1
const WORKER_WORDS = 8;
/** The fds recorded per task slot (`MAX_OWNED_FDS` in codec.ts). */
export const FDS_PER_SLOT = 4;
/**
 * A worker's open sockets are recorded in a bitmap of fd numbers: the host
 * closes them if the worker's thread dies without closing them. The bitmap
 * covers every fd the process may open: the fds below its hard
 * `RLIMIT_NOFILE` when the runtime was made (the soft limit can be raised
 * only that far; the kernel's `fs.nr_open`, 2^20 unless raised, caps both),
 * up to this many (2^22 fds, 512 KiB per worker). Fds above are not
 * recorded and stay open if their worker dies.
 */
export const MAX_RECORDED_FDS = 1 << 22;
/** How many fds the bitmap covers when the limit cannot be read. */
export const DEFAULT_RECORDED_FDS = 65536;

/**
 * How many fds a new runtime's bitmaps cover: the process's hard
 * `RLIMIT_NOFILE` (rounded up to whole words), at most
 * {@linkcode MAX_RECORDED_FDS}; {@linkcode DEFAULT_RECORDED_FDS} if
 * `getrlimit` fails.
 */
export function recordableFds(): number {
  const rlimit = new Uint8Array(RLIMIT_SIZE);
  if (libc.getrlimit(RLIMIT_NOFILE, rlimit) !== 0) return DEFAULT_RECORDED_FDS;
  const { hard } = decodeRlimit(rlimit);
  return Math.min(Math.ceil(hard / 32) * 32, MAX_RECORDED_FDS);
}

const ONE = new Uint8Array(8);
ONE[0] = 1;

/** Counters of the runtime (all threads add to them). */
export type Counter = "accepted" | "rejected" | "completed" | "failed";
const COUNTERS: Record<Counter, number> = {
  accepted: ACCEPTED,
  rejected: REJECTED,
  completed: COMPLETED,
  failed: FAILED,
};

// The runtimes created on this thread (by id), while they run: a
// SharedChannel used on this thread finds the workers it must ring here.
const controls = new Map<number, RuntimeControl>();
// The ids of every runtime created on this thread, ended ones included.
const createdHere = new Set<number>();

/** Makes `control` findable by its id on this thread (its runtime was created here), or forgets it. */
export function registerControl(control: RuntimeControl, live: boolean): void {
  if (live) {
    controls.set(control.id, control);
    createdHere.add(control.id);
  } else controls.delete(control.id);
}

/**
 * The control of the runtime created on this thread with `id` while it
 * runs; null once it ended (its workers need no ringing); undefined if it
 * was not created on this thread.
 */
export function controlById(id: number): RuntimeControl | null | undefined {
  return controls.get(id) ?? (createdHere.has(id) ? null : undefined);
}

/** The shared control block of one runtime, as seen from any of its threads. */
export class RuntimeControl {
  readonly buffer: SharedArrayBuffer;
  readonly words: Int32Array;
  readonly workers: number;
  readonly maxTasksPerWorker: number;
  /** The fds below this are recorded when a worker opens them (see {@linkcode fdOpened}). */
  readonly recordedFds: number;
  readonly #fdMapWords: number;
  readonly #tableBase: number;
  readonly #fdBase: number;
  readonly #fdMapBase: number;

  /**
   * Creates the shared memory for `workers` workers running at most
   * `maxTasksPerWorker` root tasks each, recording the open fds below
   * `recordedFds` (a multiple of 32; see {@linkcode recordableFds}).
   */
  static create(
    workers: number,
    maxTasksPerWorker: number,
    recordedFds: number = DEFAULT_RECORDED_FDS,
  ): RuntimeControl {
    // Then the running-ids table (a word per task slot), the taken fds
    // (FDS_PER_SLOT words per slot), the open-fd bitmaps (recordedFds / 32
    // words per worker, zero: none), and last the three sizes.
    const slots = workers * maxTasksPerWorker;
    const fdMaps = GLOBAL_WORDS + workers * WORKER_WORDS + slots * (1 + FDS_PER_SLOT);
    const words = fdMaps + workers * (recordedFds / 32) + 3;
    const buffer = new SharedArrayBuffer(words * 4);
    const view = new Int32Array(buffer);
    view[words - 3] = recordedFds;
    view[words - 2] = workers;
    view[words - 1] = maxTasksPerWorker;
    for (let i = 0; i < workers; i++) {
      view[GLOBAL_WORDS + i * WORKER_WORDS + WAKE_FD] = -1;
      view[GLOBAL_WORDS + i * WORKER_WORDS + REACTOR_FD] = -1;
    }
    view.fill(-1, GLOBAL_WORDS + workers * WORKER_WORDS, fdMaps);
    const id = new Int32Array(1);
    while (id[0] === 0 || createdHere.has(id[0]!)) crypto.getRandomValues(id);
    view[RUNTIME_ID] = id[0]!;
    return new RuntimeControl(buffer);
  }

  /** Wraps shared memory made by {@linkcode RuntimeControl.create}. */
  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.words = new Int32Array(buffer);
    this.workers = this.words[this.words.length - 2]!;
    this.maxTasksPerWorker = this.words[this.words.length - 1]!;
    this.recordedFds = this.words[this.words.length - 3]!;
    this.#fdMapWords = this.recordedFds / 32;
    this.#tableBase = GLOBAL_WORDS + this.workers * WORKER_WORDS;
    this.#fdBase = this.#tableBase + this.workers * this.maxTasksPerWorker;
    this.#fdMapBase = this.#fdBase + this.workers * this.maxTasksPerWorker * FDS_PER_SLOT;
  }

  /** The runtime's id: random, nonzero, unique among the runtimes created on this thread. */
  get id(): number {
    return this.words[RUNTIME_ID]!;
  }

  #w(i: number, word: number): number {
    return GLOBAL_WORDS + i * WORKER_WORDS + word;
  }

  get phase(): number {
    return Atomics.load(this.words, STATE);
  }

  set phase(p: number) {
    Atomics.store(this.words, STATE, p);
  }

  /**
   * A fresh task id in [1, 2^31 - 1] (it must fit an Int32 slot of the
   * shared tables), unique among live tasks, wrapping after 2^31 - 1 ids.
   */
  nextId(): number {
    return ((Atomics.add(this.words, NEXT_ID, 1) >>> 0) % 0x7fffffff) + 1;
  }

  count(counter: Counter, by = 1): void {
    Atomics.add(this.words, COUNTERS[counter], by);
  }

  read(counter: Counter): number {
    return Atomics.load(this.words, COUNTERS[counter]);
  }

  // --- per worker ----------------------------------------------------------

  running(i: number): number {
    return Atomics.load(this.words, this.#w(i, RUNNING));
  }

  get runningTotal(): number {
    return Atomics.load(this.words, RUNNING_TOTAL);
  }

  /** Worker `i` started root task `id` (its `slot` in the table). */
  started(i: number, slot: number, id: number): void {
    Atomics.store(this.words, this.#tableBase + i * this.maxTasksPerWorker + slot, id);
    Atomics.add(this.words, this.#w(i, RUNNING), 1);
    Atomics.add(this.words, RUNNING_TOTAL, 1);
  }

  /** Worker `i` ended the root task in `slot`; wakes a host waiting for the runtime to drain. */
  ended(i: number, slot: number): void {
    Atomics.store(this.words, this.#tableBase + i * this.maxTasksPerWorker + slot, -1);
    Atomics.sub(this.words, this.#w(i, RUNNING), 1);
    Atomics.sub(this.words, RUNNING_TOTAL, 1);
    if (this.phase !== Phase.Open) Atomics.notify(this.words, RUNNING_TOTAL);
  }

  /** The ids of the root tasks worker `i` runs (read by the host when it died). */
  runningIds(i: number): number[] {
    const ids: number[] = [];
    const base = this.#tableBase + i * this.maxTasksPerWorker;
    for (let s = 0; s < this.maxTasksPerWorker; s++) {
      const id = Atomics.load(this.words, base + s);
      if (id !== -1) ids.push(id);
    }
    return ids;
  }

  /**
   * Worker `i` took a task into `slot` that owns `fds` (at most
   * {@linkcode FDS_PER_SLOT}): recorded until the task starts or the worker
   * closes them ({@linkcode releaseFds}), so that the host can close them if
   * the worker's thread dies first.
   */
  holdFds(i: number, slot: number, fds: readonly number[]): void {
    const at = this.#fdBase + (i * this.maxTasksPerWorker + slot) * FDS_PER_SLOT;
    for (let k = 0; k < FDS_PER_SLOT; k++) Atomics.store(this.words, at + k, fds[k] ?? -1);
  }

  /**
   * The fds of the task in worker `i`'s `slot` are no longer the runtime's:
   * the task started (they are its own), or the worker is about to close
   * them (called before the close: a dead worker's record never names an
   * fd number that may have been reused).
   */
  releaseFds(i: number, slot: number): void {
    const at = this.#fdBase + (i * this.maxTasksPerWorker + slot) * FDS_PER_SLOT;
    if (Atomics.load(this.words, at) === -1) return;
    for (let k = 0; k < FDS_PER_SLOT; k++) Atomics.store(this.words, at + k, -1);
  }

  /**
   * Worker `i` opened `fd` (a socket strom owns on that thread): recorded
   * until {@linkcode fdClosing}, so that the host can close it if the
   * worker's thread dies first. Fds from {@linkcode recordedFds} up are not
   * recorded.
   */
  fdOpened(i: number, fd: number): void {
    if (fd < this.recordedFds) Atomics.or(this.words, this.#fdWord(i, fd), 1 << (fd & 31));
  }

  /** Worker `i` is about to close (or hand over) `fd`: no longer recorded. */
  fdClosing(i: number, fd: number): void {
    if (fd < this.recordedFds) Atomics.and(this.words, this.#fdWord(i, fd), ~(1 << (fd & 31)));
  }

  // The word of worker `i`'s open-fd bitmap that holds `fd`'s bit (fd 0 is
  // the first word's bit 0).
  #fdWord(i: number, fd: number): number {
    return this.#fdMapBase + i * this.#fdMapWords + (fd >>> 5);
  }

  /** Forgets what a dead worker ran (its counts go out of the totals; its taken fds stay, see {@linkcode reclaimFds}). */
  clearWorker(i: number): void {
    const n = Atomics.exchange(this.words, this.#w(i, RUNNING), 0);
    Atomics.sub(this.words, RUNNING_TOTAL, n);
    this.words.fill(
      -1,
      this.#tableBase + i * this.maxTasksPerWorker,
      this.#tableBase + (i + 1) * this.maxTasksPerWorker,
    );
    Atomics.notify(this.words, RUNNING_TOTAL);
  }

  /**
   * Publishes worker `i`'s reactor fds (its eventfd, which other threads
   * write, and its other fd or -1) and marks it alive (its first act). The
   * host closes the fds still published here if the worker's thread dies
   * without ending itself (see {@linkcode reclaimFds}).
   */
  attach(i: number, wakeFd: number, reactorFd: number): void {
    Atomics.store(this.words, this.#w(i, WAKE_FD), wakeFd);
    Atomics.store(this.words, this.#w(i, REACTOR_FD), reactorFd);
    Atomics.store(this.words, this.#w(i, ALIVE), 1);
  }

  /**
   * Marks worker `i` dead and waits until no thread is writing its eventfd;
   * after this nobody will, so its fds may be closed. Unpublishes them: the
   * caller closes them (the worker itself, or the host for a dead worker).
   */
  detach(i: number): void {
    Atomics.store(this.words, this.#w(i, ALIVE), 0);
    Atomics.store(this.words, this.#w(i, IDLE), 0);
    while (Atomics.load(this.words, this.#w(i, RINGING)) !== 0) { /* a write in flight: ~1 µs */ }
    Atomics.store(this.words, this.#w(i, WAKE_FD), -1);
    Atomics.store(this.words, this.#w(i, REACTOR_FD), -1);
  }

  /**
   * The host wrote worker `i` off (lost, or terminated): from now on nobody
   * rings it, and if its thread still runs (a terminate() that did not stop
   * it) it counts nothing more ({@linkcode alive} is false for it).
   */
  disown(i: number): void {
    Atomics.store(this.words, this.#w(i, ALIVE), 0);
    Atomics.store(this.words, this.#w(i, IDLE), 0);
  }

  /**
   * For a worker whose thread is gone without ending itself (the host
   * checked): detaches it and returns, for the host to close, its reactor
   * fds that are still published (none if the worker got as far as its own
   * `detach`: it closes them itself, never twice), the fds of the tasks
   * it had taken and not started (see {@linkcode holdFds}) and the sockets
   * its tasks left open (see {@linkcode fdOpened}).
   */
  reclaimFds(i: number): number[] {
    const wake = Atomics.load(this.words, this.#w(i, WAKE_FD));
    const other = Atomics.load(this.words, this.#w(i, REACTOR_FD));
    this.detach(i);
    const fds = [wake, other].filter((fd) => fd >= 0);
    const from = this.#fdBase + i * this.maxTasksPerWorker * FDS_PER_SLOT;
    const to = from + this.maxTasksPerWorker * FDS_PER_SLOT;
    for (let at = from; at < to; at++) {
      const fd = Atomics.exchange(this.words, at, -1);
      if (fd >= 0) fds.push(fd);
    }
    const map = this.#fdWord(i, 0);
    for (let w = 0; w < this.#fdMapWords; w++) {
      let bits = Atomics.exchange(this.words, map + w, 0);
      for (let b = 0; bits !== 0; b++, bits >>>= 1) {
        if ((bits & 1) !== 0) fds.push(w * 32 + b);
      }
    }
    return fds;
  }

  alive(i: number): boolean {
    return Atomics.load(this.words, this.#w(i, ALIVE)) === 1;
  }

  /** Writes worker `i`'s eventfd if it is alive (any thread). */
  ring(i: number): void {
    const ringing = this.#w(i, RINGING);
    Atomics.add(this.words, ringing, 1);
    try {
      if (Atomics.load(this.words, this.#w(i, ALIVE)) !== 1) return;
      const fd = Atomics.load(this.words, this.#w(i, WAKE_FD));
      if (fd >= 0) libc.write(fd, ONE, 8);
    } finally {
      Atomics.sub(this.words, ringing, 1);
    }
  }

  /** Rings every live worker (phase changes). */
  ringAll(): void {
    for (let i = 0; i < this.workers; i++) this.ring(i);
  }

  /** Worker `i` is about to sleep with room for a task (1) or not (0). */
  setIdle(i: number, idle: boolean): void {
    Atomics.store(this.words, this.#w(i, IDLE), idle ? 1 : 0);
  }

  /** Claims one idle worker (round robin from a shared cursor) and rings it; false if none was idle. */
  wakeOneIdle(): boolean {
    const n = this.workers;
    const start = Atomics.add(this.words, WAKE_CURSOR, 1) % n;
    for (let k = 0; k < n; k++) {
      const i = (start + k) % n;
      if (Atomics.compareExchange(this.words, this.#w(i, IDLE), 1, 0) === 1) {
        this.ring(i);
        return true;
      }
    }
    return false;
  }

  // --- room in the queue ---------------------------------------------------

  /** Worker `i` has tasks waiting for room in the queue (1) or not (0). */
  setRoomWait(i: number, waiting: boolean): void {
    Atomics.store(this.words, this.#w(i, ROOM_WAIT), waiting ? 1 : 0);
  }

  /** The host has spawns waiting for room. */
  setHostRoomWaiter(waiting: boolean): void {
    Atomics.store(this.words, HOST_ROOM_WAITER, waiting ? 1 : 0);
  }

  get roomSeq(): number {
    return Atomics.load(this.words, ROOM_SEQ);
  }

  /** Waits (without blocking the host) until room may have opened since `seq`. */
  waitRoom(seq: number): Promise<unknown> | null {
    const r = Atomics.waitAsync(this.words, ROOM_SEQ, seq);
    return r.async ? r.value : null;
  }

  /** Waits (without blocking the host) until the running total changes from `seen`, or `ms` pass. */
  waitRunning(seen: number, ms: number): Promise<unknown> | null {
    const r = Atomics.waitAsync(this.words, RUNNING_TOTAL, seen, ms);
    return r.async ? r.value : null;
  }

  /** A record left the queue: tell whoever waits for room (host and workers). */
  roomOpened(): void {
    if (Atomics.load(this.words, HOST_ROOM_WAITER) !== 0) {
      Atomics.add(this.words, ROOM_SEQ, 1);
      Atomics.notify(this.words, ROOM_SEQ);
    }
    for (let i = 0; i < this.workers; i++) {
      if (Atomics.compareExchange(this.words, this.#w(i, ROOM_WAIT), 1, 0) === 1) this.ring(i);
    }
  }
}
