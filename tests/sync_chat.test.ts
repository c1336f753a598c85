// examples/chat.ts, run as its users run it (a child process, port 0, two
// workers) and driven by real TCP clients: every line reaches every other
// client exactly once, unchanged; a client that stops reading is dropped
// without stalling the others.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  awaitAll,
  Notify,
  type Operation,
  type Task,
  TcpStream,
  timeout,
  TimeoutError,
} from "../mod.ts";
import { Child, runChecked } from "./fixtures/net_util.ts";

const LISTENING = /^listening on 127\.0\.0\.1:(\d+)$/m;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

async function startChat(workers: number): Promise<[Child, number]> {
  const child = new Child("../../examples/chat.ts", ["0", String(workers)]);
  const m = await child.line(LISTENING);
  return [child, Number(m[1])];
}

/** Reads a stream line by line (bytes kept until a newline). Cancel-safe: only `read` waits. */
class Lines {
  #buf = new Uint8Array(1 << 17);
  #have = 0;
  bytes = 0;
  constructor(readonly conn: TcpStream) {}

  /** The next line without its newline, or null at EOF. */
  *next(): Operation<string | null> {
    for (;;) {
      const nl = this.#buf.subarray(0, this.#have).indexOf(0x0a);
      if (nl >= 0) {
        const line = decoder.decode(this.#buf.subarray(0, nl));
        this.#buf.copyWithin(0, nl + 1, this.#have);
        this.#have -= nl + 1;
        return line;
      }
      if (this.#have === this.#buf.length) {
        const bigger = new Uint8Array(this.#buf.length * 2);
        bigger.set(this.#buf);
        this.#buf = bigger;
      }
      const n = yield* this.conn.read(this.#buf.subarray(this.#have));
      if (n === 0) return null;
      this.#have += n;
      this.bytes += n;
    }
  }
}

function* send(conn: TcpStream, line: string): Operation<void> {
  yield* conn.writeAll(encoder.encode(line + "\n"));
}

/**
 * Makes sure every client is registered with the server: client 0 sends
 * `probe r` until, in one round, every other client answered `ack i r`
 * (a client the server had not registered yet misses a probe: the next
 * round catches it), then `go`. Each client returns once it read `go`.
 */
function* barrier(lines: Lines[]): Operation<void> {
  const [first, ...others] = lines;
  yield* awaitAll([
    function*(): Task<void> {
      for (let round = 0;; round++) {
        yield* send(first.conn, `probe ${round}`);
        const acked = new Set<string>();
        try {
          yield* timeout(
            500,
            function*(): Task<void> {
              while (acked.size < others.length) {
                const m = (yield* first.next())?.match(/^ack (\d+) (\d+)$/);
                if (m && Number(m[2]) === round) acked.add(m[1]);
              }
            }(),
          );
        } catch (error) {
          if (error instanceof TimeoutError) continue;
          throw error;
        }
        yield* send(first.conn, "go");
        return;
      }
    }(),
    ...others.map((me, k) =>
      function*(): Task<void> {
        for (;;) {
          const line = yield* me.next();
          assert.notEqual(line, null, "connection closed during the barrier");
          const m = line!.match(/^probe (\d+)$/);
          if (m) yield* send(me.conn, `ack ${k + 1} ${m[1]}`);
          if (line === "go") return;
        }
      }()
    ),
  ]);
}

function* connectAll(port: number, n: number): Operation<Lines[]> {
  const conns: Lines[] = [];
  for (let i = 0; i < n; i++) {
    conns.push(
      new Lines(yield* TcpStream.connect({ hostname: "127.0.0.1", port }, { timeoutMs: 5000 })),
    );
  }
  return conns;
}

test("examples/chat.ts: every line reaches every other client exactly once, unchanged", async () => {
  const [child, port] = await startChat(2);
  try {
    const clients = 6;
    const perClient = 100;
    runChecked(function*(): Task<void> {
      const lines = yield* connectAll(port, clients);
      try {
        yield* timeout(60_000, barrier(lines));
        const got = yield* timeout(
          60_000,
          awaitAll(lines.map((me, i) =>
            function*(): Task<string[]> {
              // Mixed content (spaces, UTF-8) travels unchanged.
              for (let m = 0; m < perClient; m++) {
                yield* send(me.conn, `data ${i} ${m} héllo wörld`);
              }
              const data: string[] = [];
              while (data.length < (clients - 1) * perClient) {
                const line = yield* me.next();
                assert.notEqual(line, null, `client ${i} was closed`);
                if (line!.startsWith("data ")) data.push(line!);
              }
              return data;
            }()
          )),
        );
        for (let i = 0; i < clients; i++) {
          const expected: string[] = [];
          for (let j = 0; j < clients; j++) {
            if (j === i) continue;
            for (let m = 0; m < perClient; m++) expected.push(`data ${j} ${m} héllo wörld`);
          }
          assert.deepEqual([...got[i]].sort(), expected.sort(), `client ${i}: each line once`);
          // In the order each sender sent them.
          for (let j = 0; j < clients; j++) {
            const fromJ = got[i].filter((l) => l.startsWith(`data ${j} `));
            assert.deepEqual(fromJ, fromJ.slice().sort((a, b) => seq(a) - seq(b)));
          }
        }
      } finally {
        for (const l of lines) l.conn.close();
      }
    }());
    assert.equal(child.stdout.trim().split("\n").length, 1, `stdout: ${child.stdout}`);
    assert.equal(child.stderr, "", "no server errors");
  } finally {
    await child.kill();
  }
});

function seq(line: string): number {
  return Number(line.split(" ")[2]);
}

test("examples/chat.ts: a client that stops reading is dropped; the others get every line", async () => {
  const [child, port] = await startChat(2);
  try {
    const count = 200;
    const payload = "x".repeat(60 * 1024); // 12 MB in all: more than the buffers hold
    runChecked(function*(): Task<void> {
      const lines = yield* connectAll(port, 3);
      const [sender, reader, stalled] = lines;
      try {
        yield* timeout(60_000, barrier(lines));
        // `stalled` reads nothing from now on.
        const progress = new Notify();
        let readCount = 0;
        const received = yield* timeout(
          120_000,
          awaitAll(
            function*(): Task<void> {
              // A few lines ahead of the reader at most: it keeps up, so
              // only the stalled client falls behind.
              for (let m = 0; m < count; m++) {
                while (m - readCount > 4) yield* progress.notified();
                yield* send(sender.conn, `data ${m} ${payload}`);
              }
            }(),
            function*(): Task<number> {
              while (readCount < count) {
                const line = yield* reader.next();
                assert.notEqual(line, null, "the reading client was closed");
                if (line!.startsWith("data ")) {
                  assert.equal(line, `data ${readCount} ${payload}`);
                  readCount++;
                  progress.notifyOne();
                }
              }
              return readCount;
            }(),
          ),
        );
        assert.equal(received[1], count, "the reading client got every line");
        // The stalled client was dropped: reading it now ends (EOF or reset)
        // before all the lines arrived.
        let dataLines = 0;
        try {
          for (
            let l = yield* timeout(60_000, stalled.next());
            l !== null;
            l = yield* timeout(60_000, stalled.next())
          ) {
            if (l.startsWith("data ")) dataLines++;
          }
        } catch (error) {
          assert.match(String(error), /ECONNRESET/);
        }
        assert.ok(dataLines < count, `the stalled client was dropped after ${dataLines} lines`);
      } finally {
        for (const l of lines) l.conn.close();
      }
    }());
  } finally {
    await child.kill();
  }
});
