// The networking layer's usage rules (death tests in a child process) and
// accept under fd exhaustion (RLIMIT_NOFILE lowered in a child process).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { Rule } from "../mod.ts";
import { Child } from "./fixtures/net_util.ts";
import { assertHalts, runScenario } from "./helpers/child.ts";

test("a stream used after close halts (socket-used-after-close); close twice does not", () => {
  const r = assertHalts("net_use_after_close", Rule.UseAfterClose);
  assert.match(r.stderr, /TcpStream\.read on fd \d+ after close\(\)/);
});

test("accept on a closed listener halts (socket-used-after-close)", () => {
  const r = assertHalts("net_listener_after_close", Rule.UseAfterClose);
  assert.match(r.stderr, /TcpListener\.accept/);
});

test("two tasks accepting on one listener at once halt (socket-waited-on-twice)", () => {
  const r = assertHalts("net_two_acceptors", Rule.SharedSocketWait);
  assert.match(r.stderr, /two tasks wait to read fd \d+/);
});

test("a socket registered with another scheduler halts (socket-from-other-thread)", () => {
  const r = assertHalts("net_foreign_socket", Rule.ForeignSocket);
  assert.match(r.stderr, /registered with another thread's scheduler/);
});

test("accept backs off under EMFILE while an existing connection is served", () => {
  const r = runScenario("net_accept_emfile");
  assert.equal(r.code, 0, `exit code; stderr: ${r.stderr}`);
  const m = r.stdout.match(/^ok backoffs=(\d+) rounds=(\d+) limit=(\d+) ms=(\d+)$/m);
  assert.ok(m !== null, `stdout: ${r.stdout}`);
  // The limit is the lowest free fd: 20+ on Deno, under 15 on Bun (see docs/findings.md).
  console.log(`accept under EMFILE: RLIMIT_NOFILE lowered to ${m[3]}, ${m[1]} back-offs`);
  // Pauses of 1, 2, 4, ... 100 ms: about 8 + ms / 100 tries over the ~300 ms
  // (more on a busy machine, so the bound scales with the time measured, not
  // a fixed 20); a spinning accept makes thousands.
  const most = 10 + Math.ceil(Number(m[4]) / 50);
  assert.ok(Number(m[1]) >= 1 && Number(m[1]) <= most, `backoffs: ${m[1]} in ${m[4]} ms`);
  assert.equal(Number(m[2]), 30, "every round trip on the existing connection was served");
});

test("accept survives a failed epoll registration (ENOSPC): closes that fd, backs off, keeps serving", async () => {
  const dir = mkdtempSync(join(tmpdir(), "strom-enospc-"));
  const trace = join(dir, "strace.out");
  // The fault is epoll's own; the poll reactor registers nothing with the kernel.
  const child = new Child("../scenarios/net_accept_enospc.ts", [trace], {
    env: { STROM_REACTOR: "epoll" },
  });
  try {
    const port = Number((await child.line(/^ready (\d+)$/m))[1]);
    const outcomes: string[] = [];
    for (let i = 0; outcomes.filter((o) => o === "echoed").length < 2 && i < 6; i++) {
      outcomes.push(await tryEcho(port));
    }
    assert.equal(await child.exited, 0, `exit code; stderr: ${child.stderr}`);
    const m = child.stdout.match(/^ok served=2 backoffs=(\d+) leaked=(-?\d+)$/m);
    assert.ok(m !== null, `stdout: ${child.stdout}; stderr: ${child.stderr}`);
    const injected = readFileSync(trace, "utf8").split("\n").filter((l) => /INJECTED/.test(l));
    assert.equal(injected.length, 2, `two registrations failed: ${injected.join("\n")}`);
    assert.ok(injected.every((l) => /EPOLL_CTL_ADD/.test(l)), injected.join("\n"));
    // Usually both injected failures hit the registrations of the first two
    // accepted fds. The host may make an epoll_ctl call of its own on this
    // thread while strace watches (seen once on Deno), which takes one of
    // them: then one connection is dropped, not two. Either way every
    // dropped connection is one back-off of the listener, and the
    // connections after them are served.
    const dropped = outcomes.filter((o) => o === "dropped").length;
    assert.ok(dropped >= 1, `outcomes: ${outcomes}`);
    assert.deepEqual(outcomes, [...Array(dropped).fill("dropped"), "echoed", "echoed"]);
    assert.equal(Number(m[1]), dropped, `one back-off per dropped connection: ${m[1]}`);
    assert.ok(Number(m[2]) <= 0, `fds leaked: ${m[2]}`);
  } finally {
    await child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Connects, sends a byte, and says whether it came back or the server dropped the connection. */
function tryEcho(port: number): Promise<"echoed" | "dropped"> {
  return new Promise((resolve) => {
    const sock = connect(port, "127.0.0.1", () => sock.write("x"));
    let outcome: "echoed" | "dropped" = "dropped";
    sock.on("data", () => {
      outcome = "echoed";
      sock.end();
    });
    sock.on("error", () => sock.destroy());
    sock.on("close", () => resolve(outcome));
  });
}
