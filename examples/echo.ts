// TCP echo server: `deno run -A examples/echo.ts [PORT] [HOST]` or
// `bun examples/echo.ts [PORT] [HOST]` (defaults: 7000, 127.0.0.1; port 0
// picks a free one). Prints `listening on HOST:PORT` once it accepts
// connections, then serves every connection in its own task until killed.
import {
  args,
  formatSocketAddr,
  run,
  spawn,
  type Task,
  TcpListener,
  type TcpStream,
} from "../mod.ts";

function* echo(conn: TcpStream): Task<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = yield* conn.read(buf);
      if (n === 0) return;
      yield* conn.writeAll(buf, n); // buf[0..n): no subarray per round trip
    }
  } catch {
    // A peer reset (ECONNRESET/EPIPE) ends this connection only.
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
