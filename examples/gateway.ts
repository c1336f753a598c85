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

/** The value of `--name=N` (a number >= 0) among `argv`, or `fallback`. */
function msOption(argv: string[], name: string, fallback: number): number {
  const flag = argv.find((a) => a.startsWith(`--${name}=`));
  if (flag === undefined) return fallback;
  const ms = Number(flag.slice(name.length + 3));
  if (!(ms >= 0)) throw new RangeError(`--${name} wants a number of ms >= 0, got ${flag}`);
  return ms;
}

const argv = args();
const IDLE_MS = msOption(argv, "idle-ms", 30_000);
const HEADER_MS = msOption(argv, "header-ms", 10_000);

/** Sets `limit` to `ms` from now, or removes it for 0 (the time-out is off). */
function limitTo(limit: Deadline, ms: number): void {
  if (ms > 0) limit.reset(ms);
  else limit.clear();
}

const MAX_HEAD = 8192;
const enc = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** Index of the first \r\n\r\n in buf[from..to), or -1. */
function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

interface Request {
  method: string;
  path: string;
  close: boolean;
  bodyLength: number; // -1: unsupported (chunked) or bad
}

function parseHead(text: string): Request {
  const lines = text.split("\r\n");
  const [method = "", path = "", version = ""] = lines[0].split(" ");
  if (!version.startsWith("HTTP/1.") || !path.startsWith("/")) {
    return { method, path, close: true, bodyLength: -1 };
  }
  let close = version === "HTTP/1.0";
  let bodyLength = 0;
  for (let i = 1; i < lines.length; i++) {
    const colon = lines[i].indexOf(":");
    if (colon <= 0) continue;
    const name = lines[i].slice(0, colon).trim().toLowerCase();
    const value = lines[i].slice(colon + 1).trim().toLowerCase();
    if (name === "connection") {
      close = value.includes("close") || (close && !value.includes("keep-alive"));
    } else if (name === "content-length") bodyLength = /^\d+$/.test(value) ? Number(value) : -1;
    else if (name === "transfer-encoding") bodyLength = -1;
  }
  return { method, path, close, bodyLength };
}

function response(status: number, reason: string, body: Uint8Array, close: boolean): Uint8Array {
  const head = enc.encode(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n${
      close ? "Connection: close\r\n" : ""
    }\r\n`,
  );
  const out = new Uint8Array(head.length + body.length);
  out.set(head);
  out.set(body, head.length);
  return out;
}

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
  limitTo(limit, HEADER_MS); // the first request's head, from the connection's start
  try {
    yield* limit.guard(exchange(conn, gw, self, limit));
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
  conn: TcpStream,
  gw: Gateway,
  self: () => JoinHandle<void>,
  limit: Deadline,
): Task<void> {
  const buf = new Uint8Array(16384);
  let start = 0;
  let end = 0;
  let skip = 0;
  let headTimed = true; // the header time-out runs for the head being awaited
  for (;;) {
    if (start === end) start = end = 0;
    else if (end === buf.length) {
      buf.copyWithin(0, start, end);
      end -= start;
      start = 0;
    }
    if (skip > 0) {
      limitTo(limit, IDLE_MS); // a body: any progress will do
    } else if (start === end) {
      if (!headTimed) limitTo(limit, IDLE_MS); // keep-alive: waiting for the next request
    } else if (!headTimed) {
      limitTo(limit, HEADER_MS); // a head has begun: it must be whole in time
      headTimed = true;
    }
    // Between requests this connection may be cancelled by a shutdown.
    gw.idle.add(self());
    if (gw.draining) return;
    let n: number;
    try {
      n = yield* conn.read(buf.subarray(end));
    } finally {
      gw.idle.delete(self());
    }
    if (n === 0) return;
    end += n;
    // Answer every complete request in the buffer, in order.
    for (;;) {
      if (skip > 0) {
        const k = Math.min(skip, end - start);
        skip -= k;
        start += k;
        if (skip > 0) break;
      }
      const at = headEnd(buf, start, end);
      if (at < 0) {
        if (end - start > MAX_HEAD) {
          yield* conn.writeAll(
            response(431, "Request Header Fields Too Large", new Uint8Array(0), true),
          );
          return;
        }
        break;
      }
      const req = parseHead(latin1.decode(buf.subarray(start, at)));
      start = at + 4;
      headTimed = false;
      if (req.bodyLength < 0) {
        yield* conn.writeAll(response(400, "Bad Request", new Uint8Array(0), true));
        return;
      }
      skip = req.bodyLength;
      const close = req.close || gw.draining;
      limit.clear(); // the upstream call has its own time-out (504)
      const [status, reason, body] = req.method === "GET"
        ? yield* forward(gw.upstream, req.path, gw.timeoutMs)
        : [405, "Method Not Allowed", enc.encode("GET only\n")] as const;
      limitTo(limit, IDLE_MS); // the client must take its answer
      yield* conn.writeAll(response(status, reason, body, close || gw.draining));
      gw.answered++;
      if (close || gw.draining) return;
    }
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
