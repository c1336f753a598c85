/**
 * The epoll backend: edge-triggered, each fd registered once for reading and
 * writing, its readiness cached in its {@linkcode IoSource}.
 *
 * Edge-triggered means the kernel reports a change once; strom remembers it
 * (`readable`/`writable`) until an operation meets `EAGAIN`. So an operation
 * that can proceed costs its own syscall only, never an epoll_ctl, and a wait
 * costs no syscall beyond the thread's shared epoll_pwait2.
 *
 * `epoll_pwait2` (ns timeouts) needs glibc >= 2.35 and Linux >= 5.11. Where
 * the symbol is missing or the kernel answers `ENOSYS`, the reactor waits
 * with `epoll_wait` instead, its timeout rounded up to whole milliseconds: a
 * wait may end up to 1 ms late, never early.
 *
 * @module
 */

import {
  check,
  EINTR,
  encodeEpollEvent,
  encodeTimespec,
  ENOSYS,
  envVar,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLLERR,
  EPOLLET,
  EpollEvents,
  EPOLLHUP,
  EPOLLIN,
  EPOLLOUT,
  EPOLLPRI,
  EPOLLRDHUP,
  libc,
  MultishotPoll,
  type PollFds,
  POLLIN,
} from "../ffi/mod.ts";
import { IoSource, PollHint, type Reactor, WaiterBook } from "./reactor.ts";
import { WakeFd } from "./wake_fd.ts";

const READ_EVENTS = EPOLLIN | EPOLLPRI | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
const WRITE_EVENTS = EPOLLOUT | EPOLLHUP | EPOLLERR;
// Reported once (edge-triggered) but true for good: see IoSource.hangup.
const HANGUP_EVENTS = EPOLLRDHUP | EPOLLHUP | EPOLLERR;
// The wake fd's registration carries this instead of an fd number.
const WAKE_TOKEN = 0xffffffff;
// epoll_wait's timeout is a C int of milliseconds.
const MAX_TIMEOUT_MS = 0x7fffffff;

/** `timeoutNs` as epoll_wait's milliseconds: rounded up (never early), -1 stays forever. */
export function timeoutMsCeil(timeoutNs: number): number {
  return timeoutNs < 0 ? -1 : Math.min(Math.ceil(timeoutNs / 1e6), MAX_TIMEOUT_MS);
}

/** Options of an {@linkcode EpollReactor}. */
export interface EpollReactorOptions {
  /**
   * Whether {@linkcode EpollReactor.pollHint} may use an io_uring doorbell
   * on the epoll fd (where the kernel has one); default: unless the
   * environment variable `STROM_DOORBELL` is `0`.
   */
  doorbell?: boolean;
}

/**
 * A {@linkcode Reactor} on Linux epoll, edge-triggered.
 *
 * Its {@linkcode pollHint} reads a doorbell: an io_uring multishot poll of
 * the epoll fd itself (`src/ffi/uring.ts`), armed while the scheduler says
 * it is busy ({@linkcode setBusy}; the ring is set up the first time, so
 * only a thread that runs tasks back to back while it watches fds has one).
 * The kernel marks shared memory when any registered fd or the wake fd
 * becomes ready, so a busy thread learns of an event within one fair look
 * (FAIR_INTERVAL task steps) and makes a zero-timeout wait only then. It is
 * disarmed while the thread is not busy: armed, each fd wake-up costs kernel
 * work. Where io_uring is missing or refused the hint is `Unknown` and the
 * scheduler polls on its clock, as the poll backend does.
 */
export class EpollReactor extends WaiterBook implements Reactor {
  readonly kind = "epoll";
  readonly #epfd: number;
  readonly #wake: WakeFd;
  // Sources by fd: fds are small integers, so an array is the O(1) lookup.
  readonly #sources: (IoSource | undefined)[] = [];
  readonly #events = new EpollEvents(1024);
  readonly #ctl = new Uint8Array(16);
  readonly #timespec = new Uint8Array(16);
  // Null once known to be unusable (missing symbol, or ENOSYS once).
  #pwait2 = libc.epoll_pwait2;
  /** The doorbell (see the class doc): undefined until first asked for, null without one. */
  #doorbell: MultishotPoll | null | undefined;

