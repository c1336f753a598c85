/**
 * Kernel constants and C struct layout facts, in one place.
 *
 * Only Linux is filled in today. The values are grouped in a per-OS table
 * ({@linkcode LINUX}) and exported as named consts picked from the table of
 * the running OS, so adding macOS or FreeBSD means adding one more table (and
 * the struct-codec differences, e.g. the BSD `sin_len` byte) without touching
 * any caller.
 *
 * Flag words that have bit 31 set ({@linkcode EPOLLET}) are exported as
 * positive numbers (`0x80000000`); JS bitwise operators turn them negative, so
 * code that combines them must `>>> 0` before comparing or encoding (the
 * codecs in `structs.ts` do).
 *
 * @module
 */

/** The CPU architectures strom knows the struct layouts of. */
export type Arch = "x86_64" | "aarch64";
/** The operating systems strom knows the constants of. */
export type Os = "linux";

/** Reads a property path from `globalThis` without naming a host type. */
function hostInfo(): { arch: string; os: string } {
  const g = globalThis as unknown as {
    Deno?: { build: { arch: string; os: string } };
    process?: { arch: string; platform: string };
  };
  if (g.Deno !== undefined) return { arch: g.Deno.build.arch, os: g.Deno.build.os };
  if (g.process !== undefined) {
    // Node/Bun spell them "x64"/"arm64"; normalise to the kernel's names.
    const arch = g.process.arch === "x64"
      ? "x86_64"
      : g.process.arch === "arm64"
      ? "aarch64"
      : g.process.arch;
    return { arch, os: g.process.platform };
  }
  throw new Error("strom: cannot tell the CPU architecture (no Deno, no process global)");
}

const info = hostInfo();

/** The running CPU architecture (`"x86_64"` or `"aarch64"`); throws at load on anything else. */
export const ARCH: Arch = ((): Arch => {
  if (info.arch === "x86_64" || info.arch === "aarch64") return info.arch;
  throw new Error(`strom: unsupported CPU architecture ${info.arch}`);
})();

/** The running OS; throws at load on anything but Linux (the only table so far). */
export const OS: Os = ((): Os => {
  if (info.os === "linux") return "linux";
  throw new Error(`strom: unsupported operating system ${info.os} (only linux so far)`);
})();

/**
 * Linux constants (the generic values; x86_64 and aarch64 agree on all of
 * these). Octal literals mirror the kernel headers.
 */
export const LINUX = {
  AF_UNIX: 1,
  AF_INET: 2,
  AF_INET6: 10,

  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_NONBLOCK: 0o4000,
  SOCK_CLOEXEC: 0o2000000,

  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_TYPE: 3,
  SO_ERROR: 4,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_KEEPALIVE: 9,
  SO_REUSEPORT: 15,
  SO_PEERCRED: 17,

  IPPROTO_TCP: 6,
  IPPROTO_UDP: 17,
  IPPROTO_IPV6: 41,
  IPV6_V6ONLY: 26,
  TCP_NODELAY: 1,
  TCP_KEEPIDLE: 4,
  TCP_KEEPINTVL: 5,
  TCP_KEEPCNT: 6,

  MSG_OOB: 0x1,
  MSG_PEEK: 0x2,
  MSG_TRUNC: 0x20,
  MSG_DONTWAIT: 0x40,
  MSG_NOSIGNAL: 0x4000,

  SHUT_RD: 0,
  SHUT_WR: 1,
  SHUT_RDWR: 2,

  EPOLL_CTL_ADD: 1,
  EPOLL_CTL_DEL: 2,
  EPOLL_CTL_MOD: 3,
  EPOLLIN: 0x1,
  EPOLLPRI: 0x2,
  EPOLLOUT: 0x4,
  EPOLLERR: 0x8,
  EPOLLHUP: 0x10,
  EPOLLRDHUP: 0x2000,
  EPOLLEXCLUSIVE: 0x10000000,
  EPOLLONESHOT: 0x40000000,
  EPOLLET: 0x80000000,
  EPOLL_CLOEXEC: 0o2000000,

  POLLIN: 0x1,
  POLLPRI: 0x2,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
  POLLRDHUP: 0x2000,

  EFD_SEMAPHORE: 1,
  EFD_NONBLOCK: 0o4000,
  EFD_CLOEXEC: 0o2000000,

  O_NONBLOCK: 0o4000,
  O_CLOEXEC: 0o2000000,
  F_GETFD: 1,
  F_SETFD: 2,
  F_GETFL: 3,
  F_SETFL: 4,
  FD_CLOEXEC: 1,

  CLOCK_REALTIME: 0,
  CLOCK_MONOTONIC: 1,

  RLIMIT_NOFILE: 7,
  PR_SET_TIMERSLACK: 29,
} as const;

