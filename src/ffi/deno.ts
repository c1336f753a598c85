/**
 * The Deno loader: binds a {@linkcode SymbolTable} with `Deno.dlopen`.
 *
 * The types map as `i32`/`u32` → themselves, `buf` → `"buffer"` (a
 * TypedArray or null goes straight to C), `ptr` → `"pointer"`, `void` →
 * `"void"`. An optional symbol uses Deno's own `optional: true` (null when
 * the library lacks it).
 *
 * The part of Deno's FFI used here is declared locally (like `bun.ts` does
 * for `bun:ffi`), so strom's sources type-check without Deno's types too: a
 * Bun project's `tsc` sees this file.
 *
 * @module
 */

import type { Libc } from "./libc.ts";
import { makeLibc } from "./make_libc.ts";
import { type Bound, type CFn, type CType, LIBC_SYMBOLS, type SymbolTable } from "./symbols.ts";

/** A Deno pointer: an opaque object, or null for NULL. */
type PointerValue = object | null;

/** One symbol as `Deno.dlopen` takes it. */
interface DenoDef {
  parameters: string[];
  result: string;
  optional: boolean;
  nonblocking: boolean;
}

/** The part of the `Deno` global this loader uses. */
interface DenoFfi {
  dlopen(
    path: string,
    symbols: Record<string, DenoDef>,
  ): { symbols: Record<string, CFn | null> };
  UnsafePointer: {
    of(buf: Uint8Array): PointerValue;
    value(p: PointerValue): number | bigint;
  };
  UnsafePointerView: {
    new(p: object): { getInt32(offset?: number): number };
    getCString(p: object): string;
    getArrayBuffer(p: object, byteLength: number): ArrayBuffer;
  };
}

const Deno = (globalThis as unknown as { Deno: DenoFfi }).Deno;

const DENO_TYPE = {
  i32: "i32",
  u32: "u32",
  buf: "buffer",
  ptr: "pointer",
  void: "void",
} as const satisfies Record<CType, string>;

/**
 * Opens the C library at `path` and binds `table`; each name in `without`
 * (optional symbols only) is bound as null as if the library lacked it.
 * Throws if a required symbol is missing.
 */
export function bindDeno<T extends SymbolTable>(
  path: string,
  table: T,
  without: ReadonlySet<string> = new Set(),
): Bound<T> {
  const defs: Record<string, DenoDef> = {};
  for (const [name, spec] of Object.entries(table)) {
    if (without.has(name)) continue;
    defs[name] = {
      parameters: spec.args.map((t) => DENO_TYPE[t]),
      result: DENO_TYPE[spec.returns],
      optional: spec.optional === true,
      nonblocking: spec.nonblocking === true,
    };
  }
  const symbols = Deno.dlopen(path, defs).symbols;
  const out: Record<string, CFn | null> = {};
  for (const name of Object.keys(table)) out[name] = symbols[name] ?? null;
  return out as Bound<T>;
}

/** The address of `buf[0]` (Deno's `UnsafePointer.of` includes byteOffset; checked by a test). */
function addressOf(buf: Uint8Array): number {
  const p = Deno.UnsafePointer.of(buf);
  return p === null ? 0 : Number(Deno.UnsafePointer.value(p));
}

/**
 * Opens the C library at `path` (e.g. `"libc.so.6"`) with `Deno.dlopen` and
 * returns the typed {@linkcode Libc}. Call once per thread: errno's location
 * is cached for the calling thread.
 */
export function loadDeno(path: string, without: ReadonlySet<string>): Libc {
  const s = bindDeno(path, LIBC_SYMBOLS, without);
  const errnoPtr = s.__errno_location() as PointerValue;
  if (errnoPtr === null) throw new Error("strom: __errno_location() returned NULL");
  const errnoView = new Deno.UnsafePointerView(errnoPtr);
  const cString = (p: unknown) =>
    p === null ? null : Deno.UnsafePointerView.getCString(p as object);
  return makeLibc("deno", s, () => errnoView.getInt32(0), addressOf, cString);
}

/** The address a Deno pointer result holds (0 for NULL). */
export function denoPointerAddress(p: unknown): bigint {
  return p === null ? 0n : BigInt(Deno.UnsafePointer.value(p as object));
}

/** An ArrayBuffer over `byteLength` bytes of foreign memory at the non-NULL pointer `p`. */
export function denoExternalBuffer(p: unknown, byteLength: number): ArrayBuffer {
  return Deno.UnsafePointerView.getArrayBuffer(p as object, byteLength);
}
