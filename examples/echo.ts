// TCP echo server: `deno run -A examples/echo.ts [PORT] [HOST] [--idle-ms=N]`
// or `bun examples/echo.ts [PORT] [HOST] [--idle-ms=N]` (defaults: 7000,
// 127.0.0.1, 60000; port 0 picks a free one). Prints `listening on
// HOST:PORT` once it accepts connections, then serves every connection in
// its own task. A connection that makes no progress for the idle time-out
// (nothing to read, or a peer that does not read what it is sent) is closed,
// so idle or stuck peers cannot hold every fd the process may open;
// `--idle-ms=0` turns the time-out off. On SIGINT or SIGTERM it shuts down
// gracefully: the listener and every connection are closed (their finally
// blocks run), it prints one line saying so and exits 0.
//
// It runs under `runAsync` (not the blocking `run`) because the signals come
// through the host's event loop, which must keep running.
import {
  args,
  Deadline,
  formatSocketAddr,
  runAsync,
  spawn,
  type Task,
  TcpListener,
  type TcpStream,
  TimeoutError,
  untilSignal,
} from "../mod.ts";

/** The value of `--name=N` (a number >= 0) among `argv`, or `fallback`. */
function msOption(argv: string[], name: string, fallback: number): number {
  const flag = argv.find((a) => a.startsWith(`--${name}=`));
  if (flag === undefined) return fallback;
  const ms = Number(flag.slice(name.length + 3));
  if (!(ms >= 0)) throw new RangeError(`--${name} wants a number of ms >= 0, got ${flag}`);
  return ms;
}

const argv = args();
const IDLE_MS = msOption(argv, "idle-ms", 60_000); // 0: no idle time-out

let open = 0; // connections being served
let closed = 0; // connections closed (by their finally blocks)
let timedOut = 0; // of which closed for the idle time-out

function* echo(conn: TcpStream): Task<void> {
  open++;
  const idle = new Deadline();
  try {
    // One guard per connection; each read moves the deadline on (cheap).
    yield* idle.guard(pump(conn, idle));
  } catch (error) {
    // The idle time-out, or a peer reset (ECONNRESET/EPIPE): this connection only.
    if (error instanceof TimeoutError) timedOut++;
  } finally {
    conn.close();
    open--;
    closed++;
  }
}

function* pump(conn: TcpStream, idle: Deadline): Task<void> {
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    // The time-out covers this read and the write after it: a peer that
    // sends nothing, or stops reading, is cut off alike.
    if (IDLE_MS > 0) idle.reset(IDLE_MS);
    const n = yield* conn.read(buf);
    if (n === 0) return;
    yield* conn.writeAll(buf, n); // buf[0..n): no subarray per round trip
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

const [port = "7000", host = "127.0.0.1"] = argv.filter((a) => !a.startsWith("--"));
const listener = TcpListener.bind({ hostname: host, port: Number(port) });
// runAsync runs the task up to its first wait before it returns: the signal
// listeners are in place before the line below announces the server. When
// serve returns, runAsync cancels the tasks it spawned: the accept loop and
// every connection, whose finally blocks close their sockets.
const stopped = runAsync(serve(listener));
console.log(`listening on ${formatSocketAddr(listener.localAddr)}`);
const signal = await stopped;
console.log(
  `${signal}: shut down, ${closed} connections closed, ${open} left open, ${timedOut} timed out idle`,
);
