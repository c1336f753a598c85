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
