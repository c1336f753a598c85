/**
 * `AsyncFd`: a non-blocking file descriptor registered with the calling
 * thread's reactor, and the one place strom waits on an fd.
 *
 * Every socket operation of strom is a {@linkcode AsyncFd.readWith} or
 * {@linkcode AsyncFd.writeWith}: try the syscall; on `EINTR` try again; on
 * `EAGAIN` forget the cached readiness and wait for the reactor; any other
 * failure is a `SysError`. The same class is public, so a user can wrap any
 * non-blocking fd (a pipe, an eventfd, a tty, a socket strom has no type
 * for) and write operations with the same cancel safety and usage rules.
 *
 * @module
 */

import { EAGAIN, EINTR, F_GETFL, libc, O_NONBLOCK, sysError } from "../ffi/mod.ts";
import type { IoSource } from "../io/reactor.ts";
import { spendBudget, yieldForBudget } from "../sched/budget.ts";
import { beginWait, currentTask, existingScheduler, threadScheduler } from "../sched/current.ts";
import type { Scheduler, TaskRecord } from "../sched/scheduler.ts";
import { type Operation, SUSPEND } from "../sched/types.ts";
import { halt, Rule } from "../sched/usage.ts";
import { checkFd, describe } from "./check.ts";

/**
 * Thrown into a task that was waiting on a socket or an {@linkcode AsyncFd}
 * (to read, write, accept, receive, or in a {@linkcode AsyncFd.pause}) when
 * another task closed it. It is closed for good; using it again halts
 * (`socket-used-after-close`).
 */
export class SocketClosedError extends Error {
  /** Always `"SocketClosedError"`. */
  override readonly name = "SocketClosedError";
  /** Creates the error for operation `op`, woken by a close. */
  constructor(
    /** The operation that was waiting (`"read"`, `"accept"`, ...). */
    readonly op: string,
  ) {
    super(`socket closed while ${op} was waiting on it`);
  }
}

/** Options of the {@linkcode AsyncFd} constructor. */
export interface AsyncFdOptions {
  /** What the fd is, for halt messages (`"Pipe"` gives `Pipe.read on fd 7 after close()`); default `"AsyncFd"`. */
  name?: string;
}

// Set by adoptFd for the constructor it calls: the scheduler to register
// with, and that the fd is known to be open and non-blocking.
let adopting: Scheduler | null = null;

/**
 * A non-blocking fd registered with the reactor of the thread that made it,
 * its readiness cached (see `IoSource`), which it owns: {@linkcode close}
 * closes it, {@linkcode release} gives it back.
 *
 * Write an operation with {@linkcode readWith}/{@linkcode writeWith}: pass
 * the syscall as a function returning what C returns (`>= 0` done, `-1` with
 * `errno` set). Or wait yourself with {@linkcode readable}/{@linkcode
 * writable} and call {@linkcode clearReadable}/{@linkcode clearWritable}
 * when your syscall says `EAGAIN`.
 *
 * Usage rules (breaking one halts the process, as for strom's sockets): one
 * task waits to read and one to write at a time (`socket-waited-on-twice`);
 * it is used only from a task of the thread that made it
 * (`socket-from-other-thread`); never after {@linkcode close} or
 * {@linkcode release} (`socket-used-after-close`). Waits happen inside strom
 * tasks only (`operation-outside-task`).
 *
 * Cancel safety: a cancelled wait registered nothing that outlives it; an
 * operation written with `readWith`/`writeWith` whose syscall either acts
 * completely or fails with `EAGAIN` is cancel-safe the same way (cancelled,
 * it did nothing).
 *
 * @example A pipe, read and written through your own FFI binding (Deno here; `bun:ffi` is alike)
 * ```ts
 * import { AsyncFd, awaitAll, run, type Task } from "strom";
 *
 * // read(2), write(2) and pipe2(2) through your own binding (bun:ffi is alike).
 * const libc = Deno.dlopen("libc.so.6", {
 *   pipe2: { parameters: ["buffer", "i32"], result: "i32" },
 *   read: { parameters: ["i32", "buffer", "u32"], result: "i32" },
 *   write: { parameters: ["i32", "buffer", "u32"], result: "i32" },
 * }).symbols;
 * const fds = new Int32Array(2);
 * libc.pipe2(fds, 0o4000 | 0o2000000); // O_NONBLOCK | O_CLOEXEC
 * const reader = new AsyncFd(fds[0], { name: "PipeReader" });
 * const writer = new AsyncFd(fds[1], { name: "PipeWriter" });
 *
 * run(function* (): Task<void> {
 *   const hello = new TextEncoder().encode("hello");
 *   const buf = new Uint8Array(64);
 *   const [n] = yield* awaitAll(
 *     // Waits in strom's reactor until the pipe has data. Passing the length
 *     // lets a short read count as "drained" (true of pipes and streams).
 *     reader.readWith("read", () => libc.read(reader.fd, buf, buf.length), buf.length),
 *     writer.writeWith("write", () => libc.write(writer.fd, hello, hello.length)),
 *   );
 *   console.log(new TextDecoder().decode(buf.subarray(0, n))); // hello
 *   reader.close();
 *   writer.close();
 * }());
 * ```
 */