/** The constants table of the running OS (same shape for every OS added later). */
export const C: typeof LINUX = LINUX;

/** Address family: local (unix) sockets. */
export const AF_UNIX: number = C.AF_UNIX;
/** Address family: IPv4. */
export const AF_INET: number = C.AF_INET;
/** Address family: IPv6. */
export const AF_INET6: number = C.AF_INET6;
/** Socket type: stream (TCP). */
export const SOCK_STREAM: number = C.SOCK_STREAM;
/** Socket type: datagram (UDP). */
export const SOCK_DGRAM: number = C.SOCK_DGRAM;
/** `socket`/`accept4` flag: create non-blocking. */
export const SOCK_NONBLOCK: number = C.SOCK_NONBLOCK;
/** `socket`/`accept4` flag: close on exec. */
export const SOCK_CLOEXEC: number = C.SOCK_CLOEXEC;
/** Option level: the socket itself. */
export const SOL_SOCKET: number = C.SOL_SOCKET;
/** Socket option (int): allow bind to a TIME_WAIT address. */
export const SO_REUSEADDR: number = C.SO_REUSEADDR;
/** Socket option (int): several sockets bind the same port, load-balanced. */
export const SO_REUSEPORT: number = C.SO_REUSEPORT;
/** Socket option (int): TCP keepalive probes on. */
export const SO_KEEPALIVE: number = C.SO_KEEPALIVE;
/** Socket option (int, read-only): pending error, cleared on read (after a non-blocking connect). */
export const SO_ERROR: number = C.SO_ERROR;
/** Read the connected peer's pid, uid and gid (Unix domain sockets; a `struct ucred`). */
export const SO_PEERCRED: number = C.SO_PEERCRED;
/** Socket option (int): receive buffer size. */
export const SO_RCVBUF: number = C.SO_RCVBUF;
/** Socket option (int): send buffer size. */
export const SO_SNDBUF: number = C.SO_SNDBUF;
/** Socket option (int, read-only): the socket type. */
export const SO_TYPE: number = C.SO_TYPE;
/** Option level / protocol: TCP. */
export const IPPROTO_TCP: number = C.IPPROTO_TCP;
/** Protocol: UDP. */
export const IPPROTO_UDP: number = C.IPPROTO_UDP;
/** Option level: IPv6. */
export const IPPROTO_IPV6: number = C.IPPROTO_IPV6;
/** IPv6 option (int): refuse IPv4-mapped traffic on an IPv6 socket. */
export const IPV6_V6ONLY: number = C.IPV6_V6ONLY;
/** TCP option (int): disable Nagle. */
export const TCP_NODELAY: number = C.TCP_NODELAY;
/** TCP option (int, seconds): idle time before keepalive probes. */
export const TCP_KEEPIDLE: number = C.TCP_KEEPIDLE;
/** TCP option (int, seconds): interval between keepalive probes. */
export const TCP_KEEPINTVL: number = C.TCP_KEEPINTVL;
/** TCP option (int): probes before the connection is dropped. */
export const TCP_KEEPCNT: number = C.TCP_KEEPCNT;
/** send flag: no SIGPIPE on a broken connection (EPIPE instead). */
export const MSG_NOSIGNAL: number = C.MSG_NOSIGNAL;
/** recv flag: return the real datagram length even if truncated. */
export const MSG_TRUNC: number = C.MSG_TRUNC;
/** send/recv flag: non-blocking for this call only. */
export const MSG_DONTWAIT: number = C.MSG_DONTWAIT;
/** recv flag: look without consuming. */
export const MSG_PEEK: number = C.MSG_PEEK;
/** Send or receive TCP urgent (out-of-band) data. */
export const MSG_OOB: number = C.MSG_OOB;
/** shutdown: stop receiving. */
export const SHUT_RD: number = C.SHUT_RD;
/** shutdown: stop sending (sends FIN). */
export const SHUT_WR: number = C.SHUT_WR;
/** shutdown: both directions. */
export const SHUT_RDWR: number = C.SHUT_RDWR;
/** epoll_ctl op: register. */
export const EPOLL_CTL_ADD: number = C.EPOLL_CTL_ADD;
/** epoll_ctl op: change the interest. */
export const EPOLL_CTL_MOD: number = C.EPOLL_CTL_MOD;
/** epoll_ctl op: deregister. */
export const EPOLL_CTL_DEL: number = C.EPOLL_CTL_DEL;
/** epoll event: readable. */
export const EPOLLIN: number = C.EPOLLIN;
/** epoll event: writable. */
export const EPOLLOUT: number = C.EPOLLOUT;
/** epoll: urgent (out-of-band) data is waiting, or another exceptional condition. */
export const EPOLLPRI: number = C.EPOLLPRI;
/** epoll event: error (always reported). */
export const EPOLLERR: number = C.EPOLLERR;
/** epoll event: hang-up (always reported). */
export const EPOLLHUP: number = C.EPOLLHUP;
/** epoll event: peer shut down its writing half. */
export const EPOLLRDHUP: number = C.EPOLLRDHUP;
/** epoll flag: edge-triggered. Bit 31: `>>> 0` after combining. */
export const EPOLLET: number = C.EPOLLET;
/** epoll flag: disarm after one event. */
export const EPOLLONESHOT: number = C.EPOLLONESHOT;
/** epoll_create1 flag: close on exec. */
export const EPOLL_CLOEXEC: number = C.EPOLL_CLOEXEC;
/** poll event: readable. */
export const POLLIN: number = C.POLLIN;
/** poll event: writable. */
export const POLLOUT: number = C.POLLOUT;
/** poll revent: error. */
export const POLLERR: number = C.POLLERR;
/** poll revent: hang-up. */
export const POLLHUP: number = C.POLLHUP;
/** poll revent: the fd is not open. */
export const POLLNVAL: number = C.POLLNVAL;
/** poll event: peer shut down its writing half. */
export const POLLRDHUP: number = C.POLLRDHUP;
/** eventfd flag: reads decrement by one. */
export const EFD_SEMAPHORE: number = C.EFD_SEMAPHORE;
/** eventfd flag: non-blocking. */
export const EFD_NONBLOCK: number = C.EFD_NONBLOCK;
/** eventfd flag: close on exec. */
export const EFD_CLOEXEC: number = C.EFD_CLOEXEC;
/** File status flag: non-blocking. */
export const O_NONBLOCK: number = C.O_NONBLOCK;
/** Open/pipe2 flag: close on exec. */
export const O_CLOEXEC: number = C.O_CLOEXEC;
/** fcntl: get the status flags. */
export const F_GETFL: number = C.F_GETFL;
/** fcntl: set the status flags. */
export const F_SETFL: number = C.F_SETFL;
/** fcntl: get the descriptor flags. */
export const F_GETFD: number = C.F_GETFD;
/** fcntl: set the descriptor flags. */
export const F_SETFD: number = C.F_SETFD;
/** Descriptor flag: close on exec. */
export const FD_CLOEXEC: number = C.FD_CLOEXEC;
/** Clock: monotonic, the same for every thread of the process. */
export const CLOCK_MONOTONIC: number = C.CLOCK_MONOTONIC;
/** Clock: wall time. */
export const CLOCK_REALTIME: number = C.CLOCK_REALTIME;
/** Resource: the most open file descriptors. */
export const RLIMIT_NOFILE: number = C.RLIMIT_NOFILE;
/** prctl option: the calling thread's timer slack, in ns. */
export const PR_SET_TIMERSLACK: number = C.PR_SET_TIMERSLACK;

