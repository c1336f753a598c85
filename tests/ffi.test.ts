/**
 * Syscall-level tests of `src/ffi`: each libc binding against the real
 * kernel, plus the struct codecs. Runs under `deno test -A` and `bun test`.
 * Every test checks that it closed every fd it opened (/proc/self/fd).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { externalBuffer, pointerAddress } from "../src/ffi/host.ts";
import {
  AF_INET,
  AF_UNIX,
  bindSymbols,
  check,
  CLOCK_MONOTONIC,
  decodeRlimit,
  decodeSockAddr,
  decodeTimespecNs,
  EAGAIN,
  EBADF,
  ECONNREFUSED,
  EFD_CLOEXEC,
  EFD_NONBLOCK,
  EINPROGRESS,
  encodeEpollEvent,
  encodeRlimit,
  encodeSockAddr,
  encodeTimespec,
  EOVERFLOW,
  EPOLL_CLOEXEC,
  EPOLL_CTL_ADD,
  EPOLL_CTL_DEL,
  EPOLL_EVENT_SIZE,
  EPOLLET,
  EpollEvents,
  EPOLLIN,
  EPOLLOUT,
  errnoDescription,
  errnoName,
  F_GETFL,
  formatIpv4,
  formatIpv6,
  formatSocketAddr,
  hardwareConcurrency,
  host,
  hostArgs,
  IPPROTO_TCP,
  libc,
  monotonicNowMs,
  monotonicNowNs,
  MSG_NOSIGNAL,
  O_CLOEXEC,
  O_NONBLOCK,
  parseIpv4,
  parseIpv6,
  parseSocketAddr,
  PollFds,
  POLLIN,
  RLIMIT_NOFILE,
  SO_REUSEADDR,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_STREAM,
  SOCKADDR_STORAGE_SIZE,
  type SocketAddr,
  SOL_SOCKET,
  SysError,
  TCP_NODELAY,
} from "../src/ffi/mod.ts";
import { parseWithout } from "../src/ffi/symbols.ts";
import { timeoutMsCeil } from "../src/io/epoll_reactor.ts";
import { hostArgv, runScenario } from "./helpers/child.ts";
import { fdTable, newFds } from "./helpers/fds.ts";
import { testLibc } from "./helpers/test_libc.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/**
 * Runs `fn` and asserts it left no fd open: every fd open afterwards was open
 * before (see `newFds`). Not a plain count: on Bun a child process's stdio
 * socketpairs (an earlier test's scenario) close on Bun's own schedule, and
 * under load one test saw them go (12 !== 14).
 */
function fdTest(name: string, fn: () => void | Promise<void>): void {
  test(name, async () => {
    const before = fdTable();
    await fn();
    assert.deepEqual(newFds(before, fdTable()), [], "fds left open by the test");
  });
}

/** Closes every fd in `fds` that is >= 0, asserting success. */
function closeAll(...fds: number[]): void {
  for (const fd of fds) if (fd >= 0) assert.equal(libc.close(fd), 0, `close(${fd})`);
}

function pipe(flags = O_CLOEXEC): [number, number] {
  const fds = new Int32Array(2);
  check(testLibc.pipe2(fds, flags), "pipe2", libc);
  return [fds[0], fds[1]];
}

function writeAll(fd: number, bytes: Uint8Array): void {
  assert.equal(libc.write(fd, bytes, bytes.length), bytes.length);
}

function tcpSocket(flags = 0): number {
  return check(libc.socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | flags, 0), "socket", libc);
}

/** Binds `fd` to 127.0.0.1:0 and returns the port the kernel chose. */
function bindLoopback(fd: number): number {
  const sa = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const len = encodeSockAddr({ family: "ipv4", address: "127.0.0.1", port: 0 }, sa);
  check(libc.bind(fd, sa, len), "bind", libc);
  const lenBox = new Uint32Array([sa.length]);
  check(libc.getsockname(fd, sa, lenBox), "getsockname", libc);
  return decodeSockAddr(sa, lenBox[0]).port;
}

function loopback(port: number): [Uint8Array, number] {
  const sa = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  return [sa, encodeSockAddr({ family: "ipv4", address: "127.0.0.1", port }, sa)];
}

// --- plain fds ---------------------------------------------------------------

fdTest("host is detected and libc says so", () => {
  assert.ok(host === "deno" || host === "bun");
  assert.equal(libc.host, host);
  assert.ok(testLibc.getpid() > 0);
  assert.ok(libc.gettid() > 0);
  assert.ok(hardwareConcurrency() >= 1);
  assert.ok(Array.isArray(hostArgs()));
});

