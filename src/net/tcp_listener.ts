/**
 * `TcpListener`: a listening TCP socket whose `accept` waits in strom's
 * scheduler.
 *
 * @module
 */

import {
  decodeSockAddr,
  libc,
  SO_REUSEADDR,
  SO_REUSEPORT,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOCKADDR_STORAGE_SIZE,
  type SocketAddr,
  SOL_SOCKET,
  sysError,
} from "../ffi/mod.ts";
import { threadScheduler } from "../sched/current.ts";
import type { Scheduler } from "../sched/scheduler.ts";
import type { Operation } from "../sched/types.ts";
import { acceptWith } from "./accept.ts";
import { type AddrLike, localAddrOf, toSocketAddr } from "./addr.ts";
import { adoptFd, type AsyncFd } from "./async_fd.ts";
import { describe } from "./check.ts";
import { namedTarget, nameNeedsLookup } from "./resolve.ts";
import { openSocketFd, setIntOption, sockAddrBytes } from "./socket.ts";
import { TcpStream } from "./tcp_stream.ts";

/** Options of {@linkcode TcpListener.bind}. */
export interface ListenOptions {
  /** The listen backlog (capped by net.core.somaxconn); default 1024. */
  backlog?: number;
  /** Set SO_REUSEPORT, so several sockets (threads) can bind the port; default false. */
  reusePort?: boolean;
}

/**
 * A TCP socket listening for connections, bound with SO_REUSEADDR on.
 *
 * Usage model: `accept` and the getters halt once {@linkcode close} was
 * called (`socket-used-after-close`), when used from a task of another
 * scheduler (`socket-from-other-thread`), and when two tasks wait in
 * `accept` at once (`socket-waited-on-twice`): one task accepts and spawns a
 * task per connection.
 */
export class TcpListener {
  readonly #io: AsyncFd;
  readonly #scheduler: Scheduler;
  readonly #addrBuf = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  readonly #addrLen = new Uint32Array(1);
  #local: SocketAddr | null = null;
  #backoffs = 0;

  private constructor(io: AsyncFd, scheduler: Scheduler) {
    this.#io = io;
    this.#scheduler = scheduler;
  }

  /**
   * Binds `addr` (`"127.0.0.1:0"`, `"[::]:8080"`, `{hostname, port}`; port 0
   * picks a free one, see {@linkcode localAddr}) and starts listening. The
   * listener belongs to the calling thread. May be called outside a task.
   *
   * Takes IP addresses (and `"localhost"`, 127.0.0.1) only: it cannot wait
   * for the resolver. For a host name, resolve it first inside a task under
   * `runAsync`: `TcpListener.bind((yield* lookupHost("myhost:8080"))[0])`;
   * a name given here is a `TypeError` that says so.
   *
   * Throws a `SysError` (`EADDRINUSE`, `EACCES`, `EADDRNOTAVAIL`, ...), and a
   * `TypeError`/`RangeError` for a bad address or backlog. Nothing leaks on
   * failure.
   *
   * @example
   * ```ts
   * const listener = TcpListener.bind("127.0.0.1:8080");
   * ```
   */
  static bind(addr: AddrLike, options: ListenOptions = {}): TcpListener {
    return bindOn(threadScheduler(), addr, options);
  }

  /**
   * Waits for a connection and returns it as a {@linkcode TcpStream}
   * (non-blocking and close-on-exec from `accept4`), its `peerAddr` known.
   *
   * Under fd or memory exhaustion (`EMFILE`, `ENFILE`, `ENOBUFS`, `ENOMEM`)
   * accept never spins and never throws: it sleeps, 1 ms the first time and
   * twice as long each time after up to 100 ms, and retries while the other
   * tasks of the thread run (so existing connections keep being served and
   * can free fds). The pending connection stays in the kernel's queue. When
   * only registering the accepted fd fails (`ENOSPC` at
   * `fs.epoll.max_user_watches`, `ENOMEM`), that connection is closed (its
   * peer sees a reset or EOF) and accept backs off the same way.
   * `ECONNABORTED`/`EPROTO` (a connection that died in the queue) are
   * skipped. Other errors throw a `SysError`; a close by another task throws
   * `SocketClosedError` (also from the back-off sleep).
   *
   * Cancel safety: cancelled while waiting (or backing off), no connection
   * was taken; the listener stays usable. Halts outside a task, after
   * close, or from another thread.
   */
  accept(): Operation<TcpStream> {
    const io = this.#io;
    const fd = io.fd;
    const addrBuf = this.#addrBuf;
    const addrLen = this.#addrLen;
    return acceptWith(
      io,
      () => {
        addrLen[0] = SOCKADDR_STORAGE_SIZE;
        return libc.accept4(fd, addrBuf, addrLen, SOCK_NONBLOCK | SOCK_CLOEXEC);
      },
      (conn) => {
        const peer = decodeSockAddr(addrBuf, addrLen[0]!);
        return new TcpStream(adoptFd(conn, this.#scheduler, "TcpStream"), peer);
      },
      () => this.#backoffs++,
    );
  }

  /** The bound address (with the real port when bound to port 0). Halts after close. */
  get localAddr(): SocketAddr {
    this.#io.fdFor("localAddr");
    return this.#local ??= localAddrOf(this.#io.fd);
  }

  /** How many times `accept` backed off for fd or memory exhaustion so far. */
  get acceptBackoffs(): number {
    return this.#backoffs;
  }

  /** The file descriptor (for diagnostics; strom still owns and closes it). */
  get fd(): number {
    return this.#io.fd;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#io.closed;
  }

  /**
   * Stops listening and closes the socket (idempotent). A task waiting in
   * `accept` wakes with `SocketClosedError`; connections not yet accepted
   * are reset by the kernel; accepted streams are not affected. Halts when
   * called from another thread's task.
   */
  close(): void {
    this.#io.close();
  }

  /** @internal */
  static fromIo(io: AsyncFd, scheduler: Scheduler): TcpListener {
    return new TcpListener(io, scheduler);
  }
}

/**
 * Binds a listener registered with `scheduler` (for tests of the usage
 * model: a socket registered with another scheduler). {@linkcode
 * TcpListener.bind} is this with the calling thread's scheduler.
 */
export function bindOn(scheduler: Scheduler, addr: AddrLike, options: ListenOptions): TcpListener {
  const named = namedTarget(addr);
  if (named !== null) throw nameNeedsLookup("TcpListener.bind", named);
  const target = toSocketAddr(addr);
  const backlog = options.backlog ?? 1024;
  if (typeof backlog !== "number") {
    throw new TypeError(`backlog must be a number, got ${describe(backlog)}`);
  }
  if (!Number.isInteger(backlog) || backlog < 0 || backlog > 0x7fffffff) {
    throw new RangeError(`backlog must be an integer in 0..2^31-1, got ${backlog}`);
  }
  const [sa, saLen] = sockAddrBytes(target);
  const fd = openSocketFd(target, SOCK_STREAM);
  try {
    setIntOption(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    if (options.reusePort === true) setIntOption(fd, SOL_SOCKET, SO_REUSEPORT, 1);
    if (libc.bind(fd, sa, saLen) < 0) throw sysError("bind", libc.errno());
    if (libc.listen(fd, backlog) < 0) throw sysError("listen", libc.errno());
  } catch (error) {
    libc.close(fd);
    throw error;
  }
  return TcpListener.fromIo(adoptFd(fd, scheduler, "TcpListener"), scheduler);
}
