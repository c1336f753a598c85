/**
 * The process's open file descriptors, to prove a test closed what it opened.
 *
 * @module
 */

import assert from "node:assert/strict";
import { readdirSync, readlinkSync } from "node:fs";
import { run, type Task } from "../../mod.ts";
import { threadScheduler } from "../../src/sched/current.ts";

/** How many fds the process has open now. */
export function openFds(): number {
  return readdirSync("/proc/self/fd").length;
}

/** The open fds of the process: fd number → what it points at (`socket:[inode]`, ...). */
export function fdTable(): Map<string, string> {
  const table = new Map<string, string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      table.set(fd, readlinkSync(`/proc/self/fd/${fd}`));
    } catch {
      // closed between readdir and readlink (the directory's own fd, or a host thread)
    }
  }
  return table;
}

/**
 * Runs a task with strom's `run`, asserting it leaked no fd: every fd open
 * afterwards was open before, pointing at the same object. (Not a plain
 * count: Bun closes a finished child's stdio socketpair lazily, on its own
 * schedule, even while run() holds the JS thread; see docs/findings.md.)
 */
export function runChecked<T>(task: Task<T>): T {
  threadScheduler(); // its reactor's fds live as long as the thread
  const before = fdTable();
  const count = openFds();
  try {
    return run(task);
  } finally {
    const after = fdTable();
    const leaked = [...after].filter(([fd, what]) => before.get(fd) !== what);
    assert.deepEqual(leaked, [], `fds opened by the test and still open (count before: ${count})`);
  }
}

/**
 * What `after` holds that `before` did not. Named objects (sockets, pipes,
 * files: their link names a unique inode) are compared fd by fd, and an fd
 * that was open before and closed meanwhile is not counted against the test:
 * the hosts open and close fds of their own at times of their own (a socket
 * Deno opens and closes some 30-300 ms after a first child process; Bun's
 * lazily closed child stdio). Anonymous objects (`anon_inode:[eventfd]`,
 * `[eventpoll]`, ...) have no identity in the link, and Deno swaps the two it
 * keeps after a Worker for a later Worker's at new numbers, so those are
 * compared as counts per kind: more than before is a leak.
 */
export function newFds(before: Map<string, string>, after: Map<string, string>): string[] {
  const leaked: string[] = [];
  const anon = new Map<string, number>();
  for (const what of before.values()) {
    if (what.startsWith("anon_inode:")) anon.set(what, (anon.get(what) ?? 0) + 1);
  }
  for (const [fd, what] of after) {
    if (what.startsWith("anon_inode:")) anon.set(what, (anon.get(what) ?? 0) - 1);
    else if (before.get(fd) !== what) leaked.push(`${fd} -> ${what}`);
  }
  for (const [what, n] of anon) if (n < 0) leaked.push(`${-n} more ${what}`);
  return leaked;
}

/**
 * {@linkcode newFds} since `before`, read until there are none or `limitMs`
 * has passed: for checks after something the host cleans up asynchronously
 * (a Worker's own event-loop fds close a little after `terminate()`). The
 * wait ends on the event (the last new fd gone); a real leak is reported.
 */
export async function settledLeaks(
  before: Map<string, string>,
  limitMs = 10_000,
): Promise<string[]> {
  const deadline = performance.now() + limitMs;
  for (;;) {
    const leaked = newFds(before, fdTable());
    if (leaked.length === 0 || performance.now() > deadline) return leaked;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
