/**
 * Death tests: run a scenario program in a child process on the same host
 * runtime (and the same reactor backend) and report how it ended.
 *
 * @module
 */

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { host } from "../../src/ffi/mod.ts";
import { HALT_EXIT_CODE } from "../../src/sched/usage.ts";

/** How a child process ended. */
export interface ChildResult {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/** The argv that runs `script` with the host running this test. */
export function hostArgv(script: string, args: string[] = []): [string, string[]] {
  return host === "deno"
    ? [process.execPath, ["run", "-A", "--no-check", script, ...args]]
    : [process.execPath, [script, ...args]];
}

/** Runs `tests/scenarios/<name>.ts` to its end (30 s at most). */
export function runScenario(
  name: string,
  args: string[] = [],
  env: Record<string, string> = {},
): ChildResult {
  const script = fileURLToPath(new URL(`../scenarios/${name}.ts`, import.meta.url));
  const [cmd, argv] = hostArgv(script, args);
  const r = spawnSync(cmd, argv, {
    encoding: "utf8",
    timeout: 30_000,
    env: { ...process.env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...env },
  });
  return { code: r.status, signal: r.signal, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
}

/**
 * Asserts the scenario halted for `rule`: the usage-model exit code, and a
 * stderr line naming the rule.
 */
export function assertHalts(name: string, rule: string): ChildResult {
  const r = runScenario(name);
  const line = `strom: usage rule broken: ${rule}:`;
  assert.equal(r.code, HALT_EXIT_CODE, `exit code of ${name}; stderr: ${r.stderr}`);
  assert.ok(
    r.stderr.split("\n").some((l) => l.startsWith(line)),
    `stderr of ${name} names ${rule}: ${r.stderr}`,
  );
  return r;
}
