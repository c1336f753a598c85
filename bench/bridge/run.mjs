#!/usr/bin/env node
// The bridge's figures (issue 10) on both hosts and both reactors in one go:
// runs bench/bridge/bridge.ts once per case, host and reactor (each in its
// own child process) and prints one table. Not a test: it prints figures.
//
//   node bench/bridge/run.mjs [--quick] [--json FILE] [--cases until,wake,idle,echo,echo_ab,gateway]
//
// Case `echo` runs the echo harness (bench/echo/run.mjs) on strom's echo
// server under runAsync (examples/echo.ts) and under the blocking run
// (bench/echo/strom_run.ts), at 1 and 64 connections: server CPU per round
// trip, side by side in the same run. Case `echo_ab` runs
// bench/bridge/echo_ab.mjs: one echo server process in which run and
// runAsync take turns (alternating phases) serving the same connections, at
// 1 and 64 connections: the median of the per-pair CPU ratios, which holds
// up better than two processes on a machine other work loads. Case `gateway` runs
// bench/bridge/gateway.mjs: examples/gateway.ts against the same gateway on
// Deno.serve/Bun.serve + fetch, under wrk.
// Written for Node with no dependencies.

import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules", ".bin", name);
const script = join(root, "bench", "bridge", "bridge.ts");

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const flag = (name) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const jsonFile = flag("--json");
const cases = (flag("--cases") ?? "until,wake,idle,echo,echo_ab,gateway").split(",");
const HOSTS = [
  ["deno", bin("deno"), ["run", "-A", "--no-check", script]],
  ["bun", bin("bun"), [script]],
];

const results = [];
let echo = [];
let gateway = [];
let echoAb = [];
const started = Date.now();
for (const which of cases.filter((c) => !["echo", "echo_ab", "gateway"].includes(c))) {
  for (const reactor of ["epoll", "poll"]) {
    for (const [host, cmd, args] of HOSTS) {
      const r = spawnSync(cmd, [...args, which, ...(quick ? ["--quick"] : [])], {
        cwd: root,
        encoding: "utf8",
        env: { ...process.env, STROM_REACTOR: reactor },
        timeout: 120_000,
      });
      const line = (r.stdout ?? "").trim().split("\n").pop() ?? "";
      try {
        results.push({ host, ...JSON.parse(line) });
      } catch {
        console.error(`${host} ${which} ${reactor}: failed: ${r.stderr}`);
      }
    }
  }
}