fdTest("socketpair round trip", () => {
  const fds = new Int32Array(2);
  check(testLibc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), "socketpair", libc);
  try {
    writeAll(fds[0], enc.encode("ping"));
    const buf = new Uint8Array(16);
    assert.equal(libc.read(fds[1], buf, buf.length), 4);
    assert.equal(dec.decode(buf.subarray(0, 4)), "ping");
    assert.equal(libc.send(fds[1], enc.encode("pong"), 4, MSG_NOSIGNAL), 4);
    assert.equal(libc.recv(fds[0], buf, buf.length, 0), 4);
    assert.equal(dec.decode(buf.subarray(0, 4)), "pong");
  } finally {
    closeAll(fds[0], fds[1]);
  }
});

fdTest("pipe2 round trip", () => {
  const [r, w] = pipe();
  try {
    const msg = enc.encode("hello, pipe");
    writeAll(w, msg);
    const buf = new Uint8Array(64);
    const n = libc.read(r, buf, buf.length);
    assert.equal(dec.decode(buf.subarray(0, n)), "hello, pipe");
    closeAll(w);
    assert.equal(libc.read(r, buf, buf.length), 0, "EOF after the writer closed");
  } finally {
    closeAll(r);
  }
});

fdTest("non-blocking read reports EAGAIN (errno read repeatedly)", () => {
  const [r, w] = pipe(O_CLOEXEC | O_NONBLOCK);
  try {
    assert.ok((testLibc.fcntl(r, F_GETFL, 0) & O_NONBLOCK) !== 0);
    const buf = new Uint8Array(8);
    // Many times: oven-sh/bun#22212 reports crashes reading errno.
    for (let i = 0; i < 10_000; i++) {
      assert.equal(libc.read(r, buf, buf.length), -1);
      assert.equal(libc.errno(), EAGAIN);
    }
    assert.throws(
      () => check(libc.read(r, buf, buf.length), "read", libc),
      (e: unknown) =>
        e instanceof SysError && e.errno === EAGAIN && e.code === "EAGAIN" && e.call === "read"
        && e.message === "read failed: EAGAIN (Resource temporarily unavailable) [errno 11]",
    );
  } finally {
    closeAll(r, w);
  }
});

fdTest("short length: read/recv with len < buffer take only len bytes (u32 lengths)", () => {
  const [r, w] = pipe();
  const fds = new Int32Array(2);
  check(testLibc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), "socketpair", libc);
  try {
    const src = new Uint8Array(64).map((_, i) => i);
    const buf = new Uint8Array(64);
    // Hot loop, so the JIT's fast FFI path is used too.
    for (let i = 0; i < 20_000; i++) {
      const len = 1 + (i % 13);
      writeAll(w, src.subarray(0, 32));
      buf.fill(0xee);
      assert.equal(libc.read(r, buf, len), len);
      assert.equal(buf[len], 0xee, "nothing written past len");
      assert.equal(libc.read(r, buf, 64), 32 - len);
    }
    writeAll(fds[0], src);
    assert.equal(libc.recv(fds[1], buf, 5, 0), 5);
    assert.equal(libc.send(fds[1], src, 7, MSG_NOSIGNAL), 7);
    assert.equal(libc.recv(fds[0], buf, 64, 0), 7);
    assert.equal(libc.write(w, src, 3), 3);
    assert.equal(libc.read(r, buf, 64), 3);
  } finally {
    closeAll(r, w, fds[0], fds[1]);
  }
});

fdTest("readv/writev/sendmsgv with offset subarrays round trip", () => {
  const [r, w] = pipe();
  const fds = new Int32Array(2);
  check(testLibc.socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), "socketpair", libc);
  try {
    const big = enc.encode("xxxHELLOyyWORLDzz");
    const parts = [big.subarray(3, 8), new Uint8Array(0), big.subarray(10, 15)];
    assert.equal(libc.writev(w, parts), 10);
    const into = new Uint8Array(20).fill(0x2e); // "."
    const dst = [into.subarray(2, 5), into.subarray(9, 16)];
    assert.equal(libc.readv(r, dst), 10);
    assert.equal(dec.decode(into), "..HEL....LOWORLD....");

    // Many small fresh arrays (storage inside the engine's moving heap) under
    // allocation pressure: the addresses written into the iovecs must hold.
    for (let i = 0; i < 2_000; i++) {
      const a = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]).subarray(1 + (i % 3));
      const b = new Uint8Array([9, 10, 11]);
      const junk = new Array(50).fill(0).map(() => ({ i }));
      assert.equal(libc.sendmsgv(fds[0], [a, b], MSG_NOSIGNAL), a.length + 3);
      const out1 = new Uint8Array(4).subarray(1);
      const out2 = new Uint8Array(32).subarray(5);
      const n = libc.readv(fds[1], [out1, out2]);
      assert.equal(n, a.length + 3);
      const got = [...out1, ...out2.subarray(0, n - 3)];
      assert.deepEqual(got, [...a, ...b]);
      assert.equal(junk.length, 50);
    }
  } finally {
    closeAll(r, w, fds[0], fds[1]);
  }
});

