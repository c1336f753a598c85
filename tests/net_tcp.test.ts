// TcpListener and TcpStream over real loopback sockets, strom on both ends in
// one thread (the peers nobody here wrote are in net_peers.test.ts). Runs on
// Deno and Bun, on either reactor.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  awaitAll,
  awaitAny,
  ConnectTimeoutError,
  formatSocketAddr,
  type Operation,
  sleep,
  SocketClosedError,
  spawn,
  SysError,
  type Task,
  TcpListener,
  TcpStream,
  timeout,
  TimeoutError,
  toSocketAddr,
  UnexpectedEofError,
  yieldNow,
} from "../mod.ts";
import { libc } from "../src/ffi/mod.ts";
import { TASK_BUDGET } from "../src/sched/scheduler.ts";
import { echoAll, pattern, runChecked, setLingerZero } from "./fixtures/net_util.ts";
import { watchedLoop } from "./helpers/budget.ts";

/** A listener on a free loopback port, and its "host:port" text. */
function listen(host = "127.0.0.1", backlog?: number): [TcpListener, string] {
  const l = TcpListener.bind({ hostname: host, port: 0 }, { backlog });
  const a = l.localAddr;
  return [l, formatSocketAddr(a)];
}

function echoOnce(conn: TcpStream): Operation<number> {
  return echoAll(conn, 64 * 1024);
}

function* readToEnd(conn: TcpStream, into: Uint8Array): Operation<number> {
  let got = 0;
  for (;;) {
    const n = yield* conn.read(got < into.length ? into.subarray(got) : new Uint8Array(1));
    if (n === 0) return got;
    got += n;
  }
}

test("echo round trips over IPv4 with addresses on both ends", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      const [served, client] = yield* awaitAll(
        function*(): Task<[string, number]> {
          const conn = yield* listener.accept();
          const peer = conn.peerAddr;
          return [`${peer.address}:${peer.port}`, yield* echoOnce(conn)];
        }(),
        function*(): Task<string> {
          const conn = yield* TcpStream.connect(addr);
          try {
            assert.deepEqual(conn.peerAddr, toSocketAddr(addr));
            const buf = new Uint8Array(5);
            for (let i = 0; i < 100; i++) {
              const msg = new TextEncoder().encode(`m${String(i).padStart(3, "0")}!`);
              yield* conn.writeAll(msg);
              yield* conn.readExact(buf);
              assert.deepEqual(buf, msg);
            }
            const local = conn.localAddr;
            conn.shutdown("write");
            assert.equal(yield* conn.read(buf), 0, "EOF after the server closed");
            return `${local.address}:${local.port}`;
          } finally {
            conn.close();
          }
        }(),
      );
      assert.equal(served[0], client, "accept's peer address is the client's local address");
      assert.equal(served[1], 500);
    } finally {
      listener.close();
    }
  }());
});

test("IPv6 loopback: bind [::1], connect, echo", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen("::1");
    assert.equal(listener.localAddr.family, "ipv6");
    assert.match(addr, /^\[::1\]:\d+$/);
    try {
      yield* awaitAll(
        function*(): Task<void> {
          yield* echoOnce(yield* listener.accept());
        }(),
        function*(): Task<void> {
          const conn = yield* TcpStream.connect({ hostname: "::1", port: listener.localAddr.port });
          try {
            assert.equal(conn.peerAddr.family, "ipv6");
            assert.equal(conn.localAddr.address, "::1");
            yield* conn.writeAll(new Uint8Array([1, 2, 3]));
            const buf = new Uint8Array(3);
            yield* conn.readExact(buf);
            assert.deepEqual([...buf], [1, 2, 3]);
          } finally {
            conn.close();
          }
        }(),
      );
    } finally {
      listener.close();
    }
  }());
});

test("8 MB each way with small reads: partial reads and writes, bytes intact", () => {
  const size = 8 * 1024 * 1024;
  const data = pattern(size);
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      const [echoed, got] = yield* awaitAll(
        function*(): Task<number> {
          return yield* echoOnce(yield* listener.accept());
        }(),
        function*(): Task<Uint8Array> {
          const conn = yield* TcpStream.connect(addr);
          try {
            const back = new Uint8Array(size);
            const [, n] = yield* awaitAll(
              function*(): Task<void> {
                yield* conn.writeAll(data); // larger than both socket buffers: partial writes
                conn.shutdown("write");
              }(),
              function*(): Task<number> {
                // Reads of at most 1000 bytes at a time: many partial reads.
                let got = 0;
                for (;;) {
                  const n = yield* conn.read(back.subarray(got, Math.min(size, got + 1000)));
                  if (n === 0) return got;
                  got += n;
                }
              }(),
            );
            assert.equal(n, size);
            return back;
          } finally {
            conn.close();
          }
        }(),
      );
      assert.equal(echoed, size);
      assert.ok(Buffer.from(got).equals(Buffer.from(data)), "echoed bytes equal the sent bytes");
    } finally {
      listener.close();
    }
  }());
});

