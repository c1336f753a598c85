// HTTP/1.1 keep-alive "hello" server: `deno run -A examples/http_hello.ts
// [PORT] [HOST] [--idle-ms=N] [--header-ms=N]` or `bun examples/http_hello.ts
// ...` (defaults: 8080, 127.0.0.1, 30000, 10000). Prints `listening on
// HOST:PORT` and serves; on SIGINT or SIGTERM it closes the listener and
// every connection (their finally blocks run), prints one line saying so and
// exits 0 (see examples/echo.ts). Good enough for
// `wrk -c 64 -d 5s http://127.0.0.1:8080/`.
//
// Requests are parsed simply but correctly for what it serves: a request is
// its head up to the blank line (\r\n\r\n); a body announced by
// Content-Length is skipped; several pipelined requests in one read are all
// answered, in order, with one write. `Connection: close` (or HTTP/1.0
// without keep-alive) closes after the answer. A head over 8 KiB or a
// chunked body gets a 4xx and the connection is closed.
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

let closed = 0; // connections closed (by their finally blocks)
let timedOut = 0; // of which closed for a time-out

const BODY = "hello";
const enc = new TextEncoder();
const OK = enc.encode(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\n\r\n${BODY}`,
);
const OK_CLOSE = enc.encode(
  `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${BODY.length}\r\nConnection: close\r\n\r\n${BODY}`,
);
const TOO_LARGE = enc.encode(
  "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
);
const BAD = enc.encode(
  "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
);
const MAX_HEAD = 8192;
const latin1 = new TextDecoder("latin1");

/** Index of the first \r\n\r\n in buf[from..to), or -1. */
function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

interface Head {
  close: boolean;
  bodyLength: number; // -1: unsupported (chunked) or bad
}

function parseHead(text: string): Head {
  const lines = text.split("\r\n");
  const version = lines[0].split(" ")[2] ?? "";
  if (!version.startsWith("HTTP/1.")) return { close: true, bodyLength: -1 };
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
  return { close, bodyLength };
}

/** Sets `limit` to `ms` from now, or removes it for 0 (the time-out is off). */
function limitTo(limit: Deadline, ms: number): void {
  if (ms > 0) limit.reset(ms);
  else limit.clear();
}

function* serveConn(conn: TcpStream): Task<void> {
  const limit = new Deadline();
  limitTo(limit, HEADER_MS); // the first request's head, from the connection's start
  try {
    yield* limit.guard(exchange(conn, limit));
  } catch (error) {
    // A time-out, or a reset peer: this connection only.
    if (error instanceof TimeoutError) timedOut++;
  } finally {
    conn.close();
    closed++;
  }
}

function* exchange(conn: TcpStream, limit: Deadline): Task<void> {
  const buf = new Uint8Array(16384);
  const out = new Uint8Array(16384);
  let start = 0; // first unparsed byte
  let end = 0; // end of the bytes read
  let skip = 0; // body bytes still to skip
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
    const n = yield* conn.read(buf.subarray(end));
    if (n === 0) return;
    end += n;
    // Answer every complete request in the buffer with one write.
    let outLen = 0;
    let close = false;
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
          yield* conn.writeAll(out, outLen);
          yield* conn.writeAll(TOO_LARGE);
          return;
        }
        break;
      }
      const head = parseHead(latin1.decode(buf.subarray(start, at)));
      start = at + 4;
      headTimed = false;
      if (head.bodyLength < 0) {
        yield* conn.writeAll(out, outLen);
        yield* conn.writeAll(BAD);
        return;
      }
      skip = head.bodyLength;
      const answer = head.close ? OK_CLOSE : OK;
      if (outLen + answer.length > out.length) {
        yield* conn.writeAll(out, outLen);
        outLen = 0;
      }
      out.set(answer, outLen);
      outLen += answer.length;
      if (head.close) {
        close = true;
        break;
      }
    }
    if (outLen > 0) yield* conn.writeAll(out, outLen);
    if (close) return;
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
