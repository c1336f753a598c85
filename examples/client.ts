// A client with time-outs and an awaitAll fan-out: `deno run -A
// examples/client.ts [ADDR...]` or `bun examples/client.ts [ADDR...]`.
//
// Without arguments it runs on its own: it starts a strom echo server in
// this process, plus a "silent" peer: a listener that never accepts, so the
// kernel completes the TCP handshake but nobody ever answers. With arguments
// (`127.0.0.1:7000 [::1]:7000 ...`, echo servers such as examples/echo.ts)
// the requests go to those instead of the in-process server; the silent peer
// is always added.
//
// It sends REQUESTS requests at once (awaitAll), round-robin over the
// servers, the last one to the silent peer. Each request is wrapped in
// `timeout`: the silent peer's request is cancelled after TIMEOUT_MS (its
// `finally` closes its socket) and reported as timed out, while the others
// complete. The whole batch is bounded too. Prints one line per request and
// a summary, then exits 0.
import {
  args,
  awaitAll,
  formatSocketAddr,
  now,
  run,
  spawn,
  type Task,
  TcpListener,
  TcpStream,
  timeout,
  TimeoutError,
} from "../mod.ts";

const REQUESTS = 8;
const TIMEOUT_MS = 300;
const BATCH_TIMEOUT_MS = 5000;

/** Serves one echo connection until the client closes it. */
function* echo(conn: TcpStream): Task<void> {
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = yield* conn.read(buf);
      if (n === 0) return;
      yield* conn.writeAll(buf, n);
    }
  } catch {
    // A reset client ends its connection only.
  } finally {
    conn.close();
  }
}

/** Accepts connections forever, each served by its own task. */
function* echoServer(listener: TcpListener): Task<void> {
  for (;;) yield* spawn(echo(yield* listener.accept()));
}

/** One request: connect, send a line, read the same bytes back. */
function* request(addr: string, text: string): Task<string> {
  const conn = yield* TcpStream.connect(addr);
  try {
    const msg = new TextEncoder().encode(text);
    const back = new Uint8Array(msg.length);
    yield* conn.writeAll(msg);
    yield* conn.readExact(back);
    return new TextDecoder().decode(back);
  } finally {
    conn.close(); // also when `timeout` cancels this task
  }
}

interface Outcome {
  addr: string;
  ms: number;
  answer: string | null; // null: timed out
}

/** A request bounded by TIMEOUT_MS; a time-out is an outcome, not a failure of the batch. */
function* bounded(addr: string, i: number): Task<Outcome> {
  const t0 = now();
  try {
    const answer = yield* timeout(TIMEOUT_MS, request(addr, `request ${i}`));
    return { addr, ms: now() - t0, answer };
  } catch (error) {
    // Any other error (a refused connection, a reset) fails the whole
    // awaitAll: the other requests are cancelled and it is thrown here.
    if (!(error instanceof TimeoutError)) throw error;
    return { addr, ms: now() - t0, answer: null };
  }
}

run(function*(): Task<void> {
  const own = TcpListener.bind("127.0.0.1:0");
  const silent = TcpListener.bind("127.0.0.1:0"); // never accepts
  const server = yield* spawn(echoServer(own));
  try {
    const given = args();
    const servers = given.length > 0 ? given : [formatSocketAddr(own.localAddr)];
    const silentAddr = formatSocketAddr(silent.localAddr);
    console.log(`echo servers: ${servers.join(", ")}; silent peer: ${silentAddr}`);
    const targets = Array.from(
      { length: REQUESTS },
      (_, i) => i === REQUESTS - 1 ? silentAddr : servers[i % servers.length],
    );
    const outcomes = yield* timeout(BATCH_TIMEOUT_MS, awaitAll(targets.map(bounded)));
    let answered = 0;
    outcomes.forEach((o, i) => {
      if (o.answer !== null) answered++;
      const what = o.answer === null
        ? `timed out after ${TIMEOUT_MS} ms`
        : `echoed "${o.answer}" in ${o.ms.toFixed(2)} ms`;
      console.log(`  request ${i} to ${o.addr}: ${what}`);
    });
    console.log(`${answered} answered, ${outcomes.length - answered} timed out`);
  } finally {
    server.cancel(); // its finally blocks close the connections it serves
    own.close();
    silent.close();
  }
}());
