// TCP echo server: `deno run -A examples/echo.ts [PORT] [HOST]` or
// `bun examples/echo.ts [PORT] [HOST]` (defaults: 7000, 127.0.0.1; port 0
// picks a free one). Prints `listening on HOST:PORT` once it accepts
// connections, then serves every connection in its own task. On SIGINT or
// SIGTERM it shuts down gracefully: the listener and every connection are
// closed (their finally blocks run), it prints one line saying so and exits 0.
//
// It runs under `runAsync` (not the blocking `run`) because the signals come
// through the host's event loop, which must keep running.
import {
  args,
  formatSocketAddr,
  runAsync,
  spawn,
  type Task,
  TcpListener,
  type TcpStream,
  untilSignal,
} from "../mod.ts";

let open = 0; // connections being served
let closed = 0; // connections closed (by their finally blocks)

function* echo(conn: TcpStream): Task<void> {
  const buf = new Uint8Array(16 * 1024);
  open++;
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
    open--;
    closed++;
  }
}

function* acceptLoop(listener: TcpListener): Task<void> {
  try {
    for (;;) {
      const conn = yield* listener.accept();
      conn.setNoDelay(true);
      yield* spawn(echo(conn));
    }
  } finally {
    listener.close();
  }
}

/** Serves until SIGINT/SIGTERM; returns the signal's name. */
function* serve(listener: TcpListener): Task<string> {
  yield* spawn(acceptLoop(listener)); // closes the listener when it ends
  return yield* untilSignal(); // SIGINT or SIGTERM
}

const [port = "7000", host = "127.0.0.1"] = args();
const listener = TcpListener.bind({ hostname: host, port: Number(port) });
// runAsync runs the task up to its first wait before it returns: the signal
// listeners are in place before the line below announces the server. When
// serve returns, runAsync cancels the tasks it spawned: the accept loop and
// every connection, whose finally blocks close their sockets.
const stopped = runAsync(serve(listener));
console.log(`listening on ${formatSocketAddr(listener.localAddr)}`);
const signal = await stopped;
console.log(`${signal}: shut down, ${closed} connections closed, ${open} left open`);
