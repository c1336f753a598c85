/**
 * The running host (Deno or Bun), its libc loaded once for this thread, and
 * the few process-level helpers that differ between hosts. Each Worker has
 * its own module instance, so each thread loads its own libc (and caches its
 * own errno location).
 *
 * @module
 */

import { bindBun, type BunFfi, importBunFfi, loadBun } from "./bun.ts";
import { bindDeno, denoExternalBuffer, denoPointerAddress, loadDeno } from "./deno.ts";
import type { Libc } from "./libc.ts";
import { type Bound, LIBC_SYMBOLS, parseWithout, type SymbolTable } from "./symbols.ts";

interface HostGlobals {
  Deno?: {
    exit(code?: number): never;
    args: string[];
    env: { get(name: string): string | undefined };
    permissions: { querySync(desc: { name: "env"; variable: string }): { state: string } };
  };
  Bun?: unknown;
  process?: { exit(code?: number): never; argv: string[]; env: Record<string, string | undefined> };
  navigator?: { hardwareConcurrency?: number };
}

const g = globalThis as unknown as HostGlobals;

/** Which host runs this code. Deno is tested first (Bun has no `Deno` global). */
export const host: "deno" | "bun" = g.Deno !== undefined
  ? "deno"
  : g.Bun !== undefined
  ? "bun"
  : (() => {
    throw new Error("strom: runs on Deno or Bun only (neither Deno nor Bun global found)");
  })();

/**
 * The C library opened: the glibc soname, resolved by the dynamic loader on
 * any glibc Linux arch. (musl or another OS would need another name here.)
 */
export const LIBC_PATH = "libc.so.6";

const bunFfi: BunFfi | null = host === "bun" ? await importBunFfi() : null;

/**
 * This thread's libc, already loaded. The optional symbols named in
 * `STROM_WITHOUT_SYMBOLS` (comma-separated; only `epoll_pwait2` today) are
 * left unbound as if glibc lacked them, to exercise the fallbacks an older
 * system takes.
 */
export const libc: Libc = (() => {
  const without = parseWithout(LIBC_SYMBOLS, envVar("STROM_WITHOUT_SYMBOLS"));
  return bunFfi === null ? loadDeno(LIBC_PATH, without) : loadBun(bunFfi, LIBC_PATH, without);
})();

/**
 * Binds `table` from the C library with this host's FFI (optional symbols
 * the library lacks come back null). For calls strom itself does not make
 * (tests bind theirs this way); throws if a required symbol is missing.
 */
export function bindSymbols<T extends SymbolTable>(table: T): Bound<T> {
  return bunFfi === null ? bindDeno(LIBC_PATH, table) : bindBun(bunFfi, LIBC_PATH, table);
}

/**
 * The address a pointer result of a bound C function holds, as a bigint (0
 * for NULL): Deno gives pointer objects, Bun numbers (or a bigint when the
 * address is above 2^53, as `MAP_FAILED` is).
 */
export function pointerAddress(p: unknown): bigint {
  if (bunFfi === null) return denoPointerAddress(p);
  return p === null || p === undefined ? 0n : BigInt(p as number | bigint);
}

/**
 * An ArrayBuffer over `byteLength` bytes of memory strom mapped itself (a
 * pointer result of a bound C function, not NULL). The buffer does not own
 * the memory: whoever unmaps it must drop every view of it first, or a later
 * access faults.
 */
export function externalBuffer(p: unknown, byteLength: number): ArrayBuffer {
  return bunFfi === null
    ? denoExternalBuffer(p, byteLength)
    : bunFfi.toArrayBuffer(p as number, 0, byteLength);
}

/**
 * Whether this code runs in a Worker (Deno: the global is a
 * `WorkerGlobalScope`; Bun: `Bun.isMainThread` is false).
 */
export const isWorkerThread: boolean = host === "deno"
  ? typeof (g as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "function"
  : (g.Bun as { isMainThread?: boolean }).isMainThread === false;

/**
 * Ends the process at once with `code` (Deno.exit / process.exit). In a
 * Worker both hosts' exit ends only that Worker (checked on Deno and Bun), so
 * there it calls libc `_exit`, which ends the whole process from any thread.
 */
export function exitProcess(code: number): never {
  if (isWorkerThread) {
    libc._exit(code);
    throw new Error(`strom: _exit(${code}) returned`);
  }
  if (g.Deno !== undefined) return g.Deno.exit(code);
  if (g.process !== undefined) return g.process.exit(code);
  throw new Error(`strom: cannot exit (code ${code})`);
}

const encoder = new TextEncoder();
const pollfd = new Uint8Array(8);

/**
 * Writes `line` (a newline is added if missing) to fd 2 synchronously through
 * libc `write(2)`, so the text is out before a following {@linkcode exitProcess}
 * (Bun's `process.stderr.write` may be asynchronous). Retries partial writes
 * and EINTR, and waits for POLLOUT if stderr is non-blocking and full; gives
 * up silently on any other error (there is nowhere left to report it).
 */
export function writeStderr(line: string): void {
  const bytes = encoder.encode(line.endsWith("\n") ? line : line + "\n");
  let off = 0;
  while (off < bytes.length) {
    const n = libc.write(2, bytes.subarray(off), bytes.length - off);
    if (n >= 0) {
      off += n;
      continue;
    }
    const e = libc.errno();
    if (e === 4 /* EINTR */) continue;
    if (e !== 11 /* EAGAIN */) return;
    // fd 2, POLLOUT, wait at most 1 s per attempt.
    const dv = new DataView(pollfd.buffer);
    dv.setInt32(0, 2, true);
    dv.setInt16(4, 0x4, true);
    dv.setInt16(6, 0, true);
    if (libc.poll(pollfd, 1, 1000) <= 0) return;
  }
}

/** The script's own arguments (without the runtime and script path), like `Deno.args`. */
export function hostArgs(): string[] {
  if (g.Deno !== undefined) return [...g.Deno.args];
  if (g.process !== undefined) return g.process.argv.slice(2);
  return [];
}

/** The number of logical CPUs (`navigator.hardwareConcurrency`), at least 1. */
export function hardwareConcurrency(): number {
  const n = g.navigator?.hardwareConcurrency;
  return typeof n === "number" && n >= 1 ? n : 1;
}

/**
 * The environment variable `name`, or undefined when unset. On Deno it is
 * read only when `--allow-env` (for that name, or `-A`) already grants it:
 * the permission is queried first, so a terminal never prompts; without it,
 * the variable reads as unset.
 */
export function envVar(name: string): string | undefined {
  const deno = g.Deno;
  if (deno !== undefined) {
    try {
      if (deno.permissions.querySync({ name: "env", variable: name }).state !== "granted") {
        return undefined;
      }
      return deno.env.get(name);
    } catch {
      return undefined; // no env permission after all: behave as unset
    }
  }
  return g.process?.env[name];
}