export class AsyncFd {
  readonly #fd: number;
  readonly #name: string;
  readonly #scheduler: Scheduler;
  readonly #source: IoSource;
  #closed = false;
  #released = false;
  // A task in pause(): woken by close like a reader.
  #sleeper: TaskRecord | null = null;

  /**
   * Registers `fd`, which must be open and non-blocking (`O_NONBLOCK`), with
   * the calling thread's reactor. From now on the `AsyncFd` owns it.
   *
   * Throws (leaving `fd` open and yours): a `TypeError`/`RangeError` for a
   * value that is not an fd number, a `TypeError` for a blocking fd (it would
   * stop the thread), a `SysError` `EBADF` for an fd that is not open, and
   * the reactor's `SysError` from `epoll_ctl` (`EPERM` for a regular file or
   * a directory, which epoll cannot watch; `ENOSPC`, `ENOMEM`). May be called
   * outside a task.
   */
  constructor(fd: number, options: AsyncFdOptions = {}) {
    let scheduler = adopting;
    adopting = null;
    const name = options.name ?? "AsyncFd";
    if (scheduler === null) {
      checkFd(fd, "AsyncFd");
      if (typeof name !== "string") {
        throw new TypeError(`AsyncFd: name must be a string, got ${describe(name)}`);
      }
      const flags = libc.fcntl(fd, F_GETFL, 0);
      if (flags < 0) throw sysError("fcntl", libc.errno());
      if ((flags & O_NONBLOCK) === 0) {
        throw new TypeError(`AsyncFd: fd ${fd} is blocking; set O_NONBLOCK first`);
      }
      scheduler = threadScheduler();
    }
    this.#fd = fd;
    this.#name = name;
    this.#scheduler = scheduler;
    this.#source = scheduler.reactor.register(fd);
    scheduler.own(this, fd);
  }

  /** The file descriptor (for your syscalls inside operations; the `AsyncFd` owns it). */
  get fd(): number {
    return this.#fd;
  }

