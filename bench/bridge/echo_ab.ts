// The two drivers on one echo server, in one process, phase after phase:
// `run` and `runAsync` take turns (phases of PHASE_MS) serving the same
// connections with the same tasks, and each phase's process CPU time (all
// threads: Deno's blocking-call threads and Bun's helper Worker included)
// and round trips are taken. Alternating within one process makes the
// comparison hold up on a machine that other work loads: a burst of foreign
// load hits both drivers alike, and the median of the per-pair ratios
// drops the bursts. Run by bench/bridge/echo_ab.mjs (which starts the load).
// (bench/bridge/run.mjs's echo case compares two processes instead:
// examples/echo.ts under runAsync and bench/echo/strom_run.ts under run.)
//
//   deno run -A bench/bridge/echo_ab.ts PORT [PAIRS] [PHASE_MS] [--signal]
//   bun bench/bridge/echo_ab.ts PORT [PAIRS] [PHASE_MS] [--signal]
//
// Prints `listening on HOST:PORT`, then waits for CONNS (env ECHO_AB_CONNS,
// default 1) connections under runAsync, then runs the pairs and prints one
// JSON line. With --signal, each runAsync phase also has a task waiting in
// `untilSignal` (as examples/echo.ts does).
import process from "node:process";
import {
  args,
  formatSocketAddr,
  run,
  runAsync,
  sleep,
  spawn,
  type Task,
  TcpListener,
  type TcpStream,
  untilSignal,
} from "../../mod.ts";
import { hostTurnCounts } from "../../src/host/host_turns.ts";

const argv = args();
const withSignal = argv.includes("--signal");
const [port = "0", pairsArg = "10", phaseMsArg = "500"] = argv.filter((a) => !a.startsWith("--"));
const PAIRS = Number(pairsArg);
const PHASE_MS = Number(phaseMsArg);
const CONNS = Number(process.env.ECHO_AB_CONNS ?? "1");

const listener = TcpListener.bind({ hostname: "127.0.0.1", port: Number(port) });
const conns = new Set<TcpStream>();
let rounds = 0;

// One connection's echo for one phase. Cancelled at the phase's end while it
// waits to read (a read is cancel-safe: nothing is lost); the connection
// lives on into the next phase.
function* echo(conn: TcpStream): Task<void> {
  const buf = new Uint8Array(16 * 1024);
  for (;;) {
    const n = yield* conn.read(buf);
    if (n === 0) {
      conns.delete(conn);
      conn.close();
      return;
    }
    yield* conn.writeAll(buf, n);
    rounds++;
  }
}

function* accept(): Task<void> {
  for (;;) {
    const conn = yield* listener.accept();
    conn.setNoDelay(true);
    conns.add(conn);
    yield* spawn(echo(conn));
  }
}

function* phase(ms: number, signal: boolean): Task<void> {
  for (const conn of conns) yield* spawn(echo(conn));
  yield* spawn(accept());
  if (signal) yield* spawn(untilSignal(["SIGUSR2"]));
  yield* sleep(ms);
}

console.log(`listening on ${formatSocketAddr(listener.localAddr)}`);
// Start-up: take the connections (and warm up) under runAsync.
await runAsync(function*(): Task<void> {
  yield* spawn(accept());
  while (conns.size < CONNS) yield* sleep(10);
  yield* sleep(PHASE_MS);
}());

const phases: { driver: string; rounds: number; cpuUs: number; offThreadWaits: number }[] = [];
for (let i = 0; i < PAIRS * 2; i++) {
  // Which driver goes first alternates too, so neither always follows the other.
  const useAsync = (i % 2 === 0) === (Math.floor(i / 2) % 2 === 0);
  const r0 = rounds;
  const h0 = { ...hostTurnCounts };
  const c0 = process.cpuUsage();
  if (useAsync) await runAsync(phase(PHASE_MS, withSignal));
  else run(phase(PHASE_MS, false));
  const c = process.cpuUsage(c0);
  phases.push({
    driver: useAsync ? "runAsync" : "run",
    rounds: rounds - r0,
    cpuUs: c.user + c.system,
    offThreadWaits: hostTurnCounts.offThreadWaits - h0.offThreadWaits,
  });
}
listener.close();
for (const conn of conns) conn.close();

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const perRt = (p: { rounds: number; cpuUs: number }) => p.cpuUs / Math.max(1, p.rounds);
const ratios: number[] = [];
for (let i = 0; i < phases.length; i += 2) {
  const a = phases.slice(i, i + 2).find((p) => p.driver === "runAsync")!;
  const b = phases.slice(i, i + 2).find((p) => p.driver === "run")!;
  ratios.push(perRt(a) / perRt(b));
}
const of = (driver: string) => phases.filter((p) => p.driver === driver);
console.log(JSON.stringify({
  conns: CONNS,
  pairs: PAIRS,
  phaseMs: PHASE_MS,
  signal: withSignal,
  runAsyncUsPerRt: median(of("runAsync").map(perRt)),
  runUsPerRt: median(of("run").map(perRt)),
  ratioMedian: median(ratios),
  ratios: ratios.map((r) => Math.round(r * 1000) / 1000),
  // Waits off the JS thread per round trip under runAsync (each a thread hop).
  offThreadWaitsPerRt: of("runAsync").reduce((n, p) => n + p.offThreadWaits, 0)
    / of("runAsync").reduce((n, p) => n + p.rounds, 0),
  rtPerS: {
    runAsync: median(of("runAsync").map((p) => p.rounds)) / (PHASE_MS / 1000),
    run: median(of("run").map((p) => p.rounds)) / (PHASE_MS / 1000),
  },
}));
process.exit(0);
