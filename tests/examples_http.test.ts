// examples/http.ts, the HTTP/1.1 of the example servers: its head parser on
// its own (what it accepts, what it rejects with which status), then both
// examples that use it (examples/http_hello.ts, examples/gateway.ts) run as
// their users run them, in a child process on this host, answering raw
// requests from node:net sockets: every rejected request gets its status
// with `Connection: close`, after the answers to the requests before it, and
// the connection is closed.
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { connect as netConnect } from "node:net";
import { test } from "node:test";
import { HttpError, httpTimeouts, MAX_HEAD_BYTES, parseHead, response } from "../examples/http.ts";
import { Child } from "./fixtures/net_util.ts";

const LISTENING = /^listening on 127\.0\.0\.1:(\d+)$/m;

/** The status and message of the HttpError parseHead rejects `head` with. */
function rejected(head: string, maxBodyBytes?: number): [number, string] {
  try {
    parseHead(head, maxBodyBytes);
  } catch (error) {
    assert.ok(error instanceof HttpError, `not an HttpError: ${error}`);
    return [error.status, error.message];
  }
  assert.fail(`accepted: ${JSON.stringify(head)}`);
}

test("parseHead accepts origin-form HTTP/1.1 and HTTP/1.0 requests", () => {
  assert.deepEqual(parseHead("GET /a?b=c HTTP/1.1\r\nHost: x"), {
    method: "GET",
    path: "/a?b=c",
    version: "HTTP/1.1",
    close: false,
    bodyLength: 0,
  });
  // Names are case-insensitive, values trimmed, Connection is a token list.
  assert.deepEqual(
    parseHead("POST / HTTP/1.1\r\nhOsT:x\r\nCONTENT-LENGTH: \t 0012\t\r\nConnection: TE, Close"),
    { method: "POST", path: "/", version: "HTTP/1.1", close: true, bodyLength: 12 },
  );
  // A repeated Content-Length with the same value is one length.
  assert.equal(
    parseHead("PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3").bodyLength,
    3,
  );
  assert.equal(parseHead("GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive").close, false);
  // HTTP/1.0: no Host needed; always closed after its answer, keep-alive or not.
  assert.equal(parseHead("GET / HTTP/1.0").close, true);
  assert.equal(parseHead("GET / HTTP/1.0\r\nConnection: keep-alive").close, true);
  assert.equal(parseHead("GET / HTTP/1.1\r\nHost: x\r\nX-Empty:").bodyLength, 0);
});

test("parseHead rejects malformed request lines with 400 and other versions with 505", () => {
  for (
    const line of [
      "",
      "GET",
      "GET /",
      "GET  / HTTP/1.1", // two spaces
      "GET / HTTP/1.1 ", // a trailing space
      "G(T / HTTP/1.1", // not a token
      "GET x HTTP/1.1", // not origin-form
      "GET http://a/ HTTP/1.1", // absolute-form: not for these servers
      "GET /\x7f HTTP/1.1",
      "GET / HTTP/1",
      "GET / http/1.1",
    ]
  ) {
    const [status, message] = rejected(`${line}\r\nHost: x`);
    assert.equal(status, 400, JSON.stringify(line));
    assert.match(message, /request line/);
  }
  for (const version of ["HTTP/2.0", "HTTP/0.9", "HTTP/1.2"]) {
    const [status, message] = rejected(`GET / ${version}\r\nHost: x`);
    assert.equal(status, 505, version);
    assert.match(message, new RegExp(`${version.replace(".", "\\.")}.*HTTP/1\\.1`));
  }
});

