// HTTP/1.1 for the example servers (examples/http_hello.ts,
// examples/gateway.ts): a request head parser and an answer writer on a strom
// TcpStream. Small, not a general HTTP library: request bodies are read and
// dropped (neither example uses one), there is no chunked coding, and the
// caller gets the method, the path and what the framing needs, not the
// header fields. Strict where being lax is unsafe: what it does not
// understand it rejects, with the status RFC 9112 names, rather than guess
// where a request ends (request smuggling).
//
// Accepted: a request line `METHOD SP /path SP HTTP/1.1` (or HTTP/1.0): a
// token method, an origin-form target of visible ASCII; then header lines
// `Name: value` (the name a token, no space before the colon, the value
// without control characters but tab); one Host (required by HTTP/1.1); at
// most one Content-Length value (digits; repeated with the same value is
// fine); then the blank line, the head at most MAX_HEAD_BYTES long. A body
// is Content-Length bytes (none without it), at most MAX_BODY_BYTES.
// Several pipelined requests are answered in order. `Connection: close`
// closes after the answer; HTTP/1.0 always does (keep-alive is not offered
// to it).
//
// Rejected, with an answer that says why and closes the connection (first
// reading and dropping what the peer still sends, up to LINGER_MS and
// LINGER_BYTES, so that the answer is not lost to a reset):
//   400 Bad Request: a malformed request line or header line, obsolete line
//       folding, a control character in a value, a missing or repeated Host,
//       a Content-Length that is not digits or two that differ;
//   413 Content Too Large: a Content-Length over MAX_BODY_BYTES;
//   431 Request Header Fields Too Large: a head over MAX_HEAD_BYTES;
//   501 Not Implemented: any Transfer-Encoding (chunked bodies are not read);
//   505 HTTP Version Not Supported: a well-formed version other than
//       HTTP/1.0 and HTTP/1.1.
import { type Deadline, type Task, type TcpStream, timeout, TimeoutError } from "../mod.ts";

/** The longest request head accepted (request line and header lines, without the blank line), in bytes. */
export const MAX_HEAD_BYTES = 8192;
/** The longest request body accepted (by Content-Length), in bytes; bodies are read and dropped. */
export const MAX_BODY_BYTES = 1 << 20;

/**
 * A request the server will not serve. `status` and `reason` make its
 * answer's status line, the message (what was wrong, what was expected and
 * what was given) its body; the answer closes the connection.
 */
export class HttpError extends Error {
  constructor(readonly status: number, readonly reason: string, message: string) {
    super(message);
    this.name = "HttpError";
  }
}

/** What the examples need of a request head. */
export interface Request {
  /** The method, as sent (methods are case-sensitive: `GET`, not `get`). */
  readonly method: string;
  /** The target in origin form: the path and query, starting with `/`. */
  readonly path: string;
  readonly version: "HTTP/1.0" | "HTTP/1.1";
  /** The connection closes after the answer: `Connection: close`, or HTTP/1.0. */
  readonly close: boolean;
  /** The body's length in bytes (Content-Length, else 0). */
  readonly bodyLength: number;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const ORIGIN_FORM = /^\/[\x21-\x7e]*$/;
const VERSION = /^HTTP\/\d\.\d$/;
const DIGITS = /^\d+$/;

/** Whether `s` has a control character other than tab (CR, LF and NUL among them). */
function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c === 0x7f) return true;
  }
  return false;
}

/** line[from..], without the spaces and tabs at either end. */
function withoutOws(line: string, from: number): string {
  let to = line.length;
  while (from < to && (line[from] === " " || line[from] === "\t")) from++;
  while (to > from && (line[to - 1] === " " || line[to - 1] === "\t")) to--;
  return line.slice(from, to);
}

/** `s` quoted for an error message, cut short. */
function shown(s: string): string {
  return JSON.stringify(s.length > 60 ? `${s.slice(0, 60)}...` : s);
}

function badRequest(message: string): HttpError {
  return new HttpError(400, "Bad Request", message);
}

/**
 * Parses a request head: `head` is its text (bytes as latin1) up to, not
 * including, the blank line that ends it (`\r\n\r\n`). Returns the request,
 * or throws {@linkcode HttpError} with the status of the answer (see the top
 * of this file for what is accepted and what gets 400, 413, 501, 505; 431 is
 * the caller's, who knows the head's length). Throws a `RangeError` for a
 * `maxBodyBytes` that is not a number >= 0.
 */
