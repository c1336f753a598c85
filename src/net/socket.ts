/**
 * The life of one socket fd, shared by every socket type: opened
 * non-blocking and close-on-exec, registered once with its thread's reactor,
 * checked against the usage model on every operation, and closed so that any
 * task waiting on it wakes with {@linkcode SocketClosedError}.
 *
 * @module
 */

import {
  encodeSockAddr,
  libc,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCKADDR_IN6_SIZE,
  type SocketAddr,
  sysError,
} from "../ffi/mod.ts";
import type { IoSource } from "../io/reactor.ts";
import { beginWait, currentTask, existingScheduler, threadScheduler } from "../sched/current.ts";
import type { Scheduler, TaskRecord } from "../sched/scheduler.ts";
import { type Operation, SUSPEND } from "../sched/types.ts";
import { halt, Rule } from "../sched/usage.ts";
import { familyOf } from "./addr.ts";

/**
 * Thrown into a task that was waiting on a socket (to read, write, accept,
 * receive, or in accept's back-off) when another task closed that socket.
 * The socket is closed for good; using it again halts (`socket-used-after-close`).
 */
export class SocketClosedError extends Error {
  /** Always `"SocketClosedError"`. */
  override readonly name = "SocketClosedError";
  /** The error for `op` waiting on a socket another task closed. */
  constructor(
    /** The operation that was waiting (`"read"`, `"accept"`, ...). */
    readonly op: string,
  ) {
    super(`socket closed while ${op} was waiting on it`);
  }
}

/**
 * Opens a socket of `type` for `addr`'s family, non-blocking and
 * close-on-exec from creation (no window where a fork+exec inherits it).
 * Throws the `SysError` of `socket`.
 */
