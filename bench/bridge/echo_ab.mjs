#!/usr/bin/env node
// CPU per TCP echo round trip under runAsync vs run, A/B in one server
// process (bench/bridge/echo_ab.ts), on both hosts: the server pinned to
// core 0, bench/echo's C client (closed loop, 64-byte messages) on core 1.
// Not a test: it prints figures.
//
//   node bench/bridge/echo_ab.mjs [--hosts deno,bun] [--conns 1,64] [--pairs 10] [--phase-ms 500] [--signal] [--json FILE]
//
// Written for Node with no dependencies; Linux, gcc and taskset required.
import { execFileSync, spawn } from "node:child_process";
import { existsSync, realpathSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const { values: o } = parseArgs({
  options: {
    conns: { type: "string", default: "1,64" },
    pairs: { type: "string", default: "10" },
    "phase-ms": { type: "string", default: "500" },
    signal: { type: "boolean", default: false },
    hosts: { type: "string", default: "deno,bun" },
    json: { type: "string" },
  },
});
const client = join(root, "bench", "echo", ".build", "echo-client");
if (!existsSync(client)) {
  execFileSync("mkdir", ["-p", dirname(client)]);
  execFileSync("gcc", ["-O2", "-o", client, join(root, "bench", "echo", "client.c")]);
}
const bin = (name) => realpathSync(join(root, "node_modules", ".bin", name));
const script = join(here, "echo_ab.ts");
const HOSTS = [
  ["deno", [bin("deno"), "run", "-A", "--no-check", script]],
  ["bun", [bin("bun"), script]],
];

function once(host, argv, conns) {
  return new Promise((resolve, reject) => {
    const srv = spawn("taskset", [
      "-c",
      "0",
      ...argv,
      "0",
      o.pairs,
      o["phase-ms"],
      ...(o.signal ? ["--signal"] : []),
    ], {
      env: { ...process.env, ECHO_AB_CONNS: String(conns) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let out = "";
    let cli = null;
    srv.stdout.setEncoding("utf8");
    srv.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on [^\s]*:(\d+)/);
      if (m && cli === null) {
        const seconds = (Number(o.pairs) * 2 + 4) * Number(o["phase-ms"]) / 1000 + 10;
        cli = spawn("taskset", [
          "-c",
          "1",
          client,
          "-p",
          m[1],
          "-c",
          String(conns),
          "-d",
          String(seconds),
          "-w",
          "0",
        ], { stdio: "ignore" });
      }
    });
    srv.on("close", (code) => {
      cli?.kill();
      const line = out.trim().split("\n").pop();
      try {
        resolve({ host, ...JSON.parse(line) });
      } catch {
        reject(new Error(`${host}: server ended with ${code}: ${out}`));
      }
    });
  });
}

const results = [];
for (const conns of o.conns.split(",").map(Number)) {
  for (const [host, argv] of HOSTS.filter(([h]) => o.hosts.split(",").includes(h))) {
    const r = await once(host, argv, conns);
    results.push(r);
    console.log(
      `${host.padEnd(5)} ${String(conns).padStart(3)} conns: runAsync ${
        r.runAsyncUsPerRt.toFixed(2)
      } µs/rt, `
        + `run ${r.runUsPerRt.toFixed(2)} µs/rt, ratio (median of ${r.pairs} pairs) ${
          r.ratioMedian.toFixed(3)
        } `
        + `[${Math.min(...r.ratios).toFixed(2)}-${Math.max(...r.ratios).toFixed(2)}]`
        + `, rt/s ${Math.round(r.rtPerS.runAsync)} / ${Math.round(r.rtPerS.run)}`
        + `, off-thread waits per rt ${r.offThreadWaitsPerRt.toFixed(4)}`,
    );
  }
}
if (o.json) writeFileSync(o.json, JSON.stringify(results, null, 2));
