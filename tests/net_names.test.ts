// Host names (issue 10 item 5): `lookupHost`, and `TcpStream.connect` /
// `UdpSocket.sendTo` given a name, resolved by the host's resolver through
// the bridge (`until`) without blocking the thread. The loopback is the only
// network here: the names come from /etc/hosts. The synchronous binds take
// no names (they say how to resolve first), and under the blocking `run()`
// a name is a clear error, not a halt.
import assert from "node:assert/strict";
import { lookup } from "node:dns/promises";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import {
  awaitAll,
  awaitAny,
  formatSocketAddr,
  lookupHost,
  ResolveError,
  rootTask,
  run,
  runAsync,
  Runtime,
  SysError,
  type Task,
  TcpListener,
  TcpStream,
  timeout,
  TimeoutError,
  UdpSocket,
  until,
  yieldNow,
} from "../mod.ts";
import { host } from "../src/ffi/mod.ts";
import { type ResolvedAddress, setResolverForTesting } from "../src/net/resolve.ts";
import { threadScheduler } from "../src/sched/current.ts";
import { connectByNameOnWorker } from "./fixtures/names_tasks.ts";
import { fdTable, openFds } from "./helpers/fds.ts";

/**
 * A name /etc/hosts maps to a loopback address (other than localhost, which
 * strom never asks the resolver about), and what the host's resolver says
 * of it. Every Linux /etc/hosts seen has one (`ip6-localhost`, the machine's
 * own name, ...).
 */
