#!/usr/bin/env node
// The one benchmark command (issue 6): runs every benchmark suite of the
// project side by side with its peers, one suite after the other in this one
// run, and writes docs/benchmarks.md (machine, versions, tables with ratios
// to the peers, the issues' targets met or not) and docs/benchmarks/*.svg charts.
//
//   npm run bench [-- --quick] [-- --only sched,echo,runtime]
//   node bench/report.mjs [--quick] [--only LIST] [--from DIR]
//
// --quick   passed on to every suite (smaller runs, for a smoke test).
// --only    run and report only these suites.
// --from    do not run anything: re-render the doc and charts from the
//           <suite>.json files of an earlier run (docs/benchmarks keeps them).
//
// Suites run strictly one at a time: this machine has 2 cores, and the echo
// suite pins its server and its client to one core each. Each suite writes
// its raw figures with `--json FILE`; they are kept in docs/benchmarks/<suite>.json.
// Written for Node with no dependencies (charts: bench/chart.mjs, SVG).

import { execFileSync, spawnSync } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { cpus, release, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { barChart, PALETTE, row, stack, tint, writeSvg } from "./chart.mjs";

const root = fileURLToPath(new URL("..", import.meta.url));
const docFile = join(root, "docs", "benchmarks.md");
const chartDir = join(root, "docs", "benchmarks");

// ---- options -------------------------------------------------------------

const argv = process.argv.slice(2);
const usageLine = "usage: node bench/report.mjs [--quick] [--only sched,echo,runtime] [--from DIR]";
let parsed;
try {
  parsed = parseArgs({
    args: argv,
    options: {
      quick: { type: "boolean", default: false },
      only: { type: "string" },
      from: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  }).values;
} catch (e) {
  console.error(`report.mjs: ${e.message}\n${usageLine}`);
  process.exit(2);
}
if (parsed.help) {
  console.log(usageLine);
  process.exit(0);
}
const opts = {
  quick: parsed.quick,
  only: parsed.only === undefined ? null : parsed.only.split(",").filter(Boolean),
  from: parsed.from ?? null,
};
if ((opts.from !== null && !opts.from) || (opts.only !== null && opts.only.length === 0)) {
  console.error("report.mjs: --from and --only need a value");
  process.exit(2);
}

/** The suites, in the order they run. `entry` is a Node script taking --quick and --json. */
const SUITES = [
  { id: "sched", title: "Scheduler", issue: 3, entry: "bench/sched/run.mjs", render: renderSched },
  { id: "echo", title: "TCP echo", issue: 4, entry: "bench/echo/run.mjs", render: renderEcho },
  {
    id: "runtime",
    title: "Multi-worker runtime",
    issue: 5,
    entry: "bench/runtime/run.mjs",
    render: renderRuntime,
    // Until bench/runtime has one entry with --json: run its scripts here.
    wrap: {
      needs: "bench/runtime/cpu_mix.ts",
      describe:
        "bench/runtime/{queue.ts,cpu_mix.ts,echo.mjs} on Deno and Bun, wrapped by report.mjs",
      run: (quick) => runRuntimeScripts(quick),
    },
  },
  {
    id: "bridge",
    title: "Bridge to the host",
    issue: 10,
    entry: "bench/bridge/run.mjs",
    render: renderBridge,
  },
  {
    id: "sync",
    title: "Synchronization",
    issue: 13,
    entry: "bench/sync/run.mjs",
    render: renderSync,
  },
];
for (const id of opts.only ?? []) {
  if (!SUITES.some((s) => s.id === id)) {
    console.error(`report.mjs: unknown suite ${id} (have: ${SUITES.map((s) => s.id).join(", ")})`);
    process.exit(2);
  }
}
const chosen = SUITES.filter((s) => opts.only === null || opts.only.includes(s.id));

// ---- machine and versions -------------------------------------------------------

function firstLine(cmd, args) {
  try {
    return execFileSync(cmd, args, {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    })
      .split("\n")[0].trim();
  } catch {
    return null;
  }
}

function readOr(file, fallback = "") {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return fallback;
  }
}

function machine() {
  const cpuinfo = readOr("/proc/cpuinfo");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? cpus()[0]?.model ?? "?";
  const mhz = /^cpu MHz\s*:\s*(.+)$/m.exec(cpuinfo)?.[1];
  const memKiB = Number(/^MemTotal:\s+(\d+) kB/m.exec(readOr("/proc/meminfo"))?.[1] ?? NaN);
  const os = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readOr("/etc/os-release"))?.[1] ?? "?";
  return {
    cpu: model + (mhz ? ` (${Math.round(Number(mhz))} MHz)` : ""),
    cores: cpus().length,
    memory: `${((Number.isFinite(memKiB) ? memKiB * 1024 : totalmem()) / 2 ** 30).toFixed(1)} GiB`,
    kernel: `Linux ${release()}`,
    os,
  };
}

function versions() {
  const lock = JSON.parse(readOr(join(root, "package-lock.json"), "{}"));
  const pkg = JSON.parse(readOr(join(root, "package.json"), "{}"));
  const bin = (n) => join(root, "node_modules", ".bin", n);
  const commit = firstLine("git", ["rev-parse", "--short", "HEAD"]);
  const dirty = firstLine("git", ["status", "--porcelain", "--untracked-files=no"]);
  return {
    strom: `${pkg.version ?? "?"}${
      commit ? ` (commit ${commit}${dirty ? ", with uncommitted changes" : ""})` : ""
    }`,
    deno: firstLine(bin("deno"), ["--version"])?.replace(/^deno /, "") ?? "?",
    bun: firstLine(bin("bun"), ["--version"]) ?? "?",
    node: process.version.replace(/^v/, ""),
    effection: lock.packages?.["node_modules/effection"]?.version ?? "?",
    gcc: firstLine("gcc", ["--version"]) ?? "not installed",
    strace: firstLine("strace", ["-V"]) ?? "not installed",
    perf: firstLine("perf", ["--version"]) ?? "not installed",
  };
}

// ---- formatting ---------------------------------------------------------------------

const ok = (v) => typeof v === "number" && Number.isFinite(v);

function fmtNs(ns) {
  if (!ok(ns)) return "-";
  if (ns >= 1e6) return `${sig(ns / 1e6)} ms`;
  if (ns >= 1e3) return `${sig(ns / 1e3)} µs`;
  return `${sig(ns)} ns`;
}

/** Three significant digits, no exponent. */
function sig(v) {
  if (!ok(v)) return "-";
  if (Math.abs(v) >= 100) return Math.round(v).toLocaleString("en-US");
  return String(+v.toPrecision(3));
}

const connsLabel = (c) => `${fmtInt(c)} conn${c === 1 ? "" : "s"}`;
const fmtInt = (v) => ok(v) ? Math.round(v).toLocaleString("en-US") : "-";
const fmtBytes = (b) =>
  !ok(b)
    ? "-"
    : b >= 2 ** 20
    ? `${sig(b / 2 ** 20)} MiB`
    : b >= 1024
    ? `${sig(b / 1024)} KiB`
    : `${Math.round(b)} B`;

