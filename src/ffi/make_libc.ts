/**
 * Builds the {@linkcode Libc} both loaders return from the bound
 * {@linkcode LIBC_SYMBOLS}: the one place that maps C names onto the typed
 * interface, so the hosts differ only in how they bind and read memory.
 *
 * @module
 */

import { SYS_GETTID } from "./constants.ts";
import { IovScratch } from "./iovec.ts";
import type { Libc } from "./libc.ts";
import type { Bound, LIBC_SYMBOLS } from "./symbols.ts";

/**
 * The {@linkcode Libc} over `s` for `host`; `errno` reads the calling
 * thread's errno, `addressOf` gives the address of a buffer's first byte
 * (for the iovecs), `cString` reads the NUL-terminated string at a pointer
 * result (null for a NULL pointer).
 */
export function makeLibc(
  host: "deno" | "bun",
  s: Bound<typeof LIBC_SYMBOLS>,
  errno: () => number,
  addressOf: (buf: Uint8Array) => number,
  cString: (p: unknown) => string | null,
): Libc {
  const scratch = new IovScratch(addressOf);
  const { iov, msg } = scratch;
  const pwait2 = s.epoll_pwait2;
  const errname = s.strerrorname_np;
  const syscall = s.syscall;
  return {
    host,
    errno,
    strerror: (e) => cString(s.strerror(e)) ?? `Unknown error ${e}`,
    strerrorname: (e) => errname === null ? null : cString(errname(e)),
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
    eventfd: s.eventfd,
    epoll_create1: s.epoll_create1,
    epoll_ctl: s.epoll_ctl,
    epoll_wait: s.epoll_wait,
    epoll_pwait2: pwait2 === null
      ? null
      : (epfd, events, maxEvents, timeout) => pwait2(epfd, events, maxEvents, timeout, null),
    poll: s.poll,
    ppoll: (fds, nfds, timeout) => s.ppoll(fds, nfds, timeout, null),
    clock_gettime: s.clock_gettime,
    gettid: s.gettid ?? (() => syscall(SYS_GETTID)),
    _exit: s._exit,
    prctl: s.prctl,
    getrlimit: s.getrlimit,
  };
}