function loopbackName(): { name: string; addresses: string[] } {
  for (const line of readFileSync("/etc/hosts", "utf8").split("\n")) {
    const [ip, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (ip === undefined || !(ip.startsWith("127.") || ip === "::1")) continue;
    for (const name of names) {
      if (/^[a-z][a-z0-9-]*$/i.test(name) && !/^localhost$/i.test(name)) {
        return { name, addresses: [] };
      }
    }
  }
  throw new Error("no loopback name other than localhost in /etc/hosts");
}

const HOSTS = loopbackName();
HOSTS.addresses = (await lookup(HOSTS.name, { all: true, verbatim: true })).map((a) => a.address);
const NAME = HOSTS.name;
const UNKNOWN = "no-such-host.invalid"; // RFC 6761: .invalid never resolves

// Warm up once: this thread's off-thread poller (on Bun a helper Worker)
// and the host's resolver machinery live as long as the thread; start them
// before any fd is counted.
await runAsync(function*(): Task<void> {
  yield* lookupHost(`${NAME}:1`);
  yield* until(new Promise((resolve) => setTimeout(resolve, 5)));
}());

/** Runs `task` with runAsync and checks it left no fd open. */
async function runAsyncChecked<T>(task: Task<T>): Promise<T> {
  threadScheduler();
  const before = fdTable();
  try {
    return await runAsync(task);
  } finally {
    const leaked = [...fdTable()].filter(([fd, what]) => before.get(fd) !== what);
    assert.deepEqual(leaked, [], "fds opened by the test and still open");
  }
}

/** Runs `fn` expecting it to throw, and returns what it threw. */
function* thrown(fn: () => Task<unknown>): Task<unknown> {
  try {
    yield* fn();
  } catch (error) {
    return error;
  }
  throw new Error("expected an error");
}

test("lookupHost: a name from /etc/hosts gives the host resolver's addresses; literals need no resolver", async () => {
  await runAsyncChecked(function*(): Task<void> {
    const addrs = yield* lookupHost(`${NAME}:8080`);
    assert.deepEqual(addrs.map((a) => a.address), HOSTS.addresses);
    assert.ok(addrs.every((a) => a.port === 8080));
    const byObject = yield* lookupHost({ hostname: NAME, port: 80 });
    assert.deepEqual(byObject.map((a) => a.address), HOSTS.addresses);
    assert.deepEqual(yield* lookupHost("[::1]:9"), [{ family: "ipv6", address: "::1", port: 9 }]);
  }());
  // Literals and localhost resolve under the blocking run() too: no resolver.
  const literal = run(function*(): Task<string[]> {
    return [
      ...(yield* lookupHost("127.0.0.1:1")),
      ...(yield* lookupHost("localhost:2")),
    ].map(formatSocketAddr);
  }());
  assert.deepEqual(literal, ["127.0.0.1:1", "127.0.0.1:2"]);
});

test("connect by name reaches a listener on the name's address; the other tasks run while it resolves", async () => {
  const listener = TcpListener.bind(
    HOSTS.addresses[0].includes(":") ? "[::1]:0" : `${HOSTS.addresses[0]}:0`,
  );
  try {
    const port = listener.localAddr.port;
    const peer = await runAsyncChecked(function*(): Task<string> {
      let ticks = 0;
      let resolving = true;
      const ticker = function*(): Task<void> {
        while (resolving) {
          ticks++;
          yield* yieldNow();
        }
      };
      const connect = function*(): Task<string> {
        try {
          const conn = yield* TcpStream.connect(`${NAME}:${port}`, { timeoutMs: 5000 });
          const accepted = yield* listener.accept();
          accepted.close();
          const address = conn.peerAddr.address;
          conn.close();
          return address;
        } finally {
          resolving = false;
        }
      };
      const [, address] = yield* awaitAll(ticker(), connect());
      assert.ok(ticks >= 1, `other tasks ran while the name resolved (ticks: ${ticks})`);
      return address;
    }());
    assert.equal(peer, HOSTS.addresses[0]);
  } finally {
    listener.close();
  }
});

test("a name that does not resolve: ResolveError naming it, with the resolver's code", async () => {
  await runAsyncChecked(function*(): Task<void> {
    for (
      const attempt of [
        () => lookupHost(`${UNKNOWN}:80`),
        () => TcpStream.connect(`${UNKNOWN}:80`),
        () => TcpStream.connect({ hostname: UNKNOWN, port: 80 }, { timeoutMs: 5000 }),
        function*(): Task<unknown> {
          const sock = UdpSocket.bind("127.0.0.1:0");
          try {
            return yield* sock.sendTo(new Uint8Array(1), `${UNKNOWN}:9`);
          } finally {
            sock.close();
          }
        },
      ]
    ) {
      const error = yield* thrown(attempt);
      assert.ok(error instanceof ResolveError, String(error));
      assert.equal(error.hostname, UNKNOWN);
      assert.ok(error.message.includes(JSON.stringify(UNKNOWN)), error.message);
      // ENOTFOUND here (a resolver that cannot reach DNS says EAI_AGAIN).
      assert.match(error.code, /^(ENOTFOUND|EAI_AGAIN)$/);
    }
  }());
});

test("under the blocking run(): a name is a ResolveError saying to use runAsync, not a halt", () => {
  const error = run(thrown(() => TcpStream.connect(`${NAME}:80`)));
  assert.ok(error instanceof ResolveError, String(error));
  assert.equal(error.code, "ENOHOSTLOOP");
  assert.equal(error.hostname, NAME);
  assert.match(error.message, /runAsync/);
  const viaLookup = run(thrown(() => lookupHost(`${NAME}:80`)));
  assert.ok(viaLookup instanceof ResolveError && viaLookup.code === "ENOHOSTLOOP");
});

test("the synchronous binds take no names: a TypeError that says to resolve with lookupHost", () => {
  const before = openFds();
  assert.throws(() => TcpListener.bind(`${NAME}:0`), (e: unknown) => {
    assert.ok(e instanceof TypeError);
    assert.match(e.message, /TcpListener\.bind.*host name.*lookupHost/);
    assert.ok(e.message.includes(JSON.stringify(NAME)));
    return true;
  });
  assert.throws(() => UdpSocket.bind({ hostname: NAME, port: 0 }), /UdpSocket\.bind.*lookupHost/);
  const sock = UdpSocket.bind("127.0.0.1:0");
  try {
    assert.throws(() => sock.connect(`${NAME}:9`), /UdpSocket\.connect.*lookupHost/);
  } finally {
    sock.close();
  }
  // Malformed addresses keep the address parser's own messages.
  assert.throws(() => TcpListener.bind("1.2.3:0"), /1\.2\.3/);
  assert.throws(() => TcpListener.bind(`${NAME}:99999`), /99999/);
  assert.equal(openFds(), before);
});

test("lookupHost then bind: the composition the sync binds point to", async () => {
  const local = await runAsyncChecked(function*(): Task<string> {
    const [addr] = yield* lookupHost(`${NAME}:0`);
    const listener = TcpListener.bind(addr);
    const udp = UdpSocket.bind(addr);
    try {
      assert.equal(udp.localAddr.address, HOSTS.addresses[0]);
      return listener.localAddr.address;
    } finally {
      udp.close();
      listener.close();
    }
  }());
  assert.equal(local, HOSTS.addresses[0]);
});

test("UDP sendTo by name: the datagram reaches the name's address", async () => {
  const got = await runAsyncChecked(function*(): Task<string> {
    const [addr] = yield* lookupHost(`${NAME}:0`);
    const server = UdpSocket.bind(addr);
    const client = UdpSocket.bind(addr.family === "ipv4" ? "127.0.0.1:0" : "[::1]:0");
    try {
      yield* client.sendTo(new TextEncoder().encode("by name"), `${NAME}:${server.localAddr.port}`);
      const buf = new Uint8Array(64);
      const r = yield* server.recvFrom(buf);
      return new TextDecoder().decode(buf.subarray(0, r.n));
    } finally {
      client.close();
      server.close();
    }
  }());
  assert.equal(got, "by name");
});

/** Replaces this thread's resolver while `fn` runs. */
async function withResolver<T>(
  resolver: (name: string, family: 0 | 4 | 6) => Promise<ResolvedAddress[]>,
  fn: () => Promise<T>,
): Promise<T> {
  setResolverForTesting(resolver);
  try {
    return await fn();
  } finally {
    setResolverForTesting(null);
  }
}

test("a name with several addresses: connect tries each in order; none answers: the last error", async () => {
  const listener = TcpListener.bind("127.0.0.1:0");
  const port = listener.localAddr.port;
  const asked: string[] = [];
  const twoHomes = (name: string) => {
    asked.push(name);
    return Promise.resolve([{ address: "::1", family: 6 }, { address: "127.0.0.1", family: 4 }]);
  };
  try {
    // [::1]:port is refused (nothing listens there), 127.0.0.1:port answers.
    const peer = await withResolver(twoHomes, () =>
      runAsyncChecked(function*(): Task<string> {
        const conn = yield* TcpStream.connect(`two-homes.test:${port}`);
        (yield* listener.accept()).close();
        const peer = formatSocketAddr(conn.peerAddr);
        conn.close();
        return peer;
      }()));
    assert.equal(peer, `127.0.0.1:${port}`);
    assert.deepEqual(asked, ["two-homes.test"]);
  } finally {
    listener.close();
  }
  // Both refused: the error is the last address's (a SysError, ECONNREFUSED).
  const error = await withResolver(
    twoHomes,
    () =>
      runAsyncChecked(
        thrown(() => TcpStream.connect(`two-homes.test:${port}`, { timeoutMs: 5000 })),
      ),
  );
  assert.ok(error instanceof SysError, String(error));
  assert.match(error.message, /ECONNREFUSED/);
});

test("cancelled mid-resolution: returns at once, opens nothing, the late answer is dropped", async () => {
  let answer: (value: ResolvedAddress[]) => void = () => {};
  let fail: (error: Error) => void = () => {};
  let calls = 0;
  const slow = () => {
    calls++;
    return new Promise<ResolvedAddress[]>((resolve, reject) => {
      answer = resolve;
      fail = reject;
    });
  };
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    unhandled.push(event.reason);
    event.preventDefault();
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    await withResolver(slow, async () => {
      const listener = TcpListener.bind("127.0.0.1:0");
      try {
        const port = listener.localAddr.port;
        // Cancelled by timeout: TimeoutError, and no socket was opened.
        const error = await runAsyncChecked(
          thrown(() => timeout(30, TcpStream.connect(`slow.test:${port}`))),
        );
        assert.ok(error instanceof TimeoutError, String(error));
        answer([{ address: "127.0.0.1", family: 4 }]); // too late: dropped
        // connect's own timeoutMs covers the resolution: a ResolveError naming the name.
        const own = await runAsyncChecked(
          thrown(() => TcpStream.connect(`slow.test:${port}`, { timeoutMs: 30 })),
        );
        assert.ok(own instanceof ResolveError, String(own));
        assert.equal(own.code, "ETIMEDOUT");
        assert.match(own.message, /"slow\.test".*30 ms/);
        fail(new Error("late resolver failure")); // dropped, not an unhandled rejection
        await new Promise((resolve) => setTimeout(resolve, 20));
        assert.equal(calls, 2);
      } finally {
        listener.close();
      }
    });
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
  assert.deepEqual(unhandled, []);
});

test("cancelled mid-resolution with the host's resolver: the late answer is dropped, nothing leaks", async () => {
  const [winner, later] = await runAsyncChecked(function*(): Task<[number, string[]]> {
    // The other child ends at its first step, while the resolver works.
    const first = yield* awaitAny<unknown>([
      lookupHost(`${NAME}:1`),
      function*(): Task<string> {
        return "first";
      }(),
    ]);
    // The answer arrives meanwhile and goes nowhere; the name still resolves.
    yield* until(new Promise((resolve) => setTimeout(resolve, 20)));
    return [first.index, (yield* lookupHost(`${NAME}:1`)).map((a) => a.address)];
  }());
  assert.equal(winner, 1);
  assert.deepEqual(later, HOSTS.addresses);
});

test("on a runtime worker: lookupHost and connect by name", async () => {
  const listener = TcpListener.bind(
    HOSTS.addresses[0].includes(":") ? "[::1]:0" : `${HOSTS.addresses[0]}:0`,
  );
  const rt = await Runtime.create({ workers: 1 });
  try {
    const port = listener.localAddr.port;
    const tasks = new URL("./fixtures/names_tasks.ts", import.meta.url);
    const pending = rt.spawn(rootTask(tasks, connectByNameOnWorker, `${NAME}:${port}`));
    // The connection is accepted by the kernel's backlog; accept it here after.
    const result = await pending;
    assert.deepEqual(
      result.resolved,
      HOSTS.addresses.map((a) => a.includes(":") ? `[${a}]:${port}` : `${a}:${port}`),
    );
    assert.equal(result.peer, result.resolved[0]);
  } finally {
    await rt.close();
    listener.close();
  }
});

test("finding: the hosts' resolver errors differ (Bun's does not name the host); ResolveError does on both", async () => {
  const raw = await lookup(UNKNOWN, { all: true }).then(() => null, (e: unknown) => e);
  const e = raw as { code?: unknown; hostname?: unknown; message?: unknown; errno?: unknown };
  assert.equal(e.code, "ENOTFOUND"); // (here; EAI_AGAIN where DNS is unreachable)
  if (host === "deno") {
    assert.equal(e.hostname, UNKNOWN);
    assert.match(String(e.message), new RegExp(UNKNOWN.replace(/\./g, "\\.")));
    assert.equal(e.errno, -3008); // libuv's UV_ENOTFOUND
  } else {
    assert.equal(e.hostname, undefined);
    assert.equal(String(e.message), "getaddrinfo ENOTFOUND");
    assert.equal(e.errno, 4);
  }
  const error = await runAsync(thrown(() => lookupHost(`${UNKNOWN}:1`)));
  assert.ok(error instanceof ResolveError);
  assert.equal(error.message, `cannot resolve host name "${UNKNOWN}": ENOTFOUND`);
});
