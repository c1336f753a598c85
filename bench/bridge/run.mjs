#!/usr/bin/env node
// The bridge's figures (issue 10) on both hosts and both reactors in one go:
// runs bench/bridge/bridge.ts once per case, host and reactor (each in its
// own child process) and prints one table. Not a test: it prints figures.
//
//   node bench/bridge/run.mjs [--quick] [--json FILE] [--cases until,wake,idle]
//
// The echo comparison (CPU per round trip under runAsync vs run) is in the
// echo suite: `node bench/echo/run.mjs --servers strom-deno,strom-deno-run,strom-bun,strom-bun-run`.
// Written for Node with no dependencies.

import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
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
const cases = (flag("--cases") ?? "until,wake,idle").split(",");
const HOSTS = [
  ["deno", bin("deno"), ["run", "-A", "--no-check", script]],
  ["bun", bin("bun"), [script]],
];

const results = [];
const started = Date.now();
for (const which of cases) {
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
const head = ["host", "reactor", "case", "strom", "host's own way / note"];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => cells.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd();
console.log(line(head));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of rows) console.log(line(row));
console.log(`# total ${Math.round((Date.now() - started) / 1000)} s`);
if (jsonFile !== undefined) writeFileSync(jsonFile, JSON.stringify(results, null, 2) + "\n");
