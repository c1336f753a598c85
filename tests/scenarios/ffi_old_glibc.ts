// What a system without epoll_pwait2 runs (glibc < 2.35: the symbol is
// missing, forced here with STROM_WITHOUT_SYMBOLS=epoll_pwait2; or a kernel
// < 5.11: ENOSYS, injected with strace): sleeps never end early, a TCP echo
// round trip works. Prints what it found, then "ok".
import { awaitAll, reactorKind, run, sleep, TcpListener, TcpStream } from "../../mod.ts";
import { libc, monotonicNowNs } from "../../src/ffi/mod.ts";

console.log(`reactor ${reactorKind()}`);
console.log(`epoll_pwait2 ${libc.epoll_pwait2 === null ? "missing" : "bound"}`);
run(function*() {
  for (const ms of [0.3, 1, 2.5, 7]) {
    const t0 = monotonicNowNs();
    yield* sleep(ms);
    const elapsed = (monotonicNowNs() - t0) / 1e6;
    if (elapsed < ms) throw new Error(`sleep(${ms}) ended after ${elapsed} ms`);
  }
  const listener = TcpListener.bind("127.0.0.1:0");
  try {
    const [, echoed] = yield* awaitAll(
      (function*() {
        const conn = yield* listener.accept();
        try {
          const buf = new Uint8Array(16);
          const n = yield* conn.read(buf);
          yield* conn.writeAll(buf, n);
        } finally {
          conn.close();
        }
      })(),
      (function*() {
        const conn = yield* TcpStream.connect(listener.localAddr);
        try {
          yield* conn.writeAll(new TextEncoder().encode("old glibc"));
          const buf = new Uint8Array(9);
          yield* conn.readExact(buf);
          return new TextDecoder().decode(buf);
        } finally {
          conn.close();
        }
      })(),
    );
    console.log(`echo ${echoed}`);
  } finally {
    listener.close();
  }
}());
console.log("ok");
