// strom against peers nobody here wrote: node:net clients and servers of the
// host runtime (Deno's or Bun's implementation), each in a child process
// because strom's run() holds this thread while it runs.
import assert from "node:assert/strict";
import { test } from "node:test";
import { awaitAny, sleep, type Task, TcpListener, TcpStream, timeout } from "../mod.ts";
import { Child, echoAll, pattern, runChecked } from "./fixtures/net_util.ts";

/** Accepts one connection and echoes it until EOF; returns the bytes echoed. */
function* serveOne(listener: TcpListener): Task<number> {
  const r = yield* awaitAny(listener.accept(), sleep(20_000));
  assert.equal(r.index, 0, "the child connected");
  // An odd buffer size: many partial reads of 3 MB.
  return yield* echoAll(r.value as TcpStream, 7000);
}

for (const host of ["127.0.0.1", "::1"]) {
  test(`strom echo server, node:net client over ${host}: small messages and 3 MB`, async () => {
    const listener = TcpListener.bind({ hostname: host, port: 0 });
    let child: Child | null = null;
    try {
      child = new Child("net_node_client.ts", [host, String(listener.localAddr.port), "echo"]);
      const echoed = runChecked(serveOne(listener));
      assert.equal(echoed, 3 * 1024 * 1024 + 50 * "round N".length + 40);
      assert.equal(await child.exited, 0, `client stderr: ${child.stderr}`);
      assert.match(child.stdout, /^ok$/m);
    } finally {
      listener.close();
      await child?.kill();
    }
  });
}

test("strom server half-close with a node:net client: EOF read, then the answer", async () => {
  const listener = TcpListener.bind("127.0.0.1:0");
  let child: Child | null = null;
  try {
    child = new Child("net_node_client.ts", [
      "127.0.0.1",
      String(listener.localAddr.port),
      "halfclose",
    ]);
    runChecked(function*(): Task<void> {
      const conn = yield* timeout(20_000, listener.accept());
      try {
        const buf = new Uint8Array(64);
        let n = 0;
        for (;;) {
          const k = yield* conn.read(buf.subarray(n));
          if (k === 0) break;
          n += k;
        }
        yield* conn.writeAll(new TextEncoder().encode(`answer to ${n} bytes`));
      } finally {
        conn.close();
      }
    }());
    assert.equal(await child.exited, 0, `client stderr: ${child.stderr}`);
    assert.match(child.stdout, /^got:answer to 8 bytes$/m);
  } finally {
    listener.close();
    await child?.kill();
  }
});

for (const host of ["127.0.0.1", "::1"]) {
  test(`strom client, node:net echo server over ${host}: 2 MB with partial writes`, async () => {
    const child = new Child("net_node_server.ts", [host, "echo"]);
    try {
      const port = Number((await child.line(/^listening on (\d+)$/m))[1]);
      const data = pattern(2 * 1024 * 1024);
      const back = runChecked(function*(): Task<Uint8Array> {
        const conn = yield* TcpStream.connect({ hostname: host, port }, { timeoutMs: 10_000 });
        try {
          conn.setNoDelay(true);
          const msg = new TextEncoder().encode("ping");
          const buf = new Uint8Array(4);
          for (let i = 0; i < 20; i++) {
            yield* conn.writeAll(msg);
            yield* conn.readExact(buf);
            assert.deepEqual(buf, msg);
          }
          const out = new Uint8Array(data.length);
          const [, got] = yield* timeout(
            20_000,
            function*(): Task<[void, number]> {
              const w = yield* awaitAny(
                function*(): Task<void> {
                  yield* conn.writeAll(data);
                  conn.shutdown("write");
                  yield* sleep(60_000); // keep the writer alive; the reader decides
                }(),
                function*(): Task<void> {
                  yield* conn.readExact(out);
                  assert.equal(yield* conn.read(new Uint8Array(1)), 0, "EOF after the echo");
                }(),
              );
              assert.equal(w.index, 1);
              return [undefined, out.length];
            }(),
          );
          assert.equal(got, data.length);
          return out;
        } finally {
          conn.close();
        }
      }());
      assert.ok(Buffer.from(back).equals(Buffer.from(data)));
    } finally {
      await child.kill();
    }
  });
}

test("strom client reads a node:net server's greeting, then EOF", async () => {
  const child = new Child("net_node_server.ts", ["127.0.0.1", "greet"]);
  try {
    const port = Number((await child.line(/^listening on (\d+)$/m))[1]);
    const text = runChecked(function*(): Task<string> {
      const conn = yield* TcpStream.connect(`127.0.0.1:${port}`);
      try {
        const buf = new Uint8Array(100);
        let n = 0;
        for (;;) {
          const k = yield* timeout(10_000, conn.read(buf.subarray(n)));
          if (k === 0) break;
          n += k;
        }
        return new TextDecoder().decode(buf.subarray(0, n));
      } finally {
        conn.close();
      }
    }());
    assert.equal(text, "hello from node");
  } finally {
    await child.kill();
  }
});