  /** Whether {@linkcode close} (or {@linkcode release}) was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * The fd, for a synchronous operation `op` of yours (a getter, a socket
   * option): halts (`socket-used-after-close`) after close and
   * (`socket-from-other-thread`) from a task of another thread.
   */
  fdFor(op: string): number {
    if (this.#closed) this.#usedAfterClose(op);
    const running = existingScheduler()?.current;
    if (running != null && running.scheduler !== this.#scheduler) this.#foreign(op);
    return this.#fd;
  }

  // The task running `op`, after the usage checks.
  #task(op: string): TaskRecord {
    if (this.#closed) this.#usedAfterClose(op);
    const task = currentTask(op);
    if (task.scheduler !== this.#scheduler) this.#foreign(op);
    return task;
  }

  #usedAfterClose(op: string): never {
    halt(Rule.UseAfterClose, `${this.#name}.${op} on fd ${this.#fd} after close()`);
  }

  #foreign(op: string): never {
    halt(
      Rule.ForeignSocket,
      `${this.#name}.${op} on fd ${this.#fd}, which is registered with another thread's scheduler`,
    );
  }

  /**
   * Runs the read-like syscall `attempt` until it succeeds and returns its
   * result (`>= 0`). `attempt` returns what C returns and makes its libc call
   * last (`errno` is read right after a negative result): `EINTR` calls it
   * again, `EAGAIN` clears the cached readiness and waits for the reactor,
   * anything else throws a `SysError` naming `call` (default `op`).
   *
   * `drainedBelow`: for a stream (socket or pipe) read, the length asked
   * for. A result `0 < n < drainedBelow` then proves the kernel's queue empty
   * and clears the readiness without a second, failing syscall, unless the
   * peer hung up or sent urgent data (where a read may stop early). Leave it
   * 0 for anything else (datagrams, accept).
   *
   * Throws {@linkcode SocketClosedError} if another task closed the fd while
   * this one waited. Cancel-safe as described on the class. Halts outside a
   * task, after close, from another thread, and when another task already
   * waits to read.
   */
  *readWith(op: string, attempt: () => number, drainedBelow = 0, call = op): Operation<number> {
    const task = this.#task(op);
    if (spendBudget(task)) yield* yieldForBudget(op);
    const source = this.#source;
    for (;;) {
      const n = this.#tryRead(attempt, drainedBelow, call);
      if (n >= 0) return n;
      // The wait, inlined: a server's read waits once per request.
      beginWait(op);
      this.#waitOn(task, false);
      try {
        yield SUSPEND;
      } finally {
        source.reactor.unwait(source, task);
      }
      if (this.#closed) throw new SocketClosedError(op);
    }
  }

  /**
   * Runs the write-like syscall `attempt` until it succeeds; the mirror of
   * {@linkcode readWith}. `fullBelow`: for a stream write, the length
   * offered; a result `n < fullBelow` then means the send buffer is full and
   * clears the writable readiness. Leave it 0 for anything else.
   */
  *writeWith(op: string, attempt: () => number, fullBelow = 0, call = op): Operation<number> {
    const task = this.#task(op);
    if (spendBudget(task)) yield* yieldForBudget(op);
    for (;;) {
      const n = this.#tryWrite(attempt, fullBelow, call);
      if (n >= 0) return n;
      yield* this.#wait(task, op, true);
    }
  }

  /**
   * One try of the read-like syscall `attempt`, never waiting (tokio's
   * `try_io`): its result (`>= 0`), or -1 when the fd would block, with the
   * cached readiness then clear (wait with {@linkcode readable} and try
   * again). While the cached readiness is clear it returns -1 without
   * calling `attempt`. Same policy and arguments as {@linkcode readWith}
   * (`EINTR` tried again, other failures a `SysError`, `drainedBelow`).
   * Lets an operation that usually completes at once skip a generator. Halts
   * after close and from another thread.
   */
  tryReadWith(op: string, attempt: () => number, drainedBelow = 0, call = op): number {
    this.fdFor(op);
    return this.#tryRead(attempt, drainedBelow, call);
  }

  /** One try of the write-like syscall `attempt`: the mirror of {@linkcode tryReadWith}. */
  tryWriteWith(op: string, attempt: () => number, fullBelow = 0, call = op): number {
    this.fdFor(op);
    return this.#tryWrite(attempt, fullBelow, call);
  }

  // The policy, in one place: try; EINTR again; EAGAIN clears the readiness.
  #tryRead(attempt: () => number, drainedBelow: number, call: string): number {
    const source = this.#source;
    while (source.readable) {
      const n = attempt();
      if (n >= 0) {
        // Edge-triggered readiness reports new data, never data left behind:
        // clear only where the short read proves nothing is left.
        if (n < drainedBelow && n > 0 && !source.hangup && !source.urgent) {
          source.readable = false;
        }
        return n;
      }
      const e = libc.errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) throw sysError(call, e);
      source.readable = false;
    }
    return -1;
  }

