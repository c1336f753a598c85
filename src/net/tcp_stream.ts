/**
 * `TcpStream`: a connected TCP socket driven by strom's scheduler.
 *
 * Every operation tries its syscall first and waits only after `EAGAIN`. The
 * readiness cache does the rest: a short read on a stream socket means the
 * receive queue is drained (so `readable` is cleared without a second,
 * failing `recv`), and a short write means the send buffer is full. An echo
 * round trip therefore costs one `recv`, one `send` and a share of the
 * thread's `epoll_pwait2`.
 *
 * @module
 */

import {
  EAGAIN,
  EINPROGRESS,
  EINTR,
  formatSocketAddr,
  IPPROTO_TCP,
  libc,
  MAX_IO_LEN,
  MSG_NOSIGNAL,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SO_ERROR,
  SO_KEEPALIVE,
  SOCK_STREAM,
  type SocketAddr,
  SOL_SOCKET,
  sysError,
  TCP_KEEPCNT,
  TCP_KEEPIDLE,
  TCP_KEEPINTVL,
  TCP_NODELAY,
} from "../ffi/mod.ts";
import { beginWait, currentTask } from "../sched/current.ts";
import { SUSPEND } from "../sched/types.ts";
import type { Operation } from "../sched/types.ts";
import { checkDurationMs } from "../time/duration.ts";
import { type AddrLike, localAddrOf, peerAddrOf, toSocketAddr } from "./addr.ts";
import { connectNamed } from "./connect_named.ts";
import { namedTarget } from "./resolve.ts";
import {
  getIntOption,
  openSocketFd,
  setIntOption,
  sockAddrBytes,
  SocketClosedError,
  SocketCore,
  waitOn,
} from "./socket.ts";

/** Thrown by {@linkcode TcpStream.readExact} when the peer ends the stream early. */
export class UnexpectedEofError extends Error {
  /** Always `"UnexpectedEofError"`. */
  override readonly name = "UnexpectedEofError";
  /** The error for a stream that ended after `received` of `expected` bytes. */
  constructor(
    /** Bytes asked for. */
    readonly expected: number,
    /** Bytes read before the end of the stream. */
    readonly received: number,
  ) {
    super(`stream ended after ${received} of ${expected} bytes`);
  }
}

/** Thrown by {@linkcode TcpStream.connect} when `timeoutMs` passed first. */
export class ConnectTimeoutError extends Error {
  /** Always `"ConnectTimeoutError"`. */
  override readonly name = "ConnectTimeoutError";
  /** The error for a connect to `addr` that `ms` passed first. */
  constructor(
    /** The address being connected to. */
    readonly addr: SocketAddr,
    /** The time-out that passed, in ms. */
    readonly ms: number,
  ) {
    super(`connect to ${formatSocketAddr(addr)} timed out after ${ms} ms`);
  }
}

/** Options of {@linkcode TcpStream.connect}. */
export interface ConnectOptions {
  /** Give up (closing the socket) after this many ms; default: the kernel's own (minutes). */
  timeoutMs?: number;
}

/** Keep-alive settings for {@linkcode TcpStream.setKeepAlive}. */
export interface KeepAliveOptions {
  /** Idle seconds before the first probe (TCP_KEEPIDLE). */
  idleSecs?: number;
  /** Seconds between probes (TCP_KEEPINTVL). */
  intervalSecs?: number;
  /** Unanswered probes before the connection is dropped (TCP_KEEPCNT). */
  count?: number;
}

/** Which direction(s) {@linkcode TcpStream.shutdown} closes. */
export type ShutdownHow = "read" | "write" | "both";

// The length to use of `buf`: `length` if given (checked), else all of it.
function checkLength(buf: Uint8Array, length: number | undefined, op: string): number {
  if (length === undefined) return buf.length;
  if (!Number.isInteger(length) || length < 0 || length > buf.length) {
    throw new RangeError(`${op}: length must be an integer in 0..${buf.length}, got ${length}`);
  }
  return length;
}