/**
 * How strom compares with a peer, with its direction spelled out. `costStrom`
 * and `costPeer` are costs (time, CPU, bytes per op): lower is better.
 */
function vs(costStrom, costPeer, better = "faster", worse = "slower") {
  if (!ok(costStrom) || !ok(costPeer) || costStrom <= 0 || costPeer <= 0) return "-";
  const r = costPeer / costStrom;
  if (Math.abs(r - 1) < 0.005) return "same";
  const x = (v) => (v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
  return r > 1 ? `${x(r)}x ${better}` : `${x(1 / r)}x ${worse}`;
}

function mdTable(headers, rows, align) {
  const a = align ?? headers.map((_, i) => (i === 0 ? "l" : "r"));
  const sep = a.map((x) => (x === "l" ? ":--" : "--:"));
  const line = (cells) => `| ${cells.map((c) => String(c).replace(/\|/g, "\\|")).join(" | ")} |`;
  return [line(headers), line(sep), ...rows.map(line)].join("\n");
}

const mark = (met) => (met === null ? "n/a (not measured)" : met ? "met ✅" : "not met ❌");

// ---- suite: scheduler (issue 3) ---------------------------------------------------------

const SCHED_SHAPES = [
  ["spawn-join", "task", "spawn a trivial task and join it"],
  ["pingpong-yield", "switch", "two tasks alternating with yieldNow"],
  ["pingpong-handoff", "switch", "two tasks handing a value to each other"],
  ["awaitall-2", "call", "awaitAll over 2 children"],
  ["awaitall-10k", "call", "awaitAll over 10,000 children"],
  ["depth-1", "resume", "resume at yield* depth 1"],
  ["depth-100", "resume", "resume at yield* depth 100"],
  ["sleeps", "sleeper", "concurrent sleeps, random deadlines in [0, 1 s): total time / sleepers"],
  ["sleepers-100k", "sleeper", "100k spawned tasks, each sleeping 0-200 ms from its first step"],
  [
    "sleepers-100k-young1",
    "sleeper",
    "the same on Deno with `--v8-flags=--max-semi-space-size=1` (V8's young generation at 1 MiB a semi-space)",
  ],
  ["timeout", "call", "timeout(1000, yieldNow()) (the bare yieldNow() beside it)"],
  ["spawn-cancel", "task", "spawn a task, let it wait, cancel it"],
  ["yield-10k", "switch", "10k tasks looping on yieldNow (CPU-bound churn)"],
];
const SCHED_IMPLS = [["strom", "strom"], ["effection", `effection`], ["async", "async/await"]];
const HOSTS = [["deno", "Deno"], ["bun", "Bun"]];

function renderSched(data, ctx) {
  const md = [];
  const get = (host, shape, impl) =>
    data.hosts?.[host]?.results?.find((r) => r.shape === shape && r.impl === impl);
  // The shapes a host ran (not sleepers-100k-young1 on Bun: V8 flags).
  const shapesOn = (host) =>
    SCHED_SHAPES.filter(([shape]) => SCHED_IMPLS.some(([i]) => get(host, shape, i) !== undefined));
  md.push(
    "Time per operation of each shape, in ns/µs/ms per op (lower is better); each case runs in a",
    "fresh child process of the host. The peers are the same shapes written with",
    `[effection](https://frontside.com/effection) ${ctx.versions.effection} and with plain`,
    "async/await (+ setTimeout for the sleeps). Ratios are the peer's time ÷ strom's on the same",
    "host: \"3.00x faster\" means strom takes a third of the peer's time per op, \"2.00x slower\"",
    "that it takes twice the peer's.",
    "",
  );
  const sizes = SCHED_SHAPES.map(([s]) =>
    `${s} ${
      SCHED_IMPLS.map(([i]) => fmtInt(get("deno", s, i)?.ops ?? get("bun", s, i)?.ops)).join(" / ")
    }`
  );
  md.push(`Operations per case (strom / effection / async): ${sizes.join("; ")}.`, "");

  for (const [host, hostName] of HOSTS) {
    const rows = shapesOn(host).map(([shape, per]) => {
      const [s, e, a] = SCHED_IMPLS.map(([i]) => get(host, shape, i)?.nsPerOp);
      return [`\`${shape}\``, per, fmtNs(s), fmtNs(e), fmtNs(a), vs(s, e), vs(s, a)];
    });
    md.push(`#### On ${hostName}`, "");
    md.push(
      mdTable([
        "shape",
        "per",
        "strom",
        "effection",
        "async/await",
        "strom vs effection",
        "strom vs async/await",
      ], rows),
      "",
    );
  }

  // The sleep shape's other figures.
  const sleepRows = [
    ["sleepers", (r) => r.ops, fmtInt, false],
    ["total time", (r) => r.ms, (v) => fmtNs(v * 1e6), true],
    ["all asleep after", (r) => r.setupMs, (v) => fmtNs(v * 1e6), true],
    ["CPU per sleeper", (r) => (r.cpuMs * 1e6) / r.ops, fmtNs, true],
    ["peak RSS", (r) => r.peakRssKiB * 1024, fmtBytes, false],
    ["RSS per sleeper", (r) => r.rssBytesPerOp, fmtBytes, true],
    ["lateness p50", (r) => r.lateP50, (v) => fmtNs(v * 1e6), false],
    ["lateness p99", (r) => r.lateP99, (v) => fmtNs(v * 1e6), false],
    ["lateness max", (r) => r.lateMax, (v) => fmtNs(v * 1e6), false],
    [
      "earliest wake (min lateness)",
      (r) => r.lateMin,
      (v) => (ok(v) && v < 0 ? `−${fmtNs(-v * 1e6)}` : fmtNs(v * 1e6)),
      false,
    ],
  ];
  const rows = [];
  for (const [label, pick, fmt, ratio] of sleepRows) {
    for (const [host, hostName] of HOSTS) {
      const v = SCHED_IMPLS.map(([i]) => {
        const r = get(host, "sleeps", i);
        return r === undefined ? undefined : pick(r);
      });
      rows.push([
        `${label} (${hostName})`,
        ...v.map(fmt),
        ratio ? vs(v[0], v[1], "less", "more") : "",
        ratio ? vs(v[0], v[2], "less", "more") : "",
      ]);
    }
  }
  md.push(
    "#### The sleeps shape in detail",
    "",
    "Effection runs a tenth of the sleepers (its per-sleeper cost makes a million impractical), so",
    "compare its per-sleeper rows, not its totals. Lateness = wake-up time − deadline; a negative",
    "minimum means a timer fired early (strom guarantees it never does).",
    "",
    mdTable([
      "figure",
      "strom",
      "effection",
      "async/await",
      "strom vs effection",
      "strom vs async/await",
    ], rows),
    "",
  );

  // Chart: ns/op per shape and contender, log scale, one panel per host.
  const panels = HOSTS.map(([host, hostName]) =>
    barChart({
      title: `Scheduler on ${hostName}: time per op (lower is better)`,
      subtitle: `strom vs effection ${ctx.versions.effection} vs async/await; ${hostName} ${
        ctx.versions[host].split(" ")[0]
      }`,
      yLabel: "time per op (log scale)",
      log: true,
      format: fmtNs,
      series: SCHED_IMPLS.map(([, name], i) => ({ name, color: PALETTE[i] })),
      groups: shapesOn(host).map(([shape, per]) => ({
        label: `${shape}\nper ${per}`,
        values: SCHED_IMPLS.map(([i]) => get(host, shape, i)?.nsPerOp),
      })),
      width: 1100,
      height: 460,
    })
  );
  ctx.chart(
    "sched.svg",
    stack(panels, 16),
    "Scheduler: time per op per shape, Deno and Bun (log scale)",
  );

  const failures = HOSTS.flatMap(([h]) => data.hosts?.[h]?.failures ?? []);
  if (failures.length) {
    md.push(`Failures reported by the suite: ${failures.map((f) => `\`${f}\``).join(", ")}.`, "");
  }
  if (data.echoBusy?.length) {
    md.push(
      "Echo beside busy tasks: `bench/echo/run.mjs` at 1 connection on strom's echo server under",
      "the blocking `run`, alone (`strom-*-run`) and beside 10k tasks looping on `yieldNow()` on",
      "the same thread (`strom-*-busy`; `strom-*-busy-clock` without the epoll doorbell, so the",
      "busy thread polls its fds every 0.1 ms): the client's round-trip latency.",
      "",
      "| server | host | p50 | p99 | round trips/s | other load |",
      "| :-- | :-- | --: | --: | --: | --: |",
      ...data.echoBusy.map((e) =>
        `| \`${e.server}\` | ${e.runtime} | ${sig(e.p50Us)} µs | ${sig(e.p99Us)} µs | ${
          fmtInt(e.rtPerS)
        } | ${Math.round(e.otherLoad * 100)}% |`
      ),
      "",
    );
  }
  // Figures re-measured apart from the suite's run say so (`notes` in the JSON).
  for (const note of data.notes ?? []) md.push(note, "");
  return { md, targets: schedTargets(get, data.echoBusy ?? []) };
}

