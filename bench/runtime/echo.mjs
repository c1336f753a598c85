#!/usr/bin/env node
// Echo throughput of the multi-worker runtime with 1 vs 2 workers (not a
// test: prints figures). `node bench/runtime/echo.mjs [deno|bun] [MODE] [SECONDS]`
// (MODE: reuseport (default) or handoff).
//
// Starts examples/multi_worker.ts with 1, then 2 workers, waits for its
// `listening on HOST:PORT` line, and drives it with bench/echo/client.c
// (64 connections, 64-byte messages, closed loop) for SECONDS (default 5)
// after a 1 s warm-up. Prints round trips/s and the server's CPU per round
// trip. On this 2-core machine the client shares the cores with the
// server, so the 2-worker figure is bounded by the client's own CPU.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const root = new URL("../..", import.meta.url).pathname;
const [host = "deno", mode = "reuseport", seconds = "5"] = process.argv.slice(2);
const bin = join(root, "node_modules", ".bin", host);
const dir = join(tmpdir(), "strom-bench");
mkdirSync(dir, { recursive: true });
const client = join(dir, "echo-client");
execFileSync("gcc", ["-O2", "-o", client, join(root, "bench/echo/client.c")]);

async function once(workers) {
  const args = host === "deno"
    ? ["run", "-A", "examples/multi_worker.ts"]
    : ["examples/multi_worker.ts"];
  const server = spawn(bin, [...args, "0", "127.0.0.1", mode, String(workers)], { cwd: root });
  const port = await new Promise((resolve, reject) => {
    let out = "";
    server.stdout.on("data", (d) => {
      out += d;
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    server.on("exit", (code) => reject(new Error(`server exited ${code}`)));
  });
  const out = execFileSync(client, [
    "-p",
    String(port),
    "-c",
    "64",
    "-d",
    seconds,
    "-w",
    "1",
    "-P",
    String(server.pid),
  ], { encoding: "utf8" });
  server.kill("SIGKILL");
  const line = out.trim().split("\n").pop();
  return JSON.parse(line);
}

for (const workers of [1, 2]) {
  const r = await once(workers);
  console.log(
    `${host} echo (${mode}) ${workers} worker(s): ${Math.round(r.rt_per_s)} round trips/s, `
      + `server ${r.server_cpu_us_per_rt.toFixed(2)} µs CPU/round trip, p99 ${r.p99_us} µs, `
      + `client busy ${r.client_busy}, cores busy ${JSON.stringify(r.cpu_busy)}`,
  );
}