fdTest("eventfd write/read adds up counters", () => {
  const efd = check(libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd", libc);
  try {
    const v = new Uint8Array(8);
    const dv = new DataView(v.buffer);
    dv.setBigUint64(0, 5n, true);
    assert.equal(libc.write(efd, v, 8), 8);
    dv.setBigUint64(0, 3n, true);
    assert.equal(libc.write(efd, v, 8), 8);
    v.fill(0);
    assert.equal(libc.read(efd, v, 8), 8);
    assert.equal(dv.getBigUint64(0, true), 8n);
    assert.equal(libc.read(efd, v, 8), -1);
    assert.equal(libc.errno(), EAGAIN);
  } finally {
    closeAll(efd);
  }
});

// --- errno ---------------------------------------------------------------------

fdTest("close(-1) fails with EBADF, named in the SysError", () => {
  assert.equal(libc.close(-1), -1);
  assert.equal(libc.errno(), EBADF);
  assert.equal(errnoName(EBADF), "EBADF");
  assert.throws(() => check(libc.close(-1), "close", libc), (e: unknown) => {
    assert.ok(e instanceof SysError);
    assert.equal(e.code, "EBADF");
    assert.equal(e.errno, 9);
    assert.match(e.message, /^close failed: EBADF \(Bad file descriptor\) \[errno 9\]$/);
    return true;
  });
  assert.equal(errnoName(4242), "E4242");
});

test("errno names and texts come from glibc: every errno is named, on both hosts alike", () => {
  // Beyond the errnos strom exports constants for (libuv's table in
  // node:util lacks EINPROGRESS on both hosts and EOVERFLOW on Deno).
  const cases: [number, string, string][] = [
    [EAGAIN, "EAGAIN", "Resource temporarily unavailable"],
    [EINPROGRESS, "EINPROGRESS", "Operation now in progress"],
    [EOVERFLOW, "EOVERFLOW", "Value too large for defined data type"],
    [20, "ENOTDIR", "Not a directory"],
    [40, "ELOOP", "Too many levels of symbolic links"],
    [133, "EHWPOISON", "Memory page has hardware error"],
  ];
  for (const [errno, name, text] of cases) {
    assert.equal(errnoName(errno), name);
    assert.equal(errnoDescription(errno), text);
    assert.equal(new SysError("x", errno).message, `x failed: ${name} (${text}) [errno ${errno}]`);
  }
  assert.equal(errnoName(4242), "E4242");
  assert.equal(errnoDescription(4242), "Unknown error 4242");
});

fdTest("connect to a closed loopback port fails with ECONNREFUSED", () => {
  const holder = tcpSocket(); // bound, never listening: the port is closed
  const client = tcpSocket();
  try {
    const port = bindLoopback(holder);
    const [sa, len] = loopback(port);
    assert.throws(() => check(libc.connect(client, sa, len), "connect", libc), (e: unknown) => {
      assert.ok(e instanceof SysError);
      assert.equal(e.errno, ECONNREFUSED);
      assert.equal(e.message, "connect failed: ECONNREFUSED (Connection refused) [errno 111]");
      return true;
    });
  } finally {
    closeAll(holder, client);
  }
});

// --- sockets -------------------------------------------------------------------

fdTest("getsockname after bind to port 0 gives a real port", () => {
  const fd = tcpSocket();
  try {
    const port = bindLoopback(fd);
    assert.ok(port > 0 && port < 65536, `port ${port}`);
  } finally {
    closeAll(fd);
  }
});

fdTest("setsockopt/getsockopt round trip (SO_REUSEADDR, TCP_NODELAY)", () => {
  const fd = tcpSocket();
  try {
    const val = new Int32Array(1);
    const len = new Uint32Array([4]);
    const bytes = new Uint8Array(val.buffer);
    check(libc.getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, bytes, len), "getsockopt", libc);
    assert.equal(val[0], 0);
    val[0] = 1;
    check(libc.setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, bytes, 4), "setsockopt", libc);
    val[0] = 0;
    len[0] = 4;
    check(libc.getsockopt(fd, SOL_SOCKET, SO_REUSEADDR, bytes, len), "getsockopt", libc);
    assert.equal(val[0], 1);
    assert.equal(len[0], 4);
    val[0] = 1;
    check(libc.setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, bytes, 4), "setsockopt", libc);
    val[0] = 0;
    check(libc.getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, bytes, len), "getsockopt", libc);
    assert.equal(val[0], 1);
  } finally {
    closeAll(fd);
  }
});