/** `SYS_gettid`, the syscall number `gettid` falls back to before glibc 2.30. */
export const SYS_GETTID: number = ARCH === "x86_64" ? 186 : 178;

// --- struct layouts ---------------------------------------------------------

/**
 * `sizeof(struct epoll_event)`: 12 on x86_64, where the struct is packed
 * (`__EPOLL_PACKED`, u32 events then u64 data at offset 4), and 16 elsewhere
 * (data aligned to offset 8).
 */
export const EPOLL_EVENT_SIZE: number = ARCH === "x86_64" ? 12 : 16;
/** Offset of `epoll_event.data` (see {@linkcode EPOLL_EVENT_SIZE}). */
export const EPOLL_EVENT_DATA_OFFSET: number = ARCH === "x86_64" ? 4 : 8;
/** `sizeof(struct pollfd)`: i32 fd, i16 events, i16 revents. */
export const POLLFD_SIZE: number = 8;
/** `sizeof(struct timespec)` on 64-bit Linux: i64 tv_sec, i64 tv_nsec. */
export const TIMESPEC_SIZE: number = 16;
/** `sizeof(struct sockaddr_in)`. */
export const SOCKADDR_IN_SIZE: number = 16;
/** `sizeof(struct sockaddr_in6)`. */
export const SOCKADDR_IN6_SIZE: number = 28;
/** `sizeof(struct sockaddr_storage)`: room for any address. */
export const SOCKADDR_STORAGE_SIZE: number = 128;
/** `sizeof(struct rlimit)`: u64 soft, u64 hard. */
export const RLIMIT_SIZE: number = 16;
/** `sizeof(struct iovec)` on 64-bit: pointer base, u64 length. */
export const IOVEC_SIZE: number = 16;
/** `sizeof(struct msghdr)` on 64-bit Linux (name, namelen, iov, iovlen, control, controllen, flags). */
export const MSGHDR_SIZE: number = 56;
/** Whether the C structs are little-endian (true on both supported arches). */
export const LITTLE_ENDIAN = true;
