/**
 * What the Unix socket types share: opening an `AF_UNIX` fd wrapped in an
 * {@linkcode AsyncFd}, and asking the kernel for addresses and peer
 * credentials. Like the rest of the Unix sockets, built on `src/ffi` and
 * the public `AsyncFd` only.
 *
 * @module
 */

import {
  AF_UNIX,
  libc,
  SO_PEERCRED,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOL_SOCKET,
  sysError,
} from "../ffi/mod.ts";
import { AsyncFd } from "./async_fd.ts";
import {
  decodeUcred,
  decodeUnixAddr,
  type PeerCredentials,
  SOCKADDR_UN_SIZE,
  UCRED_SIZE,
  type UnixAddr,
} from "./unix_addr.ts";

/** The flags every Unix socket strom makes is opened with. */
export const UNIX_FLAGS: number = SOCK_NONBLOCK | SOCK_CLOEXEC;

/**
 * Wraps `fd` (open, non-blocking) in an {@linkcode AsyncFd} named `name`;
 * closes it and throws if that fails, so the caller never leaks it.
 */
export function wrapUnixFd(fd: number, name: string): AsyncFd {
  try {
    return new AsyncFd(fd, { name });
  } catch (error) {
    libc.close(fd);
    throw error;
  }
}

/** Opens an `AF_UNIX` socket of `type` and runs `setup` on it (closing it if that throws). */
export function openUnixFd(type: number, name: string, setup: (fd: number) => void): AsyncFd {
  const fd = libc.socket(AF_UNIX, type | UNIX_FLAGS, 0);
  if (fd < 0) throw sysError("socket", libc.errno());
  try {
    setup(fd);
  } catch (error) {
    libc.close(fd);
    throw error;
  }
  return wrapUnixFd(fd, name);
}

/** Makes a connected pair of `AF_UNIX` sockets of `type`, each wrapped as `name`. */
export function unixPair(type: number, name: string): [AsyncFd, AsyncFd] {
  const fds = new Int32Array(2);
  if (libc.socketpair(AF_UNIX, type | UNIX_FLAGS, 0, fds) < 0) {
    throw sysError("socketpair", libc.errno());
  }
  let first: AsyncFd;
  try {
    first = wrapUnixFd(fds[0]!, name);
  } catch (error) {
    libc.close(fds[1]!);
    throw error;
  }
  try {
    return [first, wrapUnixFd(fds[1]!, name)];
  } catch (error) {
    first.close();
    throw error;
  }
}

/** The address `fd` is bound to (`getsockname`), or the peer's (`getpeername`). */
export function unixAddrOf(fd: number, peer: boolean): UnixAddr {
  const buf = new Uint8Array(SOCKADDR_UN_SIZE);
  const len = new Uint32Array([buf.length]);
  const r = peer ? libc.getpeername(fd, buf, len) : libc.getsockname(fd, buf, len);
  if (r < 0) throw sysError(peer ? "getpeername" : "getsockname", libc.errno());
  return decodeUnixAddr(buf, len[0]!);
}

/** The credentials of `fd`'s peer (`SO_PEERCRED`). */
export function peerCredentialsOf(fd: number): PeerCredentials {
  const buf = new Uint8Array(UCRED_SIZE);
  const len = new Uint32Array([UCRED_SIZE]);
  if (libc.getsockopt(fd, SOL_SOCKET, SO_PEERCRED, buf, len) < 0) {
    throw sysError("getsockopt", libc.errno());
  }
  return decodeUcred(buf);
}