test("writev and writevAll send the buffers in order", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      const parts = [pattern(10, 1), new Uint8Array(0), pattern(300_000, 2), pattern(7, 3)];
      const total = parts.reduce((s, p) => s + p.length, 0);
      const [got] = yield* awaitAll(
        function*(): Task<Uint8Array> {
          const conn = yield* listener.accept();
          try {
            const into = new Uint8Array(total + 1);
            const n = yield* readToEnd(conn, into);
            return into.subarray(0, n);
          } finally {
            conn.close();
          }
        }(),
        function*(): Task<void> {
          const conn = yield* TcpStream.connect(addr);
          try {
            const n = yield* conn.writev([parts[0], parts[1]]);
            assert.equal(n, 10);
            yield* conn.writevAll(parts.slice(2));
            conn.shutdown("write");
          } finally {
            conn.close();
          }
        }(),
      );
      assert.ok(Buffer.from(got).equals(Buffer.concat(parts)));
    } finally {
      listener.close();
    }
  }());
});

test("half-close: the server reads EOF, then still writes its answer", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      const [, answer] = yield* awaitAll(
        function*(): Task<void> {
          const conn = yield* listener.accept();
          try {
            const buf = new Uint8Array(100);
            const n = yield* readToEnd(conn, buf);
            assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "question");
            yield* conn.writeAll(new TextEncoder().encode(`got ${n} bytes`));
          } finally {
            conn.close();
          }
        }(),
        function*(): Task<string> {
          const conn = yield* TcpStream.connect(addr);
          try {
            yield* conn.writeAll(new TextEncoder().encode("question"));
            conn.shutdown("write");
            const buf = new Uint8Array(100);
            const n = yield* readToEnd(conn, buf);
            return new TextDecoder().decode(buf.subarray(0, n));
          } finally {
            conn.close();
          }
        }(),
      );
      assert.equal(answer, "got 8 bytes");
    } finally {
      listener.close();
    }
  }());
});

test("EOF arriving with the last data is seen (short read does not hide it)", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      let sent = false;
      yield* awaitAll(
        function*(): Task<void> {
          const conn = yield* listener.accept();
          // Data and FIN go out together, before the client reads at all.
          yield* conn.writeAll(new Uint8Array([9, 9, 9]));
          conn.close();
          sent = true;
        }(),
        function*(): Task<void> {
          const conn = yield* TcpStream.connect(addr);
          try {
            // Read only once both were sent (on loopback they are queued to
            // this socket by then): waiting for that, not sleeping 20 ms in
            // the hope they were, which a busy machine can outlast.
            while (!sent) yield* yieldNow();
            const buf = new Uint8Array(10);
            assert.equal(yield* conn.read(buf), 3);
            // Bounded: without the hang-up flag this read would wait forever.
            assert.equal(yield* timeout(5000, conn.read(buf)), 0, "EOF, not a hang");
            assert.equal(yield* conn.read(buf), 0, "EOF again");
          } finally {
            conn.close();
          }
        }(),
      );
    } finally {
      listener.close();
    }
  }());
});

test("readExact throws UnexpectedEofError with the count received", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      yield* awaitAll(
        function*(): Task<void> {
          const conn = yield* listener.accept();
          yield* conn.writeAll(new Uint8Array(5));
          conn.close();
        }(),
        function*(): Task<void> {
          const conn = yield* TcpStream.connect(addr);
          try {
            const err = yield* catching(conn.readExact(new Uint8Array(8)));
            assert.ok(err instanceof UnexpectedEofError, String(err));
            assert.equal(err.expected, 8);
            assert.equal(err.received, 5);
          } finally {
            conn.close();
          }
        }(),
      );
    } finally {
      listener.close();
    }
  }());
});

function* catching(op: Operation<unknown>): Operation<unknown> {
  try {
    yield* op;
  } catch (error) {
    return error;
  }
  assert.fail("expected the operation to throw");
}

