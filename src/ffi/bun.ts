/**
 * The Bun loader: binds a {@linkcode SymbolTable} with `dlopen` from
 * `bun:ffi`.
 *
 * `bun:ffi` is imported dynamically through a variable so that `deno check`
 * never tries to resolve it; the few of its types used here are declared
 * locally. The types map as `i32`/`u32` → themselves, `buf` and `ptr` →
 * `"ptr"` (Bun passes a TypedArray or null straight through and honours its
 * byteOffset, checked by a test; a pointer result is a number), `void` →
 * `"void"`.
 *
 * Bun's `dlopen` fails as a whole when one symbol is missing and has no
 * optional flag, so each optional symbol is opened by a `dlopen` of its own
 * and bound as null when that one fails.
 *
 * @module
 */

import type { Libc } from "./libc.ts";
import { makeLibc } from "./make_libc.ts";
import { type Bound, type CFn, type CType, LIBC_SYMBOLS, type SymbolTable } from "./symbols.ts";

type BunDefs = Record<string, { args: readonly string[]; returns: string }>;

/** The part of `bun:ffi` this loader uses. */
export interface BunFfi {
  dlopen(path: string, symbols: BunDefs): { symbols: Record<string, CFn>; close(): void };
  ptr(view: ArrayBufferView, byteOffset?: number): number;
  read: { i32(ptr: number, byteOffset: number): number };
  toArrayBuffer(ptr: number, byteOffset: number, byteLength: number): ArrayBuffer;
  CString: new(ptr: number) => { toString(): string };
}

/** Imports `bun:ffi` (by a variable: `deno check` must not resolve it). */
export async function importBunFfi(): Promise<BunFfi> {
  const modName = "bun:ffi";
  return (await import(modName)) as BunFfi;
}

const BUN_TYPE = {
  i32: "i32",
  u32: "u32",
  buf: "ptr",
  ptr: "ptr",
  void: "void",
} as const satisfies Record<CType, string>;

/**
 * Opens the C library at `path` and binds `table`; each name in `without`
 * (optional symbols only) is bound as null as if the library lacked it.
 * Throws if a required symbol is missing.
 */
export function bindBun<T extends SymbolTable>(
  ffi: BunFfi,
  path: string,
  table: T,
  without: ReadonlySet<string> = new Set(),
): Bound<T> {
  const required: BunDefs = {};
  const out: Record<string, CFn | null> = {};
  for (const [name, spec] of Object.entries(table)) {
    if (spec.nonblocking === true) {
      throw new TypeError(`${name}: Bun has no nonblocking FFI calls (use a helper Worker)`);
    }
    const def = { args: spec.args.map((t) => BUN_TYPE[t]), returns: BUN_TYPE[spec.returns] };
    if (spec.optional !== true) {
      required[name] = def;
      continue;
    }
    out[name] = null;
    if (without.has(name)) continue;
    try {
      out[name] = ffi.dlopen(path, { [name]: def }).symbols[name] ?? null;
    } catch {
      // missing from this library: stays null, the caller falls back
    }
  }
  const symbols = ffi.dlopen(path, required).symbols;
  for (const name of Object.keys(required)) out[name] = symbols[name] ?? null;
  return out as Bound<T>;
}

/**
 * Opens the C library at `path` (e.g. `"libc.so.6"`) with `bun:ffi` and
 * returns the typed {@linkcode Libc}. Call once per thread: errno's location
 * is cached for the calling thread.
 */
export function loadBun(ffi: BunFfi, path: string, without: ReadonlySet<string>): Libc {
  const s = bindBun(ffi, path, LIBC_SYMBOLS, without);
  const errnoPtr = s.__errno_location() as number;
  if (!errnoPtr) throw new Error("strom: __errno_location() returned NULL");
  const readI32 = ffi.read.i32;
  const ptr = ffi.ptr;
  // ptr() throws on an empty view; IovScratch never asks for one.
  const CString = ffi.CString;
  const cString = (p: unknown) => p ? new CString(p as number).toString() : null;
  return makeLibc("bun", s, () => readI32(errnoPtr, 0), (buf) => ptr(buf), cString);
}
