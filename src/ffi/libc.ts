/**
 * The one typed libc interface everything above `src/ffi/` uses.
 *
 * Every call is the raw C function: it returns what C returns (`-1` on
 * failure for most calls) and leaves `errno` to be read with
 * {@linkcode Libc.errno} right after, on the same thread. Nothing here throws
 * on a failed call: the hot paths of the scheduler and the sockets test for
 * `EAGAIN` without building an exception. {@linkcode check} in `errors.ts`
 * turns a failure into a typed {@linkcode SysError} where one is wanted.
 *
 * Signatures are 32-bit wherever the x86_64 ABI allows it: on Deno any 64-bit
 * parameter or result leaves V8's fast path (80-140 ns instead of 5-17 ns) and
 * comes back as a bigint. So `ssize_t` results are declared `i32` (every byte
 * count strom asks for is under 2^31, and `-1` survives the truncation) and
 * `size_t` lengths are declared `u32` (callers never pass 2^31 or more: see
 * {@linkcode MAX_IO_LEN}).
 *
 * Buffers are passed as `Uint8Array`s (the C side sees a pointer to their
 * first byte); `null` is the C null pointer. Struct buffers are encoded and
 * decoded by the codecs in `structs.ts`.
 *
 * @module
 */

/** The largest byte count passed to one read/write-like call (2^30). */
export const MAX_IO_LEN = 1 << 30;

/** A byte buffer handed to C as a pointer to its first byte. */
export type Bytes = Uint8Array;

/** The libc calls strom makes, loaded for the running host (Deno or Bun). */
export interface Libc {
  /** Which host loaded this interface. */
  readonly host: "deno" | "bun";

  /** The calling thread's `errno`, read right after a failed call. */
  errno(): number;
  /** `strerror(3)`: glibc's text for `errno` (`"Unknown error <n>"` for a number it does not know). */
  strerror(errno: number): string;
  /**
   * `strerrorname_np(3)`: the symbolic name of `errno` (`"ECONNRESET"`), or
   * null for a number glibc does not know or a glibc older than 2.32.
   */
  strerrorname(errno: number): string | null;

  // --- sockets -----------------------------------------------------------
  socket(domain: number, type: number, protocol: number): number;
  /** `socketpair(2)`: the two fds are written to `fds[0]` and `fds[1]`. */
  socketpair(domain: number, type: number, protocol: number, fds: Int32Array): number;
  bind(fd: number, addr: Bytes, addrLen: number): number;
  listen(fd: number, backlog: number): number;
  /** `addr`/`addrLen` may be null; `addrLen` holds a socklen_t (u32) in and out. */
  accept4(fd: number, addr: Bytes | null, addrLen: Uint32Array | null, flags: number): number;
  connect(fd: number, addr: Bytes, addrLen: number): number;
  shutdown(fd: number, how: number): number;
  setsockopt(fd: number, level: number, name: number, value: Bytes, valueLen: number): number;
  getsockopt(fd: number, level: number, name: number, value: Bytes, valueLen: Uint32Array): number;
  getsockname(fd: number, addr: Bytes, addrLen: Uint32Array): number;
  getpeername(fd: number, addr: Bytes, addrLen: Uint32Array): number;
  /** `recv(2)`; reads into `buf[0..len)`. */
  recv(fd: number, buf: Bytes, len: number, flags: number): number;
  /** `send(2)`; writes `buf[0..len)`. Sockets pass `MSG_NOSIGNAL`: no SIGPIPE. */
  send(fd: number, buf: Bytes, len: number, flags: number): number;
  recvfrom(
    fd: number,
    buf: Bytes,
    len: number,
    flags: number,
    addr: Bytes | null,
    addrLen: Uint32Array | null,
  ): number;
  sendto(
    fd: number,
    buf: Bytes,
    len: number,
    flags: number,
    addr: Bytes | null,
    addrLen: number,
  ): number;
  /** `sendmsg(2)` gathering `bufs` (at most {@linkcode MAX_IOV}), no address. */
  sendmsgv(fd: number, bufs: readonly Bytes[], flags: number): number;

  // --- plain fds ---------------------------------------------------------
  read(fd: number, buf: Bytes, len: number): number;
  write(fd: number, buf: Bytes, len: number): number;
  /** `readv(2)` scattering into `bufs` (at most {@linkcode MAX_IOV}). */
  readv(fd: number, bufs: readonly Bytes[]): number;
  /** `writev(2)` gathering `bufs` (at most {@linkcode MAX_IOV}). */
  writev(fd: number, bufs: readonly Bytes[]): number;
  close(fd: number): number;
  /** `fcntl(2)` with an int argument (variadic in C; sound on x86_64 and aarch64 Linux). */
  fcntl(fd: number, cmd: number, arg: number): number;
  eventfd(initval: number, flags: number): number;

  // --- readiness ---------------------------------------------------------
  epoll_create1(flags: number): number;
  /** `event` is one encoded epoll_event, or null for EPOLL_CTL_DEL. */
  epoll_ctl(epfd: number, op: number, fd: number, event: Bytes | null): number;
  epoll_wait(epfd: number, events: Bytes, maxEvents: number, timeoutMs: number): number;
  /**
   * `timeout` is an encoded timespec, or null to wait forever. Null when the
   * C library lacks it (glibc < 2.35); it fails with `ENOSYS` on a kernel
   * older than 5.11. Use `epoll_wait` then.
   */
  readonly epoll_pwait2:
    | ((epfd: number, events: Bytes, maxEvents: number, timeout: Bytes | null) => number)
    | null;
  poll(fds: Bytes, nfds: number, timeoutMs: number): number;
  /** `timeout` is an encoded timespec, or null to wait forever. */
  ppoll(fds: Bytes, nfds: number, timeout: Bytes | null): number;

  // --- time and process --------------------------------------------------
  clock_gettime(clock: number, timespec: Bytes): number;
  /** The kernel thread id of the caller (distinct per Worker). */
  gettid(): number;
  /** `_exit(2)`: ends the whole process at once, from any thread (no atexit, no flush). */
  _exit(status: number): void;
  /** `prctl(2)` with one argument (e.g. PR_SET_TIMERSLACK, in ns). */
  prctl(option: number, arg: number): number;
  /** `getrlimit(2)`: `resource`'s limits into `rlimit` (a `struct rlimit`, see `decodeRlimit`). */
  getrlimit(resource: number, rlimit: Bytes): number;
}

/** The most buffers one vectored call takes (the loaders' iovec scratch). */
export const MAX_IOV = 64;
