#!/usr/bin/env node
// The synchronization suite (issue 13) of `npm run bench`: runs
// bench/sync/local.ts and bench/sync/cross.ts on Deno and on Bun, one after
// the other, reads the figures they print and writes them as JSON.
//
//   node bench/sync/run.mjs [--quick] [--json FILE]
//
// Written for Node with no dependencies.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const jsonAt = argv.indexOf("--json");
const jsonFile = jsonAt >= 0 ? argv[jsonAt + 1] : null;

const results = [];
const failures = [];

function run(host, script, arg) {
  const bin = join(root, "node_modules", ".bin", host);
  const args = host === "deno" ? ["run", "-A", script, arg] : [script, arg];
  console.log(`--- ${host} ${script} ${arg}`);
  const r = spawnSync(bin, args, {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 10 * 60 * 1000,
  });
  process.stdout.write(r.stdout ?? "");
  if (r.status !== 0) {
    failures.push(`${host} ${script}: exit ${r.error?.message ?? r.signal ?? r.status}`);
  }
  return r.stdout ?? "";
}

for (const host of ["deno", "bun"]) {
  const local = run(host, "bench/sync/local.ts", quick ? "100000" : "1000000");
  for (const m of local.matchAll(/^\w+ (.+?): ([\d.]+) (msgs\/s|ns)(.*)$/gm)) {
    results.push({
      host,
      bench: "local",
      what: m[1],
      value: Number(m[2]),
      unit: m[3],
      note: m[4].trim(),
    });
  }
  const cross = run(host, "bench/sync/cross.ts", quick ? "100000" : "1000000");
  for (const m of cross.matchAll(/^\w+ (number|64 bytes): (.+?)\s+(\d+) msgs\/s$/gm)) {
    results.push({
      host,
      bench: "cross",
      kind: m[1],
      what: m[2].trim(),
      value: Number(m[3]),
      unit: "msgs/s",
    });
  }
  const s =
    /stress: (.+?): (\d+) msgs (\d+) msgs\/s; each exactly once: (\w+); out of order per producer: (\d+)/
      .exec(cross);
  if (s) {
    results.push({
      host,
      bench: "stress",
      what: s[1],
      messages: Number(s[2]),
      value: Number(s[3]),
      unit: "msgs/s",
      exactlyOnce: s[4] === "true",
      outOfOrder: Number(s[5]),
    });
  }
}

const data = { quick, results, failures };
if (jsonFile) writeFileSync(jsonFile, JSON.stringify(data, null, 2) + "\n");
process.exit(failures.length === 0 && results.length > 0 ? 0 : 1);
