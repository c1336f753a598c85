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
  EAGAIN,
  EINTR,
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
import { namedTarget, nameNeedsLookup, resolveNamed } from "./resolve.ts";
import { openSocketFd, sockAddrBytes, SocketCore } from "./socket.ts";

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
  readonly #core: SocketCore;
  readonly #family: "ipv4" | "ipv6";
  readonly #addrBuf = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  readonly #addrLen = new Uint32Array(1);
  #local: SocketAddr | null = null;

  private constructor(core: SocketCore, family: "ipv4" | "ipv6") {
    this.#core = core;
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
    threadScheduler(); // created before the fd, so its failure leaks nothing
    const fd = openSocketFd(target, SOCK_DGRAM);
    if (libc.bind(fd, sa, saLen) < 0) {
      const e = libc.errno();
      libc.close(fd);
      throw sysError("bind", e);
    }
    return new UdpSocket(SocketCore.forThisThread(fd, "UdpSocket"), target.family);
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
    const core = this.#core;
    const task = core.task("sendTo");
    const named = namedTarget(addr);
    const [sa, saLen] = this.#target(
      named === null ? addr : (yield* resolveNamed(named, this.#family === "ipv4" ? 4 : 6))[0]!,
    );
    if (buf.length > MAX_IO_LEN) throw new RangeError(`sendTo: datagram too large: ${buf.length}`);
    const source = core.source;
    for (;;) {
      if (source.writable) {
        const n = libc.sendto(core.fd, buf, buf.length, MSG_NOSIGNAL, sa, saLen);
        if (n >= 0) return n;
        const e = libc.errno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) throw sysError("sendto", e);
        source.writable = false;
      }
      yield* core.waitReady(task, "sendTo", true);
    }
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
    const core = this.#core;
    const task = core.task("recvFrom");
    const len = buf.length > MAX_IO_LEN ? MAX_IO_LEN : buf.length;
    const source = core.source;
    for (;;) {
      if (source.readable) {
        this.#addrLen[0] = SOCKADDR_STORAGE_SIZE;
        const size = libc.recvfrom(core.fd, buf, len, MSG_TRUNC, this.#addrBuf, this.#addrLen);
        if (size >= 0) {
          const addr = decodeSockAddr(this.#addrBuf, this.#addrLen[0]);
          return { n: size > len ? len : size, addr, truncated: size > len, size };
        }
        const e = libc.errno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) throw sysError("recvfrom", e);
        source.readable = false;
      }
      yield* core.waitReady(task, "recvFrom", false);
    }
  }

  /**
   * Sets the default peer: {@linkcode send} and {@linkcode recv} then use
   * it, and datagrams from anyone else are dropped by the kernel. Throws a
   * `SysError` or a `TypeError` for an address of the other family, or for
   * a host name (resolve it first with `lookupHost`). Halts after close or
   * from another thread.
   */
  connect(addr: AddrLike): void {
    this.#core.checkSync("connect");
    const named = namedTarget(addr);
    if (named !== null) throw nameNeedsLookup("UdpSocket.connect", named);
    const [sa, saLen] = this.#target(addr);
    if (libc.connect(this.#core.fd, sa, saLen) < 0) throw sysError("connect", libc.errno());
  }

  /**
   * Sends `buf` as one datagram to the connected peer. Throws `SysError`
   * (`EDESTADDRREQ` when not connected, `ECONNREFUSED` after an ICMP port
   * unreachable). Otherwise as {@linkcode sendTo}.
   */
  *send(buf: Uint8Array): Operation<number> {
    const core = this.#core;
    const task = core.task("send");
    if (buf.length > MAX_IO_LEN) throw new RangeError(`send: datagram too large: ${buf.length}`);
    const source = core.source;
    for (;;) {
      if (source.writable) {
        const n = libc.send(core.fd, buf, buf.length, MSG_NOSIGNAL);
        if (n >= 0) return n;
        const e = libc.errno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) throw sysError("send", e);
        source.writable = false;
      }
      yield* core.waitReady(task, "send", true);
    }
  }

  /**
   * Receives one datagram from the connected peer: stored length and
   * whether it was truncated. Otherwise as {@linkcode recvFrom}.
   */
  *recv(buf: Uint8Array): Operation<Received> {
    const core = this.#core;
    const task = core.task("recv");
    const len = buf.length > MAX_IO_LEN ? MAX_IO_LEN : buf.length;
    const source = core.source;
    for (;;) {
      if (source.readable) {
        const size = libc.recv(core.fd, buf, len, MSG_TRUNC);
        if (size >= 0) return { n: size > len ? len : size, truncated: size > len };
        const e = libc.errno();
        if (e === EINTR) continue;
        if (e !== EAGAIN) throw sysError("recv", e);
        source.readable = false;
      }
      yield* core.waitReady(task, "recv", false);
    }
  }

  /** The bound address (the real port when bound to port 0). Halts after close. */
  get localAddr(): SocketAddr {
    this.#core.checkSync("localAddr");
    return this.#local ??= localAddrOf(this.#core.fd);
  }

  /** The connected peer's address; throws `SysError` `ENOTCONN` if not connected. Halts after close. */
  get peerAddr(): SocketAddr {
    this.#core.checkSync("peerAddr");
    return peerAddrOf(this.#core.fd);
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
   * Closes the socket (idempotent); a task waiting on it wakes with
   * `SocketClosedError`. Halts when called from another thread's task.
   */
  close(): void {
    this.#core.close();
  }
}
