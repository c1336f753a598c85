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

/** Sums the words of a shared buffer at a 4 KiB stride (touches every page). */
export function* sumPages(shared: Int32Array): Task<number> {
  let sum = 0;
  for (let i = 0; i < shared.length; i += 1024) sum += shared[i];
  return sum;
}

/** Allocates about `mib` MiB of short-lived objects (lets a bench see whether garbage is collected). */
export function* churn(mib: number): Task<number> {
  let kept = 0;
  for (let i = 0; i < mib * 16384; i++) kept += [i, i + 1, i + 2].length;
  return kept;
}