fdTest("TCP loopback: listen, connect, accept4, send/recv, getpeername", () => {
  const server = tcpSocket();
  const client = tcpSocket();
  let conn = -1;
  try {
    const port = bindLoopback(server);
    check(libc.listen(server, 16), "listen", libc);
    const [sa, len] = loopback(port);
    check(libc.connect(client, sa, len), "connect", libc);
    const peer = new Uint8Array(SOCKADDR_STORAGE_SIZE);
    const peerLen = new Uint32Array([peer.length]);
    conn = check(
      libc.accept4(server, peer, peerLen, SOCK_CLOEXEC | SOCK_NONBLOCK),
      "accept4",
      libc,
    );
    const clientAddr = decodeSockAddr(peer, peerLen[0]);
    assert.equal(clientAddr.address, "127.0.0.1");

    const mine = new Uint8Array(SOCKADDR_STORAGE_SIZE);
    const mineLen = new Uint32Array([mine.length]);
    check(libc.getsockname(client, mine, mineLen), "getsockname", libc);
    assert.deepEqual(decodeSockAddr(mine, mineLen[0]), clientAddr);
    check(libc.getpeername(client, mine, mineLen), "getpeername", libc);
    assert.equal(decodeSockAddr(mine, mineLen[0]).port, port);

    assert.equal(libc.send(client, enc.encode("abc"), 3, MSG_NOSIGNAL), 3);
    const buf = new Uint8Array(8);
    let n = -1;
    for (let i = 0; i < 1000 && n < 0; i++) n = libc.recv(conn, buf, 8, 0); // non-blocking: may need a moment
    assert.equal(dec.decode(buf.subarray(0, n)), "abc");
  } finally {
    closeAll(conn, client, server);
  }
});

// --- readiness -----------------------------------------------------------------

fdTest("epoll reports a readable fd with its data field", () => {
  const ep = check(libc.epoll_create1(EPOLL_CLOEXEC), "epoll_create1", libc);
  const [r, w] = pipe(O_CLOEXEC | O_NONBLOCK);
  try {
    const ev = new Uint8Array(EPOLL_EVENT_SIZE);
    encodeEpollEvent(EPOLLIN | EPOLLET, 0xdeadbeef, ev);
    check(libc.epoll_ctl(ep, EPOLL_CTL_ADD, r, ev), "epoll_ctl", libc);
    const events = new EpollEvents(8);
    assert.equal(libc.epoll_wait(ep, events.bytes, events.capacity, 0), 0);
    writeAll(w, enc.encode("x"));
    assert.equal(libc.epoll_wait(ep, events.bytes, events.capacity, 1000), 1);
    assert.equal(events.events(0) & EPOLLIN, EPOLLIN);
    assert.equal(events.events(0) & EPOLLOUT, 0);
    assert.equal(events.data(0), 0xdeadbeef);
    // edge-triggered: no new edge, no event
    assert.equal(libc.epoll_wait(ep, events.bytes, events.capacity, 0), 0);
    check(libc.epoll_ctl(ep, EPOLL_CTL_DEL, r, null), "epoll_ctl", libc);
  } finally {
    closeAll(r, w, ep);
  }
});

