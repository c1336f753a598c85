/**
 * What the IP socket types share beyond their `AsyncFd`: opening
 * the fd (non-blocking and close-on-exec from creation), encoding its
 * address, and int socket options.
 *
 * @module
 */

import {
  encodeSockAddr,
  libc,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCKADDR_IN6_SIZE,
  type SocketAddr,
  sysError,
} from "../ffi/mod.ts";
import { familyOf } from "./addr.ts";

/**
 * Opens a socket of `type` for `addr`'s family, non-blocking and
 * close-on-exec from creation (no window where a fork+exec inherits it).
 * Throws the `SysError` of `socket`.
 */
export function openSocketFd(addr: SocketAddr, type: number): number {
  const fd = libc.socket(familyOf(addr), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sysError("socket", libc.errno());
  return fd;
}

/** Encodes `addr` into a fresh sockaddr buffer; returns it and its length. */
export function sockAddrBytes(addr: SocketAddr): [Uint8Array, number] {
  const buf = new Uint8Array(SOCKADDR_IN6_SIZE);
  return [buf, encodeSockAddr(addr, buf)];
}

/** Sets an int socket option; throws the `SysError` of `setsockopt`. */
export function setIntOption(fd: number, level: number, name: number, value: number): void {
  const buf = new Uint8Array(4);
  new DataView(buf.buffer).setInt32(0, value, true);
  if (libc.setsockopt(fd, level, name, buf, 4) < 0) throw sysError("setsockopt", libc.errno());
}

/** Reads an int socket option; throws the `SysError` of `getsockopt`. */
export function getIntOption(fd: number, level: number, name: number): number {
  const buf = new Uint8Array(4);
  const len = new Uint32Array([4]);
  if (libc.getsockopt(fd, level, name, buf, len) < 0) throw sysError("getsockopt", libc.errno());
  return new DataView(buf.buffer).getInt32(0, true);
}