export function parseHead(head: string, maxBodyBytes: number = MAX_BODY_BYTES): Request {
  if (typeof maxBodyBytes !== "number" || !(maxBodyBytes >= 0)) {
    throw new RangeError(`parseHead: maxBodyBytes wants a number >= 0, got ${maxBodyBytes}`);
  }
  const lines = head.split("\r\n");
  const requestLine = lines[0];
  const [method, path, version, extra] = requestLine.split(" ");
  if (
    extra !== undefined || version === undefined || !TOKEN.test(method)
    || !ORIGIN_FORM.test(path) || !VERSION.test(version)
  ) {
    throw badRequest(
      `malformed request line: want METHOD /path HTTP/1.1, got ${shown(requestLine)}`,
    );
  }
  if (version !== "HTTP/1.1" && version !== "HTTP/1.0") {
    throw new HttpError(
      505,
      "HTTP Version Not Supported",
      `HTTP version ${version} is not supported: want HTTP/1.1 or HTTP/1.0`,
    );
  }
  let close = version === "HTTP/1.0"; // no keep-alive for HTTP/1.0: it would have to be announced
  let bodyLength = -1;
  let hosts = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line[0] === " " || line[0] === "\t") {
      throw badRequest(`obsolete line folding (a line starting with white space): ${shown(line)}`);
    }
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    if (colon < 0 || !TOKEN.test(name)) {
      throw badRequest(`malformed header line: want Name: value, got ${shown(line)}`);
    }
    const value = withoutOws(line, colon + 1);
    if (hasControl(value)) {
      throw badRequest(`a control character in the value of header ${name}: ${shown(value)}`);
    }
    switch (name.toLowerCase()) {
      case "host":
        hosts++;
        break;
      case "content-length": {
        if (!DIGITS.test(value)) {
          throw badRequest(`Content-Length wants digits, got ${shown(value)}`);
        }
        const length = Number(value);
        if (bodyLength >= 0 && length !== bodyLength) {
          throw badRequest(`two Content-Lengths that differ: ${bodyLength} and ${length}`);
        }
        if (length > maxBodyBytes) {
          throw new HttpError(
            413,
            "Content Too Large",
            `Content-Length ${value} is over the limit of ${maxBodyBytes} bytes`,
          );
        }
        bodyLength = length;
        break;
      }
      case "transfer-encoding":
        throw new HttpError(
          501,
          "Not Implemented",
          `Transfer-Encoding is not supported (bodies need a Content-Length), got ${shown(value)}`,
        );
      case "connection":
        if (value.toLowerCase().split(",").some((option) => option.trim() === "close")) {
          close = true;
        }
        break;
    }
  }
  if (hosts > 1) throw badRequest(`one Host header wanted, got ${hosts}`);
  if (hosts === 0 && version === "HTTP/1.1") {
    throw badRequest("an HTTP/1.1 request needs a Host header, got none");
  }
  return { method, path, version, close, bodyLength: Math.max(bodyLength, 0) };
}

const enc = new TextEncoder();

/**
 * An answer's bytes: the status line, `Content-Type: text/plain`, the
 * body's `Content-Length`, `Connection: close` if `close`, then `body`
 * (a string is sent as UTF-8). Throws a `RangeError` for a `status` that is
 * not an integer 100-999 or a `reason` with a control character.
 */
export function response(
  status: number,
  reason: string,
  body: string | Uint8Array,
  close: boolean,
): Uint8Array {
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new RangeError(`response: status wants an integer 100-999, got ${status}`);
  }
  if (hasControl(reason)) {
    throw new RangeError(`response: reason wants no control characters, got ${shown(reason)}`);
  }
  const bytes = typeof body === "string" ? enc.encode(body) : body;
  const head = enc.encode(
    `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${bytes.length}\r\n${
      close ? "Connection: close\r\n" : ""
    }\r\n`,
  );
  const out = new Uint8Array(head.length + bytes.length);
  out.set(head);
  out.set(bytes, head.length);
  return out;
}

