// The examples run as their users run them: each server is started in a
// child process on this host with port 0, must print exactly one line
// `listening on HOST:PORT`, is talked to, then killed. The demo must exit 0.
import assert from "node:assert/strict";
import { spawn as spawnProcess } from "node:child_process";
import { test } from "node:test";
import { awaitAll, type Task, TcpStream, timeout, UdpSocket } from "../mod.ts";
import { Child, runChecked } from "./fixtures/net_util.ts";
import { runScenario } from "./helpers/child.ts";

const LISTENING = /^listening on (127\.0\.0\.1|\[::1\]):(\d+)$/m;

async function started(example: string, host: string): Promise<[Child, number]> {
  const child = new Child(`../../examples/${example}`, ["0", host]);
  const m = await child.line(LISTENING);
  return [child, Number(m[2])];
}

function assertOneListeningLine(child: Child): void {
  const lines = child.stdout.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `stdout: ${child.stdout}`);
  assert.match(lines[0], LISTENING);
}

for (const host of ["127.0.0.1", "::1"]) {
  test(`examples/echo.ts on ${host} echoes for several clients`, async () => {
    const [child, port] = await started("echo.ts", host);
    try {
      runChecked(function*(): Task<void> {
        yield* awaitAll([0, 1, 2].map((i) =>
          function*(): Task<void> {
            const conn = yield* TcpStream.connect({ hostname: host, port }, { timeoutMs: 5000 });
            try {
              const msg = new TextEncoder().encode(`client ${i}`);
              const back = new Uint8Array(msg.length);
              for (let r = 0; r < 10; r++) {
                yield* conn.writeAll(msg);
                yield* timeout(5000, conn.readExact(back));
                assert.deepEqual(back, msg);
              }
            } finally {
              conn.close();
            }
          }()
        ));
      }());
      assertOneListeningLine(child);
    } finally {
      await child.kill();
    }
  });
}

test("examples/udp_echo.ts sends datagrams back to their sender", async () => {
  const [child, port] = await started("udp_echo.ts", "127.0.0.1");
  try {
    runChecked(function*(): Task<void> {
      const sock = UdpSocket.bind("127.0.0.1:0");
      try {
        const buf = new Uint8Array(100);
        for (let i = 0; i < 5; i++) {
          const msg = new TextEncoder().encode(`datagram ${i}`);
          yield* sock.sendTo(msg, { hostname: "127.0.0.1", port });
          const d = yield* timeout(5000, sock.recvFrom(buf));
          assert.equal(d.addr.port, port);
          assert.deepEqual(buf.subarray(0, d.n), msg);
        }
      } finally {
        sock.close();
      }
    }());
    assertOneListeningLine(child);
  } finally {
    await child.kill();
  }
});

test("examples/http_hello.ts answers keep-alive and pipelined requests", async () => {
  const [child, port] = await started("http_hello.ts", "127.0.0.1");
  try {
    const text = runChecked(function*(): Task<string> {
      const conn = yield* TcpStream.connect({ hostname: "127.0.0.1", port });
      try {
        const enc = new TextEncoder();
        const buf = new Uint8Array(4096);
        // One request, answered on a connection that stays open.
        yield* conn.writeAll(enc.encode("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
        const n = yield* timeout(5000, conn.read(buf));
        const first = new TextDecoder().decode(buf.subarray(0, n));
        assert.match(first, /^HTTP\/1\.1 200 OK\r\n/);
        assert.match(first, /Content-Length: 5\r\n\r\nhello$/);
        // Three pipelined requests (one with a body), the last one closing.
        yield* conn.writeAll(enc.encode(
          "GET /a HTTP/1.1\r\nHost: t\r\n\r\n"
            + "POST /b HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\n\r\nbody"
            + "GET /c HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n",
        ));
        let all = "";
        for (;;) {
          const k = yield* timeout(5000, conn.read(buf));
          if (k === 0) return all;
          all += new TextDecoder().decode(buf.subarray(0, k));
        }
      } finally {
        conn.close();
      }
    }());
    assert.equal(text.split("HTTP/1.1 200 OK").length - 1, 3, text);
    assert.match(text, /Connection: close\r\n\r\nhello$/);
    assertOneListeningLine(child);
  } finally {
    await child.kill();
  }
});

test("examples/demo.ts runs and exits 0", () => {
  const r = runScenario("../../examples/demo");
  assert.equal(r.code, 0, `stderr: ${r.stderr}`);
  assert.match(r.stdout, /echo server listening on 127\.0\.0\.1:\d+/);
  assert.match(r.stdout, /server echoed 192000 bytes over 3 connections/);
});

test("examples/http_hello.ts serves wrk (a load generator nobody here wrote) without errors", async () => {
  const [child, port] = await started("http_hello.ts", "127.0.0.1");
  try {
    // wrk runs in its own process; this thread only waits for it to end.
    const out = await new Promise<string>((resolve, reject) => {
      const wrk = spawnProcess("wrk", ["-t1", "-c64", "-d2s", `http://127.0.0.1:${port}/`]);
      let text = "";
      wrk.stdout!.setEncoding("utf8").on("data", (d: string) => (text += d));
      wrk.stderr!.setEncoding("utf8").on("data", (d: string) => (text += d));
      wrk.on("error", (e) => reject(new Error(`wrk could not run (npm test installs it): ${e}`)));
      wrk.on(
        "close",
        (code) => code === 0 ? resolve(text) : reject(new Error(`wrk: ${code} ${text}`)),
      );
    });
    const requests = Number(out.match(/(\d+) requests in/)?.[1] ?? 0);
    assert.ok(requests > 1000, `wrk completed ${requests} requests: ${out}`);
    assert.doesNotMatch(out, /Socket errors|Non-2xx/, out);
  } finally {
    await child.kill();
  }
});
