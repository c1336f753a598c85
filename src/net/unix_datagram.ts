/**
 * `UnixDatagram`: a Unix domain datagram socket, written on the public
 * {@linkcode AsyncFd}. Datagrams keep their boundaries and are reliable and
 * ordered (a full receiver makes the sender wait, it does not drop).
 *
 * @module
 */

import { libc, MAX_IO_LEN, MSG_NOSIGNAL, MSG_TRUNC, SOCK_DGRAM, sysError } from "../ffi/mod.ts";
import type { Operation } from "../sched/types.ts";
import type { AsyncFd } from "./async_fd.ts";
import { byteLength, checkBytes, notBytes } from "./check.ts";
import {
  decodeUnixAddr,
  encodeUnixAddr,
  type PeerCredentials,
  SOCKADDR_UN_SIZE,
  type UnixAddr,
  type UnixAddrLike,
} from "./unix_addr.ts";
import { openUnixFd, peerCredentialsOf, unixAddrOf, unixPair } from "./unix_fd.ts";

/** What {@linkcode UnixDatagram.recvFrom} returns. */
export interface UnixDatagramReceived {
  /** Bytes stored in the buffer (at most its length). */
  n: number;
  /** Who sent it (`unnamed` for a sender that never bound). */
  addr: UnixAddr;
  /** Whether the datagram was longer than the buffer (its rest is lost). */
  truncated: boolean;
  /** The datagram's real length. */
  size: number;
}

/**
 * A Unix domain datagram socket: bound to a path or an abstract name
 * ({@linkcode bind}), unbound (it can send, and receive replies only when
 * connected: {@linkcode unbound}), or one of a connected {@linkcode pair}.
 * Paths are the user's to remove, as for `UnixListener`. Usage rules,
 * errors and cancel safety as `UdpSocket`.
 */
export class UnixDatagram {
  readonly #io: AsyncFd;
  readonly #fd: number;
  readonly #addrBuf = new Uint8Array(SOCKADDR_UN_SIZE);
  readonly #addrLen = new Uint32Array(1);

  private constructor(io: AsyncFd) {
    this.#io = io;
    this.#fd = io.fd;
  }

  /**
   * A datagram socket bound to `addr` (a path, `{ path }` or
   * `{ abstract }`). Throws a `SysError` (`EADDRINUSE`: the path exists) or
   * a `TypeError`/`RangeError` for a bad address. May be called outside a
   * task.
   *
   * @example
   * ```ts
   * const sock = UnixDatagram.bind({ abstract: "my-app-events" });
   * ```
   */
  static bind(addr: UnixAddrLike): UnixDatagram {
    const [sa, saLen] = encodeUnixAddr(addr);
    return new UnixDatagram(openUnixFd(SOCK_DGRAM, "UnixDatagram", (fd) => {
      if (libc.bind(fd, sa, saLen) < 0) throw sysError("bind", libc.errno());
    }));
  }

  /** A datagram socket bound to nothing: it can send to bound sockets. */
  static unbound(): UnixDatagram {
    return new UnixDatagram(openUnixFd(SOCK_DGRAM, "UnixDatagram", () => {}));
  }

  /** A connected pair of datagram sockets (`socketpair(2)`). */
  static pair(): [UnixDatagram, UnixDatagram] {
    const [a, b] = unixPair(SOCK_DGRAM, "UnixDatagram");
    return [new UnixDatagram(a), new UnixDatagram(b)];
  }

  /**
   * Sends `buf` as one datagram to `addr`; returns its length. Waits while
   * the receiver's queue is full. Throws a `SysError` (`ENOENT`,
   * `ECONNREFUSED`: nobody bound there; `EMSGSIZE`). Cancel safety:
   * cancelled while waiting, nothing was sent.
   */
  *sendTo(buf: Uint8Array, addr: UnixAddrLike): Operation<number> {
    checkBytes(buf, "sendTo");
    const [sa, saLen] = encodeUnixAddr(addr);
    if (buf.length > MAX_IO_LEN) throw new RangeError(`sendTo: datagram too large: ${buf.length}`);
    const fd = this.#fd;
    return yield* this.#io.writeWith(
      "sendTo",
      () => libc.sendto(fd, buf, buf.length, MSG_NOSIGNAL, sa, saLen),
      0,
      "sendto",
    );
  }

  /**
   * Receives one datagram into `buf`: stored length, sender, whether it was
   * truncated and its real size. Waits until one arrives. Cancel safety:
   * cancelled while waiting, nothing was taken.
   */
  *recvFrom(buf: Uint8Array): Operation<UnixDatagramReceived> {
    const len = byteLength(buf);
    if (len < 0) throw notBytes("recvFrom", buf);
    const fd = this.#fd;
    const addrBuf = this.#addrBuf;
    const addrLen = this.#addrLen;
    const size = yield* this.#io.readWith(
      "recvFrom",
      () => {
        addrLen[0] = SOCKADDR_UN_SIZE;
        return libc.recvfrom(fd, buf, len, MSG_TRUNC, addrBuf, addrLen);
      },
      0,
      "recvfrom",
    );
    const addr = decodeUnixAddr(addrBuf, addrLen[0]!);
    return { n: size > len ? len : size, addr, truncated: size > len, size };
  }

  /** Sets the default peer for {@linkcode send}/{@linkcode recv}. Throws a `SysError`. */
  connect(addr: UnixAddrLike): void {
    const fd = this.#io.fdFor("connect");
    const [sa, saLen] = encodeUnixAddr(addr);
    if (libc.connect(fd, sa, saLen) < 0) throw sysError("connect", libc.errno());
  }

  /** Sends `buf` as one datagram to the connected peer. As {@linkcode sendTo}. */
  *send(buf: Uint8Array): Operation<number> {
    checkBytes(buf, "send");
    if (buf.length > MAX_IO_LEN) throw new RangeError(`send: datagram too large: ${buf.length}`);
    const fd = this.#fd;
    return yield* this.#io.writeWith("send", () => libc.send(fd, buf, buf.length, MSG_NOSIGNAL));
  }

  /** Receives one datagram (from the connected peer): stored length and truncation. */
  *recv(buf: Uint8Array): Operation<{ n: number; truncated: boolean }> {
    const len = byteLength(buf);
    if (len < 0) throw notBytes("recv", buf);
    const fd = this.#fd;
    const size = yield* this.#io.readWith("recv", () => libc.recv(fd, buf, len, MSG_TRUNC));
    return { n: size > len ? len : size, truncated: size > len };
  }

  /** The peer's credentials (`SO_PEERCRED`; for a connected socket or a pair). Halts after close. */
  get peerCredentials(): PeerCredentials {
    return peerCredentialsOf(this.#io.fdFor("peerCredentials"));
  }

  /** The bound address (`unnamed` if none). Halts after close. */
  get localAddr(): UnixAddr {
    return unixAddrOf(this.#io.fdFor("localAddr"), false);
  }

  /** The connected peer's address; a `SysError` `ENOTCONN` if not connected. Halts after close. */
  get peerAddr(): UnixAddr {
    return unixAddrOf(this.#io.fdFor("peerAddr"), true);
  }

  /** The file descriptor (for diagnostics; the socket owns it). */
  get fd(): number {
    return this.#fd;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#io.closed;
  }

  /** Closes the socket (idempotent); a waiting task wakes with `SocketClosedError`. A path stays. */
  close(): void {
    this.#io.close();
  }
}