if (cases.includes("echo")) {
  const tmp = mkdtempSync(join(tmpdir(), "strom-bridge-"));
  try {
    const file = join(tmp, "echo.json");
    const servers = "strom-deno,strom-deno-run,strom-bun,strom-bun-run";
    const r = spawnSync(process.execPath, [
      join(root, "bench", "echo", "run.mjs"),
      "--servers",
      servers,
      "--conns",
      "1,64",
      "--no-rss",
      "--no-syscalls",
      ...(quick ? ["--quick"] : []),
      "--json",
      file,
    ], { cwd: root, stdio: ["ignore", "ignore", "inherit"], timeout: 900_000 });
    if (r.status === 0) echo = JSON.parse(readFileSync(file, "utf8")).results ?? [];
    else console.error(`echo harness failed (exit ${r.status})`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (cases.includes("echo_ab")) {
  const tmp = mkdtempSync(join(tmpdir(), "strom-bridge-"));
  try {
    const file = join(tmp, "echo_ab.json");
    const r = spawnSync(process.execPath, [
      join(root, "bench", "bridge", "echo_ab.mjs"),
      "--signal",
      ...(quick ? ["--pairs", "3", "--phase-ms", "300"] : []),
      "--json",
      file,
    ], { cwd: root, stdio: ["ignore", "ignore", "inherit"], timeout: 600_000 });
    if (r.status === 0) echoAb = JSON.parse(readFileSync(file, "utf8"));
    else console.error(`echo A/B failed (exit ${r.status})`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

if (cases.includes("gateway")) {
  const tmp = mkdtempSync(join(tmpdir(), "strom-bridge-"));
  try {
    const file = join(tmp, "gateway.json");
    const r = spawnSync(process.execPath, [
      join(root, "bench", "bridge", "gateway.mjs"),
      ...(quick ? ["--quick"] : []),
      "--json",
      file,
    ], { cwd: root, stdio: ["ignore", "ignore", "inherit"], timeout: 600_000 });
    if (r.status === 0) gateway = JSON.parse(readFileSync(file, "utf8"));
    else console.error(`gateway benchmark failed (exit ${r.status})`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const f = (x, d = 0) =>
  x.toLocaleString("en-US", { maximumFractionDigits: d, minimumFractionDigits: d });
const rows = [];
for (const r of results) {
  if (r.case === "until") {
    rows.push([
      r.host,
      r.reactor,
      "until(settled promise)",
      `${f(r.untilNsPerOp)} ns/op`,
      `await: ${f(r.awaitNsPerOp)} ns/op`,
    ]);
  } else if (r.case === "wake") {
    rows.push([
      r.host,
      r.reactor,
      "settle -> task runs, idle thread",
      `p50 ${f(r.idleUs.p50, 1)} / p99 ${f(r.idleUs.p99, 1)} µs`,
      `await: p50 ${f(r.awaitUs.p50, 1)} / p99 ${f(r.awaitUs.p99, 1)} µs`,
    ]);
    rows.push([
      r.host,
      r.reactor,
      "settle -> task runs, busy thread",
      `p50 ${f(r.busyUs.p50, 1)} / p99 ${f(r.busyUs.p99, 1)} µs`,
      "",
    ]);
  } else if (r.case === "idle") {
    rows.push([
      r.host,
      r.reactor,
      `idle server, ${r.seconds} s`,
      `${f(r.cpuPercent, 2)}% CPU`,
      "target < 1%",
    ]);
  }
}
for (const host of ["deno", "bun"]) {
  for (const conns of [1, 64]) {
    const a = echo.find((e) => e.server === `strom-${host}` && e.conns === conns);
    const b = echo.find((e) => e.server === `strom-${host}-run` && e.conns === conns);
    if (!a || !b) continue;
    rows.push([
      host,
      "epoll",
      `TCP echo, ${conns} conn${conns > 1 ? "s" : ""}: server CPU per round trip`,
      `runAsync ${f(a.server_cpu_us_per_rt, 2)} µs`,
      `run: ${f(b.server_cpu_us_per_rt, 2)} µs (${
        f(a.server_cpu_us_per_rt / b.server_cpu_us_per_rt, 2)
      }x)`,
    ]);
  }
}
for (const r of echoAb) {
  rows.push([
    r.host,
    "epoll",
    `TCP echo, ${r.conns} conn${r.conns > 1 ? "s" : ""}, one process, run/runAsync alternating`,
    `runAsync ${f(r.runAsyncUsPerRt, 2)} µs`,
    `run: ${f(r.runUsPerRt, 2)} µs (median ratio ${f(r.ratioMedian, 2)}x of ${r.pairs} pairs)`,
  ]);
}
for (const host of ["deno", "bun"]) {
  const a = gateway.find((g) => g.id === `strom-${host}`);
  const b = gateway.find((g) => g.id === `peer-${host}`);
  if (!a || !b) continue;
  rows.push([
    host,
    "epoll",
    "gateway under wrk (32 conns): req/s; CPU per request",
    `${f(a.rps)} req/s; ${f(a.cpuUsPerRequest, 1)} µs`,
    `${host === "deno" ? "Deno" : "Bun"}.serve+fetch: ${f(b.rps)} req/s; ${
      f(b.cpuUsPerRequest, 1)
    } µs`,
  ]);
}
const head = ["host", "reactor", "case", "strom", "host's own way / note"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
console.log(line(head));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of rows) console.log(line(row));
console.log(`# total ${Math.round((Date.now() - started) / 1000)} s`);
if (jsonFile !== undefined) {
  writeFileSync(jsonFile, JSON.stringify({ results, echo, echoAb, gateway }, null, 2) + "\n");
}