/** Index of the first \r\n\r\n in buf[from..to), or -1. */
function headEnd(buf: Uint8Array, from: number, to: number): number {
  for (let i = from; i + 3 < to; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

/** Sets `limit` to `ms` from now, or removes it for 0 (that time-out is off). */
function limitTo(limit: Deadline, ms: number): void {
  if (ms > 0) limit.reset(ms);
  else limit.clear();
}

/** The time-outs of a connection, in ms; 0 turns one off. */
export interface HttpTimeouts {
  /**
   * A request's head must arrive whole within this, counted from the
   * connection's start (the first request) or from the request's first
   * byte: bytes trickling in do not extend it (slowloris).
   */
  readonly headerMs: number;
  /**
   * A connection waiting for its next request, or making no progress on a
   * body or an answer (a peer that does not read), is closed after this.
   */
  readonly idleMs: number;
}

/** The value of `--name=N` (a number >= 0) among `argv`, or `fallback`. */
function msOption(argv: readonly string[], name: string, fallback: number): number {
  const flag = argv.find((a) => a.startsWith(`--${name}=`));
  if (flag === undefined) return fallback;
  const ms = Number(flag.slice(name.length + 3));
  if (!(ms >= 0)) throw new RangeError(`--${name} wants a number of ms >= 0, got ${flag}`);
  return ms;
}

/**
 * The time-outs given on a server's command line as `--header-ms=N` and
 * `--idle-ms=N` (defaults 10 000 and 30 000 ms; 0 turns one off). Throws a
 * `RangeError` naming the flag for a value that is not a number >= 0.
 */
export function httpTimeouts(argv: readonly string[]): HttpTimeouts {
  return {
    headerMs: msOption(argv, "header-ms", 10_000),
    idleMs: msOption(argv, "idle-ms", 30_000),
  };
}

/** After a rejection: how long and how much the peer may still send before the connection is closed. */
const LINGER_MS = 2000;
const LINGER_BYTES = 64 * 1024;

const latin1 = new TextDecoder("latin1");

/**
 * The server side of one HTTP/1.1 connection: {@linkcode next} reads the
 * requests (in order, pipelined or not; bodies read and dropped), and
 * {@linkcode send} and {@linkcode flush} write their answers (from
 * {@linkcode response}). Answers sent while more requests are already read
 * go out together, in one write, before `next` waits for the peer.
 *
 * Time-outs: it moves `limit` (see {@linkcode HttpTimeouts}), which the
 * caller guards the whole exchange with (`limit.guard(...)`, which throws
 * `TimeoutError`); the header time-out starts here. A caller that does slow
 * work of its own between `next` and `send` may clear `limit` meanwhile:
 * `next`, `send` and `flush` set it again before they wait on the peer.
 *
 * It does not close `conn` (the caller does). Cancel safety: cancelled in
 * any of its operations, bytes may be lost: close the connection.
 */
export class HttpConnection {
  readonly #conn: TcpStream;
  readonly #limit: Deadline;
  readonly #timeouts: HttpTimeouts;
  readonly #maxBodyBytes: number;
  // Room for a whole head and more: a head that is not whole within
  // MAX_HEAD_BYTES is rejected, so buf never fills with one.
  readonly #buf = new Uint8Array(2 * MAX_HEAD_BYTES);
  #start = 0; // the first byte not parsed
  #end = 0; // the end of the bytes read
  #skip = 0; // body bytes still to drop
  #headTimed = true; // the header time-out runs for the head being awaited
  readonly #out = new Uint8Array(16384);
  #outLength = 0;

  /**
   * Serves `conn`, under `limit` (set to the header time-out now) and
   * `timeouts`; bodies over `maxBodyBytes` are rejected (413). Throws a
   * `RangeError` for a time-out that is not a number >= 0.
   */
  constructor(
    conn: TcpStream,
    limit: Deadline,
    timeouts: HttpTimeouts,
    maxBodyBytes: number = MAX_BODY_BYTES,
  ) {
    for (const [name, ms] of Object.entries(timeouts)) {
      if (typeof ms !== "number" || !(ms >= 0)) {
        throw new RangeError(`HttpConnection: ${name} wants a number of ms >= 0, got ${ms}`);
      }
    }
    this.#conn = conn;
    this.#limit = limit;
    this.#timeouts = timeouts;
    this.#maxBodyBytes = maxBodyBytes;
    limitTo(limit, timeouts.headerMs);
  }

  /**
   * The next request, or null once the exchange is over: the peer closed
   * the connection, or sent a request this module rejects (see
   * {@linkcode HttpError}), which this answers (after the answers queued
   * before it) with its status and `Connection: close`. Before it waits for
   * bytes it writes the queued answers. The previous request's body is
   * dropped first. Throws what the socket throws (a reset peer).
   */
  *next(): Task<Request | null> {
    for (;;) {
      let request: Request | null;
      try {
        request = this.#buffered();
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        yield* this.#reject(error);
        return null;
      }
      if (request !== null) return request;
      yield* this.flush();
      if (!(yield* this.#read())) return null;
    }
  }

  /**
   * Queues `answer` to be written with the others at the next
   * {@linkcode flush} or `next`; when the queue is full it is written
   * first, and an answer larger than it is written at once.
   */
  *send(answer: Uint8Array): Task<void> {
    if (this.#outLength + answer.length <= this.#out.length) {
      this.#out.set(answer, this.#outLength);
      this.#outLength += answer.length;
      return;
    }
    yield* this.flush();
    if (answer.length <= this.#out.length) return yield* this.send(answer);
    limitTo(this.#limit, this.#timeouts.idleMs); // the peer must take its answer
    yield* this.#conn.writeAll(answer);
  }

  /** Writes the queued answers (under the idle time-out). */
  *flush(): Task<void> {
    if (this.#outLength === 0) return;
    limitTo(this.#limit, this.#timeouts.idleMs); // the peer must take its answers
    const length = this.#outLength;
    this.#outLength = 0;
    yield* this.#conn.writeAll(this.#out, length);
  }

  /**
   * The next request whose head is whole in the buffer (the previous body
   * dropped first, as far as it was read), or null. Throws HttpError.
   */
  #buffered(): Request | null {
    if (this.#skip > 0) {
      const k = Math.min(this.#skip, this.#end - this.#start);
      this.#skip -= k;
      this.#start += k;
      if (this.#skip > 0) return null;
    }
    const at = headEnd(this.#buf, this.#start, this.#end);
    // Unfinished, the head may still end within the limit with 3 more bytes.
    const over = at < 0
      ? this.#end - this.#start > MAX_HEAD_BYTES + 3
      : at - this.#start > MAX_HEAD_BYTES;
    if (over) {
      throw new HttpError(
        431,
        "Request Header Fields Too Large",
        `the request head is over ${MAX_HEAD_BYTES} bytes`,
      );
    }
    if (at < 0) return null;
    const request = parseHead(
      latin1.decode(this.#buf.subarray(this.#start, at)),
      this.#maxBodyBytes,
    );
    this.#start = at + 4;
    this.#skip = request.bodyLength;
    this.#headTimed = false;
    return request;
  }

  /** Reads more of the peer's bytes, under the time-out that applies now; false at EOF. */
  *#read(): Task<boolean> {
    const buf = this.#buf;
    if (this.#start === this.#end) this.#start = this.#end = 0;
    else if (this.#end === buf.length) {
      buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    const { headerMs, idleMs } = this.#timeouts;
    if (this.#skip > 0) {
      limitTo(this.#limit, idleMs); // a body: any progress will do
    } else if (this.#start === this.#end) {
      if (!this.#headTimed) limitTo(this.#limit, idleMs); // keep-alive: waiting for the next request
    } else if (!this.#headTimed) {
      limitTo(this.#limit, headerMs); // a head has begun: it must be whole in time
      this.#headTimed = true;
    }
    const n = yield* this.#conn.read(buf.subarray(this.#end));
    if (n === 0) return false;
    this.#end += n;
    return true;
  }

  /** Answers `error` (after the queued answers) and ends the exchange. */
  *#reject(error: HttpError): Task<void> {
    yield* this.send(response(error.status, error.reason, `${error.message}\n`, true));
    yield* this.flush();
    // A socket closed with unread input sends a reset, which can destroy the
    // answer before the peer has read it (a peer still sending a body, or
    // more pipelined requests). So: end our side after the answer, and drop
    // what the peer still sends until it closes, for a bounded time.
    this.#conn.shutdown("write");
    this.#limit.clear(); // the linger has its own bound
    try {
      yield* timeout(LINGER_MS, this.#drop(LINGER_BYTES));
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
    }
  }

  /** Reads and drops up to about `bytes` bytes, or until EOF. */
  *#drop(bytes: number): Task<void> {
    for (let dropped = 0; dropped < bytes;) {
      const n = yield* this.#conn.read(this.#buf);
      if (n === 0) return;
      dropped += n;
    }
  }
}