test("parseHead rejects malformed header lines and a missing or repeated Host with 400", () => {
  const cases: [string, RegExp][] = [
    ["X-No-Colon", /header line/],
    [": no name", /header line/],
    ["Host : x", /header line/], // white space before the colon
    ["X-A: b\r\n folded", /folding/],
    ["X-A: b\rc", /control/], // a bare CR
    ["X-A: b\nc", /control/], // a bare LF
    ["X-A: b\x00c", /control/],
  ];
  for (const [line, why] of cases) {
    const [status, message] = rejected(`GET / HTTP/1.1\r\nHost: x\r\n${line}`);
    assert.equal(status, 400, JSON.stringify(line));
    assert.match(message, why, JSON.stringify(line));
  }
  const [status, message] = rejected("GET / HTTP/1.1\r\nX-A: b");
  assert.equal(status, 400);
  assert.match(message, /needs a Host header/);
  assert.equal(rejected("GET / HTTP/1.1\r\nHost: x\r\nHost: y")[0], 400);
  assert.equal(rejected("GET / HTTP/1.0\r\nHost: x\r\nHost: y")[0], 400);
});

test("parseHead rejects a bad Content-Length with 400, a body over the limit with 413, Transfer-Encoding with 501", () => {
  for (const value of ["", "-1", "1.5", "0x10", "5, 5", "+5"]) {
    const [status, message] = rejected(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${value}`);
    assert.equal(status, 400, JSON.stringify(value));
    assert.match(message, /Content-Length/);
  }
  assert.equal(
    rejected("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4")[0],
    400,
  );
  assert.deepEqual(
    rejected("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11", 10),
    [413, "Content-Length 11 is over the limit of 10 bytes"],
  );
  assert.equal(parseHead("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10", 10).bodyLength, 10);
  assert.equal(
    rejected("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999")[0],
    413,
  );
  for (const te of ["chunked", "gzip, chunked", "identity"]) {
    assert.equal(
      rejected(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ${te}`)[0],
      501,
      te,
    );
  }
});

test("parseHead reports a bad maxBodyBytes as a RangeError", () => {
  assert.throws(() => parseHead("GET / HTTP/1.1\r\nHost: x", -1), RangeError);
  assert.throws(() => parseHead("GET / HTTP/1.1\r\nHost: x", NaN), RangeError);
});

test("response frames a body with Content-Length and says Connection: close when asked", () => {
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  assert.equal(
    text(response(200, "OK", "hello", false)),
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello",
  );
  assert.equal(
    text(response(404, "Not Found", new Uint8Array([0xc3, 0xa9]), true)),
    "HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\né",
  );
  assert.throws(() => response(99, "X", "", false), RangeError);
  assert.throws(() => response(200, "O\r\nK", "", false), RangeError);
});

test("httpTimeouts reads --header-ms and --idle-ms, and rejects a value that is not a number >= 0", () => {
  assert.deepEqual(httpTimeouts(["8080"]), { headerMs: 10_000, idleMs: 30_000 });
  assert.deepEqual(httpTimeouts(["--idle-ms=0", "x", "--header-ms=250"]), {
    headerMs: 250,
    idleMs: 0,
  });
  assert.throws(() => httpTimeouts(["--idle-ms=-1"]), /--idle-ms wants a number of ms >= 0/);
  assert.throws(() => httpTimeouts(["--header-ms=soon"]), RangeError);
});

/** Sends `raw` on one connection; resolves with all it read and whether the server closed it. */
function exchange(port: number, raw: string): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(port, "127.0.0.1", () => socket.write(raw));
    let text = "";
    // A server that keeps the connection open fails the test; this only ends it.
    const timer = setTimeout(() => {
      socket.destroy();
      resolve({ text, closed: false });
    }, 20_000);
    socket.setEncoding("latin1");
    socket.on("data", (d: string) => (text += d));
    socket.on("end", () => {
      clearTimeout(timer);
      resolve({ text, closed: true });
    });
    socket.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

