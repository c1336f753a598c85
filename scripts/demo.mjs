#!/usr/bin/env node
// `npm run demo`: installs the pinned runtimes from the lockfile when needed,
// then runs strom's main demo (examples/demo.ts) on Deno and on Bun.
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const marker = join(root, "node_modules", ".package-lock.json");
const lock = join(root, "package-lock.json");
if (!existsSync(marker) || statSync(marker).mtimeMs < statSync(lock).mtimeMs) {
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], { cwd: root, stdio: "inherit" });
  if (r.status !== 0) process.exit(r.status ?? 1);
}
const bin = (name) => join(root, "node_modules", ".bin", name);
const demo = join(root, "examples", "demo.ts");
let failed = false;
for (
  const [name, cmd, args] of [
    ["Deno", bin("deno"), ["run", "-A", demo]],
    ["Bun", bin("bun"), [demo]],
  ]
) {
  console.log(`== strom demo on ${name}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit" });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