/** Issue 12's targets, each against its peer measured in the same run. */
function schedTargets(get, echoBusy) {
  const targets = [];
  const ms = (v) => (ok(v) ? `${sig(v)} ms` : "-");
  // The lateness case runs several times (bench/sched/main.ts): the median, and the range.
  // A case that runs several times (bench/sched/main.ts) reports its median
  // run: "median of N runs: lowest–highest", or "" for a single run.
  const medianOf = (runs, fmt) =>
    runs?.length > 1
      ? `median of ${runs.length} runs: ${fmt(runs[0])}–${fmt(runs.at(-1))}`
      : "";
  const runsOf = (r) => {
    const m = medianOf(r?.lateP99Runs, sig);
    return m && `, ${m} ms`;
  };
  const nsRunsOf = (r) => {
    const m = medianOf(r?.nsPerOpRuns, fmtNs);
    return m && ` (${m})`;
  };
  for (const [host, hostName] of HOSTS) {
    const sl = get(host, "sleepers-100k", "strom");
    const sla = get(host, "sleepers-100k", "async");
    targets.push({
      target: `${hostName}: 100k sleepers (0-200 ms), p99 lateness ≤ 5 ms`,
      measured: sl
        ? `${ms(sl.lateP99)}${runsOf(sl)} (async/await + setTimeout: ${ms(sla?.lateP99)}${
          runsOf(sla)
        })`
        : "not measured",
      met: sl ? sl.lateP99 <= 5 : null,
    });
    const sy = get(host, "sleepers-100k-young1", "strom");
    const sya = get(host, "sleepers-100k-young1", "async");
    if (sy) {
      targets.push({
        target:
          `${hostName}: the same with \`--v8-flags=--max-semi-space-size=1\` (a host flag, not strom's)`,
        measured: `${ms(sy.lateP99)}${runsOf(sy)} (async/await + setTimeout: ${ms(sya?.lateP99)}${
          runsOf(sya)
        })`,
        met: sy.lateP99 <= 5,
      });
    }
    const t = get(host, "timeout", "strom");
    const over = t && ok(t.bareNsPerOp) ? t.nsPerOp - t.bareNsPerOp : undefined;
    const ta = get(host, "timeout", "async");
    const overA = ta && ok(ta.bareNsPerOp) ? ta.nsPerOp - ta.bareNsPerOp : undefined;
    targets.push({
      target: `${hostName}: timeout(ms, op) ≤ 0.5 µs over the bare op`,
      measured: ok(over)
        ? `+${fmtNs(over)} (async/await race + setTimeout: +${fmtNs(overA)})`
        : "not measured",
      met: ok(over) ? over <= 500 : null,
    });
    const c = get(host, "spawn-cancel", "strom");
    const ca = get(host, "spawn-cancel", "async");
    targets.push({
      target: `${hostName}: spawn + cancel ≤ 1 µs`,
      measured: c
        ? `${fmtNs(c.nsPerOp)} (async/await + AbortController: ${fmtNs(ca?.nsPerOp)})`
        : "not measured",
      met: c ? c.nsPerOp <= 1000 : null,
    });
    const s1 = get(host, "sleeps", "strom");
    const s1a = get(host, "sleeps", "async");
    const mem = s1 ? s1.peakRssKiB * 1024 : undefined;
    targets.push({
      target:
        `${hostName}: 1M concurrent sleeps ≤ 0.7 GiB RSS and faster than async/await + setTimeout`,
      measured: s1
        ? `${fmtBytes(mem)}, ${ms(s1.ms)} (async/await: ${
          fmtBytes((s1a?.peakRssKiB ?? NaN) * 1024)
        }, ${ms(s1a?.ms)}; ${fmtInt(s1.ops)} sleepers)`
        : "not measured",
      met: s1 && s1a ? s1.ops >= 1e6 && mem <= 0.7 * 2 ** 30 && s1.ms < s1a.ms : null,
    });
    const j = get(host, "spawn-join", "strom");
    const ja = get(host, "spawn-join", "async");
    targets.push({
      target: `${hostName}: spawn + join ≤ 2x an async function call + await`,
      measured: j && ja
        ? `${fmtNs(j.nsPerOp)}${nsRunsOf(j)} vs ${fmtNs(ja.nsPerOp)}${nsRunsOf(ja)} (${
          sig(j.nsPerOp / ja.nsPerOp)
        }x)`
        : "not measured",
      met: j && ja ? j.nsPerOp <= 2 * ja.nsPerOp : null,
    });
    const alone = echoBusy.find((e) => e.runtime === host && e.server.endsWith("-run"));
    const busy = echoBusy.find((e) => e.runtime === host && e.server.endsWith("-busy"));
    targets.push({
      target:
        `${hostName}: echo p99 latency (1 conn) beside 10k tasks looping on yieldNow() unchanged (within 10%)`,
      measured: alone && busy
        ? `${sig(busy.p99Us)} µs vs ${sig(alone.p99Us)} µs alone (p50 ${sig(busy.p50Us)} vs ${
          sig(alone.p50Us)
        } µs)`
        : "not measured",
      met: alone && busy ? busy.p99Us <= 1.1 * alone.p99Us : null,
    });
  }
  return targets;
}