const OK_REQUEST = "GET /ok HTTP/1.1\r\nHost: t\r\n\r\n";
const BAD_REQUESTS: [string, string, number][] = [
  ["no Host", "GET / HTTP/1.1\r\n\r\n", 400],
  ["a header line without a colon", "GET / HTTP/1.1\r\nHost: t\r\nX-No-Colon\r\n\r\n", 400],
  [
    "two Content-Lengths",
    "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
    400,
  ],
  ["a malformed request line", "GARBAGE\r\n\r\n", 400],
  ["HTTP/2.0", "GET / HTTP/2.0\r\nHost: t\r\n\r\n", 505],
  ["a chunked body", "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n", 501],
  ["a body over 1 MiB", "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1048577\r\n\r\n", 413],
  [
    `a whole head over ${MAX_HEAD_BYTES} bytes in one write`,
    `GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${"a".repeat(MAX_HEAD_BYTES)}\r\n\r\n`,
    431,
  ],
  ["an unfinished head over the limit", `GET / HTTP/1.1\r\nX: ${"a".repeat(20_000)}`, 431],
];

/** Each bad request, after a good one on the same connection: answered in order, then closed. */
async function assertRejects(port: number, okBody: string): Promise<void> {
  for (const [what, bad, status] of BAD_REQUESTS) {
    const { text, closed } = await exchange(port, OK_REQUEST + bad);
    const answers = text.split(/(?=HTTP\/1\.1 \d{3} )/);
    assert.equal(answers.length, 2, `${what}: ${text}`);
    assert.match(answers[0], new RegExp(`^HTTP/1\\.1 200 OK\r\n.*\r\n\r\n${okBody}$`, "s"), what);
    assert.match(answers[1], new RegExp(`^HTTP/1\\.1 ${status} `), `${what}: ${text}`);
    assert.match(answers[1], /\r\nConnection: close\r\n/, what);
    assert.ok(closed, `${what}: the server kept the connection open: ${text}`);
  }
  // A body is dropped, over several reads, and the next request answered.
  const body = "b".repeat(100_000);
  const two = await exchange(
    port,
    `POST /ok HTTP/1.1\r\nHost: t\r\nContent-Length: ${body.length}\r\n\r\n${body}`
      + "GET /ok HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
  );
  assert.equal(two.text.split("HTTP/1.1 ").length - 1, 2, two.text.slice(0, 500));
  assert.match(two.text, new RegExp(`Connection: close\r\n\r\n${okBody}$`));
  // A client still sending the body of a 413 gets the answer, not a reset:
  // the server reads and drops what it sends before it closes.
  const eager = await exchange(
    port,
    `POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 2000000\r\n\r\n${"c".repeat(48_000)}`,
  );
  assert.match(eager.text, /^HTTP\/1\.1 413 Content Too Large\r\n/);
  assert.ok(eager.closed);
  // HTTP/1.0 is answered and closed, keep-alive asked or not.
  const old = await exchange(port, "GET /ok HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  assert.match(old.text, /^HTTP\/1\.1 200 OK\r\n.*Connection: close\r\n/s);
  assert.ok(old.closed, `HTTP/1.0: the server kept the connection open: ${old.text}`);
}

test("examples/http_hello.ts answers bad requests with their 4xx/5xx and closes", async () => {
  const child = new Child("../../examples/http_hello.ts", ["0", "127.0.0.1"]);
  try {
    const port = Number((await child.line(LISTENING))[1]);
    await assertRejects(port, "hello");
  } finally {
    await child.kill();
  }
  assert.equal(child.stderr, "");
});

test("examples/gateway.ts answers bad requests with their 4xx/5xx and closes", async () => {
  const upstream: Server = createServer((req, res) => res.end(`upstream ${req.url}`));
  await new Promise<void>((resolve) => upstream.listen(0, "127.0.0.1", resolve));
  const { port: upPort } = upstream.address() as { port: number };
  const child = new Child("../../examples/gateway.ts", ["0", `http://127.0.0.1:${upPort}`]);
  try {
    const port = Number((await child.line(LISTENING))[1]);
    await assertRejects(port, "upstream /ok");
  } finally {
    await child.kill();
    await new Promise((resolve) => upstream.close(resolve));
  }
  assert.equal(child.stderr, "");
});