  constructor(options: EpollReactorOptions = {}) {
    super();
    this.#doorbell = (options.doorbell ?? envVar("STROM_DOORBELL") !== "0") ? undefined : null;
    this.#epfd = check(libc.epoll_create1(EPOLL_CLOEXEC), "epoll_create1", libc);
    try {
      this.#wake = new WakeFd();
      this.#add(this.#wake.fd, EPOLLIN | EPOLLET, WAKE_TOKEN);
    } catch (error) {
      libc.close(this.#epfd);
      throw error;
    }
  }

  get wakeFd(): number {
    return this.#wake.fd;
  }

  get ownFd(): number {
    return this.#epfd;
  }

  #add(fd: number, events: number, data: number): void {
    encodeEpollEvent(events, data, this.#ctl);
    check(libc.epoll_ctl(this.#epfd, EPOLL_CTL_ADD, fd, this.#ctl), "epoll_ctl", libc);
  }

  register(fd: number): IoSource {
    const source = new IoSource(fd, this);
    // EPOLLPRI: urgent data makes a read stop short (see IoSource.urgent).
    this.#add(fd, EPOLLIN | EPOLLPRI | EPOLLOUT | EPOLLRDHUP | EPOLLET, fd);
    this.#sources[fd] = source;
    return source;
  }

  deregister(source: IoSource): void {
    if (this.#sources[source.fd] !== source) return;
    this.#sources[source.fd] = undefined;
    // Closing the fd would drop the registration too, but only when no other
    // descriptor shares the open file (a dup or a fork); be explicit.
    libc.epoll_ctl(this.#epfd, EPOLL_CTL_DEL, source.fd, null);
  }

  // One kernel wait: epoll_pwait2 where it works, else epoll_wait.
  #kernelWait(timeoutNs: number): number {
    const events = this.#events;
    const pwait2 = this.#pwait2;
    if (pwait2 !== null) {
      let timeout: Uint8Array | null = null;
      if (timeoutNs >= 0) {
        encodeTimespec(timeoutNs, this.#timespec);
        timeout = this.#timespec;
      }
      const n = pwait2(this.#epfd, events.bytes, events.capacity, timeout);
      if (n >= 0 || libc.errno() !== ENOSYS) return n;
      this.#pwait2 = null; // glibc has it, the kernel (< 5.11) does not
    }
    return libc.epoll_wait(this.#epfd, events.bytes, events.capacity, timeoutMsCeil(timeoutNs));
  }

  watchFds(out: PollFds): number {
    out.set(0, this.#epfd, POLLIN); // readable while it holds events
    return 1;
  }

  pollHint(): PollHint {
    const doorbell = this.#doorbell;
    if (doorbell == null || !doorbell.armed) return PollHint.Unknown;
    return doorbell.fired() ? PollHint.Something : PollHint.Nothing;
  }

  setBusy(busy: boolean): boolean {
    let doorbell = this.#doorbell;
    if (!busy) {
      doorbell?.disarm();
      return false;
    }
    if (doorbell === undefined) {
      doorbell = this.#doorbell = MultishotPoll.open(this.#epfd, POLLIN); // armed
    }
    if (doorbell === null) return false;
    if (!doorbell.arm()) this.#dropDoorbell();
    return this.#doorbell !== null;
  }

  // Tears the doorbell down for good (the reactor closes, or the kernel
  // refused to arm it): pollHint answers Unknown from now on.
  #dropDoorbell(): void {
    this.#doorbell?.close();
    this.#doorbell = null;
  }

  /** How many completions the doorbell's ring has posted and the waits read (a diagnostic for tests). */
  get doorbellCompletions(): number {
    return this.#doorbell?.completions ?? 0;
  }

  /** Whether the doorbell is set up (a diagnostic for tests). */
  get hasDoorbell(): boolean {
    return this.#doorbell != null;
  }

  wait(timeoutNs: number): boolean {
    const events = this.#events;
    const doorbell = this.#doorbell;
    // Before the wait, so that an event after it collected rings again.
    if (doorbell != null && !doorbell.consume()) this.#dropDoorbell();
    const n = this.#kernelWait(timeoutNs);
    if (n < 0) {
      if (libc.errno() === EINTR) return false;
      check(n, this.#pwait2 !== null ? "epoll_pwait2" : "epoll_wait", libc);
    }
    let woken = false;
    for (let i = 0; i < n; i++) {
      const fd = events.data(i);
      if (fd === WAKE_TOKEN) {
        this.#wake.drain();
        woken = true;
        continue;
      }
      const source = this.#sources[fd];
      if (source === undefined) continue; // deregistered in this batch
      const ev = events.events(i);
      if ((ev & HANGUP_EVENTS) !== 0) source.hangup = true;
      if ((ev & EPOLLPRI) !== 0) source.urgent = true;
      if ((ev & READ_EVENTS) !== 0) this.readyToRead(source);
      if ((ev & WRITE_EVENTS) !== 0) this.readyToWrite(source);
    }
    return woken;
  }

  close(): void {
    this.#dropDoorbell(); // first: the ring holds the epoll file until torn down
    this.#wake.close();
    libc.close(this.#epfd);
  }
}
