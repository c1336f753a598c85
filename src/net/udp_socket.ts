/**
 * `UdpSocket`: a bound UDP socket whose receives wait in strom's scheduler.
 *
 * Datagrams keep their boundaries: one receive takes one datagram. A
 * datagram longer than the buffer is reported as `truncated` (the kernel is
 * asked with `MSG_TRUNC` for its real length), never silently cut.
 *
 * @module
 */

import {
  decodeSockAddr,
  formatSocketAddr,
  libc,
  MAX_IO_LEN,
  MSG_NOSIGNAL,
  MSG_TRUNC,
  SOCK_DGRAM,
  SOCKADDR_STORAGE_SIZE,
  type SocketAddr,
  sysError,
} from "../ffi/mod.ts";
import { threadScheduler } from "../sched/current.ts";
import type { Operation } from "../sched/types.ts";
import { type AddrLike, localAddrOf, peerAddrOf, toSocketAddr } from "./addr.ts";
import { adoptFd, type AsyncFd } from "./async_fd.ts";
import { byteLength, checkBytes, notBytes } from "./check.ts";
import { namedTarget, nameNeedsLookup, resolveNamed } from "./resolve.ts";
import { openSocketFd, sockAddrBytes } from "./socket.ts";

/** What {@linkcode UdpSocket.recvFrom} returns. */
export interface Datagram {
  /** Bytes stored in the buffer (at most its length). */
  n: number;
  /** Who sent it. */
  addr: SocketAddr;
  /** Whether the datagram was longer than the buffer (its rest is lost). */
  truncated: boolean;
  /** The datagram's real length (greater than `n` when truncated). */
  size: number;
}

/** What {@linkcode UdpSocket.recv} returns. */
export interface Received {
  /** Bytes stored in the buffer (at most its length). */
  n: number;
  /** Whether the datagram was longer than the buffer (its rest is lost). */
  truncated: boolean;
}

/**
 * A UDP socket. Usage model as for the TCP sockets: every method but
 * `close` halts after close (`socket-used-after-close`) and from another
 * scheduler's task (`socket-from-other-thread`); two tasks receiving (or
 * sending) at once halt (`socket-waited-on-twice`).
 */
export class UdpSocket {
  readonly #io: AsyncFd;
  readonly #family: "ipv4" | "ipv6";
  readonly #addrBuf = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  readonly #addrLen = new Uint32Array(1);
  #local: SocketAddr | null = null;

  private constructor(io: AsyncFd, family: "ipv4" | "ipv6") {
    this.#io = io;
    this.#family = family;
  }

  /**
   * Binds a UDP socket to `addr` (port 0: a free port) on the calling
   * thread. Throws a `SysError` (`EADDRINUSE`, ...) or a `TypeError`/
   * `RangeError` for a bad address. May be called outside a task. Takes IP
   * addresses (and `"localhost"`) only: resolve a host name first with
   * `lookupHost` (a name given here is a `TypeError` that says so).
   *
   * @example
   * ```ts
   * const sock = UdpSocket.bind("127.0.0.1:0");
   * ```
   */
  static bind(addr: AddrLike): UdpSocket {
    const named = namedTarget(addr);
    if (named !== null) throw nameNeedsLookup("UdpSocket.bind", named);
    const target = toSocketAddr(addr);
    const [sa, saLen] = sockAddrBytes(target);
    const scheduler = threadScheduler(); // made before the fd, so its failure leaks nothing
    const fd = openSocketFd(target, SOCK_DGRAM);
    if (libc.bind(fd, sa, saLen) < 0) {
      const e = libc.errno();
      libc.close(fd);
      throw sysError("bind", e);
    }
    return new UdpSocket(adoptFd(fd, scheduler, "UdpSocket"), target.family);
  }