// ---- suite: TCP echo (issue 4) -------------------------------------------------------------

const ECHO_NAMES = {
  "strom-deno": "strom on Deno",
  "strom-bun": "strom on Bun",
  "deno-listen": "Deno.listen",
  "bun-listen": "Bun.listen",
  "node-net": "node:net on Node",
  "node-net-deno": "node:net on Deno",
  "node-net-bun": "node:net on Bun",
};
const echoName = (id) => ECHO_NAMES[id] ?? id;

function renderEcho(data, ctx) {
  const md = [];
  const results = data.results ?? [];
  const servers = [...new Set(results.map((r) => r.server))];
  const conns = [...new Set(results.map((r) => r.conns))].sort((a, b) => a - b);
  const cell = (s, c) => results.find((r) => r.server === s && r.conns === c && !r.error);
  const stroms = servers.filter((s) => results.find((r) => r.server === s)?.impl === "strom");
  const peers = servers.filter((s) => !stroms.includes(s));
  const runtimeOf = (s) => results.find((r) => r.server === s)?.runtime;
  const m = data.meta ?? {};

  md.push(
    `Closed-loop TCP echo, ${m.msg_bytes ?? 64}-byte messages: the server pinned to core ${
      m.pinning?.server_core ?? 0
    }, the load generator (bench/echo/client.c, epoll, C) pinned to core ${
      m.pinning?.client_core ?? 1
    }; ${m.duration_s ?? "?"} s measured after ${m.warmup_s ?? "?"} s of warm-up per cell${
      m.repeat > 1 ? `, median of ${m.repeat}` : ""
    }.`,
    "strom runs examples/echo.ts (epoll backend, the default). On two cores the client and the",
    "server share the machine, so round trips per second mostly shows which one is the",
    "bottleneck; the figure that compares servers is the **server's CPU time per round trip**",
    "(its utime+stime from /proc over the measured window ÷ round trips; lower is better).",
    "",
  );

  // CPU per round trip and round trips/s, per server and connection count.
  md.push("#### Server CPU per round trip (µs, lower is better)", "");
  md.push(
    mdTable(
      ["server", ...conns.map((c) => connsLabel(c))],
      servers.map((s) => [echoName(s), ...conns.map((c) => sig(cell(s, c)?.server_cpu_us_per_rt))]),
    ),
    "",
  );
  md.push("#### Round trips per second (higher is better)", "");
  md.push(
    mdTable(
      ["server", ...conns.map((c) => connsLabel(c))],
      servers.map((s) => [echoName(s), ...conns.map((c) => fmtInt(cell(s, c)?.rt_per_s))]),
    ),
    "",
  );
  md.push("#### Latency p50 / p99 (µs)", "");
  md.push(
    mdTable(
      ["server", ...conns.map((c) => connsLabel(c))],
      servers.map((s) => [
        echoName(s),
        ...conns.map((c) => {
          const x = cell(s, c);
          return x ? `${sig(x.p50_us)} / ${sig(x.p99_us)}` : "-";
        }),
      ]),
    ),
    "",
  );

  // strom against each peer.
  md.push(
    "#### strom against the peers",
    "",
    "CPU per round trip, peer ÷ strom: \"1.20x less\" means strom spends 1.20 times less CPU per",
    "round trip than that peer; round trips/s as \"faster\"/\"slower\".",
    "",
  );
  const ratioRows = [];
  for (const s of stroms) {
    for (const c of conns) {
      const a = cell(s, c);
      ratioRows.push([
        echoName(s),
        fmtInt(c),
        ...peers.map((p) => {
          const b = cell(p, c);
          if (!a || !b) return "-";
          return `CPU ${vs(a.server_cpu_us_per_rt, b.server_cpu_us_per_rt, "less", "more")}; rt/s ${
            vs(1 / a.rt_per_s, 1 / b.rt_per_s)
          }`;
        }),
      ]);
    }
  }
  md.push(mdTable(["strom", "conns", ...peers.map((p) => `vs ${echoName(p)}`)], ratioRows), "");

  // Syscalls.
  const sys = data.syscalls ?? [];
  const tools = [...new Set(sys.map((x) => x.tool))];
  if (sys.length) {
    md.push(
      "#### Syscalls per round trip at 64 connections",
      "",
      "The floor with a readiness API is 2 per round trip (one read, one write) plus a share of one",
      "epoll_wait. perf counts syscall tracepoints at full speed; strace -f -c slows the traced",
      "server down (so each epoll_wait returns more events than at full speed).",
      "",
    );
    const rows = [];
    for (const tool of tools) {
      for (const x of sys.filter((y) => y.tool === tool)) {
        const top = x.error ? `error: ${x.error.slice(0, 100)}` : Object.entries(x.breakdown ?? {})
          .filter(([, v]) => v.per_rt >= 0.005)
          .map(([k, v]) => `${k} ${v.per_rt.toFixed(2)}`)
          .join(", ");
        rows.push([echoName(x.server), tool, x.error ? "-" : x.per_rt.toFixed(2), top]);
      }
    }
    md.push(
      mdTable(
        ["server", "counted with", "per round trip", "breakdown (calls per round trip)"],
        rows,
        ["l", "l", "r", "l"],
      ),
      "",
    );
  } else {
    md.push(
      "Syscalls per round trip: not measured in this run (neither strace nor perf usable).",
      "",
    );
  }

  // RSS.
  const rss = data.rss ?? [];
  if (rss.length) {
    const base = (id) => rss.find((x) => x.server === id && !x.error);
    md.push(
      `#### RSS per idle connection at ${fmtInt(rss[0].conns)} connections`,
      "",
      "VmRSS of the server with the connections open and idle, minus before (after a warm-up).",
      "",
      mdTable(
        [
          "server",
          "before",
          "after",
          "per connection",
          ...stroms.map((s) => `${echoName(s)} vs it`),
        ],
        rss.map((x) =>
          x.error
            ? [echoName(x.server), "error", x.error.slice(0, 80), "", ...stroms.map(() => "")]
            : [
              echoName(x.server),
              fmtBytes(x.rss_before_kib * 1024),
              fmtBytes(x.rss_after_kib * 1024),
              fmtBytes(x.bytes_per_conn),
              ...stroms.map((s) =>
                s === x.server ? "" : vs(base(s)?.bytes_per_conn, x.bytes_per_conn, "less", "more")
              ),
            ]
        ),
      ),
      "",
    );
  }

  // Targets of issue 4.
  const targets = [];
  for (const s of stroms) {
    const rt = runtimeOf(s);
    const peer = peers.find((p) =>
      runtimeOf(p) === rt && results.find((r) => r.server === p)?.impl !== "node:net"
    );
    const a = cell(s, 64);
    const b = peer && cell(peer, 64);
    targets.push({
      target: `${echoName(s)}: CPU per round trip ≤ ${
        peer ? echoName(peer) : "the host's own server"
      } at 64 connections`,
      measured: a && b
        ? `${sig(a.server_cpu_us_per_rt)} µs vs ${sig(b.server_cpu_us_per_rt)} µs (${
          vs(a.server_cpu_us_per_rt, b.server_cpu_us_per_rt, "less", "more")
        })`
        : "not measured",
      met: a && b ? a.server_cpu_us_per_rt <= b.server_cpu_us_per_rt : null,
    });
  }
  const big = conns.length ? Math.max(...conns) : NaN;
  for (const s of stroms) {
    const a = cell(s, big);
    const b = cell(s, 64);
    const r = a && b && big > 64 ? a.rt_per_s / b.rt_per_s : NaN;
    targets.push({
      target: `${echoName(s)}: round trips/s at ${
        fmtInt(big)
      } connections within 10% of 64 (epoll)`,
      measured: ok(r)
        ? `${fmtInt(a.rt_per_s)} vs ${fmtInt(b.rt_per_s)} rt/s (${(r * 100).toFixed(0)}% of 64's)`
        : "not measured",
      met: ok(r) ? r >= 0.9 : null,
    });
  }
  for (const s of stroms) {
    // perf counts at full speed; strace when perf was not usable.
    const x = ["perf", "strace"].map((t) =>
      sys.find((y) => y.server === s && y.tool === t && !y.error)
    ).find(Boolean);
    targets.push({
      target: `${echoName(s)}: ≤ 2.2 syscalls per round trip (64 connections)`,
      measured: x ? `${x.per_rt.toFixed(2)} (${x.tool})` : "not measured",
      met: x ? x.per_rt <= 2.2 : null,
    });
  }

  // Charts.
  const series = servers.map((s, i) => ({ name: echoName(s), color: PALETTE[i % PALETTE.length] }));
  const byConns = (pick) =>
    conns.map((c) => ({ label: connsLabel(c), values: servers.map((s) => pick(cell(s, c))) }));
  const cpu = barChart({
    title: "TCP echo: server CPU per round trip (lower is better)",
    subtitle: `${
      m.msg_bytes ?? 64
    }-byte messages, closed loop; server on core 0, C client on core 1`,
    yLabel: "server CPU µs per round trip",
    format: (v) => sig(v),
    series,
    groups: byConns((x) => x?.server_cpu_us_per_rt),
    width: 1000,
    height: 440,
  });
  const thr = barChart({
    title: "TCP echo: round trips per second (higher is better)",
    subtitle: "on 2 cores the client is often the bottleneck: compare CPU per round trip",
    yLabel: "thousand round trips per second",
    format: (v) => sig(v),
    series,
    groups: byConns((x) => (x ? x.rt_per_s / 1000 : undefined)),
    width: 1000,
    height: 400,
  });
  ctx.chart(
    "echo.svg",
    stack([cpu, thr], 16),
    "TCP echo: server CPU per round trip and round trips/s per server and connection count",
  );

  const extra = [];
  if (sys.length) {
    extra.push(barChart({
      title: "Syscalls per round trip at 64 connections",
      subtitle: "target for strom: at most 2.2 (dashed line)",
      yLabel: "syscalls per round trip",
      format: (v) => v.toFixed(2),
      series: tools.map((t, i) => ({
        name: t === "perf" ? "perf (full speed)" : "strace -f -c",
        color: tint(PALETTE[0], i * 0.45),
      })),
      groups: servers.map((s) => ({
        label: echoName(s),
        values: tools.map((t) =>
          sys.find((y) => y.server === s && y.tool === t && !y.error)?.per_rt
        ),
      })),
      refLines: [{ value: 2.2, label: "target 2.2", color: "#c0392b" }],
      width: 1000,
      height: 360,
    }));
  }
  if (rss.length) {
    extra.push(barChart({
      title: `RSS per idle connection at ${fmtInt(rss[0].conns)} connections (lower is better)`,
      yLabel: "KiB per connection",
      format: (v) => sig(v),
      series: [{ name: "VmRSS growth ÷ connections", color: PALETTE[2] }],
      groups: rss.map((x) => ({
        label: echoName(x.server),
        values: [x.error ? undefined : x.bytes_per_conn / 1024],
      })),
      width: 1000,
      height: 340,
    }));
  }
  if (extra.length) {
    ctx.chart(
      "echo-syscalls-rss.svg",
      stack(extra, 16),
      "TCP echo: syscalls per round trip and RSS per idle connection",
    );
  }

  const noisy = results.filter((r) => r.other_load_core0 > 0.1 || r.other_load_core1 > 0.1);
  if (noisy.length) {
    md.push(
      `Note: in ${noisy.length} of ${results.length} cells other processes used more than 10% of a benchmark`,
      "core while it was measured; CPU per round trip holds up better than round trips/s under such load.",
      "",
    );
  }
  const errs = results.filter((r) => r.error).map((r) =>
    `${echoName(r.server)} at ${r.conns}: ${r.error}`
  );
  if (errs.length) md.push("Errors:", "", ...errs.map((e) => `- ${e}`), "");
  if (m.loadavg_before) {
    md.push(
      `Load average before / after the suite: ${m.loadavg_before} / ${m.loadavg_after ?? "?"}.`,
      "",
    );
  }
  return { md, targets };
}

