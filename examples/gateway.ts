// An HTTP/1.1 gateway: strom sockets in front, the host's `fetch` behind.
//
//   deno run -A examples/gateway.ts PORT UPSTREAM_URL [TIMEOUT_MS] [--idle-ms=N] [--header-ms=N]
//   bun examples/gateway.ts PORT UPSTREAM_URL [TIMEOUT_MS] [--idle-ms=N] [--header-ms=N]
//
// Prints `listening on HOST:PORT` (127.0.0.1; port 0 picks a free one) and
// answers `GET /path` with the status and body that
// `fetch(UPSTREAM_URL + "/path")` gets: keep-alive, pipelining, one strom
// task per connection, many clients at once. 502 when the upstream fails or
// is down, 504 when it takes longer than TIMEOUT_MS (default 10 000) — the
// fetch is then aborted. On SIGINT or SIGTERM it stops accepting, lets the
// requests in flight finish (their answers are sent), closes every
// connection, prints one line and exits 0.
//
// Slow and idle clients are closed (slowloris), as in examples/http_hello.ts:
// a request's head must arrive whole within the header time-out (default
// 10 000 ms, from the connection's start or the request's first byte), and a
// keep-alive connection waiting for its next request, or an answer the
// client does not read, is closed after the idle time-out (default 30 000
// ms). 0 turns either off.
//
// Requests are read and answered by examples/http.ts (its top comment says
// what it accepts and what it answers 400, 413, 431, 501 or 505 to, closing
// the connection); request bodies are dropped, methods other than GET get
// 405.
//
// A mixed program: requests are parsed and answered on strom sockets, each
// upstream call waits for the host's fetch through `until`, so the host's
// event loop runs under `runAsync`.
import {
  args,
  Deadline,
  formatSocketAddr,
  type JoinHandle,
  runAsync,
  spawn,
  type Task,
  TcpListener,
  type TcpStream,
  timeout,
  TimeoutError,
  until,
  untilSignal,
} from "../mod.ts";
import { HttpConnection, httpTimeouts, type Request, response } from "./http.ts";

const argv = args();
const TIMEOUTS = httpTimeouts(argv); // --header-ms, --idle-ms

const enc = new TextEncoder();

/** The upstream's answer to `path`, or 502/504. Cancel-safe: cancelling aborts the fetch. */
function* forward(
  upstream: string,
  path: string,
  timeoutMs: number,
): Task<[number, string, Uint8Array]> {
  try {
    return yield* timeout(
      timeoutMs,
      function*(): Task<[number, string, Uint8Array]> {
        const res = yield* until((signal) => fetch(upstream + path, { signal }));
        const body = new Uint8Array(yield* until(res.arrayBuffer()));
        return [res.status, res.statusText || "OK", body];
      }(),
    );
  } catch (error) {
    if (error instanceof TimeoutError) {
      return [504, "Gateway Timeout", enc.encode(`upstream took over ${timeoutMs} ms\n`)];
    }
    const why = error instanceof Error ? error.message : String(error);
    return [502, "Bad Gateway", enc.encode(`upstream failed: ${why}\n`)];
  }
}

/** Shared by the connections: the shutdown flag and who is idle. */
class Gateway {
  draining = false;
  /** Connections waiting for their next request (safe to cancel). */
  readonly idle = new Set<JoinHandle<void>>();
  readonly all = new Set<JoinHandle<void>>();
  answered = 0;
  closed = 0;
  timedOut = 0;

  constructor(readonly upstream: string, readonly timeoutMs: number) {}
}

function* serveConn(conn: TcpStream, gw: Gateway, self: () => JoinHandle<void>): Task<void> {
  const limit = new Deadline();
  const http = new HttpConnection(conn, limit, TIMEOUTS); // the header time-out starts now
  try {
    yield* limit.guard(exchange(http, gw, self, limit));
  } catch (error) {
    // A time-out, or a reset peer: this connection only.
    if (error instanceof TimeoutError) gw.timedOut++;
  } finally {
    conn.close();
    gw.closed++;
    gw.all.delete(self());
  }
}

function* exchange(
  http: HttpConnection,
  gw: Gateway,
  self: () => JoinHandle<void>,
  limit: Deadline,
): Task<void> {
  for (;;) {
    // Waiting for its next request, this connection may be cancelled by a
    // shutdown: nothing is in flight.
    if (gw.draining) return;
    gw.idle.add(self());
    let request: Request | null;
    try {
      request = yield* http.next();
    } finally {
      gw.idle.delete(self());
    }
    if (request === null) return; // the client closed, or a bad request was answered
    limit.clear(); // the upstream call has its own time-out (504)
    const [status, reason, body] = request.method === "GET"
      ? yield* forward(gw.upstream, request.path, gw.timeoutMs)
      : [405, "Method Not Allowed", enc.encode("GET only\n")] as const;
    const close = request.close || gw.draining;
    yield* http.send(response(status, reason, body, close)); // the client must take it (idle time-out)
    yield* http.flush();
    gw.answered++;
    if (close) return;
  }
}

function* acceptLoop(listener: TcpListener, gw: Gateway): Task<void> {
  try {
    for (;;) {
      const conn = yield* listener.accept();
      conn.setNoDelay(true);
      let handle: JoinHandle<void> | null = null;
      handle = yield* spawn(serveConn(conn, gw, () => handle!));
      gw.all.add(handle);
    }
  } finally {
    listener.close();
  }
}

function* gateway(listener: TcpListener, gw: Gateway): Task<string> {
  const acceptor = yield* spawn(acceptLoop(listener, gw));
  const signal = yield* untilSignal();
  // Stop accepting, cancel the connections waiting for a request, and let
  // the others finish the request they are answering.
  gw.draining = true;
  acceptor.cancel();
  for (const idle of [...gw.idle]) idle.cancel();
  for (const conn of [...gw.all]) {
    try {
      yield* conn.join();
    } catch {
      // cancelled while idle: nothing was in flight
    }
  }
  return signal;
}

const [port = "8080", upstreamArg, timeoutArg = "10000"] = argv.filter((a) => !a.startsWith("--"));
if (upstreamArg === undefined) {
  console.error("usage: gateway.ts PORT UPSTREAM_URL [TIMEOUT_MS] [--idle-ms=N] [--header-ms=N]");
  throw new TypeError("UPSTREAM_URL is missing");
}
const upstream = upstreamArg.replace(/\/+$/, "");
const gw = new Gateway(upstream, Number(timeoutArg));
const listener = TcpListener.bind({ hostname: "127.0.0.1", port: Number(port) });
// runAsync runs the task up to its first wait: the signal listeners are in
// place before the server is announced.
const stopped = runAsync(gateway(listener, gw));
console.log(`listening on ${formatSocketAddr(listener.localAddr)}`);
const signal = await stopped;
console.log(
  `${signal}: shut down, ${gw.answered} requests answered, ${gw.closed} connections closed, ${gw.timedOut} timed out`,
);
