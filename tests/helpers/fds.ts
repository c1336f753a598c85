/**
 * The process's open file descriptors, to prove a test closed what it opened.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readdirSync } from "node:fs";

/** How many fds the process has open now. */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/**
 * Runs `body` and asserts the process has as many open fds afterwards as it
 * had before (after the body, whether it threw or not).
 */
export async function withFdCheck<T>(body: () => T | Promise<T>): Promise<T> {
  const before = openFds();
  const result = await body();
  assert.equal(openFds(), before, "open fds after the test");
  return result;
}
