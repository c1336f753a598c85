// UdpSocket over loopback (IPv4 and IPv6): ordering, truncation, connect,
// cancellation and close. Runs on Deno and Bun, on either reactor.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  awaitAll,
  awaitAny,
  type Operation,
  sleep,
  SocketClosedError,
  SysError,
  type Task,
  UdpSocket,
} from "../mod.ts";
import { pattern, runChecked } from "./fixtures/net_util.ts";

function* catching(op: Operation<unknown>): Operation<unknown> {
  try {
    yield* op;
  } catch (error) {
    return error;
  }
  assert.fail("expected the operation to throw");
}

for (const host of ["127.0.0.1", "::1"]) {
  test(`UDP ${host}: 500 datagrams arrive in order with their sender`, () => {
    runChecked(function*(): Task<void> {
      const a = UdpSocket.bind({ hostname: host, port: 0 });
      const b = UdpSocket.bind({ hostname: host, port: 0 });
      try {
        const n = 500;
        const [, seen] = yield* awaitAll(
          function*(): Task<void> {
            const msg = new Uint8Array(4);
            const view = new DataView(msg.buffer);
            for (let i = 0; i < n; i++) {
              view.setUint32(0, i);
              assert.equal(yield* a.sendTo(msg, b.localAddr), 4);
              // Loopback drops nothing unless the receive buffer overflows:
              // pace the sender so it never does.
              if (i % 50 === 49) yield* sleep(1);
            }
          }(),
          function*(): Task<number[]> {
            const buf = new Uint8Array(16);
            const got: number[] = [];
            while (got.length < n) {
              const d = yield* b.recvFrom(buf);
              assert.equal(d.n, 4);
              assert.equal(d.truncated, false);
              assert.deepEqual(d.addr, a.localAddr);
              got.push(new DataView(buf.buffer).getUint32(0));
            }
            return got;
          }(),
        );
        assert.deepEqual(seen, Array.from({ length: 500 }, (_, i) => i));
      } finally {
        a.close();
        b.close();
      }
    }());
  });
}

test("UDP: a datagram larger than the buffer is reported truncated with its size", () => {
  runChecked(function*(): Task<void> {
    const a = UdpSocket.bind("127.0.0.1:0");
    const b = UdpSocket.bind("127.0.0.1:0");
    try {
      const big = pattern(1000);
      yield* a.sendTo(big, b.localAddr);
      yield* a.sendTo(new Uint8Array([1, 2]), b.localAddr);
      const buf = new Uint8Array(100);
      const d = yield* b.recvFrom(buf);
      assert.equal(d.truncated, true);
      assert.equal(d.n, 100);
      assert.equal(d.size, 1000);
      assert.deepEqual(buf, big.subarray(0, 100));
      const e = yield* b.recvFrom(buf);
      assert.deepEqual([e.n, e.truncated, e.size], [2, false, 2], "the next datagram is whole");
      // The connected variant reports truncation too.
      b.connect(a.localAddr);
      a.connect(b.localAddr);
      assert.deepEqual(b.peerAddr, a.localAddr);
      yield* a.send(big);
      assert.deepEqual(yield* b.recv(new Uint8Array(10)), { n: 10, truncated: true });
      yield* a.send(new Uint8Array(3));
      assert.deepEqual(yield* b.recv(new Uint8Array(10)), { n: 3, truncated: false });
    } finally {
      a.close();
      b.close();
    }
  }());
});

test("UDP: connected send to a closed port fails with ECONNREFUSED", () => {
  runChecked(function*(): Task<void> {
    const gone = UdpSocket.bind("127.0.0.1:0");
    const port = gone.localAddr.port;
    gone.close();
    const a = UdpSocket.bind("127.0.0.1:0");
    try {
      a.connect({ hostname: "127.0.0.1", port });
      yield* a.send(new Uint8Array(1)); // the ICMP error comes back asynchronously
      const err = yield* catching(a.recv(new Uint8Array(4)));
      assert.ok(err instanceof SysError, String(err));
      assert.equal(err.code, "ECONNREFUSED");
    } finally {
      a.close();
    }
  }());
});

test("UDP: cancelled recvFrom takes nothing; close wakes a waiting receiver", () => {
  runChecked(function*(): Task<void> {
    const a = UdpSocket.bind("127.0.0.1:0");
    const b = UdpSocket.bind("127.0.0.1:0");
    try {
      const buf = new Uint8Array(8);
      const r = yield* awaitAny(b.recvFrom(buf), sleep(5));
      assert.equal(r.index, 1);
      yield* a.sendTo(new Uint8Array([7]), b.localAddr);
      const d = yield* b.recvFrom(buf);
      assert.deepEqual([d.n, buf[0]], [1, 7]);
      const [err] = yield* awaitAll(
        catching(b.recvFrom(buf)),
        function*(): Task<void> {
          yield* sleep(2);
          b.close();
        }(),
      );
      assert.ok(err instanceof SocketClosedError);
      assert.equal(err.op, "recvFrom");
    } finally {
      a.close();
      b.close();
    }
  }());
});

test("UDP: bad input is a clear error", () => {
  runChecked(function*(): Task<void> {
    assert.throws(() => UdpSocket.bind("1.2.3:5"), TypeError);
    const a = UdpSocket.bind("127.0.0.1:0");
    try {
      const err = yield* catching(a.sendTo(new Uint8Array(1), "[::1]:9"));
      assert.ok(err instanceof TypeError, String(err));
      assert.throws(
        () => a.peerAddr,
        (e: unknown) => e instanceof SysError && e.code === "ENOTCONN",
      );
    } finally {
      a.close();
    }
  }());
});
