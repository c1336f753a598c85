// strom's echo server under the blocking `run()`: the same server as
// examples/echo.ts (which runs under `runAsync`, to shut down on signals),
// for the benchmark's run-vs-runAsync comparison. Same contract:
// `deno run -A bench/echo/strom_run.ts PORT [HOST]` prints one line
// `listening on HOST:PORT`, serves until killed.
// With STROM_BENCH_BUSY_TASKS=N, N more tasks loop on yieldNow() on the same
// thread meanwhile (issue 12: an echo client's latency while the thread is
// never idle; servers strom-deno-busy and strom-bun-busy).
import { env } from "node:process";
import {
  args,
  formatSocketAddr,
  run,
  spawn,
  type Task,
  TcpListener,
  type TcpStream,
  yieldNow,
} from "../../mod.ts";

function* echo(conn: TcpStream): Task<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = yield* conn.read(buf);
      if (n === 0) return;
      yield* conn.writeAll(buf, n);
    }
  } catch {
    // A peer reset ends this connection only.
  } finally {
    conn.close();
  }
}

function* serve(port: number, host: string): Task<void> {
  const listener = TcpListener.bind({ hostname: host, port });
  console.log(`listening on ${formatSocketAddr(listener.localAddr)}`);
  for (;;) {
    const conn = yield* listener.accept();
    conn.setNoDelay(true);
    yield* spawn(echo(conn));
  }
}

function* spin(): Task<void> {
  for (;;) yield* yieldNow();
}

const [port = "7000", host = "127.0.0.1"] = args();
const busy = Number(env.STROM_BENCH_BUSY_TASKS ?? 0);
run(function*(): Task<void> {
  for (let i = 0; i < busy; i++) yield* spawn(spin());
  yield* serve(Number(port), host);
}());
