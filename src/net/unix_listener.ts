/**
 * `UnixListener`: a listening Unix domain stream socket, written on the
 * public {@linkcode AsyncFd}.
 *
 * @module
 */

import { libc, SOCK_STREAM, sysError } from "../ffi/mod.ts";
import type { Operation } from "../sched/types.ts";
import { acceptWith } from "./accept.ts";
import type { AsyncFd } from "./async_fd.ts";
import { describe } from "./check.ts";
import {
  decodeUnixAddr,
  encodeUnixAddr,
  SOCKADDR_UN_SIZE,
  type UnixAddr,
  type UnixAddrLike,
} from "./unix_addr.ts";
import { openUnixFd, UNIX_FLAGS, unixAddrOf, wrapUnixFd } from "./unix_fd.ts";
import { UnixStream } from "./unix_stream.ts";

/** Options of {@linkcode UnixListener.bind}. */
export interface UnixListenOptions {
  /** The listen backlog (capped by net.core.somaxconn); default 1024. */
  backlog?: number;
}

/**
 * A Unix domain socket listening for connections, on a filesystem path or
 * an abstract name.
 *
 * The path is the user's: `bind` fails with `EADDRINUSE` when the path
 * exists (a stale socket file from an earlier run: remove it first), and
 * `close` leaves the file in place (remove it when you are done; strom
 * cannot know whether another process took the path over meanwhile). An
 * abstract name has no file and is freed when the socket closes.
 *
 * Usage rules as `TcpListener`: `accept` halts after close, from another
 * thread, and when two tasks accept at once.
 */
export class UnixListener {
  readonly #io: AsyncFd;
  readonly #addrBuf = new Uint8Array(SOCKADDR_UN_SIZE);
  readonly #addrLen = new Uint32Array(1);
  #backoffs = 0;

  private constructor(io: AsyncFd) {
    this.#io = io;
  }

  /**
   * Binds `addr` (a path, `{ path }` or `{ abstract }`) and listens. May be
   * called outside a task. Throws a `SysError` (`EADDRINUSE`, `ENOENT` for a
   * missing directory, `EACCES`), and a `TypeError`/`RangeError` for a bad
   * address or backlog. Nothing leaks on failure.
   *
   * @example
   * ```ts
   * const listener = UnixListener.bind({ abstract: "my-app" });
   * ```
   */
  static bind(addr: UnixAddrLike, options: UnixListenOptions = {}): UnixListener {
    const [sa, saLen] = encodeUnixAddr(addr);
    const backlog = options.backlog ?? 1024;
    if (typeof backlog !== "number") {
      throw new TypeError(`backlog must be a number, got ${describe(backlog)}`);
    }
    if (!Number.isInteger(backlog) || backlog < 0 || backlog > 0x7fffffff) {
      throw new RangeError(`backlog must be an integer in 0..2^31-1, got ${backlog}`);
    }
    const io = openUnixFd(SOCK_STREAM, "UnixListener", (fd) => {
      if (libc.bind(fd, sa, saLen) < 0) throw sysError("bind", libc.errno());
      if (libc.listen(fd, backlog) < 0) throw sysError("listen", libc.errno());
    });
    return new UnixListener(io);
  }

  /**
   * Waits for a connection and returns it as a {@linkcode UnixStream}.
   * Backs off under fd or memory exhaustion and skips aborted connections,
   * as `TcpListener.accept` does. Cancel safety: cancelled while waiting,
   * no connection was taken. Halts outside a task, after close, or from
   * another thread.
   */
  accept(): Operation<UnixStream> {
    const io = this.#io;
    const fd = io.fd;
    const addrBuf = this.#addrBuf;
    const addrLen = this.#addrLen;
    return acceptWith(
      io,
      () => {
        addrLen[0] = SOCKADDR_UN_SIZE;
        return libc.accept4(fd, addrBuf, addrLen, UNIX_FLAGS);
      },
      (conn) => {
        const peer = decodeUnixAddr(addrBuf, addrLen[0]!);
        return new UnixStream(wrapUnixFd(conn, "UnixStream"), peer);
      },
      () => this.#backoffs++,
    );
  }

  /** The bound address. Halts after close. */
  get localAddr(): UnixAddr {
    return unixAddrOf(this.#io.fdFor("localAddr"), false);
  }

  /** How many times `accept` backed off for fd or memory exhaustion so far. */
  get acceptBackoffs(): number {
    return this.#backoffs;
  }

  /** The file descriptor (for diagnostics; the listener owns it). */
  get fd(): number {
    return this.#io.fd;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#io.closed;
  }

  /**
   * Stops listening and closes the socket (idempotent); a task waiting in
   * `accept` wakes with `SocketClosedError`. A path stays on the
   * filesystem: unlink it yourself.
   */
  close(): void {
    this.#io.close();
  }
}
