/**
 * The reactor interface: what the scheduler needs from a readiness backend
 * (epoll or poll), and the per-fd record the sockets use.
 *
 * @module
 */

import type { PollFds } from "../ffi/mod.ts";

/** Something a reactor or a timer wakes: a task of the scheduler. */
export interface Waiter {
  /** Makes the waiter runnable again (a no-op unless it is waiting). */
  wake(): void;
}

/**
 * One file descriptor registered with a reactor, with its readiness cached.
 *
 * The flags start true: an operation tries its syscall first and only waits
 * after `EAGAIN` (or a short read where that proves the kernel's queue
 * drained: see {@linkcode hangup} and {@linkcode urgent}), clearing the
 * flag; the reactor sets it
 * again when the kernel reports the fd ready. With edge-triggered epoll this
 * means an operation that can proceed costs no epoll_ctl and no extra wait.
 */
export class IoSource {
  /** Cached: a read might proceed without waiting. */
  readable = true;
  /** Cached: a write might proceed without waiting. */
  writable = true;
  /**
   * Sticky: the kernel reported the peer's hang-up or an error (RDHUP, HUP,
   * ERR). Reads never block again, so a short read must not clear
   * `readable` (an edge-triggered backend would not report the EOF twice).
   */
  hangup = false;
  /**
   * Sticky: the kernel reported urgent (out-of-band) data (EPOLLPRI). A
   * stream read stops short at the urgent mark with in-band data still
   * queued, so from now on a short read does not prove the queue drained:
   * only `EAGAIN` clears `readable`. (Only the epoll backend sets it; poll is
   * level-triggered and re-reports what is left.)
   */
  urgent = false;
  /** The task waiting to read, if any. */
  reader: Waiter | null = null;
  /** The task waiting to write, if any. */
  writer: Waiter | null = null;
  /** Position in the poll backend's interest list (-1: not listed). */
  pollSlot = -1;

  constructor(
    /** The file descriptor. */
    readonly fd: number,
    /** The reactor this source is registered with. */
    readonly reactor: Reactor,
  ) {}
}

/** Which readiness backend a reactor uses. */
export type ReactorKind = "epoll" | "poll";

/**
 * What a reactor knows, without a syscall, about events a zero-timeout
 * {@linkcode Reactor.wait} would collect (see {@linkcode Reactor.pollHint}).
 */
export const PollHint = {
  /** Certain: no fd event and no wake-up arrived since the last wait. */
  Nothing: 0,
  /** Something arrived (or may have): a wait would find it. */
  Something: 1,
  /** The backend cannot tell: the caller polls on a clock. */
  Unknown: 2,
} as const;
/** One of the values of {@linkcode PollHint}. */
export type PollHint = typeof PollHint[keyof typeof PollHint];

/** A readiness backend: registers fds and sleeps in the kernel until one is ready. */
export interface Reactor {
  /** The backend's name. */
  readonly kind: ReactorKind;
  /** How many reader or writer waits are registered (the idle check needs it). */
  readonly waiting: number;

