/**
 * `UnixStream`: a connected Unix domain stream socket, written on the public
 * {@linkcode AsyncFd} (the extension point's first user).
 *
 * @module
 */

import {
  EAGAIN,
  EINTR,
  libc,
  MAX_IO_LEN,
  MSG_NOSIGNAL,
  SHUT_RD,
  SHUT_RDWR,
  SHUT_WR,
  SOCK_STREAM,
  sysError,
} from "../ffi/mod.ts";
import type { Operation } from "../sched/types.ts";
import type { AsyncFd } from "./async_fd.ts";
import { byteLength, checkBytes, failed, notBytes, usedLength } from "./check.ts";
import type { ShutdownHow } from "./tcp_stream.ts";
import { UnexpectedEofError } from "./tcp_stream.ts";
import {
  encodeUnixAddr,
  type PeerCredentials,
  type UnixAddr,
  type UnixAddrLike,
} from "./unix_addr.ts";
import { openUnixFd, peerCredentialsOf, unixAddrOf, unixPair } from "./unix_fd.ts";

// connect(2) on a Unix stream socket whose listener's backlog is full says
// EAGAIN (it does not go on in the background like TCP's EINPROGRESS, and
// the socket reports writable all along): retry after a pause.
const CONNECT_RETRY_MS = { first: 1, max: 50 } as const;

/**
 * A connected Unix domain stream socket: from {@linkcode UnixStream.connect},
 * `UnixListener.accept` or {@linkcode UnixStream.pair}. It belongs to the
 * thread that made it. Same operations, errors, cancel safety and usage
 * rules as `TcpStream` (halts after close, from another thread, and for two
 * readers or two writers at once).
 */
export class UnixStream {
  readonly #io: AsyncFd;
  readonly #fd: number;
  #peer: UnixAddr | null;

  /** @internal Made by {@linkcode connect}, {@linkcode pair} and `UnixListener.accept`. */
  constructor(io: AsyncFd, peer: UnixAddr | null) {
    this.#io = io;
    this.#fd = io.fd;
    this.#peer = peer;
  }

  /**
   * Connects to the listener at `addr` (a path, `{ path }` or
   * `{ abstract }`). Throws a `SysError` (`ENOENT`: no such path;
   * `ECONNREFUSED`: nobody listens; `EACCES`), a `TypeError`/`RangeError`
   * for a bad address. While the listener's backlog is full it retries
   * after short pauses. Cancel safety: cancelled, the socket is closed.
   * Halts outside a task.
   *
   * @example
   * ```ts
   * const conn = yield* UnixStream.connect("/run/app.sock");
   * ```
   */
  static *connect(addr: UnixAddrLike): Operation<UnixStream> {
    const [sa, saLen] = encodeUnixAddr(addr);
    const io = openUnixFd(SOCK_STREAM, "UnixStream", () => {});
    let ok = false;
    try {
      let pause = 0;
      for (;;) {
        if (libc.connect(io.fd, sa, saLen) === 0) break;
        const e = libc.errno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) throw sysError("connect", e);
        pause = pause === 0 ? CONNECT_RETRY_MS.first : Math.min(pause * 2, CONNECT_RETRY_MS.max);
        yield* io.pause(pause, "connect");
      }
      ok = true;
      return new UnixStream(io, null);
    } finally {
      if (!ok) io.close();
    }
  }

  /**
   * A connected pair of streams (`socketpair(2)`), both of the calling
   * thread: a channel between two tasks, or to hand one end to a child
   * process or another thread (`intoFd`). May be called outside a task.
   */
  static pair(): [UnixStream, UnixStream] {
    const [a, b] = unixPair(SOCK_STREAM, "UnixStream");
    return [new UnixStream(a, { kind: "unnamed" }), new UnixStream(b, { kind: "unnamed" })];
  }

  /**
   * Reads into `buf` (a `Uint8Array`): the byte count (at least 1), or 0 at
   * the end of the stream. Waits only if nothing is available. Cancel safety:
   * cancelled while waiting, nothing was read. Throws as `TcpStream.read`.
   */
  read(buf: Uint8Array): Operation<number> {
    const len = byteLength(buf);
    if (len < 0) return failed(notBytes("read", buf));
    const fd = this.#fd;
    return this.#io.readWith("read", () => libc.recv(fd, buf, len, 0), len, "recv");
  }

  /** Fills `buf` completely; {@linkcode UnexpectedEofError} if the stream ends first. As `TcpStream.readExact`. */
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
   * Writes some of `buf[0..length)` and returns the count the kernel took
   * (`EPIPE` as a `SysError`, never a SIGPIPE). Waits only while the send
   * buffer is full. Cancel safety: cancelled while waiting, nothing was
   * written. As `TcpStream.write`.
   */
  write(buf: Uint8Array, length?: number): Operation<number> {
    let len: number;
    try {
      checkBytes(buf, "write");
      len = Math.min(usedLength(buf, length, "write"), MAX_IO_LEN);
    } catch (error) {
      return failed(error as Error);
    }
    const fd = this.#fd;
    return this.#io.writeWith("write", () => libc.send(fd, buf, len, MSG_NOSIGNAL), len, "send");
  }

  /** Writes all of `buf[0..length)`. Cancel safety: as `TcpStream.writeAll` (a prefix may be sent). */
  *writeAll(buf: Uint8Array, length?: number): Operation<void> {
    checkBytes(buf, "writeAll");
    const len = usedLength(buf, length, "writeAll");
    let off = 0;
    while (off < len) off += yield* this.write(off === 0 ? buf : buf.subarray(off), len - off);
  }

  /** Shuts down reading, writing (the peer reads EOF) or both; the fd stays open. Halts after close. */
  shutdown(how: ShutdownHow): void {
    const fd = this.#io.fdFor("shutdown");
    const h = how === "read" ? SHUT_RD : how === "write" ? SHUT_WR : how === "both"
      ? SHUT_RDWR
      : -1;
    if (h < 0) throw new TypeError(`shutdown: how must be "read", "write" or "both", got ${how}`);
    if (libc.shutdown(fd, h) < 0) throw sysError("shutdown", libc.errno());
  }

  /**
   * The pid, uid and gid of the process at the other end, as the kernel
   * recorded them at connect (or pair) time (`SO_PEERCRED`): the way a
   * server tells who its client is. Halts after close.
   */
  get peerCredentials(): PeerCredentials {
    return peerCredentialsOf(this.#io.fdFor("peerCredentials"));
  }

  /** This end's address (usually unnamed for a client). Halts after close. */
  get localAddr(): UnixAddr {
    return unixAddrOf(this.#io.fdFor("localAddr"), false);
  }

  /** The peer's address (the listener's path or name for a client). Halts after close. */
  get peerAddr(): UnixAddr {
    const fd = this.#io.fdFor("peerAddr");
    return this.#peer ??= unixAddrOf(fd, true);
  }

  /** The file descriptor (for diagnostics; the stream owns it). */
  get fd(): number {
    return this.#fd;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#io.closed;
  }

  /** Gives up the fd without closing it (see `TcpStream.intoFd`); this stream is closed after. */
  intoFd(): number {
    return this.#io.release();
  }

  /** Closes the stream (idempotent); a task waiting on it wakes with `SocketClosedError`. */
  close(): void {
    this.#io.close();
  }
}
