#!/usr/bin/env node
// strom's one test command (`npm test`): installs the pinned tools from the
// lockfile when needed, type-checks, checks formatting, then runs the whole
// suite on Deno and on Bun, once per reactor backend (epoll, poll). It prints
// a summary per run and ends with the line `N passed, N failed`; the exit code
// is non-zero when anything failed.
//
// Written for Node (the one thing a fresh machine has) with no dependencies.

import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const bin = (name) => join(root, "node_modules", ".bin", name);
const backends = (process.env.STROM_TEST_BACKENDS ?? "epoll,poll").split(",");
const hosts = (process.env.STROM_TEST_HOSTS ?? "deno,bun").split(",");
const filter = process.argv.slice(2); // optional test files

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 20 * 60 * 1000,
    killSignal: "SIGKILL",
    ...opts,
  });
  return { code: r.status ?? 1, out: (r.stdout ?? "") + (r.stderr ?? ""), error: r.error };
}

function step(title, cmd, args) {
  process.stdout.write(`== ${title}\n`);
  const r = run(cmd, args, { stdio: "inherit" });
  if (r.code !== 0) {
    console.log(`${title}: failed (exit ${r.code})`);
    console.log("0 passed, 1 failed");
    process.exit(1);
  }
}

// 1. Install from the lockfile when node_modules is missing or older than it.
const marker = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  step("npm ci", "npm", ["ci", "--no-audit", "--no-fund"]);
}

// wrk is the load generator one test points at the HTTP example: a peer
// nobody here wrote. strace injects a kernel failure (epoll_ctl ENOSPC) into
// one accept test. Debian has both; install them when missing (CI runs as root).
for (const tool of ["wrk", "strace"]) {
  if (run("sh", ["-c", `command -v ${tool}`]).code !== 0) {
    step(`apt-get install ${tool}`, "sh", [
      "-c",
      `(apt-get install -y -q ${tool} || (apt-get update -q && apt-get install -y -q ${tool})) >/dev/null`,
    ]);
  }
}

// 2. Type-check every TypeScript file (strict, per deno.json), formatting,
// lint (deno.json turns off require-yield: a task that finishes without
// waiting is a `function*` with no yield, on purpose), and the public API's
// documentation (`deno doc --lint`: every export of mod.ts documented).
function tsFiles(dir) {
  const abs = join(root, dir);
  if (!existsSync(abs)) return [];
  return readdirSync(abs, { recursive: true })
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(dir, f));
}
const checked = ["mod.ts", ...["src", "tests", "examples", "bench"].flatMap(tsFiles)];
step("deno check", bin("deno"), ["check", "--quiet", ...checked]);
step("dprint check", bin("dprint"), ["check"]);
step("deno lint", bin("deno"), ["lint", "--quiet"]);
step("deno doc --lint", bin("deno"), ["doc", "--lint", "mod.ts"]);
// strom ships TypeScript sources, so a user's type check reads them: they
// must pass under the strict settings `bun init` writes (noUncheckedIndexedAccess,
// types from @types/bun, no Deno types); tests/fixtures/bun_project/tsconfig.json
// is that file (Bun 1.4.4) pointed at mod.ts.
step("tsc (bun init's tsconfig)", bin("tsc"), ["-p", "tests/fixtures/bun_project/tsconfig.json"]);

// 3. The suite on each host and backend, one runner process per test file:
// a file that fails to load, registers no test, or dies without its summary
// is a failure of its own, and cannot stop another file's tests from
// registering (as a timed-out test once did to the whole run on Bun).
//
// Timeouts are explicit (Bun ignores bunfig.toml's for node:test tests):
// Bun's per-test limit is set on its command line; Deno has no per-test
// limit, so each file's process is killed after FILE_LIMIT_MS on both.
const TEST_LIMIT_MS = 120_000;
const FILE_LIMIT_MS = 10 * 60 * 1000;
const testFiles = filter.length ? filter : tsFiles("tests").filter((f) => f.endsWith(".test.ts"));
const results = [];
for (const host of hosts) {
  for (const backend of backends) {
    const title = `${host} (${backend})`;
    process.stdout.write(`== tests on ${title}\n`);
    // DENO_NO_UPDATE_CHECK: deno run/test otherwise checks for a newer Deno
    // in the background at a time of its own: it reads the CA file and opens
    // sockets (DNS, HTTPS), which moved the tests' fd counts (12 !== 13 in
    // runtime.test.ts under load) and, in a child at its fd limit, printed
    // "Ignoring extra certs ... Too many open files" on stderr. The children
    // the tests spawn inherit it.
    const env = {
      ...process.env,
      STROM_REACTOR: backend,
      NO_COLOR: "1",
      DENO_NO_UPDATE_CHECK: "1",
    };
    const run1 = { title, passed: 0, failed: 0, broken: [] };
    for (const file of testFiles) {
      const args = host === "deno"
        ? ["test", "-A", "--no-check", file]
        : ["test", "--timeout", String(TEST_LIMIT_MS), "./" + file];
      const started = Date.now();
      const r = run(bin(host), args, { env, timeout: FILE_LIMIT_MS });
      process.stdout.write(r.out);
      const counts = parseCounts(host, r.out);
      let problem = null;
      if (r.error?.code === "ETIMEDOUT") problem = `killed after ${FILE_LIMIT_MS} ms`;
      else if (!counts) problem = `no summary (exit ${r.code})`;
      else if (counts.passed + counts.failed === 0) problem = "registered no test";
      else if (/Cannot call test\(\) after|Unhandled error between tests/.test(r.out)) {
        problem = "a test failed to register or an error escaped between tests";
      } else if (counts.failed === 0 && r.code !== 0) problem = `exit ${r.code}`;
      run1.passed += counts?.passed ?? 0;
      run1.failed += counts?.failed ?? 0;
      if (problem) {
        run1.failed += 1;
        run1.broken.push(`${file}: ${problem}`);
      }
      process.stdout.write(
        `-- ${file} on ${title}: ${((Date.now() - started) / 1000).toFixed(1)} s\n`,
      );
    }
    results.push(run1);
  }
}

function parseCounts(host, out) {
  if (host === "deno") {
    const m = [...out.matchAll(/\|\s*(\d+) passed[^|]*\|\s*(\d+) failed/g)].pop();
    return m ? { passed: Number(m[1]), failed: Number(m[2]) } : null;
  }
  const p = [...out.matchAll(/^\s*(\d+) pass$/gm)].pop();
  const f = [...out.matchAll(/^\s*(\d+) fail$/gm)].pop();
  return p && f ? { passed: Number(p[1]), failed: Number(f[1]) } : null;
}

console.log("== summary");
let passed = 0;
let failed = 0;
for (const r of results) {
  console.log(`${r.title}: ${r.passed} passed, ${r.failed} failed`);
  for (const b of r.broken) console.log(`  counted as a failure: ${b}`);
  passed += r.passed;
  failed += r.failed;
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && results.length > 0 ? 0 : 1);
