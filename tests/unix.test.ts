// Unix domain sockets (UnixListener, UnixStream, UnixDatagram) on filesystem
// paths and abstract names, built on the public AsyncFd. Runs on Deno and
// Bun, on either reactor, like the TCP tests.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, unlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import {
  awaitAll,
  awaitAny,
  formatUnixAddr,
  type Operation,
  sleep,
  SocketClosedError,
  SysError,
  type Task,
  timeout,
  UnexpectedEofError,
  UnixDatagram,
  UnixListener,
  UnixStream,
  yieldNow,
} from "../mod.ts";
import { libc, MSG_OOB } from "../src/ffi/mod.ts";
import { runChecked } from "./helpers/fds.ts";
import { testLibc } from "./helpers/test_libc.ts";

function* catching(op: Operation<unknown>): Operation<unknown> {
  try {
    yield* op;
  } catch (error) {
    return error;
  }
  assert.fail("expected the operation to throw");
}

/** A fresh temp directory for socket paths, removed after `body`. */
function withDir(body: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), "strom-unix-"));
  try {
    body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A unique abstract name per test run (abstract names are machine-wide). */
function abstractName(tag: string): string {
  return `strom-test-${tag}-${testLibc.getpid()}-${Math.random().toString(36).slice(2)}`;
}

function* echoUntilEof(conn: UnixStream): Operation<number> {
  const buf = new Uint8Array(4096);
  let total = 0;
  try {
    for (;;) {
      const n = yield* conn.read(buf);
      if (n === 0) return total;
      total += n;
      yield* conn.writeAll(buf, n);
    }
  } finally {
    conn.close();
  }
}

for (const where of ["path", "abstract"] as const) {
  test(`UnixStream over a${where === "path" ? " filesystem path" : "n abstract name"}: echo, EOF, addresses, peer credentials`, () => {
    withDir((dir) => {
      const addr = where === "path"
        ? join(dir, "echo.sock")
        : { abstract: abstractName("echo") };
      runChecked(function*(): Task<void> {
        const listener = UnixListener.bind(addr);
        try {
          const local = listener.localAddr;
          assert.equal(local.kind, where);
          const [served, clientSide] = yield* awaitAll(
            function*(): Task<[number, number]> {
              const conn = yield* listener.accept();
              const cred = conn.peerCredentials;
              assert.equal(cred.pid, testLibc.getpid(), "the peer is this process");
              return [cred.uid, yield* echoUntilEof(conn)];
            }(),
            function*(): Task<string> {
              const conn = yield* UnixStream.connect(addr);
              try {
                assert.equal(formatUnixAddr(conn.peerAddr), formatUnixAddr(local));
                assert.equal(conn.localAddr.kind, "unnamed");
                const big = new Uint8Array(300_000).map((_, i) => i % 251);
                const back = new Uint8Array(big.length);
                yield* awaitAll(conn.writeAll(big), conn.readExact(back));
                assert.deepEqual(back, big, "300 kB echoed intact (partial reads and writes)");
                conn.shutdown("write");
                assert.equal(yield* conn.read(back), 0, "EOF after the server closed");
                return "done";
              } finally {
                conn.close();
              }
            }(),
          );
          assert.equal(served[1], 300_000);
          assert.equal(clientSide, "done");
          assert.equal(typeof served[0], "number");
        } finally {
          listener.close();
        }
        if (where === "path") {
          assert.ok(existsSync(addr as string), "close leaves the path (the user's to unlink)");
          assert.throws(
            () => UnixListener.bind(addr),
            (e: unknown) => e instanceof SysError && e.code === "EADDRINUSE",
          );
          unlinkSync(addr as string);
          UnixListener.bind(addr).close(); // free again once unlinked
        }
      }());
    });
  });
}

test("UnixStream.pair: readExact, UnexpectedEofError, urgent data does not stall the reader", () => {
  runChecked(function*(): Task<void> {
    const [a, b] = UnixStream.pair();
    try {
      yield* a.writeAll(new Uint8Array([1, 2, 3]));
      a.shutdown("write");
      const buf = new Uint8Array(5);
      const err = yield* catching(b.readExact(buf));
      assert.ok(err instanceof UnexpectedEofError);
      assert.equal(err.received, 3);
    } finally {
      a.close();
      b.close();
    }
    const [c, d] = UnixStream.pair();
    try {
      const buf = new Uint8Array(64);
      const [text] = yield* awaitAll(
        function*(): Task<string> {
          let s = "";
          while (s.length < 6) {
            const n = yield* timeout(10_000, d.read(buf));
            s += new TextDecoder().decode(buf.subarray(0, n));
          }
          return s;
        }(),
        function*(): Task<void> {
          yield* yieldNow();
          const send = (t: string, flags: number) => {
            const bytes = new TextEncoder().encode(t);
            return libc.send(c.fd, bytes, bytes.length, flags);
          };
          send("abc", 0);
          // Unix stream sockets take MSG_OOB since Linux 5.15 (EOPNOTSUPP before).
          send("X", MSG_OOB);
          send("def", 0);
        }(),
      );
      assert.match(text, /^abcX?def$/);
    } finally {
      c.close();
      d.close();
    }
  }());
});

test("closing a Unix socket wakes the task waiting on it with SocketClosedError", () => {
  withDir((dir) => {
    runChecked(function*(): Task<void> {
      const listener = UnixListener.bind(join(dir, "l.sock"));
      const [a, b] = UnixStream.pair();
      const dgram = UnixDatagram.bind({ abstract: abstractName("close") });
      const errs = yield* awaitAll(
        catching(listener.accept()),
        catching(a.read(new Uint8Array(8))),
        catching(dgram.recvFrom(new Uint8Array(8))),
        function*(): Task<void> {
          yield* yieldNow();
          listener.close();
          a.close();
          dgram.close();
        }(),
      );
      b.close();
      for (const [i, op] of [[0, "accept"], [1, "read"], [2, "recvFrom"]] as const) {
        const e = errs[i];
        assert.ok(e instanceof SocketClosedError, `${op}: ${e}`);
        assert.equal(e.op, op);
      }
    }());
  });
});

test("UnixDatagram: sendTo/recvFrom with the sender's address, truncation, connect, pair", () => {
  withDir((dir) => {
    runChecked(function*(): Task<void> {
      const server = UnixDatagram.bind(join(dir, "server.sock"));
      const client = UnixDatagram.bind({ abstract: abstractName("client") });
      const anon = UnixDatagram.unbound();
      const [p, q] = UnixDatagram.pair();
      try {
        const buf = new Uint8Array(4);
        assert.equal(yield* client.sendTo(new Uint8Array([1, 2, 3]), join(dir, "server.sock")), 3);
        const got = yield* server.recvFrom(buf);
        assert.equal(got.n, 3);
        assert.equal(got.truncated, false);
        assert.deepEqual(got.addr, client.localAddr);
        yield* anon.sendTo(new Uint8Array(10), join(dir, "server.sock"));
        const big = yield* server.recvFrom(buf);
        assert.deepEqual([big.n, big.size, big.truncated], [4, 10, true]);
        assert.equal(big.addr.kind, "unnamed");
        // Reply to the bound client by the address it came from.
        yield* server.sendTo(new Uint8Array([9]), got.addr);
        assert.equal((yield* client.recvFrom(buf)).n, 1);
        anon.connect(join(dir, "server.sock"));
        yield* anon.send(new Uint8Array([7, 7]));
        assert.equal((yield* server.recvFrom(buf)).n, 2);
        yield* p.send(new Uint8Array([5]));
        assert.deepEqual(yield* q.recv(buf), { n: 1, truncated: false });
        assert.equal(q.peerCredentials.pid, testLibc.getpid());
        // A cancelled receive takes nothing.
        const r = yield* awaitAny(q.recv(buf), sleep(5));
        assert.equal(r.index, 1);
        yield* p.send(new Uint8Array([6]));
        assert.deepEqual(yield* q.recv(buf), { n: 1, truncated: false });
        assert.equal(buf[0], 6);
        const err = yield* catching(anon.sendTo(new Uint8Array(1), join(dir, "nobody.sock")));
        assert.ok(err instanceof SysError && err.code === "ENOENT", String(err));
      } finally {
        for (const s of [server, client, anon, p, q]) s.close();
      }
    }());
  });
});

test("Unix sockets: bad input is a clear error, nothing leaks", () => {
  runChecked(function*(): Task<void> {
    assert.throws(() => UnixListener.bind(""), RangeError);
    assert.throws(() => UnixListener.bind("x".repeat(108)), /limit is 107/);
    assert.throws(() => UnixListener.bind("/tmp/a\0b"), /NUL/);
    assert.throws(() => UnixListener.bind(42 as unknown as string), TypeError);
    assert.throws(() => UnixListener.bind({ abstract: 5 } as unknown as string), TypeError);
    assert.throws(() => UnixListener.bind({ abstract: "x" }, { backlog: 1.5 }), RangeError);
    assert.throws(
      () => UnixListener.bind("/nonexistent-dir-strom/x.sock"),
      (e: unknown) => e instanceof SysError && e.code === "ENOENT",
    );
    const err = yield* catching(UnixStream.connect({ abstract: abstractName("nobody") }));
    assert.ok(err instanceof SysError && err.code === "ECONNREFUSED", String(err));
    const [a, b] = UnixStream.pair();
    try {
      const e2 = yield* catching(a.read(new ArrayBuffer(4) as unknown as Uint8Array));
      assert.ok(e2 instanceof TypeError && /Uint8Array/.test(e2.message));
      const e3 = yield* catching(a.write(new Uint8Array(4), 9));
      assert.ok(e3 instanceof RangeError);
      assert.throws(() => a.shutdown("sideways" as "read"), TypeError);
    } finally {
      a.close();
      b.close();
    }
  }());
});

test("the Unix sockets use AsyncFd's public face only (nothing private of the socket layer)", async () => {
  const { readFileSync } = await import("node:fs");
  const src = (f: string) => readFileSync(new URL(`../src/net/${f}`, import.meta.url), "utf8");
  const publicNames = new Set(Object.keys(await import("../mod.ts")));
  // Type-only exports are erased at run time; these are the public ones used.
  for (const t of ["Operation", "ShutdownHow"]) publicNames.add(t);
  // Helpers that are themselves written on AsyncFd's public methods (accept)
  // or touch no fd at all (argument checks), and the Unix modules themselves.
  const neutral = /^\.\/(accept|check|unix_[a-z]+)\.ts$|^\.\.\/ffi\/mod\.ts$/;
  for (
    const file of [
      "unix_addr.ts",
      "unix_fd.ts",
      "unix_stream.ts",
      "unix_listener.ts",
      "unix_datagram.ts",
      "accept.ts",
    ]
  ) {
    for (const m of src(file).matchAll(/import\s+(?:type\s+)?\{([^}]*)\}\s+from\s+"([^"]+)"/g)) {
      if (neutral.test(m[2])) continue;
      for (const raw of m[1].split(",")) {
        const name = raw.replace(/\btype\b/, "").trim();
        if (name === "") continue;
        assert.ok(
          publicNames.has(name),
          `${file} imports ${name} from ${m[2]}, which is not public`,
        );
      }
    }
  }
  assert.doesNotMatch(src("accept.ts"), /adoptFd|IoSource|#source/);
});