// One call moves at most MAX_IO_LEN bytes (the FFI lengths are 32-bit).
function capped(n: number): number {
  return n > MAX_IO_LEN ? MAX_IO_LEN : n;
}

/**
 * A connected TCP socket. Get one from {@linkcode TcpStream.connect} or
 * `TcpListener.accept`. It belongs to the thread that made it.
 *
 * Usage model: every method halts the process (`socket-used-after-close`)
 * once {@linkcode close} was called (except `close` itself, which is
 * idempotent), and (`socket-from-other-thread`) when used from a task of
 * another scheduler, and (`socket-waited-on-twice`) when a second task waits
 * to read (or to write) while one already does: one reader and one writer at
 * a time.
 *
 * Errors from the kernel are `SysError`s (`ECONNRESET`, `EPIPE`, ...); a
 * write to a reset peer is such an error, never a SIGPIPE (`MSG_NOSIGNAL`).
 */
export class TcpStream {
  readonly #core: SocketCore;
  #peer: SocketAddr | null;
  #local: SocketAddr | null = null;

  /** @internal Made by {@linkcode connect} and `TcpListener.accept`. */
  constructor(core: SocketCore, peer: SocketAddr | null) {
    this.#core = core;
    this.#peer = peer;
  }

  /**
   * Connects to `addr` (`"127.0.0.1:80"`, `"[::1]:80"`, `"db.internal:5432"`,
   * `{hostname, port}`) with a non-blocking connect: the task waits for the
   * socket to become writable, then reads `SO_ERROR`.
   *
   * A host name (anything but an IP literal or `"localhost"`, which means
   * 127.0.0.1) is resolved first by the host's resolver, as
   * `lookupHost` does (the thread is not blocked), and each
   * address it gives is tried in its order until one connects; the last
   * address's error is thrown if none does. `timeoutMs` then bounds the
   * resolution and all the attempts together. A name needs the host's event
   * loop (`runAsync`, a runtime worker): under the blocking `run()` it
   * throws `ResolveError` with code `"ENOHOSTLOOP"`; a name that does not
   * resolve throws `ResolveError` naming it (code `"ENOTFOUND"`, ...).
   *
   * Throws a `SysError` from `connect` (`ECONNREFUSED`, `ENETUNREACH`, ...;
   * also `ECONNRESET` when the peer accepted and reset the connection before
   * this task resumed: the pending error is read with `SO_ERROR`),
   * {@linkcode ConnectTimeoutError} when `timeoutMs` passes first, and
   * `TypeError`/`RangeError` for a bad address or option.
   *
   * Cancel safety: cancelled (or failed, or timed out) mid-connect, the
   * socket is closed; nothing leaks. Halts outside a task.
   *
   * @example
   * ```ts
   * const conn = yield* TcpStream.connect("127.0.0.1:8080", { timeoutMs: 1000 });
   * ```
   */
  static *connect(addr: AddrLike, options: ConnectOptions = {}): Operation<TcpStream> {
    const named = namedTarget(addr);
    if (named !== null) return yield* connectNamed(named, options, TcpStream.connect);
    const target = toSocketAddr(addr);
    const ms = options.timeoutMs;
    if (ms !== undefined) checkDurationMs("connect: timeoutMs", ms);
    const task = currentTask("connect");
    const scheduler = task.scheduler;
    const [sa, saLen] = sockAddrBytes(target);
    const fd = openSocketFd(target, SOCK_STREAM);
    let inProgress = false;
    if (libc.connect(fd, sa, saLen) < 0) {
      const e = libc.errno();
      // EINTR: the connect goes on in the kernel, like EINPROGRESS.
      if (e !== EINPROGRESS && e !== EINTR) {
        libc.close(fd);
        throw sysError("connect", e);
      }
      inProgress = true;
    }
    // Registered after connect(): registering an unconnected socket would
    // report its CLOSE state (OUT|HUP) as readiness.
    const core = new SocketCore(fd, scheduler, "TcpStream");
    let ok = false;
    try {
      if (inProgress) {
        const source = core.source;
        const deadline = ms === undefined ? Infinity : scheduler.now() + ms;
        const timer = ms === undefined ? null : scheduler.timers.insert(deadline, task);
        try {
          // The socket is writable once the handshake ends (or fails).
          source.writable = false;
          while (!source.writable) {
            if (scheduler.now() >= deadline) throw new ConnectTimeoutError(target, ms!);
            beginWait("connect");
            waitOn(source, task, true);
            try {
              yield SUSPEND;
            } finally {
              source.reactor.unwait(source, task);
            }
          }
        } finally {
          if (timer !== null) scheduler.timers.cancel(timer);
        }
        const err = getIntOption(fd, SOL_SOCKET, SO_ERROR);
        if (err !== 0) throw sysError("connect", err);
      }
      ok = true;
      return new TcpStream(core, target);
    } finally {
      if (!ok) core.close();
    }
  }