  #tryWrite(attempt: () => number, fullBelow: number, call: string): number {
    const source = this.#source;
    while (source.writable) {
      const n = attempt();
      if (n >= 0) {
        if (n < fullBelow) source.writable = false; // the send buffer is full
        return n;
      }
      const e = libc.errno();
      if (e === EINTR) continue;
      if (e !== EAGAIN) throw sysError(call, e);
      source.writable = false;
    }
    return -1;
  }

  /**
   * Returns at once if the fd may be readable (the cached readiness; it
   * starts true and may be stale: a syscall can still say `EAGAIN`, then
   * call {@linkcode clearReadable}), else waits until the reactor reports
   * it readable (or hung up). Throws {@linkcode SocketClosedError} if closed
   * meanwhile. Cancel-safe. Halts as {@linkcode readWith}.
   */
  *readable(): Operation<void> {
    const task = this.#task("readable");
    if (!this.#source.readable) yield* this.#wait(task, "readable", false);
  }

  /** Like {@linkcode readable}, for writing. */
  *writable(): Operation<void> {
    const task = this.#task("writable");
    if (!this.#source.writable) yield* this.#wait(task, "writable", true);
  }

  /** Forgets the cached read readiness (your syscall said `EAGAIN`): the next {@linkcode readable} waits. */
  clearReadable(): void {
    this.fdFor("clearReadable");
    this.#source.readable = false;
  }

  /** Forgets the cached write readiness: the next {@linkcode writable} waits. */
  clearWritable(): void {
    this.fdFor("clearWritable");
    this.#source.writable = false;
  }

  /**
   * Sleeps `ms` milliseconds in a way {@linkcode close} interrupts (throwing
   * {@linkcode SocketClosedError}): the back-off of an operation that must
   * retry later without a readiness event to wait for (accept under
   * `EMFILE`). Throws a `RangeError` for a bad `ms`. Cancel-safe. Halts as
   * {@linkcode readWith}.
   */
  *pause(ms: number, op = "pause"): Operation<void> {
    const task = this.#task(op);
    if (typeof ms !== "number" || !(ms >= 0) || ms === Infinity) {
      throw new RangeError(`${op}: ms must be a finite number >= 0, got ${describe(ms)}`);
    }
    const scheduler = this.#scheduler;
    beginWait(op);
    const timer = scheduler.timers.insert(scheduler.now() + ms, task);
    this.#sleeper = task;
    try {
      yield SUSPEND;
    } finally {
      scheduler.timers.cancel(timer);
      this.#sleeper = null;
    }
    if (this.#closed) throw new SocketClosedError(op);
  }

  *#wait(task: TaskRecord, op: string, write: boolean): Operation<void> {
    const source = this.#source;
    beginWait(op);
    this.#waitOn(task, write);
    try {
      yield SUSPEND;
    } finally {
      source.reactor.unwait(source, task);
    }
    if (this.#closed) throw new SocketClosedError(op);
  }

  // Halts (socket-waited-on-twice) when another task already waits in that
  // direction: one of the two would never be woken.
  #waitOn(task: TaskRecord, write: boolean): void {
    const source = this.#source;
    const ok = write
      ? source.reactor.waitWritable(source, task)
      : source.reactor.waitReadable(source, task);
    if (!ok) {
      halt(
        Rule.SharedSocketWait,
        `two tasks wait to ${
          write ? "write" : "read"
        } fd ${this.#fd} at once (one task per direction at a time)`,
      );
    }
  }

  /**
   * Closes the fd (idempotent). A task waiting on it (or pausing) wakes and
   * throws {@linkcode SocketClosedError} from its wait; the fd is
   * deregistered and closed before this returns. Halts when called from a
   * task of another thread.
   */
  close(): void {
    if (this.#closed) return;
    const running = existingScheduler()?.current;
    if (running != null && running.scheduler !== this.#scheduler) this.#foreign("close");
    this.#closed = true;
    const source = this.#source;
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
    this.#sleeper?.wake();
    reactor.deregister(source);
    this.#scheduler.disown(this, this.#fd);
    if (!this.#released) libc.close(this.#fd);
  }

  /**
   * Gives the fd up without closing it (to hand it to another thread, or
   * back to its owner): deregisters it like {@linkcode close} (waiters wake
   * with `SocketClosedError`, later use halts) but leaves it open, and
   * returns it. Halts from another thread's task, and after close.
   */
  release(): number {
    this.fdFor("release");
    this.#released = true;
    this.close();
    return this.#fd;
  }
}

/**
 * Registers `fd` (known open and non-blocking: just made by strom) with
 * `scheduler`'s reactor, without the constructor's checks. On failure the fd
 * is closed and the error thrown, so the caller never leaks it.
 */
export function adoptFd(fd: number, scheduler: Scheduler, name: string): AsyncFd {
  adopting = scheduler;
  try {
    return new AsyncFd(fd, { name });
  } catch (error) {
    adopting = null;
    libc.close(fd);
    throw error;
  }
}
