// How runAsync's driver waits for the kernel (src/host/host_turns.ts),
// checked by counting its waits (hostTurnCounts), not by timing them: while
// strom work keeps coming and no task needs the host loop, the turns wait on
// the JS thread for the rest of their slice; while a task waits in `until`,
// they never do.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  awaitAny,
  runAsync,
  type Task,
  TcpListener,
  type TcpStream,
  until,
  untilSignal,
} from "../mod.ts";
import { hostTurnCounts } from "../src/host/host_turns.ts";
import { Child } from "./fixtures/net_util.ts";

const ROUNDS = 1000;

/** Echoes 64-byte messages until the peer ends; returns the round trips made. */
function* echoRounds(conn: TcpStream, counted: (rounds: number) => void): Task<number> {
  const buf = new Uint8Array(64);
  let rounds = 0;
  let have = 0;
  for (;;) {
    const n = yield* conn.read(buf.subarray(have));
    if (n === 0) return rounds;
    have += n;
    if (have === buf.length) {
      yield* conn.writeAll(buf);
      have = 0;
      counted(++rounds);
    }
  }
}

/**
 * Serves one connection of the echo_rounds_client child under runAsync,
 * beside `beside` (a task that waits for the host), and returns the
 * off-thread and on-thread waits counted from its first round trip to its
 * last.
 */
async function countWaits(beside: Task<unknown>): Promise<{ off: number; on: number }> {
  const listener = TcpListener.bind("127.0.0.1:0");
  const child = new Child("echo_rounds_client.ts", [
    "127.0.0.1",
    String(listener.localAddr.port),
    String(ROUNDS),
  ]);
  let start = { ...hostTurnCounts };
  let end = start;
  let rounds = 0;
  try {
    await runAsync(function*(): Task<void> {
      const conn = yield* listener.accept();
      try {
        const r = yield* awaitAny(
          echoRounds(conn, (n) => {
            // Counted from the first round trip to the last: the child's
            // start-up is idle time, and so is the end.
            if (n === 1) start = { ...hostTurnCounts };
            end = { ...hostTurnCounts };
            rounds = n;
          }),
          beside,
        );
        assert.equal(r.index, 0);
      } finally {
        conn.close();
      }
    }());
  } finally {
    listener.close();
    await child.kill();
  }
  assert.equal(
    rounds,
    ROUNDS,
    `round trips; child stdout: ${child.stdout} stderr: ${child.stderr}`,
  );
  return {
    off: end.offThreadWaits - start.offThreadWaits,
    on: end.onThreadWaits - start.onThreadWaits,
  };
}

test("runAsync: a server kept busy by a remote peer waits for the kernel on the JS thread", async () => {
  // untilSignal is a background wait: it needs no prompt host turn. Before
  // on-thread waits, most round trips went off the thread.
  const { off, on } = await countWaits(untilSignal(["SIGUSR2"]));
  // (Not every round trip: with under half a slice left, a turn polls and
  // gives the host its turn instead: 470-590 of 1000 here.)
  assert.ok(on > 0, `${on} turns may wait on the JS thread in ${ROUNDS} round trips`);
  // Only quiet stretches of a whole slice (1 ms) go off the thread: a loaded
  // machine makes some, far fewer than one per round trip (without
  // on-thread waits: 580-820 of 1000 here, on both hosts).
  assert.ok(off < ROUNDS / 4, `${off} off-thread waits in ${ROUNDS} round trips`);
});

test("runAsync: while a task waits in until, no kernel wait holds the JS thread", async () => {
  let settle!: () => void;
  const pending = new Promise<void>((resolve) => (settle = resolve));
  try {
    const { on } = await countWaits(until(pending));
    assert.equal(on, 0, "turns that could wait on the JS thread while a task waits for the host");
  } finally {
    settle();
  }
});