  /** Registers `fd` once for its whole life (non-blocking fds only). */
  register(fd: number): IoSource;
  /** Forgets `source`; call before closing its fd. Waiters must be gone. */
  deregister(source: IoSource): void;
  /**
   * Makes `waiter` the reader of `source` until woken or {@linkcode unwait}.
   * Returns false, registering nothing, when another waiter already waits
   * to read `source` (one waiter per direction: the caller decides what
   * that means; the socket layer halts).
   */
  waitReadable(source: IoSource, waiter: Waiter): boolean;
  /** Like {@linkcode waitReadable}, for writing. */
  waitWritable(source: IoSource, waiter: Waiter): boolean;
  /** Removes `waiter` from `source` (a cancelled or finished wait). */
  unwait(source: IoSource, waiter: Waiter): void;
  /**
   * Sleeps in the kernel until a registered fd is ready, the wake fd is
   * signalled, or `timeoutNs` passes (-1: no limit, 0: don't sleep), then
   * wakes the waiters whose events fired. Returns whether the wake fd fired.
   */
  wait(timeoutNs: number): boolean;
  /**
   * Whether a zero-timeout {@linkcode wait} now would find anything, as far
   * as the backend knows without a syscall: the scheduler asks between task
   * steps once {@linkcode setBusy} said it can answer, and polls only on
   * {@linkcode PollHint.Something}. Never `Nothing` after an fd event or a
   * wake-up that no wait has collected.
   */
  pollHint(): PollHint;
  /**
   * The scheduler has been busy for a while, tasks ready back to back
   * (`true`), or is about to wait because none is (`false`). A backend that
   * can answer {@linkcode pollHint} without a syscall only at a cost of its
   * own (epoll's doorbell: kernel work at every fd wake-up) pays it only
   * while busy. Returns whether {@linkcode pollHint} now answers `Nothing` or
   * `Something` (else `Unknown`: poll on the clock).
   */
  setBusy(busy: boolean): boolean;
  /**
   * Fills `out` with the pollfd entries that become ready when a
   * {@linkcode wait} would return (the epoll fd itself, which is pollable;
   * or the wake fd and every fd with a waiter) and returns their count: what
   * a wait off the JS thread watches (`pollOffThread`) before the thread
   * collects the events with `wait(0)`. Consumes no readiness.
   */
  watchFds(out: PollFds): number;
  /** The eventfd another thread writes to end a {@linkcode wait}. */
  readonly wakeFd: number;
  /**
   * The backend's own fd besides the wake fd (epoll's epoll fd), or -1. A
   * runtime publishes it so that the host can close it for a worker whose
   * thread died without closing its reactor.
   */
  readonly ownFd: number;
  /** Closes the backend's own fds. */
  close(): void;
}

/**
 * The waiter bookkeeping both backends share: one reader and one writer per
 * source, a count of registered waits, and the wake-ups when the kernel
 * reports readiness.
 */
export abstract class WaiterBook {
  /** How many reader or writer waits are registered. */
  waiting = 0;

  /**
   * Makes `waiter` the reader of `source` until woken or {@linkcode unwait}.
   * Returns false, registering nothing, if another waiter already waits to
   * read it: one of the two would never be woken.
   */
  waitReadable(source: IoSource, waiter: Waiter): boolean {
    if (source.reader === null) this.waiting++;
    else if (source.reader !== waiter) return false;
    source.reader = waiter;
    this.interested(source);
    return true;
  }

  /**
   * Makes `waiter` the writer of `source` until woken or {@linkcode unwait}.
   * Returns false, registering nothing, if another waiter already waits to
   * write it.
   */
  waitWritable(source: IoSource, waiter: Waiter): boolean {
    if (source.writer === null) this.waiting++;
    else if (source.writer !== waiter) return false;
    source.writer = waiter;
    this.interested(source);
    return true;
  }

  /** Removes `waiter` from `source` (a cancelled or finished wait). */
  unwait(source: IoSource, waiter: Waiter): void {
    if (source.reader === waiter) {
      source.reader = null;
      this.waiting--;
    }
    if (source.writer === waiter) {
      source.writer = null;
      this.waiting--;
    }
  }

  /** The kernel reported `source` readable: cache it and wake its reader. */
  protected readyToRead(source: IoSource): void {
    source.readable = true;
    const reader = source.reader;
    if (reader !== null) {
      source.reader = null;
      this.waiting--;
      reader.wake();
    }
  }

  /** The kernel reported `source` writable: cache it and wake its writer. */
  protected readyToWrite(source: IoSource): void {
    source.writable = true;
    const writer = source.writer;
    if (writer !== null) {
      source.writer = null;
      this.waiting--;
      writer.wake();
    }
  }

  /** Told when a wait is registered on `source` (the poll backend lists it). */
  protected interested(_source: IoSource): void {}
}
