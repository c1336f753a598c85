// strom's demo (`npm run demo` runs it on Deno and on Bun): one thread, one
// strom TCP echo server and three strom clients over loopback, all tasks of
// one `run`, joined with awaitAll. Prints what happened and exits 0.
import {
  awaitAll,
  formatSocketAddr,
  host,
  now,
  reactorKind,
  run,
  spawn,
  type Task,
  TcpListener,
  TcpStream,
} from "../mod.ts";

function* echo(conn: TcpStream): Task<number> {
  const buf = new Uint8Array(4096);
  let total = 0;
  try {
    for (;;) {
      const n = yield* conn.read(buf);
      if (n === 0) return total;
      total += n;
      yield* conn.writeAll(buf, n);
    }
  } finally {
    conn.close();
  }
}

function* client(name: string, addr: string, rounds: number): Task<string> {
  const t0 = now();
  const conn = yield* TcpStream.connect(addr);
  const local = formatSocketAddr(conn.localAddr);
  try {
    const msg = new TextEncoder().encode(`hello from ${name}`.padEnd(64, "."));
    const back = new Uint8Array(msg.length);
    const t1 = now();
    for (let i = 0; i < rounds; i++) {
      yield* conn.writeAll(msg);
      yield* conn.readExact(back);
    }
    const perRound = ((now() - t1) * 1000) / rounds;
    const text = new TextDecoder().decode(back).replace(/\.+$/, "");
    return `${name} (${local}): connected in ${
      (t1 - t0).toFixed(2)
    } ms, sent ${rounds} x ${msg.length} B, `
      + `last echo "${text}", ${perRound.toFixed(1)} µs per round trip`;
  } finally {
    conn.close();
  }
}

run(function*(): Task<void> {
  const listener = TcpListener.bind("127.0.0.1:0");
  const addr = formatSocketAddr(listener.localAddr);
  console.log(
    `strom on ${host} (${reactorKind()} reactor): echo server listening on ${addr}`,
  );
  const clients = ["alice", "bob", "carol"];
  const server = yield* spawn(function*(): Task<number> {
    const conns = [];
    for (let i = 0; i < clients.length; i++) conns.push(yield* listener.accept());
    const totals = yield* awaitAll(conns.map(echo));
    return totals.reduce((a, b) => a + b, 0);
  }());
  const lines = yield* awaitAll(clients.map((name) => client(name, addr, 1000)));
  for (const line of lines) console.log(`  ${line}`);
  const echoed = yield* server.join();
  listener.close();
  console.log(
    `server echoed ${echoed} bytes over ${clients.length} connections; all sockets closed`,
  );
}());
