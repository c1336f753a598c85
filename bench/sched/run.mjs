#!/usr/bin/env node
// The scheduler benchmarks of issue 3 on both hosts in one go: runs
// bench/sched/main.ts on Deno, then on Bun (each case in its own child
// process), and prints one side-by-side table.
//
//   node bench/sched/run.mjs [--quick] [--json FILE] [--only shape,shape] [--impl a,b]
//                            [--no-echo]
//
// Then (unless --no-echo or --only) issue 12's echo case: the echo harness
// (bench/echo/run.mjs, 1 connection) on strom's echo server under the
// blocking run, alone and beside 10k tasks looping on yieldNow() on the same
// thread (servers strom-*-run and strom-*-busy): the client's latency p50/p99.
//
// Ratios are peer ns/op ÷ strom ns/op on the same host: above 1, strom is
// faster. `--json FILE` writes both hosts' raw results (for issue 6's report).
// Written for Node with no dependencies.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";

const root = new URL("../..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules", ".bin", name);
const main = join(root, "bench", "sched", "main.ts");

let options;
try {
  options = parseArgs({
    options: {
      quick: { type: "boolean", default: false },
      json: { type: "string" },
      only: { type: "string" },
      impl: { type: "string" },
      "no-echo": { type: "boolean", default: false },
    },
  }).values;
} catch (e) {
  console.error(`run.mjs: ${e.message}`);
  process.exit(2);
}
const quick = options.quick;
const jsonFile = options.json;
const passOn = [];
if (quick) passOn.push("--quick");
if (options.only !== undefined) passOn.push("--only", options.only);
if (options.impl !== undefined) passOn.push("--impl", options.impl);

const SHAPES = [
  ["spawn-join", "task (spawn+join)"],
  ["pingpong-yield", "switch"],
  ["pingpong-handoff", "switch"],
  ["awaitall-2", "awaitAll call"],
  ["awaitall-10k", "awaitAll call"],
  ["depth-1", "resume"],
  ["depth-100", "resume"],
  ["sleeps", "sleeper"],
  ["sleepers-100k", "sleeper"],
  ["sleepers-100k-young1", "sleeper"],
  ["timeout", "timeout call"],
  ["spawn-cancel", "task (spawn+cancel)"],
  ["yield-10k", "switch"],
];
const IMPLS = ["strom", "effection", "async"];
const HOSTS = [
  ["deno", bin("deno"), ["run", "-A", "--no-check", main]],
  ["bun", bin("bun"), [main]],
];