// ---- suite: multi-worker runtime (issue 5) ------------------------------------------------

/**
 * bench/runtime has no single entry with --json (yet): its three scripts print
 * one line per figure. This wrapper runs each on Deno and on Bun, one after the
 * other, and reads those lines. Returns the suite's JSON in this report's form:
 * { results: [{ bench, host, ... }], cpuBoundSpeedup: { deno, bun }, failures }.
 */
function runRuntimeScripts(quick) {
  const bin = (n) => join(root, "node_modules", ".bin", n);
  const results = [];
  const failures = [];
  const cpuBoundSpeedup = {};
  const run = (label, cmd, args) => {
    console.log(
      `--- ${label}: ${
        [cmd.startsWith(root) ? cmd.slice(root.length) : "node", ...args].join(" ")
      }`,
    );
    const r = spawnSync(cmd, args, {
      cwd: root,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 5 * 60 * 1000,
    });
    process.stdout.write(r.stdout ?? "");
    if (r.status !== 0) failures.push(`${label}: exit ${r.error?.message ?? r.signal ?? r.status}`);
    return r.stdout ?? "";
  };
  for (const host of ["deno", "bun"]) {
    const ts = (file, ...a) => host === "deno" ? ["run", "-A", file, ...a] : [file, ...a];
    const q = run(
      `${host} queue`,
      bin(host),
      ts("bench/runtime/queue.ts", quick ? "10000" : "50000"),
    );
    for (const m of q.matchAll(/queue: (\d+) worker\(s\): (\d+) root tasks\/s/g)) {
      results.push({ bench: "queue", host, workers: Number(m[1]), tasks_per_s: Number(m[2]) });
    }
    const tasks = quick ? 2000 : 10000;
    // Two grains: fine tasks (20k rounds: ~35 µs each here), where the
    // host's few µs per task show, and coarse ones (100k rounds: ~150 µs).
    for (const [bench, rounds] of [["cpu-mix", "20000"], ["cpu-mix-coarse", "100000"]]) {
      const c = run(
        `${host} ${bench}`,
        bin(host),
        ts("bench/runtime/cpu_mix.ts", String(tasks), rounds),
      );
      const cm = /cpu mix: (\d+) tasks, 1 worker (\d+) ms, 2 workers (\d+) ms, speed-up ([\d.]+)x/
        .exec(c);
      if (cm) {
        const [one, two] = [Number(cm[2]), Number(cm[3])];
        results.push({ bench, host, workers: 1, tasks: Number(cm[1]), ms: one, rounds });
        results.push({ bench, host, workers: 2, tasks: Number(cm[1]), ms: two, rounds });
        (cpuBoundSpeedup[bench] ??= {})[host] = one / two;
      }
    }
    const e = run(`${host} echo`, process.execPath, [
      "bench/runtime/echo.mjs",
      host,
      "reuseport",
      quick ? "2" : "5",
    ]);
    const re =
      /echo \((\w+)\) (\d+) worker\(s\): (\d+) round trips\/s, server ([\d.]+) µs CPU\/round trip, p99 ([\d.]+) µs/g;
    for (const m of e.matchAll(re)) {
      results.push({
        bench: "echo",
        host,
        mode: m[1],
        workers: Number(m[2]),
        rt_per_s: Number(m[3]),
        server_cpu_us_per_rt: Number(m[4]),
        p99_us: Number(m[5]),
      });
    }
  }
  return { wrapped: true, quick, results, cpuBoundSpeedup, failures };
}

