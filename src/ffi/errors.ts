/**
 * errno numbers (Linux) and their names, and {@linkcode SysError}, the typed error
 * strom throws when a syscall fails and the caller wants an exception.
 *
 * The raw calls in {@linkcode Libc} never throw; {@linkcode check} is the one
 * place that turns `-1` + errno into an exception.
 *
 * @module
 */

import { getSystemErrorMap } from "node:util";
import { libc } from "./host.ts";
import type { Libc } from "./libc.ts";

/** Operation not permitted. */
export const EPERM = 1;
/** No such file or directory. */
export const ENOENT = 2;
/** No such process. */
export const ESRCH = 3;
/** Interrupted system call. */
export const EINTR = 4;
/** I/O error. */
export const EIO = 5;
/** Bad file descriptor. */
export const EBADF = 9;
/** Resource temporarily unavailable (same number as EWOULDBLOCK on Linux). */
export const EAGAIN = 11;
/** Alias of {@linkcode EAGAIN} on Linux. */
export const EWOULDBLOCK = 11;
/** Cannot allocate memory. */
export const ENOMEM = 12;
/** Permission denied. */
export const EACCES = 13;
/** Bad address. */
export const EFAULT = 14;
/** Device or resource busy. */
export const EBUSY = 16;
/** File exists. */
export const EEXIST = 17;
/** Invalid argument. */
export const EINVAL = 22;
/** Too many open files in system. */
export const ENFILE = 23;
/** Too many open files (this process). */
export const EMFILE = 24;
/** No space left on device. */
export const ENOSPC = 28;
/** Broken pipe. */
export const EPIPE = 32;
/** Function not implemented. */
export const ENOSYS = 38;
/** Value too large for defined data type. */
export const EOVERFLOW = 75;
/** Socket operation on non-socket. */
export const ENOTSOCK = 88;
/** Destination address required. */
export const EDESTADDRREQ = 89;
/** Message too long. */
export const EMSGSIZE = 90;
/** Protocol wrong type for socket. */
export const EPROTOTYPE = 91;
/** Protocol not available. */
export const ENOPROTOOPT = 92;
/** Protocol not supported. */
export const EPROTONOSUPPORT = 93;
/** Operation not supported (same number as ENOTSUP on Linux). */
export const EOPNOTSUPP = 95;
/** Address family not supported by protocol. */
export const EAFNOSUPPORT = 97;
/** Address already in use. */
export const EADDRINUSE = 98;
/** Cannot assign requested address. */
export const EADDRNOTAVAIL = 99;
/** Network is down. */
export const ENETDOWN = 100;
/** Network is unreachable. */
export const ENETUNREACH = 101;
/** Network dropped connection on reset. */
export const ENETRESET = 102;
/** Software caused connection abort. */
export const ECONNABORTED = 103;
/** Connection reset by peer. */
export const ECONNRESET = 104;
/** No buffer space available. */
export const ENOBUFS = 105;
/** Transport endpoint is already connected. */
export const EISCONN = 106;
/** Transport endpoint is not connected. */
export const ENOTCONN = 107;
/** Cannot send after transport endpoint shutdown. */
export const ESHUTDOWN = 108;
/** Connection timed out. */
export const ETIMEDOUT = 110;
/** Connection refused. */
export const ECONNREFUSED = 111;
/** Host is down. */
export const EHOSTDOWN = 112;
/** No route to host. */
export const EHOSTUNREACH = 113;
/** Operation already in progress. */
export const EALREADY = 114;
/** Operation now in progress (a non-blocking connect has started). */
export const EINPROGRESS = 115;
/** Operation canceled. */
export const ECANCELED = 125;

// Names and texts come from glibc itself (strerrorname_np, strerror), so
// every errno the kernel can return is named. node:util's libuv table is
// only the fallback for a glibc older than 2.32 (no strerrorname_np): it
// lacks EINPROGRESS on both hosts and EOVERFLOW on Deno, and its texts are
// not glibc's. Cached: each is looked up once.
const names = new Map<number, string>();
const texts = new Map<number, string>();

/** The symbolic name of `errno` (e.g. `"ECONNRESET"`), or `"E<n>"` for a number glibc does not name. */
export function errnoName(errno: number): string {
  let name = names.get(errno);
  if (name === undefined) {
    name = libc.strerrorname(errno) ?? getSystemErrorMap().get(-errno)?.[0] ?? `E${errno}`;
    names.set(errno, name);
  }
  return name;
}

/** glibc's description of `errno` (e.g. `"Connection refused"`), or `"Unknown error <n>"`. */
export function errnoDescription(errno: number): string {
  let text = texts.get(errno);
  if (text === undefined) {
    text = libc.strerror(errno);
    texts.set(errno, text);
  }
  return text;
}

/**
 * A failed syscall. `errno` is the number, `code` its name (`"ECONNREFUSED"`),
 * `call` the C function that failed (`"connect"`); the message reads
 * `connect failed: ECONNREFUSED (Connection refused) [errno 111]`.
 */
export class SysError extends Error {
  /** The errno value the call left. */
  readonly errno: number;
  /** The symbolic errno name, as {@linkcode errnoName} gives it. */
  readonly code: string;
  /** The name of the C function that failed. */
  readonly call: string;

  /** Builds the error for `call` having failed with `errno`. */
  constructor(call: string, errno: number) {
    const code = errnoName(errno);
    super(`${call} failed: ${code} (${errnoDescription(errno)}) [errno ${errno}]`);
    this.name = "SysError";
    this.errno = errno;
    this.code = code;
    this.call = call;
  }
}

/** Builds a {@linkcode SysError} for `call` having failed with `errno`. */
export function sysError(call: string, errno: number): SysError {
  return new SysError(call, errno);
}

/**
 * Returns `result` when it is `>= 0`; otherwise throws the {@linkcode SysError}
 * of `call` with the errno read from `libc` right now (so call it straight
 * after the syscall, with nothing in between that could touch errno).
 */
export function check(result: number, call: string, libc: Pick<Libc, "errno">): number {
  if (result >= 0) return result;
  throw new SysError(call, libc.errno());
}