test("peer reset: read throws ECONNRESET, write throws EPIPE/ECONNRESET (no SIGPIPE)", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      yield* awaitAll(
        function*(): Task<void> {
          const conn = yield* listener.accept();
          yield* conn.readExact(new Uint8Array(1)); // the client is connected
          setLingerZero(conn.fd);
          conn.close(); // RST
        }(),
        function*(): Task<void> {
          const conn = yield* TcpStream.connect(addr);
          try {
            yield* conn.writeAll(new Uint8Array([1]));
            const err = yield* catching(conn.read(new Uint8Array(10)));
            assert.ok(err instanceof SysError, String(err));
            assert.equal(err.code, "ECONNRESET");
            // Writing to the reset connection: an error, and the process lives.
            const big = new Uint8Array(1 << 20);
            const werr = yield* catching(function*(): Operation<void> {
              for (let i = 0; i < 10; i++) yield* conn.writeAll(big);
            }());
            assert.ok(werr instanceof SysError, String(werr));
            assert.ok(["EPIPE", "ECONNRESET"].includes(werr.code), werr.code);
          } finally {
            conn.close();
          }
        }(),
      );
    } finally {
      listener.close();
    }
  }());
});

test("connect to a closed port throws ECONNREFUSED (IPv4 and IPv6)", () => {
  runChecked(function*(): Task<void> {
    for (const host of ["127.0.0.1", "::1"]) {
      const [l, addr] = listen(host);
      l.close(); // the port is now free, nobody listens
      const err = yield* catching(TcpStream.connect(addr));
      assert.ok(err instanceof SysError, String(err));
      assert.equal(err.code, "ECONNREFUSED");
      assert.equal(err.call, "connect");
    }
  }());
});

test("connect time-out against a listener whose backlog is full", () => {
  runChecked(function*(): Task<void> {
    // backlog 0 never accepted: the kernel drops SYNs once its accept queue
    // is full, so a further connect stays in SYN_SENT until timeoutMs.
    const [listener, addr] = listen("127.0.0.1", 0);
    const conns: TcpStream[] = [];
    let timedOut: unknown = null;
    try {
      for (let i = 0; i < 16 && timedOut === null; i++) {
        try {
          conns.push(yield* TcpStream.connect(addr, { timeoutMs: 150 }));
        } catch (error) {
          timedOut = error;
        }
      }
      assert.ok(timedOut instanceof ConnectTimeoutError, `a connect timed out: ${timedOut}`);
      assert.equal(timedOut.ms, 150);
    } finally {
      for (const c of conns) c.close();
      listener.close();
    }
  }());
});

test("1000 concurrent connections on one thread, each echoing", () => {
  const n = 1000;
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      const server = yield* spawn(function*(): Task<number> {
        const handlers = [];
        for (let i = 0; i < n; i++) handlers.push(yield* spawn(echoOnce(yield* listener.accept())));
        let total = 0;
        for (const h of handlers) total += yield* h.join();
        return total;
      }());
      const clients = [];
      for (let i = 0; i < n; i++) {
        clients.push(function*(): Task<number> {
          const conn = yield* TcpStream.connect(addr);
          try {
            const msg = pattern(64, i);
            const buf = new Uint8Array(64);
            for (let r = 0; r < 3; r++) {
              yield* conn.writeAll(msg);
              yield* conn.readExact(buf);
              assert.deepEqual(buf, msg);
            }
            return 3;
          } finally {
            conn.close();
          }
        }());
      }
      const rounds = yield* awaitAll(clients);
      assert.equal(rounds.reduce((a, b) => a + b, 0), 3 * n);
      assert.equal(yield* server.join(), 3 * 64 * n);
    } finally {
      listener.close();
    }
  }());
});

test("cancelled read leaves the stream usable; cancelled accept leaves the listener usable", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      const err = yield* catching(timeout(10, listener.accept()));
      assert.ok(err instanceof TimeoutError);
      const [server, client] = yield* awaitAll(listener.accept(), TcpStream.connect(addr));
      try {
        const buf = new Uint8Array(4);
        const r = yield* awaitAny(server.read(buf), sleep(10));
        assert.equal(r.index, 1, "the read waited (nothing sent) and was cancelled");
        yield* client.writeAll(new Uint8Array([4, 3, 2, 1]));
        yield* server.readExact(buf);
        assert.deepEqual([...buf], [4, 3, 2, 1], "the next read gets the data");
        // A cancelled write (send buffer full) leaves it usable too.
        const big = new Uint8Array(4 << 20);
        const w = yield* awaitAny(server.writeAll(big), sleep(20));
        assert.equal(w.index, 1, "writeAll of 4 MB to a peer that does not read waits");
      } finally {
        server.close();
        client.close();
      }
    } finally {
      listener.close();
    }
  }());
});

