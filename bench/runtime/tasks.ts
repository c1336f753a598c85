/**
 * Root tasks the runtime benchmarks submit (no top-level effects).
 *
 * @module
 */

import type { Task } from "../../src/sched/types.ts";

/** Returns at once: measures the queue and the result path. */
export function* noop(i: number): Task<number> {
  return i;
}

/**
 * CPU-bound work of about `rounds` iterations of an xorshift mix (no I/O,
 * no suspension): the root task of the CPU-bound mix.
 */
export function* crunch(seed: number, rounds: number): Task<number> {
  let x = seed | 1;
  for (let i = 0; i < rounds; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
  }
  return x;
}