  #target(addr: AddrLike): [Uint8Array, number] {
    const target = toSocketAddr(addr);
    if (target.family !== this.#family) {
      throw new TypeError(
        `cannot reach ${
          formatSocketAddr(target)
        } (${target.family}) from a socket bound to ${this.#family}`,
      );
    }
    return sockAddrBytes(target);
  }

  /**
   * Sends `buf` as one datagram to `addr` and returns its length. Waits
   * only if the socket's send buffer is full. Throws a `SysError`
   * (`EMSGSIZE` for a datagram too large, ...), a `TypeError` for an address
   * of the other family. Cancel safety: cancelled while waiting, nothing was
   * sent. Halts outside a task, after close, or from another thread.
   *
   * A host name is resolved first (the first address of the socket's
   * family), through the host's resolver, on every call: to send many
   * datagrams, resolve once with `lookupHost` and pass the address. A name
   * that does not resolve throws `ResolveError`; under the blocking `run()`
   * a name throws `ResolveError` with code `"ENOHOSTLOOP"`.
   */
  *sendTo(buf: Uint8Array, addr: AddrLike): Operation<number> {
    checkBytes(buf, "sendTo");
    this.#io.fdFor("sendTo");
    const named = namedTarget(addr);
    const [sa, saLen] = this.#target(
      named === null ? addr : (yield* resolveNamed(named, this.#family === "ipv4" ? 4 : 6))[0]!,
    );
    if (buf.length > MAX_IO_LEN) throw new RangeError(`sendTo: datagram too large: ${buf.length}`);
    const fd = this.#io.fd;
    return yield* this.#io.writeWith(
      "sendTo",
      () => libc.sendto(fd, buf, buf.length, MSG_NOSIGNAL, sa, saLen),
      0,
      "sendto",
    );
  }

  /**
   * Receives one datagram into `buf`: its stored length `n`, its sender,
   * and whether it was `truncated` (longer than `buf`; `size` is its real
   * length). Waits until one arrives. Throws a `SysError` (e.g.
   * `ECONNREFUSED` on a connected socket whose peer port is closed) and
   * `SocketClosedError` if closed while waiting.
   *
   * Cancel safety: cancelled while waiting, no datagram was taken. Halts
   * outside a task, after close, or from another thread.
   */
  *recvFrom(buf: Uint8Array): Operation<Datagram> {
    const len = byteLength(buf);
    if (len < 0) throw notBytes("recvFrom", buf);
    const fd = this.#io.fd;
    const addrBuf = this.#addrBuf;
    const addrLen = this.#addrLen;
    const size = yield* this.#io.readWith(
      "recvFrom",
      () => {
        addrLen[0] = SOCKADDR_STORAGE_SIZE;
        return libc.recvfrom(fd, buf, len, MSG_TRUNC, addrBuf, addrLen);
      },
      0,
      "recvfrom",
    );
    const addr = decodeSockAddr(addrBuf, addrLen[0]!);
    return { n: size > len ? len : size, addr, truncated: size > len, size };
  }

  /**
   * Sets the default peer: {@linkcode send} and {@linkcode recv} then use
   * it, and datagrams from anyone else are dropped by the kernel. Throws a
   * `SysError` or a `TypeError` for an address of the other family, or for
   * a host name (resolve it first with `lookupHost`). Halts after close or
   * from another thread.
   */
  connect(addr: AddrLike): void {
    this.#io.fdFor("connect");
    const named = namedTarget(addr);
    if (named !== null) throw nameNeedsLookup("UdpSocket.connect", named);
    const [sa, saLen] = this.#target(addr);
    if (libc.connect(this.#io.fd, sa, saLen) < 0) throw sysError("connect", libc.errno());
  }

  /**
   * Sends `buf` as one datagram to the connected peer. Throws `SysError`
   * (`EDESTADDRREQ` when not connected, `ECONNREFUSED` after an ICMP port
   * unreachable). Otherwise as {@linkcode sendTo}.
   */
  *send(buf: Uint8Array): Operation<number> {
    checkBytes(buf, "send");
    if (buf.length > MAX_IO_LEN) throw new RangeError(`send: datagram too large: ${buf.length}`);
    const fd = this.#io.fd;
    return yield* this.#io.writeWith(
      "send",
      () => libc.send(fd, buf, buf.length, MSG_NOSIGNAL),
    );
  }

  /**
   * Receives one datagram from the connected peer: stored length and
   * whether it was truncated. Otherwise as {@linkcode recvFrom}.
   */
  *recv(buf: Uint8Array): Operation<Received> {
    const len = byteLength(buf);
    if (len < 0) throw notBytes("recv", buf);
    const fd = this.#io.fd;
    const size = yield* this.#io.readWith("recv", () => libc.recv(fd, buf, len, MSG_TRUNC));
    return { n: size > len ? len : size, truncated: size > len };
  }

  /** The bound address (the real port when bound to port 0). Halts after close. */
  get localAddr(): SocketAddr {
    this.#io.fdFor("localAddr");
    return this.#local ??= localAddrOf(this.#io.fd);
  }

  /** The connected peer's address; throws `SysError` `ENOTCONN` if not connected. Halts after close. */
  get peerAddr(): SocketAddr {
    this.#io.fdFor("peerAddr");
    return peerAddrOf(this.#io.fd);
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
   * Closes the socket (idempotent); a task waiting on it wakes with
   * `SocketClosedError`. Halts when called from another thread's task.
   */
  close(): void {
    this.#io.close();
  }
}
