#!/usr/bin/env node
// The gateway benchmark (issue 10): examples/gateway.ts (strom sockets +
// the host's fetch under runAsync) against the same gateway written the
// host's own way (bench/bridge/gateway_peer.ts: Deno.serve / Bun.serve +
// fetch), on each host, both in front of one node:http upstream
// (bench/bridge/upstream.mjs). Load: wrk, 32 connections, keep-alive.
// Prints requests/s and the gateway's CPU per request (utime+stime from
// /proc/PID/stat over the run). Not a test: it prints figures.
//
//   node bench/bridge/gateway.mjs [--quick] [--json FILE]
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules", ".bin", name);
const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const jsonAt = argv.indexOf("--json");
const seconds = quick ? 2 : 5;

function start(cmd, args) {
  const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    let out = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on 127\.0\.0\.1:(\d+)/);
      if (m) resolve({ child, port: Number(m[1]) });
    });
    child.on("exit", (code) => reject(new Error(`${cmd} ${args.join(" ")} exited ${code}`)));
  });
}

function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

function stop(child) {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.on("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

const up = await start(process.execPath, [join(root, "bench", "bridge", "upstream.mjs")]);
const upstreamUrl = `http://127.0.0.1:${up.port}`;
const GATEWAYS = [
  ["strom-deno", bin("deno"), ["run", "-A", join(root, "examples", "gateway.ts")]],
  ["peer-deno", bin("deno"), ["run", "-A", join(root, "bench", "bridge", "gateway_peer.ts")]],
  ["strom-bun", bin("bun"), [join(root, "examples", "gateway.ts")]],
  ["peer-bun", bin("bun"), [join(root, "bench", "bridge", "gateway_peer.ts")]],
];
const results = [];
try {
  for (const [id, cmd, args] of GATEWAYS) {
    const gw = await start(cmd, [...args, "0", upstreamUrl, "10000"]);
    try {
      // Warm-up, then the measured run.
      spawnSync("wrk", ["-t1", "-c32", "-d1s", `http://127.0.0.1:${gw.port}/warm`]);
      const before = cpuMs(gw.child.pid);
      const r = spawnSync(
        "wrk",
        ["-t1", "-c32", `-d${seconds}s`, `http://127.0.0.1:${gw.port}/x`],
        {
          encoding: "utf8",
        },
      );
      const cpu = cpuMs(gw.child.pid) - before;
      const requests = Number(r.stdout.match(/(\d+) requests in/)?.[1] ?? 0);
      const errors = /Socket errors|Non-2xx/.test(r.stdout)
        ? r.stdout.match(/(Socket errors.*|Non-2xx.*)/g)
        : [];
      results.push({
        id,
        rps: requests / seconds,
        cpuUsPerRequest: requests > 0 ? (cpu * 1000) / requests : NaN,
        errors,
      });
    } finally {
      await stop(gw.child);
    }
  }
} finally {
  await stop(up.child);
}

console.log("gateway      req/s     gateway CPU µs/req  errors");
for (const r of results) {
  console.log(
    `${r.id.padEnd(11)}  ${String(Math.round(r.rps)).padStart(8)}  ${
      r.cpuUsPerRequest.toFixed(1).padStart(18)
    }  ${r.errors.join("; ")}`,
  );
}
for (const host of ["deno", "bun"]) {
  const a = results.find((r) => r.id === `strom-${host}`);
  const b = results.find((r) => r.id === `peer-${host}`);
  if (a && b) {
    console.log(
      `${host}: strom/peer req/s ${(a.rps / b.rps).toFixed(2)}x, CPU/req ${
        (a.cpuUsPerRequest / b.cpuUsPerRequest).toFixed(2)
      }x`,
    );
  }
}
if (jsonAt >= 0) writeFileSync(argv[jsonAt + 1], JSON.stringify(results, null, 2) + "\n");
