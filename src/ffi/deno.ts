/**
 * The Deno loader: binds libc with `Deno.dlopen`.
 *
 * Signature choices (see `libc.ts`): every integer is 32-bit. On Deno any
 * 64-bit parameter or result drops the call off V8's fast path (80-140 ns
 * instead of ~17 ns) and returns a bigint.
 * - `ssize_t` results as `i32`: byte counts stay below 2^31 (MAX_IO_LEN) and
 *   `-1` keeps its value in the low half of rax.
 * - `size_t`/`nfds_t` parameters as `u32`: the callee reads the full 64-bit
 *   register; the SysV ABI leaves the upper half of a 32-bit argument
 *   undefined, but both hosts' call trampolines write the register with a
 *   32-bit move, which zero-extends. `tests/ffi.test.ts` ("short length")
 *   proves it on each host: a read with `len` smaller than the data available
 *   returns exactly `len` bytes, in a hot loop.
 * - `socklen_t` is u32 in C already.
 * - Pointers as `"buffer"`: a TypedArray (or null) goes straight to C, no
 *   pointer object is made on the hot path.
 * - `fcntl` is variadic in C; calling it with fixed int arguments is sound on
 *   x86_64 and aarch64 Linux (ints go in the same registers either way).
 *
 * @module
 */

import { IovScratch } from "./iovec.ts";
import type { Libc } from "./libc.ts";

const SYMBOLS = {
  __errno_location: { parameters: [], result: "pointer" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  listen: { parameters: ["i32", "i32"], result: "i32" },
  accept4: { parameters: ["i32", "buffer", "buffer", "i32"], result: "i32" },
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  shutdown: { parameters: ["i32", "i32"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getpeername: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  recv: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  send: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  recvfrom: { parameters: ["i32", "buffer", "u32", "i32", "buffer", "buffer"], result: "i32" },
  sendto: { parameters: ["i32", "buffer", "u32", "i32", "buffer", "u32"], result: "i32" },
  sendmsg: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  write: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  readv: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  writev: { parameters: ["i32", "buffer", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  pipe2: { parameters: ["buffer", "i32"], result: "i32" },
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  epoll_create1: { parameters: ["i32"], result: "i32" },
  epoll_ctl: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  epoll_wait: { parameters: ["i32", "buffer", "i32", "i32"], result: "i32" },
  // glibc >= 2.35; the last argument is the sigmask (always null here).
  epoll_pwait2: { parameters: ["i32", "buffer", "i32", "buffer", "buffer"], result: "i32" },
  poll: { parameters: ["buffer", "u32", "i32"], result: "i32" },
  ppoll: { parameters: ["buffer", "u32", "buffer", "buffer"], result: "i32" },
  clock_gettime: { parameters: ["i32", "buffer"], result: "i32" },
  getrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  setrlimit: { parameters: ["i32", "buffer"], result: "i32" },
  getpid: { parameters: [], result: "i32" },
  gettid: { parameters: [], result: "i32" },
  _exit: { parameters: ["i32"], result: "void" },
  // Variadic in C; only the first two (int-class) arguments are read for the
  // options strom uses, and ints travel in the same registers either way.
  prctl: { parameters: ["i32", "u32"], result: "i32" },
} as const;

/** The address of `buf[0]` (Deno's `UnsafePointer.of` includes byteOffset; checked by a test). */
function addressOf(buf: Uint8Array): number {
  const p = Deno.UnsafePointer.of(buf);
  return p === null ? 0 : Number(Deno.UnsafePointer.value(p));
}

/**
 * Opens the C library at `path` (e.g. `"libc.so.6"`) with `Deno.dlopen` and
 * returns the typed {@linkcode Libc}. Call once per thread: errno's location
 * is cached for the calling thread.
 */
export function loadDeno(path: string): Libc {
  const lib = Deno.dlopen(path, SYMBOLS);
  const s = lib.symbols;
  const errnoPtr = s.__errno_location();
  if (errnoPtr === null) throw new Error("strom: __errno_location() returned NULL");
  const errnoView = new Deno.UnsafePointerView(errnoPtr);
  const scratch = new IovScratch(addressOf);
  const { iov, msg } = scratch;

  return {
    host: "deno",
    errno: () => errnoView.getInt32(0),
    socket: s.socket,
    socketpair: s.socketpair,
    bind: s.bind,
    listen: s.listen,
    accept4: s.accept4,
    connect: s.connect,
    shutdown: s.shutdown,
    setsockopt: s.setsockopt,
    getsockopt: s.getsockopt,
    getsockname: s.getsockname,
    getpeername: s.getpeername,
    recv: s.recv,
    send: s.send,
    recvfrom: s.recvfrom,
    sendto: s.sendto,
    sendmsgv: (fd, bufs, flags) => {
      scratch.fillMsg(bufs);
      return s.sendmsg(fd, msg, flags);
    },
    read: s.read,
    write: s.write,
    readv: (fd, bufs) => s.readv(fd, iov, scratch.fill(bufs)),
    writev: (fd, bufs) => s.writev(fd, iov, scratch.fill(bufs)),
    close: s.close,
    fcntl: s.fcntl,
    pipe2: s.pipe2,
    eventfd: s.eventfd,
    epoll_create1: s.epoll_create1,
    epoll_ctl: s.epoll_ctl,
    epoll_wait: s.epoll_wait,
    epoll_pwait2: (epfd, events, maxEvents, timeout) =>
      s.epoll_pwait2(epfd, events, maxEvents, timeout, null),
    poll: s.poll,
    ppoll: (fds, nfds, timeout) => s.ppoll(fds, nfds, timeout, null),
    clock_gettime: s.clock_gettime,
    getrlimit: s.getrlimit,
    setrlimit: s.setrlimit,
    getpid: s.getpid,
    gettid: s.gettid,
    _exit: s._exit,
    prctl: s.prctl,
  };
}
