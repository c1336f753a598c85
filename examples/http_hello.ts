// HTTP/1.1 keep-alive "hello" server: `deno run -A examples/http_hello.ts
// [PORT] [HOST] [--idle-ms=N] [--header-ms=N]` or `bun examples/http_hello.ts
// ...` (defaults: 8080, 127.0.0.1, 30000, 10000). Prints `listening on
// HOST:PORT` and serves; on SIGINT or SIGTERM it closes the listener and
// every connection (their finally blocks run), prints one line saying so and
// exits 0 (see examples/echo.ts). Good enough for
// `wrk -c 64 -d 5s http://127.0.0.1:8080/`.
//
// Requests are read and answered by examples/http.ts (its top comment says
// what it accepts and what it answers 400, 413, 431, 501 or 505 to, closing
// the connection): several pipelined requests in one read are all answered,
// in order, with one write; `Connection: close` (or HTTP/1.0) closes after
// the answer; a body announced by Content-Length is dropped.
//
// Slow and idle peers are closed, so they cannot hold every fd the process
// may open (slowloris): a request's head must arrive whole within the
// header time-out, counted from the connection's start or from the first
// byte of the request (bytes trickling in do not extend it); a keep-alive
// connection waiting for its next request, or a body or an answer that makes
// no progress, is closed after the idle time-out. 0 turns either off.
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
import { HttpConnection, httpTimeouts, response } from "./http.ts";

const argv = args();
const TIMEOUTS = httpTimeouts(argv); // --header-ms, --idle-ms

let closed = 0; // connections closed (by their finally blocks)
let timedOut = 0; // of which closed for a time-out

const OK = response(200, "OK", "hello", false);
const OK_CLOSE = response(200, "OK", "hello", true);

function* serveConn(conn: TcpStream): Task<void> {
  const limit = new Deadline();
  const http = new HttpConnection(conn, limit, TIMEOUTS); // the header time-out starts now
  try {
    yield* limit.guard(exchange(http));
  } catch (error) {
    // A time-out, or a reset peer: this connection only.
    if (error instanceof TimeoutError) timedOut++;
  } finally {
    conn.close();
    closed++;
  }
}

function* exchange(http: HttpConnection): Task<void> {
  for (;;) {
    // Writes the answers sent so far before it waits for more requests.
    const request = yield* http.next();
    if (request === null) return; // the peer closed, or a bad request was answered
    yield* http.send(request.close ? OK_CLOSE : OK);
    if (request.close) return yield* http.flush();
  }
}

function* acceptLoop(listener: TcpListener): Task<void> {
  try {
    for (;;) {
      const conn = yield* listener.accept();
      conn.setNoDelay(true);
      yield* spawn(serveConn(conn));
    }
  } finally {
    listener.close();
  }
}

/** Serves until SIGINT/SIGTERM; returns the signal's name. */
function* serve(listener: TcpListener): Task<string> {
  yield* spawn(acceptLoop(listener)); // closes the listener when it ends
  return yield* untilSignal();
}

const [port = "8080", host = "127.0.0.1"] = argv.filter((a) => !a.startsWith("--"));
const listener = TcpListener.bind({ hostname: host, port: Number(port) });
// The signal listeners are in place once runAsync returns (it runs the task
// up to its first wait); when serve returns, runAsync cancels the accept
// loop and every connection.
const stopped = runAsync(serve(listener));
console.log(`listening on ${formatSocketAddr(listener.localAddr)}`);
const signal = await stopped;
console.log(`${signal}: shut down, ${closed} connections closed, ${timedOut} timed out`);
