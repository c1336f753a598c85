/**
 * The monotonic clock, read with `clock_gettime(CLOCK_MONOTONIC)`. Unlike
 * `performance.now()` (whose origin is per Worker), this clock is the same in
 * every thread of the process, so deadlines can cross Workers.
 *
 * @module
 */

import { CLOCK_MONOTONIC } from "./constants.ts";
import { libc } from "./host.ts";

/** Reused timespec; read as u32 words (little-endian host, like the struct). */
const ts = new Uint8Array(16);
const words = new Uint32Array(ts.buffer);
const signedWords = new Int32Array(ts.buffer);

function now(): void {
  if (libc.clock_gettime(CLOCK_MONOTONIC, ts) !== 0) {
    throw new Error(`strom: clock_gettime(CLOCK_MONOTONIC) failed, errno ${libc.errno()}`);
  }
}

/**
 * Monotonic time in nanoseconds, `sec * 1e9 + nsec`. Exact while the clock
 * (time since boot) is below 2^53 ns, about 104 days; beyond that the value
 * is rounded to a few ns but stays monotonic non-decreasing.
 */
export function monotonicNowNs(): number {
  now();
  const sec = words[0]! + signedWords[1]! * 0x1_0000_0000;
  return sec * 1e9 + words[2]!;
}

/**
 * Monotonic time in milliseconds as a float, `sec * 1e3 + nsec / 1e6`:
 * sub-microsecond precision for any uptime below ~1000 years (the integer
 * part stays far below 2^53 / 1e6).
 */
export function monotonicNowMs(): number {
  now();
  const sec = words[0]! + signedWords[1]! * 0x1_0000_0000;
  return sec * 1e3 + words[2]! / 1e6;
}
