// strom's echo server under the blocking `run()`: the same server as
// examples/echo.ts (which runs under `runAsync`, to shut down on signals),
// for the benchmark's run-vs-runAsync comparison. Same contract:
// `deno run -A bench/echo/strom_run.ts PORT [HOST]` prints one line
// `listening on HOST:PORT`, serves until killed.
import {
  args,
  formatSocketAddr,
  run,
  spawn,
  type Task,
  TcpListener,
  type TcpStream,
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

const [port = "7000", host = "127.0.0.1"] = args();
run(serve(Number(port), host));