const tmp = mkdtempSync(join(tmpdir(), "strom-bench-"));
const started = Date.now();
const byHost = {};
// The echo case (see runEchoBusy), or undefined.
let echoBusy;
try {
  for (const [host, cmd, args] of HOSTS) {
    const file = join(tmp, `${host}.json`);
    const r = spawnSync(cmd, [...args, ...passOn, "--json", file], {
      cwd: root,
      stdio: ["ignore", "ignore", "inherit"],
      timeout: 15 * 60 * 1000,
    });
    try {
      byHost[host] = JSON.parse(readFileSync(file, "utf8"));
    } catch {
      byHost[host] = { host, results: [], failures: [`${host}: exit ${r.status ?? r.signal}`] };
    }
  }
  if (!options["no-echo"] && options.only === undefined) runEchoBusy(join(tmp, "echo.json"));
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

/**
 * The echo case: strom's echo alone and beside 10k busy tasks, 1 connection;
 * the busy one also without the epoll doorbell (`-busy-clock`).
 */
function runEchoBusy(file) {
  const servers = [
    "strom-deno-run",
    "strom-deno-busy",
    "strom-deno-busy-clock",
    "strom-bun-run",
    "strom-bun-busy",
    "strom-bun-busy-clock",
  ].join(",");
  const duration = quick ? "2" : "5";
  const r = spawnSync(
    "node",
    [
      join(root, "bench", "echo", "run.mjs"),
      ...["--servers", servers, "--conns", "1", "--duration", duration, "--warmup", "1"],
      ...["--repeat", quick ? "1" : "3", "--no-syscalls", "--no-rss", "--json", file],
    ],
    { cwd: root, stdio: ["ignore", "ignore", "inherit"], timeout: 10 * 60 * 1000 },
  );
  try {
    echoBusy = JSON.parse(readFileSync(file, "utf8")).results.map((e) => ({
      server: e.server,
      runtime: e.runtime,
      busy: !e.server.endsWith("-run"),
      p50Us: e.p50_us,
      p99Us: e.p99_us,
      rtPerS: e.rt_per_s,
      otherLoad: Math.max(e.other_load_core0 ?? 0, e.other_load_core1 ?? 0),
    }));
  } catch {
    (byHost.deno ??= { host: "deno", results: [], failures: [] }).failures.push(
      `echo beside busy tasks: exit ${r.status ?? r.signal}`,
    );
  }
}

const get = (host, shape, impl) =>
  byHost[host]?.results.find((r) => r.shape === shape && r.impl === impl);

function fmtNs(ns) {
  if (ns === undefined || !Number.isFinite(ns)) return "-";
  if (ns >= 1e6) return `${(ns / 1e6).toFixed(2)} ms`;
  if (ns >= 1e3) return `${(ns / 1e3).toFixed(2)} µs`;
  return `${ns.toFixed(0)} ns`;
}
const fmtMs = (v) => v === undefined ? "-" : `${v.toFixed(v < 10 ? 3 : 0)} ms`;
const fmtRatio = (peer, strom) =>
  peer === undefined || strom === undefined || !(strom > 0) ? "-" : `${(peer / strom).toFixed(2)}x`;

// Metric rows: [shape, label, unit, pick(result), format, ratio?]
const rows = [];
for (const [shape, unit] of SHAPES) {
  rows.push([shape, shape, unit, (r) => r.nsPerOp, fmtNs, true]);
  if (shape === "sleeps") {
    rows.push([
      shape,
      "  sleepers",
      "",
      (r) => r.ops,
      (v) => v === undefined ? "-" : String(v),
      false,
    ]);
    rows.push([shape, "  total time", "", (r) => r.ms, fmtMs, false]);
    rows.push([shape, "  all asleep at", "", (r) => r.setupMs, fmtMs, false]);
    rows.push([shape, "  CPU/sleeper", "", (r) => r.cpuMs * 1e6 / r.ops, fmtNs, true]);
    rows.push([
      shape,
      "  peak RSS",
      "",
      (r) => r.peakRssKiB / 1024,
      (v) => v === undefined ? "-" : `${v.toFixed(0)} MiB`,
      false,
    ]);
    rows.push([
      shape,
      "  RSS/sleeper",
      "",
      (r) => r.rssBytesPerOp,
      (v) => v === undefined ? "-" : `${v.toFixed(0)} B`,
      true,
    ]);
    rows.push([shape, "  late p50", "", (r) => r.lateP50, fmtMs, false]);
    rows.push([shape, "  late p99", "", (r) => r.lateP99, fmtMs, false]);
    rows.push([shape, "  late max", "", (r) => r.lateMax, fmtMs, false]);
    rows.push([shape, "  late min", "", (r) => r.lateMin, fmtMs, false]);
  }
  if (shape === "sleepers-100k" || shape === "sleepers-100k-young1") {
    rows.push([shape, "  late p50", "", (r) => r.lateP50, fmtMs, false]);
    rows.push([shape, "  late p99", "", (r) => r.lateP99, fmtMs, false]);
    rows.push([shape, "  late max", "", (r) => r.lateMax, fmtMs, false]);
  }
  if (shape === "timeout") {
    rows.push([shape, "  bare op", "", (r) => r.bareNsPerOp, fmtNs, true]);
    rows.push([
      shape,
      "  time-out's cost",
      "",
      (r) => r.bareNsPerOp === undefined ? undefined : r.nsPerOp - r.bareNsPerOp,
      fmtNs,
      false,
    ]);
  }
}

const header = [
  "shape",
  "per",
  "strom deno",
  "strom bun",
  "eff deno",
  "eff bun",
  "async deno",
  "async bun",
  "eff/strom D",
  "eff/strom B",
  "async/strom D",
  "async/strom B",
];
const lines = [header];
const table = [];
for (const [shapeOf, label, unit, pick, fmt, ratio] of rows) {
  const v = {};
  for (const impl of IMPLS) {
    for (const host of ["deno", "bun"]) {
      const r = get(host, shapeOf, impl);
      v[`${impl}.${host}`] = r === undefined ? undefined : pick(r);
    }
  }
  const cells = [
    label,
    unit,
    ...IMPLS.flatMap((impl) => ["deno", "bun"].map((h) => fmt(v[`${impl}.${h}`]))),
    ...["effection", "async"].flatMap((peer) =>
      ["deno", "bun"].map((h) => ratio ? fmtRatio(v[`${peer}.${h}`], v[`strom.${h}`]) : "")
    ),
  ];
  lines.push(cells);
  table.push({ shape: shapeOf, metric: label.trim(), values: v });
}

const widths = header.map((_, i) => Math.max(...lines.map((l) => l[i].length)));
const secs = Math.round((Date.now() - started) / 1000);
console.log(`strom scheduler benchmarks, Deno and Bun${quick ? " (--quick)" : ""}, ${secs} s`);
console.log("ratios: peer ns/op ÷ strom ns/op on the same host (above 1: strom is faster)");
const sizes = {};
for (const host of ["deno", "bun"]) {
  for (const r of byHost[host]?.results ?? []) (sizes[r.shape] ??= {})[r.impl] = r.ops;
}
console.log(
  "ops per case: "
    + SHAPES.map(([s]) => `${s} ${IMPLS.map((i) => sizes[s]?.[i] ?? "-").join("/")}`).join(", ")
    + " (strom/effection/async)\n",
);
for (const l of lines) {
  console.log(l.map((c, i) => i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join("  "));
}
if (echoBusy !== undefined) {
  console.log(
    "\necho, 1 connection, blocking run: alone vs beside 10k tasks looping on yieldNow()",
  );
  for (const e of echoBusy) {
    console.log(
      `  ${e.server.padEnd(21)} p50 ${e.p50Us.toFixed(0).padStart(5)} µs  p99 ${
        e.p99Us.toFixed(0).padStart(6)
      } µs  ${e.rtPerS.toFixed(0).padStart(6)} rt/s`,
    );
  }
}
const failures = ["deno", "bun"].flatMap((h) => byHost[h]?.failures ?? []);
for (const f of failures) console.log(`FAILED ${f}`);
if (jsonFile !== undefined) {
  writeFileSync(
    jsonFile,
    JSON.stringify({ quick, seconds: secs, hosts: byHost, table, echoBusy }, null, 2) + "\n",
  );
}
process.exit(failures.length === 0 ? 0 : 1);