  /**
   * Reads into `buf` and returns how many bytes came (at least 1), or 0 at
   * the end of the stream (the peer shut down its writing half). Waits only
   * if nothing is available. An empty `buf` returns 0 at once.
   *
   * Throws a `SysError` (`ECONNRESET`, ...), and `SocketClosedError` if
   * another task closed the stream while this one waited.
   *
   * Cancel safety: cancelled while waiting, no data was read and the stream
   * stays usable. Halts outside a task, after close, or from another thread.
   */
  *read(buf: Uint8Array): Operation<number> {
    const core = this.#core;
    const task = core.task("read");
    const source = core.source;
    const len = buf.length > MAX_IO_LEN ? MAX_IO_LEN : buf.length;
    if (len === 0) return 0;
    for (;;) {
      if (source.readable) {
        const n = libc.recv(core.fd, buf, len, 0);
        if (n >= 0) {
          // A short read drained the queue (edge-triggered readiness will
          // report new data), unless the peer hung up: then reads never block
          // and the kernel will not report it again.
          if (n < len && n > 0 && !source.hangup) source.readable = false;
          return n;
        }
        const e = libc.errno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) throw sysError("recv", e);
        source.readable = false;
      }
      // Inlined rather than `yield* core.waitReady(...)`: a server's read
      // waits once per request, and the shared wait costs a generator.
      beginWait("read");
      waitOn(source, task, false);
      try {
        yield SUSPEND;
      } finally {
        source.reactor.unwait(source, task);
      }
      if (core.closed) throw new SocketClosedError("read");
    }
  }

  /**
   * Fills `buf` completely, reading as often as needed. Throws
   * {@linkcode UnexpectedEofError} (with the count received) if the stream
   * ends first, plus what {@linkcode read} throws.
   *
   * Cancel safety: cancelled midway, the bytes already read are in `buf` but
   * their count is lost: treat the stream as unusable for framing.
   */
  *readExact(buf: Uint8Array): Operation<void> {
    let got = 0;
    while (got < buf.length) {
      const n = yield* this.read(got === 0 ? buf : buf.subarray(got));
      if (n === 0) throw new UnexpectedEofError(buf.length, got);
      got += n;
    }
  }

  /**
   * Writes some of `buf[0..length)` (default: all of `buf`) and returns how
   * many bytes the kernel took (at least 1 unless `length` is 0). Waits only
   * if the send buffer is full.
   *
   * Throws a `SysError` (`EPIPE`, `ECONNRESET` after a reset: never a
   * SIGPIPE), `RangeError` for a bad `length`, and `SocketClosedError` if
   * closed while waiting.
   *
   * Cancel safety: cancelled while waiting, nothing was written; the stream
   * stays usable. Halts outside a task, after close, or from another thread.
   */
  *write(buf: Uint8Array, length?: number): Operation<number> {
    const core = this.#core;
    const task = core.task("write");
    const len = capped(checkLength(buf, length, "write"));
    if (len === 0) return 0;
    const source = core.source;
    for (;;) {
      if (source.writable) {
        const n = libc.send(core.fd, buf, len, MSG_NOSIGNAL);
        if (n >= 0) {
          if (n < len) source.writable = false; // the send buffer is full
          return n;
        }
        const e = libc.errno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) throw sysError("send", e);
        source.writable = false;
      }
      // Waiting for room is the slow path: the shared wait (one generator) is fine here.
      yield* core.waitReady(task, "write", true);
    }
  }

  /**
   * Writes all of `buf[0..length)` (default: all of `buf`), waiting as often
   * as the send buffer fills. Throws what {@linkcode write} throws.
   *
   * Cancel safety: cancelled midway, an unknown prefix was sent: treat the
   * stream as unusable for framing (close it).
   */
  *writeAll(buf: Uint8Array, length?: number): Operation<void> {
    const core = this.#core;
    const task = core.task("writeAll");
    const len = checkLength(buf, length, "writeAll");
    const source = core.source;
    let off = 0;
    while (off < len) {
      if (source.writable) {
        const part = off === 0 ? buf : buf.subarray(off);
        const want = capped(len - off); // the rest goes in later calls
        const n = libc.send(core.fd, part, want, MSG_NOSIGNAL);
        if (n >= 0) {
          off += n;
          if (n < want) source.writable = false;
          continue;
        }
        const e = libc.errno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) throw sysError("send", e);
        source.writable = false;
      }
      // Waiting for room is the slow path: the shared wait (one generator) is fine here.
      yield* core.waitReady(task, "writeAll", true);
    }
  }

  /**
   * Vectored write: sends some of the concatenation of `bufs` (at most 64
   * buffers, a total under 2^31 bytes) in one `sendmsg` and returns the byte
   * count taken. Waits only if the send buffer is full. Throws like
   * {@linkcode write}, and `RangeError` for more than 64 buffers.
   *
   * Cancel safety: as {@linkcode write}.
   */
  *writev(bufs: readonly Uint8Array[]): Operation<number> {
    const core = this.#core;
    const task = core.task("writev");
    let total = 0;
    for (let i = 0; i < bufs.length; i++) total += bufs[i]!.length;
    if (total > MAX_IO_LEN) throw new RangeError(`writev: ${total} bytes exceeds ${MAX_IO_LEN}`);
    if (total === 0) return 0;
    const source = core.source;
    for (;;) {
      if (source.writable) {
        const n = libc.sendmsgv(core.fd, bufs, MSG_NOSIGNAL);
        if (n >= 0) {
          if (n < total) source.writable = false;
          return n;
        }
        const e = libc.errno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) throw sysError("sendmsg", e);
        source.writable = false;
      }
      yield* core.waitReady(task, "writev", true);
    }
  }

  /**
   * Vectored {@linkcode writeAll}: sends every byte of `bufs`, in order.
   * Throws like {@linkcode writev}. Cancel safety: as {@linkcode writeAll}.
   */
  *writevAll(bufs: readonly Uint8Array[]): Operation<void> {
    let rest: readonly Uint8Array[] = bufs;
    for (;;) {
      let n = yield* this.writev(rest);
      let i = 0;
      while (i < rest.length && n >= rest[i]!.length) n -= rest[i++]!.length;
      while (i < rest.length && rest[i]!.length === 0) i++;
      if (i === rest.length) return;
      rest = [rest[i]!.subarray(n), ...rest.slice(i + 1)];
    }
  }

  /**
   * Shuts down reading, writing (sends FIN: the peer reads EOF) or both.
   * The fd stays open until {@linkcode close}. Throws a `SysError`
   * (`ENOTCONN` if the peer already reset). Halts after close.
   */
  shutdown(how: ShutdownHow): void {
    this.#core.checkSync("shutdown");
    const h = how === "read" ? SHUT_RD : how === "write" ? SHUT_WR : how === "both"
      ? SHUT_RDWR
      : -1;
    if (h < 0) throw new TypeError(`shutdown: how must be "read", "write" or "both", got ${how}`);
    if (libc.shutdown(this.#core.fd, h) < 0) throw sysError("shutdown", libc.errno());
  }

  /** Turns Nagle's algorithm off (`true`) or on (TCP_NODELAY). Throws a `SysError`. Halts after close. */
  setNoDelay(noDelay: boolean): void {
    this.#core.checkSync("setNoDelay");
    setIntOption(this.#core.fd, IPPROTO_TCP, TCP_NODELAY, noDelay ? 1 : 0);
  }

  /** Whether Nagle's algorithm is off (TCP_NODELAY). Halts after close. */
  get noDelay(): boolean {
    this.#core.checkSync("noDelay");
    return getIntOption(this.#core.fd, IPPROTO_TCP, TCP_NODELAY) !== 0;
  }

  /**
   * Turns TCP keep-alive on or off; with options, also sets the idle time,
   * probe interval and probe count (each a positive integer). Throws a
   * `RangeError` for bad options and a `SysError` from `setsockopt`. Halts
   * after close.
   */
  setKeepAlive(keepAlive: boolean | KeepAliveOptions): void {
    this.#core.checkSync("setKeepAlive");
    const fd = this.#core.fd;
    if (typeof keepAlive === "boolean") {
      setIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, keepAlive ? 1 : 0);
      return;
    }
    const opts: [number | undefined, number, string][] = [
      [keepAlive.idleSecs, TCP_KEEPIDLE, "idleSecs"],
      [keepAlive.intervalSecs, TCP_KEEPINTVL, "intervalSecs"],
      [keepAlive.count, TCP_KEEPCNT, "count"],
    ];
    for (const [v, , name] of opts) {
      if (v !== undefined && (!Number.isInteger(v) || v < 1 || v > 32767)) {
        throw new RangeError(`setKeepAlive: ${name} must be an integer in 1..32767, got ${v}`);
      }
    }
    setIntOption(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
    for (const [v, opt] of opts) if (v !== undefined) setIntOption(fd, IPPROTO_TCP, opt, v);
  }

  /** Whether keep-alive is on (SO_KEEPALIVE). Halts after close. */
  get keepAlive(): boolean {
    this.#core.checkSync("keepAlive");
    return getIntOption(this.#core.fd, SOL_SOCKET, SO_KEEPALIVE) !== 0;
  }

  /** The local address (asked of the kernel once, then cached). Halts after close. */
  get localAddr(): SocketAddr {
    this.#core.checkSync("localAddr");
    return this.#local ??= localAddrOf(this.#core.fd);
  }

  /**
   * The peer's address: known from connect/accept (else asked of the kernel
   * once). Halts after close.
   */
  get peerAddr(): SocketAddr {
    this.#core.checkSync("peerAddr");
    return this.#peer ??= peerAddrOf(this.#core.fd);
  }

  /** The file descriptor (for diagnostics; strom still owns and closes it). */
  get fd(): number {
    return this.#core.fd;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#core.closed;
  }

  /**
   * Adopts `fd`, a connected non-blocking TCP socket handed over as a number
   * (e.g. accepted on another worker, which gave it up with
   * {@linkcode intoFd}), as a stream of the calling thread. The stream owns
   * the fd from now on (`close()` closes it). On failure to register it the
   * fd is closed and the error thrown.
   */
  static fromFd(fd: number): TcpStream {
    return new TcpStream(SocketCore.forThisThread(fd, "TcpStream"), null);
  }

  /**
   * Gives up the stream's fd without closing it, for another thread to adopt
   * with {@linkcode fromFd}: deregisters it from this thread's reactor and
   * returns the number. This stream is closed afterwards (any use halts).
   * Halts from another thread's task and after close.
   */
  intoFd(): number {
    return this.#core.release();
  }

  /**
   * Closes the stream (idempotent). A task waiting to read or write on it
   * wakes with `SocketClosedError`. Unsent data in the kernel's buffer is
   * still sent (no SO_LINGER). Halts when called from another thread's task.
   */
  close(): void {
    this.#core.close();
  }
}
