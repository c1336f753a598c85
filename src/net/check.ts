/**
 * Argument checks for everything that goes on to the FFI. The two hosts do
 * not agree on what they do with a bad argument (Bun truncates `1.5` to `1`
 * and `NaN` to `0`, and reads an `ArrayBuffer` or a `DataView` as an empty
 * buffer; Deno throws or passes them), so nothing reaches a libc call
 * unchecked: a bad value is a `TypeError` or `RangeError` naming what was
 * expected and what was given, on both hosts alike.
 *
 * @module
 */

import { MAX_IO_LEN } from "../ffi/mod.ts";

/** `value` as a message fragment: its type and, if short, itself. */
export function describe(value: unknown): string {
  if (typeof value === "string") return `the string ${JSON.stringify(value).slice(0, 40)}`;
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    return `${typeof value} ${String(value)}`;
  }
  if (value === null || value === undefined) return String(value);
  const tag = Object.prototype.toString.call(value).slice(8, -1);
  return Array.isArray(value) ? `an Array` : `a${/^[AEIOU]/.test(tag) ? "n" : ""} ${tag}`;
}

/** Throws unless `fd` is an integer in 0..2^31-1 (a file descriptor number). */
export function checkFd(fd: unknown, op: string): asserts fd is number {
  if (typeof fd !== "number") {
    throw new TypeError(`${op}: fd must be a number (an integer >= 0), got ${describe(fd)}`);
  }
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) {
    throw new RangeError(`${op}: fd must be an integer in 0..2^31-1, got ${fd}`);
  }
}

/**
 * The byte count to hand to one call for `buf` (at most {@linkcode MAX_IO_LEN}),
 * or -1 when `buf` is not a `Uint8Array` (then {@linkcode notBytes} says so).
 */
export function byteLength(buf: unknown): number {
  if (!(buf instanceof Uint8Array)) return -1;
  const n = buf.length;
  return n > MAX_IO_LEN ? MAX_IO_LEN : n;
}

/** The error for a buffer argument that is not a `Uint8Array`. */
export function notBytes(op: string, buf: unknown): TypeError {
  return new TypeError(`${op}: the buffer must be a Uint8Array, got ${describe(buf)}`);
}

/** Throws unless `buf` is a `Uint8Array`. */
export function checkBytes(buf: unknown, op: string): asserts buf is Uint8Array {
  if (!(buf instanceof Uint8Array)) throw notBytes(op, buf);
}

/**
 * The part of `buf` an operation uses: `length` if given (an integer in
 * 0..buf.length), else all of it. Throws a `TypeError`/`RangeError`.
 */
export function usedLength(buf: Uint8Array, length: unknown, op: string): number {
  if (length === undefined) return buf.length;
  if (typeof length !== "number") {
    throw new TypeError(`${op}: length must be a number, got ${describe(length)}`);
  }
  if (!Number.isInteger(length) || length < 0 || length > buf.length) {
    throw new RangeError(`${op}: length must be an integer in 0..${buf.length}, got ${length}`);
  }
  return length;
}

/** Throws unless `value` is a boolean. */
export function checkBoolean(value: unknown, what: string): asserts value is boolean {
  if (typeof value !== "boolean") {
    throw new TypeError(`${what} must be a boolean, got ${describe(value)}`);
  }
}

/** A finished operation that throws `error` when run (bad input found before it started). */
// deno-lint-ignore require-yield
export function* failed<T>(error: Error): Generator<never, T, unknown> {
  throw error;
}
