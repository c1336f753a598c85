/**
 * The Bun loader: binds libc with `dlopen` from `bun:ffi`.
 *
 * `bun:ffi` is imported dynamically through a variable so that `deno check`
 * never tries to resolve it; the few of its types used here are declared
 * locally. Signature choices are the same as in `deno.ts` (all 32-bit; see
 * there and `libc.ts` for why): `ssize_t` → `i32`, `size_t`/`nfds_t` → `u32`,
 * pointers as `ptr` (Bun passes a TypedArray or null straight through, and
 * honours its byteOffset — checked by a test).
 *
 * @module
 */

// deno-lint-ignore-file no-explicit-any
import { IovScratch } from "./iovec.ts";
import type { Libc } from "./libc.ts";

/** The part of `bun:ffi` this loader uses. */
interface BunFfi {
  dlopen(path: string, symbols: Record<string, { args: readonly string[]; returns: string }>): {
    symbols: Record<string, (...args: any[]) => any>;
    close(): void;
  };
  ptr(view: ArrayBufferView, byteOffset?: number): number;
  read: { i32(ptr: number, byteOffset: number): number };
}

const SYMBOLS = {
  __errno_location: { args: [], returns: "ptr" },
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  socketpair: { args: ["i32", "i32", "i32", "ptr"], returns: "i32" },
  bind: { args: ["i32", "ptr", "u32"], returns: "i32" },
  listen: { args: ["i32", "i32"], returns: "i32" },
  accept4: { args: ["i32", "ptr", "ptr", "i32"], returns: "i32" },
  connect: { args: ["i32", "ptr", "u32"], returns: "i32" },
  shutdown: { args: ["i32", "i32"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "ptr", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "ptr", "ptr"], returns: "i32" },
  getsockname: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  getpeername: { args: ["i32", "ptr", "ptr"], returns: "i32" },
  recv: { args: ["i32", "ptr", "u32", "i32"], returns: "i32" },
  send: { args: ["i32", "ptr", "u32", "i32"], returns: "i32" },
  recvfrom: { args: ["i32", "ptr", "u32", "i32", "ptr", "ptr"], returns: "i32" },
  sendto: { args: ["i32", "ptr", "u32", "i32", "ptr", "u32"], returns: "i32" },
  sendmsg: { args: ["i32", "ptr", "i32"], returns: "i32" },
  read: { args: ["i32", "ptr", "u32"], returns: "i32" },
  write: { args: ["i32", "ptr", "u32"], returns: "i32" },
  readv: { args: ["i32", "ptr", "i32"], returns: "i32" },
  writev: { args: ["i32", "ptr", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  pipe2: { args: ["ptr", "i32"], returns: "i32" },
  eventfd: { args: ["u32", "i32"], returns: "i32" },
  epoll_create1: { args: ["i32"], returns: "i32" },
  epoll_ctl: { args: ["i32", "i32", "i32", "ptr"], returns: "i32" },
  epoll_wait: { args: ["i32", "ptr", "i32", "i32"], returns: "i32" },
  epoll_pwait2: { args: ["i32", "ptr", "i32", "ptr", "ptr"], returns: "i32" },
  poll: { args: ["ptr", "u32", "i32"], returns: "i32" },
  ppoll: { args: ["ptr", "u32", "ptr", "ptr"], returns: "i32" },
  clock_gettime: { args: ["i32", "ptr"], returns: "i32" },
  getrlimit: { args: ["i32", "ptr"], returns: "i32" },
  setrlimit: { args: ["i32", "ptr"], returns: "i32" },
  getpid: { args: [], returns: "i32" },
  gettid: { args: [], returns: "i32" },
  _exit: { args: ["i32"], returns: "void" },
  // Variadic in C; see deno.ts.
  prctl: { args: ["i32", "u32"], returns: "i32" },
} as const;

/**
 * Opens the C library at `path` (e.g. `"libc.so.6"`) with `bun:ffi` and
 * returns the typed {@linkcode Libc}. Async only because `bun:ffi` is
 * imported dynamically. Call once per thread: errno's location is cached for
 * the calling thread.
 */
export async function loadBun(path: string): Promise<Libc> {
  const modName = "bun:ffi";
  const ffi = (await import(modName)) as BunFfi;
  const lib = ffi.dlopen(path, SYMBOLS);
  const s = lib.symbols;
  const errnoPtr: number = s.__errno_location();
  if (!errnoPtr) throw new Error("strom: __errno_location() returned NULL");
  const readI32 = ffi.read.i32;
  const ptr = ffi.ptr;
  // ptr() throws on an empty view; IovScratch never asks for one.
  const scratch = new IovScratch((buf) => ptr(buf));
  const { iov, msg } = scratch;

  return {
    host: "bun",
    errno: () => readI32(errnoPtr, 0),
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