test("cancelled connect closes its socket (no fd leaks)", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen("127.0.0.1", 0);
    const conns: TcpStream[] = [];
    try {
      // Fill the backlog, then cancel connects that cannot complete.
      for (let i = 0; i < 16; i++) {
        const r = yield* awaitAny(TcpStream.connect(addr), sleep(100));
        if (r.index === 1) break;
        conns.push(r.value as TcpStream);
      }
      for (let i = 0; i < 5; i++) {
        const r = yield* awaitAny(TcpStream.connect(addr), sleep(5));
        assert.equal(r.index, 1, "connect cancelled");
      }
    } finally {
      for (const c of conns) c.close();
      listener.close();
    }
  }());
});

test("closing a socket wakes the task waiting on it with SocketClosedError", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    const [accepted, errs] = yield* awaitAll(
      function*(): Task<unknown> {
        return yield* catching(listener.accept());
      }(),
      function*(): Task<unknown[]> {
        yield* yieldNow();
        yield* yieldNow();
        listener.close(); // the other task waits in accept
        return [];
      }(),
    );
    assert.ok(accepted instanceof SocketClosedError, String(accepted));
    assert.equal(accepted.op, "accept");
    assert.equal(listener.closed, true);
    assert.deepEqual(errs, []);
    listener.close(); // idempotent

    const [l2, addr2] = listen();
    try {
      const [a, b] = yield* awaitAll(l2.accept(), TcpStream.connect(addr2));
      const [readErr] = yield* awaitAll(
        function*(): Task<unknown> {
          return yield* catching(a.read(new Uint8Array(8)));
        }(),
        function*(): Task<void> {
          yield* sleep(5);
          a.close();
        }(),
      );
      assert.ok(readErr instanceof SocketClosedError, String(readErr));
      assert.equal(readErr.op, "read");
      b.close();
    } finally {
      l2.close();
    }
    void addr;
  }());
});

test("socket options: noDelay, keepAlive with timings, shutdown validation", () => {
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      const [a, b] = yield* awaitAll(listener.accept(), TcpStream.connect(addr));
      try {
        assert.equal(b.noDelay, false);
        b.setNoDelay(true);
        assert.equal(b.noDelay, true);
        assert.equal(b.keepAlive, false);
        b.setKeepAlive({ idleSecs: 30, intervalSecs: 5, count: 3 });
        assert.equal(b.keepAlive, true);
        b.setKeepAlive(false);
        assert.equal(b.keepAlive, false);
        assert.throws(() => b.setKeepAlive({ idleSecs: 0 }), RangeError);
        assert.throws(() => b.shutdown("sideways" as "read"), TypeError);
        b.shutdown("both");
        assert.equal(yield* b.read(new Uint8Array(4)), 0, "read after shutdown(both) is EOF");
        assert.equal(yield* a.read(new Uint8Array(4)), 0, "the peer sees EOF");
      } finally {
        a.close();
        b.close();
      }
    } finally {
      listener.close();
    }
  }());
});

test("bad input is a clear error, not a halt", () => {
  runChecked(function*(): Task<void> {
    assert.throws(() => TcpListener.bind("127.0.0.1"), /no port/);
    assert.throws(() => TcpListener.bind("127.0.0.1:99999"), /port/);
    assert.throws(() => TcpListener.bind({ hostname: "127.0.0.1", port: -1 }), RangeError);
    assert.throws(
      () => TcpListener.bind({ hostname: "example.com", port: 80 }),
      /host name "example.com".*lookupHost/,
    );
    assert.throws(() => TcpListener.bind("::1:80"), /brackets/);
    assert.throws(() => TcpListener.bind("127.0.0.1:0", { backlog: -1 }), RangeError);
    const err = yield* catching(TcpStream.connect("127.0.0.1:0", { timeoutMs: -5 }));
    assert.ok(err instanceof RangeError);
    assert.deepEqual(toSocketAddr("localhost:80"), {
      family: "ipv4",
      address: "127.0.0.1",
      port: 80,
    });
    assert.deepEqual(toSocketAddr({ hostname: "[::1]", port: 1 }), {
      family: "ipv6",
      address: "::1",
      port: 1,
    });
    // A port in use: EADDRINUSE as a SysError (reuse-address does not allow two listeners).
    const [l, addr] = listen();
    try {
      assert.throws(() => TcpListener.bind(addr), (e: unknown) => {
        return e instanceof SysError && e.code === "EADDRINUSE";
      });
      const l2 = TcpListener.bind("127.0.0.1:0", { reusePort: true });
      const shared = TcpListener.bind(`127.0.0.1:${l2.localAddr.port}`, { reusePort: true });
      shared.close();
      l2.close();
    } finally {
      l.close();
    }
  }());
});