// The CPU-bound mix is run at two task sizes (see the runtime suite's runner).
const MIX_GRAINS = [["cpu-mix", "fine tasks"], ["cpu-mix-coarse", "coarse tasks"]];

function renderBridge(data, _ctx) {
  const md = [];
  const targets = [];
  const rs = data.results ?? [];
  const echo = data.echo ?? [];
  md.push(
    "`until`, `runAsync` and the off-thread kernel wait (bench/bridge/bridge.ts, one child process",
    "per case, host and reactor). The host's own way beside each: `await` in an async function.",
    "",
  );
  const rows = [];
  for (const r of rs) {
    if (r.case === "until") {
      rows.push([
        "`until` of an already-settled promise",
        r.host,
        r.reactor,
        fmtNs(r.untilNsPerOp),
        fmtNs(r.awaitNsPerOp),
      ]);
    } else if (r.case === "wake") {
      rows.push([
        "promise settles → task runs, thread idle (p50 / p99)",
        r.host,
        r.reactor,
        `${sig(r.idleUs.p50)} / ${sig(r.idleUs.p99)} µs`,
        `${sig(r.awaitUs.p50)} / ${sig(r.awaitUs.p99)} µs`,
      ]);
      rows.push([
        "promise settles → task runs, another task busy (p50 / p99)",
        r.host,
        r.reactor,
        `${sig(r.busyUs.p50)} / ${sig(r.busyUs.p99)} µs`,
        "",
      ]);
    } else if (r.case === "idle") {
      rows.push([
        `idle strom server under runAsync, ${r.seconds} s: CPU`,
        r.host,
        r.reactor,
        `${r.cpuPercent.toFixed(2)}%`,
        "",
      ]);
      targets.push({
        target: `${r.host} (${r.reactor}): an idle server under runAsync uses < 1% CPU`,
        measured: `${r.cpuPercent.toFixed(2)}% over ${r.seconds} s`,
        met: r.cpuPercent < 1,
      });
    }
  }
  for (const [host] of HOSTS) {
    for (const conns of [1, 64]) {
      const a = echo.find((e) => e.server === `strom-${host}` && e.conns === conns);
      const b = echo.find((e) => e.server === `strom-${host}-run` && e.conns === conns);
      if (!a || !b) continue;
      const ratio = a.server_cpu_us_per_rt / b.server_cpu_us_per_rt;
      rows.push([
        `TCP echo, ${conns} conns: server CPU per round trip (runAsync vs run)`,
        host,
        "epoll",
        `${sig(a.server_cpu_us_per_rt)} µs`,
        `run: ${sig(b.server_cpu_us_per_rt)} µs (${ratio.toFixed(2)}x)`,
      ]);
      if (conns === 64) {
        targets.push({
          target: `${host}: TCP echo CPU per round trip under runAsync within 5% of run (64 conns)`,
          measured: `${sig(a.server_cpu_us_per_rt)} vs ${sig(b.server_cpu_us_per_rt)} µs (${
            ratio.toFixed(2)
          }x)`,
          met: ratio <= 1.05,
        });
      }
    }
  }
  for (const r of data.echoAb ?? []) {
    rows.push([
      `TCP echo, ${r.conns} conns, one process, run and runAsync alternating: CPU per round trip`,
      r.host,
      "epoll",
      `${sig(r.runAsyncUsPerRt)} µs`,
      `run: ${sig(r.runUsPerRt)} µs (median ratio ${
        r.ratioMedian.toFixed(2)
      }x of ${r.pairs} pairs)`,
    ]);
  }
  for (const [host, hostName] of HOSTS) {
    const a = (data.gateway ?? []).find((g) => g.id === `strom-${host}`);
    const b = (data.gateway ?? []).find((g) => g.id === `peer-${host}`);
    if (!a || !b) continue;
    rows.push([
      "examples/gateway.ts under wrk (32 conns): req/s; gateway CPU per request",
      host,
      "epoll",
      `${fmtInt(a.rps)}; ${sig(a.cpuUsPerRequest)} µs`,
      `${hostName}.serve + fetch: ${fmtInt(b.rps)}; ${sig(b.cpuUsPerRequest)} µs`,
    ]);
  }
  if (data.note) md.push(data.note, "");
  md.push(
    mdTable(["figure", "host", "reactor", "strom", "host's own way"], rows, [
      "l",
      "l",
      "l",
      "r",
      "r",
    ]),
    "",
  );
  return { md, targets };
}