fdTest("poll/ppoll report readiness and time out after at least the timeout", () => {
  const [r, w] = pipe();
  try {
    const fds = new PollFds(1);
    fds.set(0, r, POLLIN);
    assert.equal(libc.poll(fds.bytes, 1, 0), 0);
    const ts = new Uint8Array(16);
    const timeoutMs = 30;
    encodeTimespec(timeoutMs * 1e6, ts);
    const t0 = monotonicNowMs();
    assert.equal(libc.ppoll(fds.bytes, 1, ts), 0);
    const elapsed = monotonicNowMs() - t0;
    assert.ok(elapsed >= timeoutMs, `ppoll returned after ${elapsed} ms < ${timeoutMs}`);
    writeAll(w, enc.encode("y"));
    assert.equal(libc.ppoll(fds.bytes, 1, null), 1);
    assert.equal(fds.revents(0) & POLLIN, POLLIN);
    assert.equal(fds.fd(0), r);
  } finally {
    closeAll(r, w);
  }
});

fdTest("epoll_pwait2 with a timespec times out after at least the timeout", () => {
  const pwait2 = libc.epoll_pwait2;
  assert.ok(pwait2 !== null, "glibc >= 2.35 on this machine binds epoll_pwait2");
  const ep = check(libc.epoll_create1(EPOLL_CLOEXEC), "epoll_create1", libc);
  try {
    const events = new EpollEvents(4);
    const ts = new Uint8Array(16);
    const timeoutNs = 25e6;
    encodeTimespec(timeoutNs, ts);
    const t0 = monotonicNowNs();
    assert.equal(pwait2(ep, events.bytes, 4, ts), 0);
    const elapsed = monotonicNowNs() - t0;
    assert.ok(elapsed >= timeoutNs, `epoll_pwait2 returned after ${elapsed} ns`);
  } finally {
    closeAll(ep);
  }
});

fdTest("epoll_wait with the rounded-up ms timeout never returns early", () => {
  assert.equal(timeoutMsCeil(-1), -1);
  assert.equal(timeoutMsCeil(0), 0);
  assert.equal(timeoutMsCeil(1), 1, "1 ns waits 1 ms, not 0");
  assert.equal(timeoutMsCeil(1e6), 1);
  assert.equal(timeoutMsCeil(1e6 + 1), 2);
  assert.equal(timeoutMsCeil(2.5e6), 3);
  assert.equal(timeoutMsCeil(1e300), 0x7fffffff, "clamped to a C int");
  const ep = check(libc.epoll_create1(EPOLL_CLOEXEC), "epoll_create1", libc);
  try {
    const events = new EpollEvents(4);
    for (const timeoutNs of [1, 1.5e6, 7.2e6]) {
      const t0 = monotonicNowNs();
      assert.equal(libc.epoll_wait(ep, events.bytes, 4, timeoutMsCeil(timeoutNs)), 0);
      const elapsed = monotonicNowNs() - t0;
      assert.ok(elapsed >= timeoutNs, `epoll_wait for ${timeoutNs} ns returned after ${elapsed}`);
    }
  } finally {
    closeAll(ep);
  }
});

// --- the loaders -------------------------------------------------------------------

test("an optional symbol the library lacks binds as null; a missing required one fails the load", () => {
  const bound = bindSymbols({
    getpid: { args: [], returns: "i32" },
    strom_no_such_function: { args: ["i32"], returns: "i32", optional: true },
  });
  assert.equal(bound.strom_no_such_function, null);
  assert.equal(bound.getpid(), testLibc.getpid(), "the required symbol beside it works");
  assert.throws(
    () => bindSymbols({ strom_no_such_function: { args: [], returns: "i32" } }),
    /strom_no_such_function/,
  );
});

