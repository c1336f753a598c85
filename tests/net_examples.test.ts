// The examples run as their users run them: each server is started in a
// child process on this host with port 0, must print exactly one line
// `listening on HOST:PORT`, is talked to, then killed. The demo must exit 0.
import assert from "node:assert/strict";
import { spawn as spawnProcess } from "node:child_process";
import { connect as netConnect, type Socket } from "node:net";
import process from "node:process";
import { test } from "node:test";
import { awaitAll, type Task, TcpStream, timeout, UdpSocket } from "../mod.ts";
import { host } from "../src/ffi/mod.ts";
import { Child, runChecked } from "./fixtures/net_util.ts";
import { runScenario } from "./helpers/child.ts";

const LISTENING = /^listening on (127\.0\.0\.1|\[::1\]):(\d+)$/m;

async function started(
  example: string,
  host: string,
  extra: string[] = [],
): Promise<[Child, number]> {
  const child = new Child(`../../examples/${example}`, ["0", host, ...extra]);
  const m = await child.line(LISTENING);
  return [child, Number(m[2])];
}

function assertOneListeningLine(child: Child): void {
  const lines = child.stdout.split("\n").filter((l) => l !== "");
  assert.equal(lines.length, 1, `stdout: ${child.stdout}`);
  assert.match(lines[0], LISTENING);
}

/** `clients` concurrent connections to host:port, each echoing 10 messages. */
function echoClients(host: string, port: number, clients: number): void {
  runChecked(function*(): Task<void> {
    yield* awaitAll(Array.from({ length: clients }, (_, i) =>
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
      }()));
  }());
}

for (const host of ["127.0.0.1", "::1"]) {
  test(`examples/echo.ts on ${host} echoes for several clients`, async () => {
    const [child, port] = await started("echo.ts", host);
    try {
      echoClients(host, port, 3);
      assertOneListeningLine(child);
    } finally {
      await child.kill();
    }
  });
}

for (const mode of ["reuseport", "handoff"]) {
  test(`examples/multi_worker.ts (${mode}, 2 workers) echoes for several clients`, async () => {
    const [child, port] = await started("multi_worker.ts", "127.0.0.1", [mode, "2"]);
    try {
      echoClients("127.0.0.1", port, 8);
      assertOneListeningLine(child);
    } finally {
      await child.kill();
    }
  });
}

test("examples/client.ts fans out requests, one times out, and exits 0", () => {
  const r = runScenario("../../examples/client");
  assert.equal(r.code, 0, `stderr: ${r.stderr}`);
  assert.equal(r.stderr, "");
  const lines = r.stdout.split("\n").filter((l) => l !== "");
  assert.match(lines[0], /^echo servers: 127\.0\.0\.1:\d+; silent peer: 127\.0\.0\.1:\d+$/);
  for (let i = 0; i < 7; i++) {
    assert.match(lines[1 + i], new RegExp(`^  request ${i} to .*: echoed "request ${i}" in `));
  }
  assert.match(lines[8], /^ {2}request 7 to .*: timed out after 300 ms$/);
  assert.equal(lines[9], "7 answered, 1 timed out");
});

test("examples/client.ts sends to the echo servers given as arguments", async () => {
  const [a, portA] = await started("echo.ts", "127.0.0.1");
  const [b, portB] = await started("echo.ts", "::1");
  try {
    const r = runScenario("../../examples/client", [`127.0.0.1:${portA}`, `[::1]:${portB}`]);
    assert.equal(r.code, 0, `stderr: ${r.stderr}`);
    assert.match(r.stdout, new RegExp(`request 0 to 127\\.0\\.0\\.1:${portA}: echoed "request 0"`));
    assert.match(r.stdout, new RegExp(`request 1 to \\[::1\\]:${portB}: echoed "request 1"`));
    assert.match(r.stdout, /request 7 to .*: timed out after 300 ms/);
    assert.match(r.stdout, /7 answered, 1 timed out/);
  } finally {
    await a.kill();
    await b.kill();
  }
});

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