function renderRuntime(data, ctx) {
  const md = [];
  const targets = [];
  const rs = data.results ?? [];
  const get = (bench, host, workers) =>
    rs.find((r) => r.bench === bench && r.host === host && r.workers === workers);
  const nMax = (bench, host) =>
    Math.max(0, ...rs.filter((r) => r.bench === bench && r.host === host).map((r) => r.workers));
  md.push(
    "bench/runtime's scripts run on each host (this report wraps them: `deno run -A",
    "bench/runtime/queue.ts`, `cpu_mix.ts`, `node bench/runtime/echo.mjs HOST reuseport`). Ratios",
    "are N workers ÷ 1 worker (above 1: more throughput with more workers). This machine has",
    `${cpus().length} cores, so the load generator of the echo case shares them with the workers.`,
    "",
  );
  const rows = [];
  for (const [host, hostName] of HOSTS) {
    const q1 = get("queue", host, 1);
    const qn = get("queue", host, nMax("queue", host));
    if (q1) {
      rows.push([
        `root tasks/s through the queue (no-op tasks)`,
        hostName,
        fmtInt(q1.tasks_per_s),
        qn && qn !== q1 ? `${fmtInt(qn.tasks_per_s)} (${qn.workers} workers)` : "-",
        qn && qn !== q1 ? `${(qn.tasks_per_s / q1.tasks_per_s).toFixed(2)}x` : "-",
      ]);
    }
    for (const [bench, grain] of MIX_GRAINS) {
      const c1 = get(bench, host, 1);
      const c2 = get(bench, host, 2);
      if (c1 && c2) {
        rows.push([
          `CPU-bound mix of ${fmtInt(c1.tasks)} root tasks (${grain}, ${
            Math.round((c1.ms * 1000) / c1.tasks)
          } µs each on 1 worker): wall time`,
          hostName,
          fmtNs(c1.ms * 1e6),
          fmtNs(c2.ms * 1e6),
          `${(c1.ms / c2.ms).toFixed(2)}x`,
        ]);
      }
    }
    const e1 = get("echo", host, 1);
    const e2 = get("echo", host, 2);
    if (e1 && e2) {
      rows.push([
        `echo round trips/s, 64 conns (${e1.mode}); server CPU µs/rt`,
        hostName,
        `${fmtInt(e1.rt_per_s)}; ${sig(e1.server_cpu_us_per_rt)} µs`,
        `${fmtInt(e2.rt_per_s)}; ${sig(e2.server_cpu_us_per_rt)} µs`,
        `${(e2.rt_per_s / e1.rt_per_s).toFixed(2)}x`,
      ]);
    }
  }
  md.push(
    mdTable(["figure", "host", "1 worker", "2 workers", "speed-up"], rows, [
      "l",
      "l",
      "r",
      "r",
      "r",
    ]),
    "",
  );
  for (const [bench, grain] of MIX_GRAINS) {
    for (const [host, hostName] of HOSTS) {
      // (Reports saved before the two grains kept one number per host.)
      const saved = data.cpuBoundSpeedup?.[bench]
        ?? (bench === "cpu-mix" ? data.cpuBoundSpeedup : {});
      const v = typeof saved?.[host] === "number" ? saved[host] : undefined;
      targets.push({
        target:
          `CPU-bound mix of 10k root tasks (${grain}) on ${hostName}: 2 workers ≥ 1.8x of 1 worker`,
        measured: ok(v) ? `${v.toFixed(2)}x` : "not measured",
        met: ok(v) ? v >= 1.8 : null,
      });
    }
  }
  if (data.failures?.length) md.push("Failures:", "", ...data.failures.map((f) => `- ${f}`), "");

  const series = [{ name: "1 worker", color: PALETTE[0] }, {
    name: "2 workers",
    color: PALETTE[1],
  }];
  const panel = (title, yLabel, bench, pick) =>
    barChart({
      title,
      yLabel,
      format: (v) => sig(v),
      series,
      groups: HOSTS.map(([host, hostName]) => ({
        label: hostName,
        values: [1, 2].map((w) => {
          const r = get(bench, host, w);
          return r ? pick(r) : undefined;
        }),
      })),
      width: 480,
      height: 340,
    });
  const panels = [
    panel(
      "Root tasks/s through the queue",
      "thousand tasks/s",
      "queue",
      (r) => r.tasks_per_s / 1000,
    ),
    panel("CPU-bound mix: tasks/s", "thousand tasks/s", "cpu-mix", (r) => r.tasks / r.ms),
    panel(
      "Echo, 64 conns: round trips/s",
      "thousand round trips/s",
      "echo",
      (r) => r.rt_per_s / 1000,
    ),
  ];
  // Side by side: three narrow panels in one row.
  ctx.chart(
    "runtime.svg",
    row(panels, 10),
    "Multi-worker runtime: 1 vs 2 workers (higher is better)",
  );
  return { md, targets };
}

// ---- suite: synchronization (issue 13) ----------------------------------------------------

function renderSync(data) {
  const rs = data.results ?? [];
  const md = [
    "bench/sync/local.ts (one thread) and bench/sync/cross.ts (threads) on each host. Channel",
    "figures are one producer and one consumer, numbers unless stated; a `SharedChannel` is",
    "bounded (capacity 1024), the postMessage and MessageChannel peers are not (their queue",
    "grows). Each figure is one run on a shared 2-core machine: compare within a row group.",
    "",
  ];
  const rows = [];
  for (const [host, hostName] of HOSTS) {
    for (const r of rs.filter((x) => x.host === host && x.bench === "local")) {
      rows.push([
        r.what + (r.note ? ` (${r.note})` : ""),
        hostName,
        r.unit === "ns" ? fmtNs(r.value) : `${fmtInt(r.value)} msgs/s`,
      ]);
    }
    for (const kind of ["number", "64 bytes"]) {
      const cross = rs.filter((x) => x.host === host && x.bench === "cross" && x.kind === kind);
      const shared = cross.find((x) => x.what.includes("2 workers"));
      for (const r of cross) {
        const ratio = shared && r !== shared && !r.what.startsWith("SharedChannel")
          ? ` (SharedChannel across 2 workers: ${vs(1 / shared.value, 1 / r.value)})`
          : "";
        rows.push([`${r.what}, ${kind}`, hostName, `${fmtInt(r.value)} msgs/s${ratio}`]);
      }
    }
    for (const r of rs.filter((x) => x.host === host && x.bench === "stress")) {
      rows.push([
        `SharedChannel stress: ${r.what}, ${fmtInt(r.messages)} messages`,
        hostName,
        `${fmtInt(r.value)} msgs/s; exactly once: ${
          r.exactlyOnce ? "yes" : "NO"
        }; out of order: ${r.outOfOrder}`,
      ]);
    }
  }
  md.push(mdTable(["figure", "host", "measured"], rows, ["l", "l", "r"]), "");
  return { md, targets: [] };
}

// ---- running ------------------------------------------------------------------------------

function runSuite(suite, dir) {
  const entry = join(root, suite.entry);
  if (suite.wrap && !existsSync(entry) && existsSync(join(root, suite.wrap.needs))) {
    console.log(`\n=== ${suite.title} (issue ${suite.issue}): ${suite.wrap.describe}`);
    const t0 = Date.now();
    const data = suite.wrap.run(opts.quick);
    writeFileSync(join(dir, `${suite.id}.json`), JSON.stringify(data, null, 2) + "\n");
    const bad = data.results.length === 0;
    return {
      status: bad ? "failed" : data.failures.length ? "partial" : "ok",
      note: bad ? "its scripts printed no figures" : data.failures.join("; "),
      seconds: (Date.now() - t0) / 1000,
      data: bad ? null : data,
    };
  }
  if (!existsSync(entry)) return { status: "missing", note: `${suite.entry} does not exist yet` };
  const file = join(dir, `${suite.id}.json`);
  const args = [entry, ...(opts.quick ? ["--quick"] : []), "--json", file];
  console.log(
    `\n=== ${suite.title} (issue ${suite.issue}): node ${suite.entry} ${args.slice(1).join(" ")}`,
  );
  const t0 = Date.now();
  const r = spawnSync(process.execPath, args, {
    cwd: root,
    stdio: "inherit",
    timeout: 30 * 60 * 1000,
  });
  const seconds = (Date.now() - t0) / 1000;
  let data = null;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch {
    // no JSON: reported below
  }
  const exit = r.error ? String(r.error.message) : r.signal ?? r.status;
  if (data === null) {
    return { status: "failed", note: `exited ${exit} without writing its JSON`, seconds };
  }
  return {
    status: exit === 0 ? "ok" : "partial",
    note: exit === 0 ? "" : `exited ${exit}`,
    seconds,
    data,
  };
}

