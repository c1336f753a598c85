// Same-process A/B of the TCP echo hot path: this checkout's strom against
// another checkout's (its mod.ts path given), both loaded side by side,
// alternating rounds under the same load. Client and server are strom tasks
// on one thread; prints CPU µs per round trip (both ends) per round and the
// medians. How the net branch's figures were taken on the busy machine.
//
//   deno run -A bench/echo/ab.ts /path/to/other/mod.ts [round trips=20000] [conns=16] [rounds=24]
//   bun bench/echo/ab.ts /path/to/other/mod.ts ...
import * as next from "../../mod.ts";

type Strom = typeof next;
const [otherPath, nArg, connsArg, roundsArg] = process.argv.slice(2);
if (otherPath === undefined) {
  throw new Error("usage: ab.ts /path/to/other/mod.ts [n] [conns] [rounds]");
}
const base = (await import(otherPath)) as Strom;
const N = Number(nArg ?? 20000);
const CONNS = Number(connsArg ?? 16);
const ROUNDS = Number(roundsArg ?? 24);

function round(s: Strom): number {
  const t0 = process.cpuUsage();
  s.run(function*() {
    const listener = s.TcpListener.bind("127.0.0.1:0");
    const addr = `127.0.0.1:${listener.localAddr.port}`;
    const server = yield* s.spawn(function*() {
      for (let i = 0; i < CONNS; i++) {
        const conn = yield* listener.accept();
        yield* s.spawn(function*() {
          const buf = new Uint8Array(64);
          try {
            for (;;) {
              const n = yield* conn.read(buf);
              if (n === 0) return;
              yield* conn.writeAll(buf, n);
            }
          } finally {
            conn.close();
          }
        }());
      }
    }());
    const clients = [];
    for (let c = 0; c < CONNS; c++) {
      clients.push(function*() {
        const conn = yield* s.TcpStream.connect(addr);
        const msg = new Uint8Array(64).fill(c);
        const back = new Uint8Array(64);
        for (let i = 0; i < N / CONNS; i++) {
          yield* conn.writeAll(msg);
          yield* conn.readExact(back);
        }
        conn.close();
      }());
    }
    yield* s.awaitAll(...clients);
    yield* server.join();
    listener.close();
  }());
  const d = process.cpuUsage(t0);
  return (d.user + d.system) / N;
}

const res = { base: [] as number[], next: [] as number[] };
round(base);
round(next); // warm up both
for (let r = 0; r < ROUNDS; r++) {
  res.base.push(round(base));
  res.next.push(round(next));
}
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
const b = med(res.base);
const n = med(res.next);
console.log(`other µs/rt: ${res.base.map((x) => x.toFixed(2)).join(" ")}`);
console.log(`this  µs/rt: ${res.next.map((x) => x.toFixed(2)).join(" ")}`);
console.log(`median other ${b.toFixed(2)}  this ${n.toFixed(2)}  this/other ${(n / b).toFixed(3)}`);