/** Opens `n` host connections (node:net) to port, each answered once (`send` → a reply) before it returns them. */
async function answeredConnections(port: number, n: number, send: string): Promise<Socket[]> {
  return await Promise.all(
    Array.from({ length: n }, () =>
      new Promise<Socket>((resolve, reject) => {
        const socket = netConnect(port, "127.0.0.1", () => socket.write(send));
        socket.once("data", () => resolve(socket));
        socket.on("error", reject);
      })),
  );
}

// Graceful shutdown: each server example, with two connections being
// served, gets SIGINT or SIGTERM, closes the listener and the connections
// (their finally blocks run: the example counts them in its last line) and
// exits 0. Before the signal bridge they died of the signal.
const SHUTDOWNS = [
  {
    example: "echo.ts",
    extra: [],
    send: "x",
    line: /: shut down, 2 connections closed, 0 left open, 0 timed out idle$/,
  },
  {
    example: "http_hello.ts",
    extra: [],
    send: "GET / HTTP/1.1\r\nHost: t\r\n\r\n",
    line: /: shut down, 2 connections closed, 0 timed out$/,
  },
  {
    example: "multi_worker.ts",
    extra: ["reuseport", "2"],
    send: "x",
    line: /: shut down, listeners closed: 2$/,
  },
  {
    example: "multi_worker.ts",
    extra: ["handoff", "2"],
    send: "x",
    line: /: shut down, listeners closed: 1$/,
  },
];
for (const { example, extra, send, line } of SHUTDOWNS) {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    test(`examples/${example} ${extra.join(" ")} shuts down gracefully on ${signal}: finally blocks run, exit 0`, async () => {
      const [child] = await started(example, "127.0.0.1", extra);
      const port = Number(child.stdout.match(LISTENING)![2]);
      const sockets = await answeredConnections(port, 2, send);
      const ended = sockets.map((s) =>
        new Promise<void>((resolve) => s.on("close", () => resolve()))
      );
      try {
        // process.kill, not child.proc.kill: Deno's ChildProcess.kill reports
        // the child as killed by the signal even when it caught it and
        // exited 0 (see the finding below and docs/findings.md).
        process.kill(child.proc.pid!, signal);
        const code = await child.exited;
        assert.equal(code, 0, `stdout: ${child.stdout}; stderr: ${child.stderr}`);
        const lines = child.stdout.split("\n").filter((l) => l !== "");
        assert.equal(lines.length, 2, child.stdout);
        assert.match(lines[1], new RegExp(`^${signal}${line.source}`));
        assert.equal(child.stderr, "");
        await Promise.all(ended); // the server closed them
      } finally {
        for (const s of sockets) s.destroy();
        await child.kill();
      }
    });
  }
}

test("finding: Deno's ChildProcess.kill reports a child that caught the signal as killed by it", async () => {
  // The signal goes once the trap is set (the child says so), not after
  // 100 ms: a busy machine could start sh later than that, or end a fixed
  // sleep before the signal came.
  const script = "trap 'echo caught; exit 0' INT; echo ready; while :; do sleep 0.05; done";
  const ended = (useKill: boolean) =>
    new Promise<[number | null, string | null, string]>((resolve) => {
      const child = spawnProcess("sh", ["-c", script]);
      let out = "";
      let signalled = false;
      child.stdout!.setEncoding("utf8").on("data", (d: string) => {
        out += d;
        if (!signalled && out.includes("ready\n")) {
          signalled = true;
          if (useKill) child.kill("SIGINT");
          else process.kill(child.pid!, "SIGINT");
        }
      });
      child.on(
        "close",
        (code, signal) => resolve([code, signal, out.replace("ready\n", "").trim()]),
      );
    });
  assert.deepEqual(await ended(false), [0, null, "caught"]); // the truth, on every host
  const viaKill = await ended(true);
  assert.equal(viaKill[2], "caught"); // the child did catch it and exit 0
  if (host === "deno") assert.deepEqual(viaKill.slice(0, 2), [null, "SIGINT"]);
  else assert.deepEqual(viaKill.slice(0, 2), [0, null]);
});