function main() {
  const started = Date.now();
  const date = new Date();
  const mach = machine();
  const vers = versions();
  const runs = {};
  mkdirSync(chartDir, { recursive: true });

  if (opts.from) {
    for (const s of chosen) {
      const f = join(opts.from, `${s.id}.json`);
      runs[s.id] = existsSync(f)
        ? { status: "ok", note: `from ${f}`, data: JSON.parse(readFileSync(f, "utf8")) }
        : { status: "missing", note: `${f} does not exist` };
      const keep = join(chartDir, `${s.id}.json`);
      if (runs[s.id].data && resolve(f) !== resolve(keep)) copyFileSync(f, keep);
    }
  } else {
    const tmp = mkdtempSync(join(tmpdir(), "strom-report-"));
    try {
      for (const s of chosen) {
        runs[s.id] = runSuite(s, tmp);
        if (runs[s.id].data) {
          copyFileSync(join(tmp, `${s.id}.json`), join(chartDir, `${s.id}.json`));
        }
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }

  const charts = [];
  const sections = [];
  const allTargets = [];
  for (const s of chosen) {
    const run = runs[s.id];
    const head = [`## ${s.title} (issue ${s.issue})`, ""];
    const timing = run.seconds ? ` (${Math.round(run.seconds)} s)` : "";
    head.push(
      `Suite: ${
        run.data?.wrapped
          ? s.wrap.describe
          : `\`node ${s.entry}${opts.quick ? " --quick" : ""} --json FILE\``
      }${timing}; raw figures: [benchmarks/${s.id}.json](benchmarks/${s.id}.json).`,
      "",
    );
    if (!run.data) {
      sections.push(
        [`## ${s.title} (issue ${s.issue})`, "", `**Not in this report:** ${run.note}.`, ""].join(
          "\n",
        ),
      );
      allTargets.push({
        suite: s.title,
        target: `(all targets of issue ${s.issue})`,
        measured: run.note,
        met: null,
      });
      continue;
    }
    if (run.status === "partial") {
      head.push(`**Warning:** the suite ${run.note}; its figures may be incomplete.`, "");
    }
    const ctx = {
      versions: vers,
      chart: (file, figure, alt) => {
        writeSvg(join(chartDir, file), figure, alt);
        charts.push(file);
        head.push(`![${alt}](benchmarks/${file})`, "");
      },
    };
    let out;
    try {
      out = s.render(run.data, ctx);
    } catch (e) {
      out = { md: [`Could not render this suite's JSON: ${e.message}`, ""], targets: [] };
      console.error(e);
    }
    sections.push([...head, ...out.md].join("\n"));
    for (const t of out.targets) allTargets.push({ suite: s.title, ...t });
  }

  const command = `npm run bench${argv.length ? ` -- ${argv.join(" ")}` : ""}`;
  const seconds = Math.round((Date.now() - started) / 1000);
  const doc = [
    "# Benchmarks",
    "",
    `Generated by \`${command}\` (= \`node bench/report.mjs${
      argv.length ? ` ${argv.join(" ")}` : ""
    }\`) on ${date.toISOString().replace(/\.\d+Z$/, " UTC").replace("T", " ")}${
      opts.from ? "" : `, in ${Math.floor(seconds / 60)} min ${seconds % 60} s`
    }. Do not edit by hand: run the command again.`,
    opts.quick
      ? "\n**Quick run** (`--quick`): smaller sizes and shorter windows than the real benchmarks; a smoke test, not figures to quote.\n"
      : "",
    opts.from
      ? "Re-rendered from the suites' saved figures (`--from`): each suite's figures come from its own run (see each section), on this machine; each compares strom with its peers inside that suite run. Figures from other machines or runs are not comparable with these."
      : "All suites ran in this one run, one after the other (never two at once), on this machine;\neach compares strom with its peers inside the same suite run. Figures from other machines or\nother runs are not comparable with these.",
    "",
    "## Machine and versions",
    "",
    mdTable(["", ""], [
      ["CPU", mach.cpu],
      ["cores", String(mach.cores)],
      ["memory", mach.memory],
      ["kernel", mach.kernel],
      ["OS", mach.os],
      ["strom", vers.strom],
      ["Deno", vers.deno],
      ["Bun", vers.bun],
      ["Node", vers.node],
      ["effection", vers.effection],
      ["gcc (echo load generator)", vers.gcc],
      ["strace", vers.strace],
      ["perf", vers.perf],
    ], ["l", "l"]),
    "",
    "## Targets",
    "",
    allTargets.length
      ? mdTable(
        ["suite", "target", "measured", ""],
        allTargets.map((t) => [t.suite, t.target, t.measured, mark(t.met)]),
        ["l", "l", "l", "l"],
      )
      : "No suite with targets ran.",
    "",
    ...sections,
  ].join("\n");
  writeFileSync(docFile, doc.replace(/\n{3,}/g, "\n\n").trimEnd() + "\n");
  // The repository's formatter checks every .md and .json (npm test): leave
  // the generated files formatted.
  const dprint = join(root, "node_modules", ".bin", "dprint");
  const written = [
    docFile,
    ...chosen.filter((s) => runs[s.id].data).map((s) => join(chartDir, `${s.id}.json`)),
  ];
  if (existsSync(dprint)) {
    const f = spawnSync(dprint, ["fmt", ...written], { cwd: root, encoding: "utf8" });
    if (f.status !== 0) console.error(`dprint fmt failed: ${f.stderr || f.stdout}`);
  }
  console.log(
    `\nwrote ${docFile.slice(root.length)} and ${
      charts.map((c) => `docs/benchmarks/${c}`).join(", ") || "no charts"
    } in ${seconds} s`,
  );
  for (const t of allTargets) {
    console.log(
      `  ${
        t.met === null ? "n/a    " : t.met ? "met    " : "NOT MET"
      }  ${t.suite}: ${t.target}: ${t.measured}`,
    );
  }
  const missing = chosen.filter((s) => !runs[s.id].data);
  for (const s of missing) console.log(`  missing: ${s.title}: ${runs[s.id].note}`);
  process.exit(chosen.some((s) => runs[s.id].status === "failed") ? 1 : 0);
}

main();
