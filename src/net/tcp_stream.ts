/**
 * `TcpStream`: a connected TCP socket driven by strom's scheduler.
 *
 * Every operation is an {@linkcode AsyncFd} `readWith`/`writeWith`: it tries
 * its syscall first and waits only after `EAGAIN`. The readiness cache does
 * the rest: a short read on a stream socket means the receive queue is
 * drained (so `readable` is cleared without a second, failing `recv`;
 * except after urgent data or a hang-up, where a read may stop early), and
 * a short write means the send buffer is full. An echo round trip therefore
 * costs one `recv`, one `send` and a share of the thread's `epoll_pwait2`.
 *
 * @module
 */

import {
  EINPROGRESS,
  EINTR,
  formatSocketAddr,
  IPPROTO_TCP,
  libc,
  MAX_IO_LEN,
  MAX_IOV,
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
import { spendBudget, yieldForBudget } from "../sched/budget.ts";
import { currentTask, threadScheduler } from "../sched/current.ts";
import type { Operation } from "../sched/types.ts";
import { checkDurationMs } from "../time/duration.ts";
import { timeout, TimeoutError } from "../time/timeout.ts";
import { type AddrLike, localAddrOf, peerAddrOf, toSocketAddr } from "./addr.ts";
import { adoptFd, type AsyncFd } from "./async_fd.ts";
import {
  byteLength,
  checkBoolean,
  checkBytes,
  checkFd,
  describe,
  failed,
  notBytes,
  usedLength,
} from "./check.ts";
import { connectNamed } from "./connect_named.ts";
import { namedTarget } from "./resolve.ts";
import { getIntOption, openSocketFd, setIntOption, sockAddrBytes } from "./socket.ts";

/** Thrown by {@linkcode TcpStream.readExact} when the peer ends the stream early. */
export class UnexpectedEofError extends Error {
  /** Always `"UnexpectedEofError"`. */
  override readonly name = "UnexpectedEofError";
  /** Creates the error for a stream that ended after `received` of `expected` bytes. */
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
  /** Creates the error for a connect to `addr` that took longer than `ms`. */
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

// No buffer read into yet (never one a caller can pass).
const NO_BUFFER = new Uint8Array(0);

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
  readonly #io: AsyncFd;
  readonly #fd: number;
  #peer: SocketAddr | null;
  #local: SocketAddr | null = null;

  /** @internal Made by {@linkcode connect}, {@linkcode fromFd} and `TcpListener.accept`. */
  constructor(io: AsyncFd, peer: SocketAddr | null) {
    this.#io = io;
    this.#fd = io.fd;
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
    const scheduler = currentTask("connect").scheduler;
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
    const io = adoptFd(fd, scheduler, "TcpStream");
    let ok = false;
    try {
      if (inProgress) {
        // The socket is writable once the handshake ends (or fails).
        io.clearWritable();
        if (ms === undefined) {
          yield* io.writable();
        } else {
          try {
            yield* timeout(ms, io.writable());
          } catch (error) {
            if (error instanceof TimeoutError) throw new ConnectTimeoutError(target, ms);
            throw error;
          }
        }
        const err = getIntOption(fd, SOL_SOCKET, SO_ERROR);
        if (err !== 0) throw sysError("connect", err);
      }
      ok = true;
      return new TcpStream(io, target);
    } finally {
      if (!ok) io.close();
    }
  }

  /**
   * Reads into `buf` (a `Uint8Array`) and returns how many bytes came (at
   * least 1), or 0 at the end of the stream (the peer shut down its writing
   * half). Waits only if nothing is available. An empty `buf` returns 0 at
   * once.
   *
   * Throws a `SysError` (`ECONNRESET`, ...), a `TypeError` for a `buf`
   * that is not a `Uint8Array`, and `SocketClosedError` if another task
   * closed the stream while this one waited.
   *
   * Cancel safety: cancelled while waiting, no data was read and the stream
   * stays usable. Halts outside a task, after close, or from another thread.
   */
  read(buf: Uint8Array): Operation<number> {
    // A read loop reuses one buffer: it reuses that buffer's recv call too
    // (each call keeps its own arguments, so two reads in flight stay apart).
    if (buf !== this.#recvBuf || buf.length !== this.#recvSize) {
      const len = byteLength(buf);
      if (len < 0) return failed(notBytes("read", buf));
      if (len === 0) return this.#nothing("read");
      const fd = this.#fd;
      this.#recvBuf = buf;
      this.#recvSize = buf.length;
      this.#recvLen = len;
      this.#recv = () => libc.recv(fd, buf, len, 0);
    }
    return this.#io.readWith("read", this.#recv, this.#recvLen, "recv");
  }

  #recvBuf: Uint8Array = NO_BUFFER;
  #recvSize = 0;
  #recvLen = 0;
  #recv: () => number = () => -1;

  /**
   * Fills `buf` completely, reading as often as needed. Throws
   * {@linkcode UnexpectedEofError} (with the count received) if the stream
   * ends first, plus what {@linkcode read} throws.
   *
   * Cancel safety: cancelled midway, the bytes already read are in `buf` but
   * their count is lost: treat the stream as unusable for framing.
   */
  *readExact(buf: Uint8Array): Operation<void> {
    checkBytes(buf, "readExact");
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
  write(buf: Uint8Array, length?: number): Operation<number> {
    let len: number;
    try {
      checkBytes(buf, "write");
      len = capped(usedLength(buf, length, "write"));
    } catch (error) {
      return failed(error as Error);
    }
    if (len === 0) return this.#nothing("write");
    const fd = this.#fd;
    return this.#io.writeWith("write", () => libc.send(fd, buf, len, MSG_NOSIGNAL), len, "send");
  }

  // An empty read or write: done at once, after the usage checks.
  // deno-lint-ignore require-yield
  *#nothing(op: string): Operation<number> {
    this.#io.fdFor(op);
    return 0;
  }

  /**
   * Writes all of `buf[0..length)` (default: all of `buf`), waiting as often
   * as the send buffer fills. Throws what {@linkcode write} throws.
   *
   * Cancel safety: cancelled midway, an unknown prefix was sent: treat the
   * stream as unusable for framing (close it).
   */
  *writeAll(buf: Uint8Array, length?: number): Operation<void> {
    checkBytes(buf, "writeAll");
    const len = usedLength(buf, length, "writeAll");
    // Halts outside a task even when nothing waits. The tries below skip
    // writeWith (and its budget): spend it here, once per call.
    if (spendBudget(currentTask("writeAll"))) yield* yieldForBudget("writeAll");
    const io = this.#io;
    const fd = this.#fd;
    let part = buf;
    let want = capped(len); // the rest goes in later calls
    const send = () => libc.send(fd, part, want, MSG_NOSIGNAL);
    let off = 0;
    while (off < len) {
      // Tried without a generator; the wait (the slow path) is one.
      const n = io.tryWriteWith("writeAll", send, want, "send");
      if (n < 0) {
        yield* io.writable();
        continue;
      }
      off += n;
      if (off < len) {
        part = buf.subarray(off);
        want = capped(len - off);
      }
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
    if (!Array.isArray(bufs)) {
      throw new TypeError(`writev: bufs must be an array of Uint8Array, got ${describe(bufs)}`);
    }
    if (bufs.length > MAX_IOV) {
      throw new RangeError(`writev: at most ${MAX_IOV} buffers, got ${bufs.length}`);
    }
    let total = 0;
    for (let i = 0; i < bufs.length; i++) {
      const n = byteLength(bufs[i]);
      if (n < 0) throw notBytes("writev", bufs[i]);
      total += bufs[i].length;
    }
    if (total > MAX_IO_LEN) throw new RangeError(`writev: ${total} bytes exceeds ${MAX_IO_LEN}`);
    if (total === 0) return yield* this.#nothing("writev");
    const fd = this.#fd;
    return yield* this.#io.writeWith(
      "writev",
      () => libc.sendmsgv(fd, bufs, MSG_NOSIGNAL),
      total,
      "sendmsg",
    );
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
    this.#io.fdFor("shutdown");
    const h = how === "read" ? SHUT_RD : how === "write" ? SHUT_WR : how === "both"
      ? SHUT_RDWR
      : -1;
    if (h < 0) throw new TypeError(`shutdown: how must be "read", "write" or "both", got ${how}`);
    if (libc.shutdown(this.#fd, h) < 0) throw sysError("shutdown", libc.errno());
  }

  /** Turns Nagle's algorithm off (`true`) or on (TCP_NODELAY). Throws a `SysError`. Halts after close. */
  setNoDelay(noDelay: boolean): void {
    this.#io.fdFor("setNoDelay");
    checkBoolean(noDelay, "setNoDelay: noDelay");
    setIntOption(this.#fd, IPPROTO_TCP, TCP_NODELAY, noDelay ? 1 : 0);
  }

  /** Whether Nagle's algorithm is off (TCP_NODELAY). Halts after close. */
  get noDelay(): boolean {
    this.#io.fdFor("noDelay");
    return getIntOption(this.#fd, IPPROTO_TCP, TCP_NODELAY) !== 0;
  }

  /**
   * Turns TCP keep-alive on or off; with options, also sets the idle time,
   * probe interval and probe count (each a positive integer). Throws a
   * `RangeError` for bad options and a `SysError` from `setsockopt`. Halts
   * after close.
   */
  setKeepAlive(keepAlive: boolean | KeepAliveOptions): void {
    this.#io.fdFor("setKeepAlive");
    const fd = this.#fd;
    if (typeof keepAlive !== "boolean" && (keepAlive === null || typeof keepAlive !== "object")) {
      throw new TypeError(
        `setKeepAlive: want a boolean or {idleSecs, intervalSecs, count}, got ${
          describe(keepAlive)
        }`,
      );
    }
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
    this.#io.fdFor("keepAlive");
    return getIntOption(this.#fd, SOL_SOCKET, SO_KEEPALIVE) !== 0;
  }

  /** The local address (asked of the kernel once, then cached). Halts after close. */
  get localAddr(): SocketAddr {
    this.#io.fdFor("localAddr");
    return this.#local ??= localAddrOf(this.#fd);
  }

  /**
   * The peer's address: known from connect/accept (else asked of the kernel
   * once). Halts after close.
   */
  get peerAddr(): SocketAddr {
    this.#io.fdFor("peerAddr");
    return this.#peer ??= peerAddrOf(this.#fd);
  }

  /** The file descriptor (for diagnostics; strom still owns and closes it). */
  get fd(): number {
    return this.#fd;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#io.closed;
  }

  /**
   * Adopts `fd`, a connected non-blocking TCP socket handed over as a number
   * (e.g. accepted on another worker, which gave it up with
   * {@linkcode intoFd}), as a stream of the calling thread. The stream owns
   * the fd from now on (`close()` closes it). On failure to register it the
   * fd is closed and the error thrown. A value that is not an fd number (not
   * an integer in 0..2^31-1) is a `TypeError`/`RangeError`, and nothing is
   * closed.
   */
  static fromFd(fd: number): TcpStream {
    checkFd(fd, "TcpStream.fromFd");
    let scheduler;
    try {
      scheduler = threadScheduler(); // the first use creates the reactor: may fail (EMFILE)
    } catch (error) {
      libc.close(fd);
      throw error;
    }
    return new TcpStream(adoptFd(fd, scheduler, "TcpStream"), null);
  }

  /**
   * Gives up the stream's fd without closing it, for another thread to adopt
   * with {@linkcode fromFd}: deregisters it from this thread's reactor and
   * returns the number. This stream is closed afterwards (any use halts).
   * Halts from another thread's task and after close.
   */
  intoFd(): number {
    return this.#io.release();
  }

  /**
   * Closes the stream (idempotent). A task waiting to read or write on it
   * wakes with `SocketClosedError`. Unsent data in the kernel's buffer is
   * still sent (no SO_LINGER). Halts when called from another thread's task.
   */
  close(): void {
    this.#io.close();
  }
}