// glibc < 2.35 lacks epoll_pwait2: strom must load, and the epoll reactor
// wait with epoll_wait instead (the poll reactor never needed it).
test("without epoll_pwait2 (older glibc) strom loads and runs on both reactors", () => {
  for (const reactor of ["epoll", "poll"]) {
    const r = runScenario("ffi_old_glibc", [], {
      STROM_REACTOR: reactor,
      STROM_WITHOUT_SYMBOLS: "epoll_pwait2",
    });
    assert.equal(r.code, 0, `${reactor}: exit code; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.equal(
      r.stdout,
      `reactor ${reactor}\nepoll_pwait2 missing\necho old glibc\nok\n`,
      `${reactor}: ${r.stderr}`,
    );
  }
});

test("without gettid (glibc < 2.30) and strerrorname_np (< 2.32): syscall, and the host's errno names", () => {
  const r = runScenario("ffi_old_glibc_names", [], {
    STROM_WITHOUT_SYMBOLS: "gettid,strerrorname_np",
  });
  assert.equal(r.code, 0, `exit code; stdout: ${r.stdout}; stderr: ${r.stderr}`);
  assert.equal(
    r.stdout,
    "gettid is pid: true\nnames: ECONNREFUSED EAGAIN E4242\n"
      + "connect failed: ECONNREFUSED (Connection refused) [errno 111]\n",
  );
});

// A kernel < 5.11 with a newer glibc: the symbol is there, the syscall fails
// with ENOSYS (injected by strace). The reactor tries it once, then keeps to
// epoll_wait. (Bun's own event loop calls epoll_pwait2 with a sigmask, and
// falls back by itself: only strom's calls, with a NULL sigmask, are counted.)
test("epoll_pwait2 failing with ENOSYS (older kernel): one try, then epoll_wait", (t) => {
  if (spawnSync("strace", ["-V"]).status !== 0) return t.skip("strace is not installed");
  const dir = mkdtempSync(join(tmpdir(), "strom-enosys-"));
  try {
    const log = join(dir, "strace.log");
    const script = fileURLToPath(new URL("./scenarios/ffi_old_glibc.ts", import.meta.url));
    const [cmd, argv] = hostArgv(script);
    const r = spawnSync("strace", [
      "-f",
      "-qq",
      "-o",
      log,
      "-e",
      "trace=epoll_pwait2",
      "-e",
      "inject=epoll_pwait2:error=ENOSYS",
      cmd,
      ...argv,
    ], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, NO_COLOR: "1", STROM_REACTOR: "epoll" },
    });
    assert.equal(r.status, 0, `exit code; stdout: ${r.stdout}; stderr: ${r.stderr}`);
    assert.equal(r.stdout, "reactor epoll\nepoll_pwait2 bound\necho old glibc\nok\n");
    const calls = readFileSync(log, "utf8").split("\n").filter((l) =>
      /epoll_pwait2\(.*, NULL, 8\)/.test(l)
    );
    assert.equal(calls.length, 1, `strom's epoll_pwait2 calls:\n${calls.join("\n")}`);
    assert.match(calls[0] ?? "", /ENOSYS .*INJECTED/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a nonblocking symbol returns a Promise on Deno; Bun refuses it", async () => {
  const table = { getpid: { args: [], returns: "i32", nonblocking: true } } as const;
  if (host === "bun") {
    assert.throws(() => bindSymbols(table), /getpid: Bun has no nonblocking FFI calls/);
    return;
  }
  const pending = bindSymbols(table).getpid();
  assert.ok(pending instanceof Promise);
  assert.equal(await pending, testLibc.getpid());
});

test("pointer results: a bigint address on both hosts (Bun's result is a bigint above 2^53), and mapped memory as an ArrayBuffer without a copy", () => {
  // What the epoll doorbell (src/ffi/uring.ts) relies on to read io_uring's rings.
  const m = bindSymbols(
    {
      mmap: { args: ["buf", "u32", "i32", "i32", "i32", "u32"], returns: "ptr" },
      munmap: { args: ["buf", "u32"], returns: "i32" },
    } as const,
  );
  const PROT_RW = 0x3;
  const MAP_PRIVATE_ANONYMOUS = 0x22;
  // A zero length fails: MAP_FAILED, (void *)-1, above 2^53.
  assert.equal(
    pointerAddress(m.mmap(null, 0, PROT_RW, MAP_PRIVATE_ANONYMOUS, -1, 0)),
    2n ** 64n - 1n,
  );
  const p = m.mmap(null, 4096, PROT_RW, MAP_PRIVATE_ANONYMOUS, -1, 0);
  const address = pointerAddress(p);
  assert.ok(address > 0n && address % 4096n === 0n, `page-aligned address ${address}`);
  const one = externalBuffer(p, 4096);
  const two = externalBuffer(p, 4096);
  assert.equal(one.byteLength, 4096);
  new Uint32Array(one)[5] = 0xdeadbeef;
  assert.equal(new Uint32Array(two)[5], 0xdeadbeef, "both views are the mapping itself");
  assert.equal(
    m.munmap(new Uint8Array(one), 4096),
    0,
    "the view passes to C as the mapping's address",
  );
});

test("STROM_WITHOUT_SYMBOLS names optional symbols only", () => {
  const table = {
    close: { args: ["i32"], returns: "i32" },
    epoll_pwait2: { args: [], returns: "i32", optional: true },
  } as const;
  assert.deepEqual([...parseWithout(table, undefined)], []);
  assert.deepEqual([...parseWithout(table, " epoll_pwait2 ,")], ["epoll_pwait2"]);
  assert.throws(
    () => parseWithout(table, "close"),
    (e: unknown) =>
      e instanceof TypeError && e.message.includes("epoll_pwait2")
      && e.message.includes("\"close\""),
  );
});

// --- time and limits ---------------------------------------------------------------

fdTest("monotonic clock increases and ns/ms agree", () => {
  let prev = monotonicNowNs();
  for (let i = 0; i < 1000; i++) {
    const t = monotonicNowNs();
    assert.ok(t >= prev);
    prev = t;
  }
  const ms = monotonicNowMs();
  const ns = monotonicNowNs();
  assert.ok(ns / 1e6 >= ms && ns / 1e6 - ms < 100);
  const ts = new Uint8Array(16);
  assert.equal(libc.clock_gettime(CLOCK_MONOTONIC, ts), 0);
  assert.ok(decodeTimespecNs(ts) > 0);
});

fdTest("getrlimit(RLIMIT_NOFILE) decodes; setrlimit accepts the same values", () => {
  const rl = new Uint8Array(16);
  check(testLibc.getrlimit(RLIMIT_NOFILE, rl), "getrlimit", libc);
  const { soft, hard } = decodeRlimit(rl);
  assert.ok(soft > 0 && soft <= hard, `soft ${soft} hard ${hard}`);
  encodeRlimit(soft, hard, rl);
  check(testLibc.setrlimit(RLIMIT_NOFILE, rl), "setrlimit", libc);
});

// --- codecs --------------------------------------------------------------------------

test("IPv4 text codec", () => {
  assert.deepEqual([...parseIpv4("127.0.0.1")], [127, 0, 0, 1]);
  assert.equal(formatIpv4(parseIpv4("255.255.255.255")), "255.255.255.255");
  for (const bad of ["", "1.2.3", "1.2.3.4.5", "256.0.0.1", "01.2.3.4", "a.b.c.d", "1.2.3.4 "]) {
    assert.throws(
      () => parseIpv4(bad),
      (e: unknown) => e instanceof TypeError && e.message.includes(JSON.stringify(bad)),
    );
  }
});

test("IPv6 text codec (RFC 5952 output)", () => {
  const cases: [string, string][] = [
    ["::", "::"],
    ["::1", "::1"],
    ["fe80::1", "fe80::1"],
    ["::ffff:1.2.3.4", "::ffff:1.2.3.4"],
    ["2001:db8::", "2001:db8::"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"], // first of equal runs
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"], // single zero group not compressed
    ["2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"],
    ["1:0:0:2:0:0:0:3", "1:0:0:2::3"], // longest run wins
    ["0:0:0:0:0:ffff:102:304", "::ffff:1.2.3.4"],
    ["64:ff9b::192.0.2.33", "64:ff9b::c000:221"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
  ];
  for (const [input, want] of cases) assert.equal(formatIpv6(parseIpv6(input)), want, input);
  assert.deepEqual([...parseIpv6("::1")], [...new Array(15).fill(0), 1]);
  const bads = [
    "",
    ":",
    ":::",
    "1::2::3",
    "1:2:3:4:5:6:7:8:9",
    "1:2:3:4:5:6:7",
    "12345::",
    "g::",
    ":1::",
    "1::2:",
    "::1.2.3",
    "::1.2.3.4:5",
    "1:2:3:4:5:6:7:8::",
    "fe80::1%2",
  ];
  for (const bad of bads) {
    assert.throws(
      () => parseIpv6(bad),
      (e: unknown) => e instanceof TypeError && e.message.includes(JSON.stringify(bad)),
      bad,
    );
  }
});

test("sockaddr codec round trips, network byte order", () => {
  const out = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const v4: SocketAddr = { family: "ipv4", address: "10.1.2.3", port: 0x1f90 };
  assert.equal(encodeSockAddr(v4, out), 16);
  assert.deepEqual([...out.subarray(0, 8)], [AF_INET, 0, 0x1f, 0x90, 10, 1, 2, 3]);
  assert.deepEqual(decodeSockAddr(out, 16), v4);

  const v6: SocketAddr = {
    family: "ipv6",
    address: "fe80::1",
    port: 443,
    flowInfo: 0x12345,
    scopeId: 3,
  };
  assert.equal(encodeSockAddr(v6, out), 28);
  assert.deepEqual([...out.subarray(0, 8)], [10, 0, 0x01, 0xbb, 0x00, 0x01, 0x23, 0x45]);
  assert.deepEqual([...out.subarray(24, 28)], [3, 0, 0, 0]);
  assert.deepEqual(decodeSockAddr(out, 28), v6);

  // into an offset view
  const sub = new Uint8Array(64).subarray(7, 7 + 28);
  encodeSockAddr(v4, sub);
  assert.deepEqual(decodeSockAddr(sub, 16), v4);

  out[0] = 1;
  out[1] = 0; // AF_UNIX
  assert.throws(() => decodeSockAddr(out, 16), TypeError);
  assert.throws(
    () => encodeSockAddr({ family: "ipv4", address: "1.2.3.4", port: 70000 }, out),
    RangeError,
  );
});

test("parseSocketAddr / formatSocketAddr", () => {
  assert.deepEqual(parseSocketAddr("127.0.0.1:8080"), {
    family: "ipv4",
    address: "127.0.0.1",
    port: 8080,
  });
  assert.deepEqual(parseSocketAddr("[::1]:8080"), { family: "ipv6", address: "::1", port: 8080 });
  assert.deepEqual(parseSocketAddr("[FE80::1%2]:80"), {
    family: "ipv6",
    address: "fe80::1",
    port: 80,
    scopeId: 2,
  });
  for (const s of ["127.0.0.1:8080", "[::1]:8080", "[fe80::1%2]:80", "[::ffff:1.2.3.4]:1"]) {
    assert.equal(formatSocketAddr(parseSocketAddr(s)), s);
  }
  for (const bad of ["127.0.0.1", "::1:80", "[::1:80", "1.2.3.4:65536", "1.2.3.4:x", "[::1]:"]) {
    assert.throws(() => parseSocketAddr(bad), TypeError, bad);
  }
});

test("epoll_event, pollfd, timespec, rlimit layouts", () => {
  const ev = new Uint8Array(EPOLL_EVENT_SIZE);
  encodeEpollEvent(EPOLLIN | EPOLLET, 7, ev);
  const dv = new DataView(ev.buffer);
  assert.equal(dv.getUint32(0, true), 0x80000001);
  const dataAt = EPOLL_EVENT_SIZE === 12 ? 4 : 8;
  assert.equal(dv.getUint32(dataAt, true), 7);
  assert.equal(dv.getUint32(dataAt + 4, true), 0);

  const events = new EpollEvents(3);
  assert.equal(events.bytes.length, 3 * EPOLL_EVENT_SIZE);
  events.bytes.set(ev, 2 * EPOLL_EVENT_SIZE);
  assert.equal(events.events(2), 0x80000001);
  assert.equal(events.data(2), 7);

  const p = new PollFds(1);
  p.set(0, 5, POLLIN);
  p.set(4, 9, POLLIN); // grows
  assert.ok(p.capacity >= 5);
  assert.equal(p.bytes.length, p.capacity * 8);
  assert.equal(p.fd(0), 5);
  assert.equal(p.fd(4), 9);
  assert.equal(p.events(4), POLLIN);
  assert.equal(p.revents(4), 0);

  const ts = new Uint8Array(16);
  encodeTimespec(2_500_000_001, ts);
  const tdv = new DataView(ts.buffer);
  assert.equal(tdv.getBigInt64(0, true), 2n);
  assert.equal(tdv.getBigInt64(8, true), 500_000_001n);
  assert.equal(decodeTimespecNs(ts), 2_500_000_001);
  assert.throws(() => encodeTimespec(-1, ts), RangeError);

  const rl = new Uint8Array(16);
  encodeRlimit(1024, Infinity, rl);
  assert.deepEqual(decodeRlimit(rl), { soft: 1024, hard: Infinity });
  assert.equal(new DataView(rl.buffer).getBigUint64(8, true), 0xffff_ffff_ffff_ffffn);
});

fdTest("SharedArrayBuffer-backed and empty views pass as buffers", () => {
  const [r, w] = pipe();
  try {
    const s = new Uint8Array(new SharedArrayBuffer(16));
    s.set([1, 2, 3, 4]);
    assert.equal(libc.write(w, new Uint8Array(0), 0), 0);
    assert.equal(libc.write(w, s.subarray(1), 3), 3);
    assert.equal(libc.writev(w, [new Uint8Array(0), s.subarray(0, 1)]), 1);
    const o = new Uint8Array(new SharedArrayBuffer(16));
    assert.equal(libc.read(r, o.subarray(2), 4), 4);
    assert.deepEqual([...o.subarray(0, 7)], [0, 0, 2, 3, 4, 1, 0]);
  } finally {
    closeAll(r, w);
  }
});