test("urgent (out-of-band) data does not stall the stream: the rest after the mark is read", () => {
  const MSG_OOB = 1;
  runChecked(function*(): Task<void> {
    const [listener, addr] = listen();
    try {
      const [server, client] = yield* awaitAll(listener.accept(), TcpStream.connect(addr));
      try {
        const buf = new Uint8Array(1024);
        // The server waits first (EAGAIN), so the readiness the kernel reports
        // for the data below is consumed before the short read at the mark.
        const got = yield* awaitAll(
          function*(): Task<string> {
            let text = "";
            while (text.length < 6) {
              const n = yield* timeout(10_000, server.read(buf));
              if (n === 0) break;
              text += new TextDecoder().decode(buf.subarray(0, n));
            }
            return text;
          }(),
          function*(): Task<void> {
            yield* yieldNow();
            const send = (text: string, flags: number) => {
              const bytes = new TextEncoder().encode(text);
              assert.equal(libc.send(client.fd, bytes, bytes.length, flags), bytes.length);
            };
            send("abc", 0);
            send("X", MSG_OOB); // the urgent byte: a read stops short at its mark
            send("def", 0);
          }(),
        );
        assert.equal(got[0], "abcdef", "in-band data on both sides of the urgent mark");
      } finally {
        server.close();
        client.close();
      }
    } finally {
      listener.close();
    }
  }());
});

test("bad integers and buffers are refused before they reach the FFI (same on both hosts)", () => {
  runChecked(function*(): Task<void> {
    for (const fd of [1000.5, -1, NaN, Infinity, 2 ** 31, "3", null, undefined]) {
      assert.throws(
        () => TcpStream.fromFd(fd as number),
        (e: unknown) =>
          (e instanceof TypeError || e instanceof RangeError) && /fd must be/.test(e.message),
        `fromFd(${String(fd)})`,
      );
    }
    const [listener, addr] = listen();
    try {
      const [server, client] = yield* awaitAll(listener.accept(), TcpStream.connect(addr));
      try {
        yield* client.writeAll(new Uint8Array([1, 2, 3, 4]));
        const notBytes: unknown[] = [
          new ArrayBuffer(8),
          new DataView(new ArrayBuffer(8)),
          new Uint16Array(4),
          [1, 2, 3],
          "abcd",
          null,
        ];
        for (const bad of notBytes) {
          const what = Object.prototype.toString.call(bad);
          const asBytes = bad as Uint8Array;
          for (
            const op of [
              () => server.read(asBytes),
              () => server.readExact(asBytes),
              () => client.write(asBytes),
              () => client.writeAll(asBytes),
              () => client.writev([asBytes]),
            ]
          ) {
            const err = yield* catching(op());
            assert.ok(err instanceof TypeError, `${what}: ${err}`);
            assert.match((err as Error).message, /Uint8Array/, what);
          }
        }
        for (const len of [1.5, -1, NaN, 5, "2"]) {
          const err = yield* catching(client.write(new Uint8Array(4), len as number));
          assert.ok(err instanceof TypeError || err instanceof RangeError, `length ${len}`);
        }
        // Nothing was lost: the 4 bytes are still there.
        const buf = new Uint8Array(4);
        yield* server.readExact(buf);
        assert.deepEqual([...buf], [1, 2, 3, 4]);
        assert.throws(() => server.setNoDelay("yes" as unknown as boolean), TypeError);
      } finally {
        server.close();
        client.close();
      }
    } finally {
      listener.close();
    }
  }());
});

test("the cooperative budget: writeAll on a socket that always has room lets other tasks run", () => {
  const n = 10 * TASK_BUDGET; // 1-byte writes: far below the send buffer
  const listener = TcpListener.bind({ hostname: "127.0.0.1", port: 0 });
  const between = runChecked(function*() {
    try {
      const client = yield* TcpStream.connect(listener.localAddr);
      const server = yield* listener.accept();
      try {
        const one = new Uint8Array(1);
        return yield* watchedLoop(n, () => client.writeAll(one));
      } finally {
        client.close();
        server.close();
      }
    } finally {
      listener.close();
    }
  }());
  assert.ok(between.length >= 5, `the watcher saw ${between}`);
});
