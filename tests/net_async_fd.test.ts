// AsyncFd, the public extension point: a user's own fd (a pipe, an eventfd)
// registered with the thread's reactor, waited on with the same rules as
// strom's sockets. Runs on Deno and Bun, on either reactor.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  AsyncFd,
  awaitAll,
  awaitAny,
  type Operation,
  Rule,
  sleep,
  SocketClosedError,
  spawn,
  SysError,
  type Task,
  yieldNow,
} from "../mod.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK, libc, O_CLOEXEC, O_NONBLOCK } from "../src/ffi/mod.ts";
import { assertHalts } from "./helpers/child.ts";
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

/** A pipe's [read end, write end] fds with `flags` (O_NONBLOCK unless told). */
function pipe(flags = O_NONBLOCK | O_CLOEXEC): [number, number] {
  const fds = new Int32Array(2);
  assert.equal(testLibc.pipe2(fds, flags), 0, "pipe2");
  return [fds[0], fds[1]];
}

/** A pipe wrapped: reads and writes written by the user with readWith/writeWith. */
class Pipe {
  readonly r: AsyncFd;
  readonly w: AsyncFd;
  constructor() {
    const [r, w] = pipe();
    this.r = new AsyncFd(r, { name: "PipeReader" });
    this.w = new AsyncFd(w, { name: "PipeWriter" });
  }
  read(buf: Uint8Array): Operation<number> {
    const fd = this.r.fd;
    // A pipe read returns short only when the pipe is empty: pass the length.
    return this.r.readWith("read", () => libc.read(fd, buf, buf.length), buf.length);
  }
  write(buf: Uint8Array): Operation<number> {
    const fd = this.w.fd;
    return this.w.writeWith("write", () => libc.write(fd, buf, buf.length), buf.length);
  }
  close(): void {
    this.r.close();
    this.w.close();
  }
}

test("AsyncFd on a pipe: a read waits for the writer; 1 MB through a 64 kB pipe; EOF", () => {
  runChecked(function*(): Task<void> {
    const p = new Pipe();
    try {
      const total = 1 << 20;
      const [got] = yield* awaitAll(
        function*(): Task<number> {
          const buf = new Uint8Array(10_000);
          let n = 0;
          for (;;) {
            const k = yield* p.read(buf);
            if (k === 0) return n;
            for (let i = 0; i < k; i++) assert.equal(buf[i], (n + i) % 253);
            n += k;
          }
        }(),
        function*(): Task<void> {
          const data = new Uint8Array(total).map((_, i) => i % 253);
          let off = 0;
          while (off < total) off += yield* p.write(data.subarray(off));
          p.w.close(); // the reader sees EOF
        }(),
      );
      assert.equal(got, total);
    } finally {
      p.close();
    }
  }());
});

test("AsyncFd: tryReadWith/tryWriteWith never wait; -1 clears the readiness until the reactor reports it", () => {
  runChecked(function*(): Task<void> {
    const p = new Pipe();
    try {
      const buf = new Uint8Array(8);
      const readOnce = () => libc.read(p.r.fd, buf, buf.length);
      let calls = 0;
      const counted = () => {
        calls++;
        return readOnce();
      };
      assert.equal(p.r.tryReadWith("read", counted, buf.length), -1, "empty pipe: would block");
      assert.equal(p.r.tryReadWith("read", counted, buf.length), -1);
      assert.equal(calls, 1, "the second try did not call the syscall: readiness is clear");
      const data = new Uint8Array([1, 2, 3]);
      assert.equal(p.w.tryWriteWith("write", () => libc.write(p.w.fd, data, 3), 3), 3);
      yield* p.r.readable(); // the reactor reports the data
      assert.equal(p.r.tryReadWith("read", counted, buf.length), 3);
      assert.deepEqual([...buf.subarray(0, 3)], [1, 2, 3]);
      // Short (3 < 8) on a pipe: drained, so the next try calls nothing.
      assert.equal(p.r.tryReadWith("read", counted, buf.length), -1);
      assert.equal(calls, 2);
    } finally {
      p.close();
    }
  }());
});