export function openSocketFd(addr: SocketAddr, type: number): number {
  const fd = libc.socket(familyOf(addr), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError("socket", libc.errno());
  return fd;
}

/** Encodes `addr` into a fresh sockaddr buffer; returns it and its length. */
export function sockAddrBytes(addr: SocketAddr): [Uint8Array, number] {
  const buf = new Uint8Array(SOCKADDR_IN6_SIZE);
  return [buf, encodeSockAddr(addr, buf)];
}

/** Sets an int socket option; throws the `SysError` of `setsockopt`. */
export function setIntOption(fd: number, level: number, name: number, value: number): void {
  const buf = new Uint8Array(4);
  new DataView(buf.buffer).setInt32(0, value, true);
  if (libc.setsockopt(fd, level, name, buf, 4) < 0) throw sysError("setsockopt", libc.errno());
}

/** Reads an int socket option; throws the `SysError` of `getsockopt`. */
export function getIntOption(fd: number, level: number, name: number): number {
  const buf = new Uint8Array(4);
  const len = new Uint32Array([4]);
  if (libc.getsockopt(fd, level, name, buf, len) < 0) throw sysError("getsockopt", libc.errno());
  return new DataView(buf.buffer).getInt32(0, true);
}

/**
 * Registers `task` as the reader (or writer, if `write`) of `source`. Halts
 * (`socket-waited-on-twice`) when another task already waits in that
 * direction: one of the two would never be woken.
 */
export function waitOn(source: IoSource, task: TaskRecord, write: boolean): void {
  const ok = write
    ? source.reactor.waitWritable(source, task)
    : source.reactor.waitReadable(source, task);
  if (!ok) {
    halt(
      Rule.SharedSocketWait,
      `two tasks wait to ${
        write ? "write" : "read"
      } fd ${source.fd} at once (one task per direction at a time)`,
    );
  }
}

/**
 * One open socket fd registered with a scheduler's reactor. Owns the fd:
 * {@linkcode close} is the one place it is closed.
 */
export class SocketCore {
  /** The reactor record with the cached readiness. */
  readonly source: IoSource;
  /** Closed by {@linkcode close}: any later use halts. */
  closed = false;
  /** A task sleeping in accept's back-off (woken by close like a reader). */
  sleeper: TaskRecord | null = null;

  /**
   * Registers `fd` with `scheduler`'s reactor. On failure the fd is closed
   * and the error thrown, so the caller never leaks it.
   */
  constructor(
    /** The file descriptor. */
    readonly fd: number,
    /** The scheduler (hence the thread) this socket belongs to. */
    readonly scheduler: Scheduler,
    /** What the socket is, for messages (`"TcpStream"`). */
    readonly kind: string,
  ) {
    try {
      this.source = scheduler.reactor.register(fd);
    } catch (error) {
      libc.close(fd);
      throw error;
    }
    scheduler.owned.add(this);
  }

  /** Wraps `fd` for the calling thread's scheduler (closing it on failure). */
  static forThisThread(fd: number, kind: string): SocketCore {
    let scheduler: Scheduler;
    try {
      scheduler = threadScheduler(); // the first use creates the reactor: may fail (EMFILE)
    } catch (error) {
      libc.close(fd);
      throw error;
    }
    return new SocketCore(fd, scheduler, kind);
  }

  /**
   * The task running operation `op` on this socket, after the usage checks:
   * halts (`socket-used-after-close`) if the socket was closed, (`operation-
   * outside-task`) outside a task, and (`socket-from-other-thread`) when the
   * running task belongs to another scheduler than the socket's.
   */
  task(op: string): TaskRecord {
    if (this.closed) this.#usedAfterClose(op);
    const task = currentTask(op);
    if (task.scheduler !== this.scheduler) this.#foreign(op);
    return task;
  }

  /** Halts unless the socket is open and (if a task runs) used from its own thread. */
  checkSync(op: string): void {
    if (this.closed) this.#usedAfterClose(op);
    const running = existingScheduler()?.current;
    if (running != null && running.scheduler !== this.scheduler) this.#foreign(op);
  }

  #usedAfterClose(op: string): never {
    halt(Rule.UseAfterClose, `${this.kind}.${op} on fd ${this.fd} after close()`);
  }

  #foreign(op: string): never {
    halt(
      Rule.ForeignSocket,
      `${this.kind}.${op} on fd ${this.fd}, which is registered with another thread's scheduler`,
    );
  }

  /**
   * Suspends `task` until the reactor reports the socket readable (or
   * writable, if `write`). Throws {@linkcode SocketClosedError} if the socket
   * was closed meanwhile. Cancel-safe: the waiter is removed.
   */
  *waitReady(task: TaskRecord, op: string, write: boolean): Operation<void> {
    const source = this.source;
    beginWait(op);
    waitOn(source, task, write);
    try {
      yield SUSPEND;
    } finally {
      source.reactor.unwait(source, task);
    }
    if (this.closed) throw new SocketClosedError(op);
  }

  /**
   * Sleeps `ms` in accept's back-off, in a way {@linkcode close} can
   * interrupt. Throws {@linkcode SocketClosedError} if closed meanwhile.
   */
  *backOff(task: TaskRecord, op: string, ms: number): Operation<void> {
    const timers = this.scheduler.timers;
    beginWait(op);
    const timer = timers.insert(this.scheduler.now() + ms, task);
    this.sleeper = task;
    try {
      yield SUSPEND;
    } finally {
      timers.cancel(timer);
      this.sleeper = null;
    }
    if (this.closed) throw new SocketClosedError(op);
  }

  /**
   * Closes the fd (idempotent). A task waiting on the socket is woken and
   * throws {@linkcode SocketClosedError} from its wait; the fd is deregistered
   * and closed before this returns. Halts when called from a task of another
   * thread's scheduler.
   */
  close(): void {
    if (this.closed) return;
    const running = existingScheduler()?.current;
    if (running != null && running.scheduler !== this.scheduler) this.#foreign("close");
    this.closed = true;
    const source = this.source;
    const reactor = source.reactor;
    const reader = source.reader;
    const writer = source.writer;
    // Woken normally: each wait checks `closed` when it resumes and throws
    // SocketClosedError naming its own operation.
    if (reader !== null) {
      reactor.unwait(source, reader);
      reader.wake();
    }
    if (writer !== null) {
      reactor.unwait(source, writer);
      writer.wake();
    }
    this.sleeper?.wake();
    reactor.deregister(source);
    this.scheduler.owned.delete(this);
    if (!this.released) libc.close(this.fd);
  }

  /** Set by {@linkcode release}: `close` leaves the fd open. */
  released = false;

  /**
   * Gives the fd up without closing it (to hand it to another thread):
   * closes the socket for this thread like {@linkcode close} (waiters wake
   * with `SocketClosedError`, later use halts) but leaves the fd open, and
   * returns it. Halts from another thread's task, and after close.
   */
  release(): number {
    this.checkSync("release");
    this.released = true;
    this.close();
    return this.fd;
  }
}