test("AsyncFd: readable()/clearReadable() for a hand-written loop; the eventfd example", () => {
  runChecked(function*(): Task<void> {
    const efd = new AsyncFd(libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), { name: "EventFd" });
    try {
      const counter = new Uint8Array(8);
      // Cached readiness starts true: the first try meets EAGAIN and clears it.
      yield* efd.readable();
      assert.equal(libc.read(efd.fd, counter, 8), -1, "nothing to read yet");
      efd.clearReadable();
      const r = yield* awaitAny(efd.readable(), sleep(10));
      assert.equal(r.index, 1, "readable() waits once cleared");
      yield* spawn(function*(): Task<void> {
        yield* yieldNow();
        const one = new Uint8Array(8);
        one[0] = 3;
        yield* efd.writeWith("write", () => libc.write(efd.fd, one, 8));
      }());
      yield* efd.readable();
      assert.equal(yield* efd.readWith("read", () => libc.read(efd.fd, counter, 8)), 8);
      assert.equal(counter[0], 3);
    } finally {
      efd.close();
    }
  }());
});

test("AsyncFd: close wakes the waiters (read, write, pause) with SocketClosedError; release keeps the fd", () => {
  runChecked(function*(): Task<void> {
    const p = new Pipe(); // empty: its reader waits
    const q = new Pipe(); // full: its writer waits
    const full = new Uint8Array(1 << 20);
    while (libc.write(q.w.fd, full, full.length) > 0);
    q.w.clearWritable();
    const [r2, w2] = pipe();
    const other = new AsyncFd(r2);
    libc.close(w2);
    const errs = yield* awaitAll(
      catching(p.read(new Uint8Array(4))),
      catching(q.write(new Uint8Array(4))),
      catching(other.pause(60_000)),
      function*(): Task<void> {
        yield* yieldNow();
        p.close();
        q.close();
        other.close();
      }(),
    );
    assert.ok(errs[0] instanceof SocketClosedError && errs[0].op === "read", String(errs[0]));
    assert.ok(errs[1] instanceof SocketClosedError && errs[1].op === "write", String(errs[1]));
    assert.ok(errs[2] instanceof SocketClosedError && errs[2].op === "pause", String(errs[2]));
    // release: deregistered, the fd stays open and is the caller's again.
    const [r, w] = pipe();
    const a = new AsyncFd(r);
    assert.equal(a.release(), r);
    assert.ok(a.closed);
    assert.equal(libc.fcntl(r, 3, /* F_GETFL */ 0) >= 0, true, "still open after release");
    libc.close(r);
    libc.close(w);
  }());
});

test("AsyncFd: bad fds are refused with a clear error and stay the caller's", () => {
  runChecked(function*(): Task<void> {
    for (const bad of [1.5, -1, NaN, 2 ** 31]) {
      assert.throws(() => new AsyncFd(bad), RangeError, String(bad));
    }
    for (const bad of ["3", null, undefined, 3n]) {
      assert.throws(() => new AsyncFd(bad as unknown as number), /fd must be a number/);
    }
    const [r, w] = pipe(O_CLOEXEC); // blocking
    try {
      assert.throws(() => new AsyncFd(r), /blocking; set O_NONBLOCK/);
      assert.ok(libc.fcntl(r, 3, /* F_GETFL */ 0) >= 0, "left open");
    } finally {
      libc.close(r);
      libc.close(w);
    }
    const [r2, w2] = pipe();
    libc.close(r2);
    libc.close(w2);
    assert.throws(
      () => new AsyncFd(r2),
      (e: unknown) => e instanceof SysError && e.code === "EBADF",
    );
    const [r3, w3] = pipe();
    const a = new AsyncFd(r3);
    try {
      const err = yield* catching(a.pause(-1));
      assert.ok(err instanceof RangeError);
      // An attempt that fails with its own errno (EBADF). Returning -1 without
      // a call read whatever errno the thread's last libc call left: EAGAIN
      // there made the read wait forever (a CI hang on Deno).
      const err2 = yield* catching(a.readWith("read", () => libc.fcntl(-1, 3, /* F_GETFL */ 0)));
      assert.ok(err2 instanceof SysError && err2.code === "EBADF", String(err2));
    } finally {
      a.close();
      libc.close(w3);
    }
    yield* sleep(0);
  }());
});

test("AsyncFd used after close halts (socket-used-after-close), naming the user's type", () => {
  const r = assertHalts("net_async_fd_after_close", Rule.UseAfterClose);
  assert.match(r.stderr, /PipeReader\.read on fd \d+ after close\(\)/);
});
