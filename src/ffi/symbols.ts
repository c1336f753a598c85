/**
 * The C symbols strom binds, declared once for both hosts. A loader
 * (`deno.ts`, `bun.ts`) maps each {@linkcode CType} to its host's FFI type
 * name and opens the table with its host's `dlopen`.
 *
 * Signature choices (see `libc.ts` for why): every integer is 32-bit. On Deno
 * any 64-bit parameter or result drops the call off V8's fast path (80-140 ns
 * instead of ~17 ns) and returns a bigint.
 * - `ssize_t` results as `i32`: byte counts stay below 2^31 (MAX_IO_LEN) and
 *   `-1` keeps its value in the low half of rax.
 * - `size_t`/`nfds_t` parameters as `u32`: the callee reads the full 64-bit
 *   register; the SysV ABI leaves the upper half of a 32-bit argument
 *   undefined, but both hosts' call trampolines write the register with a
 *   32-bit move, which zero-extends. `tests/ffi.test.ts` ("short length")
 *   proves it on each host: a read with `len` smaller than the data available
 *   returns exactly `len` bytes, in a hot loop.
 * - `socklen_t` is u32 in C already.
 * - Pointers as `buf`: a TypedArray (or null) goes straight to C (both hosts
 *   honour its byteOffset, checked by a test), no pointer object is made on
 *   the hot path.
 *
 * @module
 */

/**
 * A C type as the tables declare it:
 * - `i32`, `u32`: 32-bit integers (JS numbers);
 * - `buf`: a pointer argument given as a TypedArray (or null), C sees the
 *   address of its first byte;
 * - `ptr`: a raw pointer result (Deno: a pointer object or null; Bun: a number);
 * - `void`: no result.
 */
export type CType = "i32" | "u32" | "buf" | "ptr" | "void";

/** One C function: its parameter and result types. */
export interface SymbolSpec {
  /** The parameter types, in order. */
  readonly args: readonly CType[];
  /** The result type. */
  readonly returns: CType;
  /**
   * The symbol may be missing from the C library (a newer glibc's addition):
   * it is bound as `null` instead of failing the whole load. The caller must
   * have a fallback.
   */
  readonly optional?: boolean;
  /**
   * Deno only: bound with `nonblocking: true`, so the call runs on one of
   * Deno's blocking-task threads and returns a Promise of its result. Bun has
   * no such calls (its loader refuses the flag).
   */
  readonly nonblocking?: boolean;
}

/** Symbols by C name. */
export type SymbolTable = { readonly [name: string]: SymbolSpec };

/** A bound C function, as both hosts call it (checked by the table's types only). */
// deno-lint-ignore no-explicit-any
export type CFn = (...args: any[]) => any;

/** The functions of a bound table: optional ones may be `null`. */
export type Bound<T extends SymbolTable> = {
  readonly [K in keyof T]: T[K] extends { readonly optional: true } ? CFn | null : CFn;
};

/**
 * The libc functions strom itself calls (tests bind what only they need in
 * tests/helpers/test_libc.ts, with {@linkcode bindSymbols} of `host.ts`).
 */
export const LIBC_SYMBOLS = {
  __errno_location: { args: [], returns: "ptr" },
  socket: { args: ["i32", "i32", "i32"], returns: "i32" },
  // UnixStream.pair / UnixDatagram.pair.
  socketpair: { args: ["i32", "i32", "i32", "buf"], returns: "i32" },
  bind: { args: ["i32", "buf", "u32"], returns: "i32" },
  listen: { args: ["i32", "i32"], returns: "i32" },
  accept4: { args: ["i32", "buf", "buf", "i32"], returns: "i32" },
  connect: { args: ["i32", "buf", "u32"], returns: "i32" },
  shutdown: { args: ["i32", "i32"], returns: "i32" },
  setsockopt: { args: ["i32", "i32", "i32", "buf", "u32"], returns: "i32" },
  getsockopt: { args: ["i32", "i32", "i32", "buf", "buf"], returns: "i32" },
  getsockname: { args: ["i32", "buf", "buf"], returns: "i32" },
  getpeername: { args: ["i32", "buf", "buf"], returns: "i32" },
  recv: { args: ["i32", "buf", "u32", "i32"], returns: "i32" },
  send: { args: ["i32", "buf", "u32", "i32"], returns: "i32" },
  recvfrom: { args: ["i32", "buf", "u32", "i32", "buf", "buf"], returns: "i32" },
  sendto: { args: ["i32", "buf", "u32", "i32", "buf", "u32"], returns: "i32" },
  sendmsg: { args: ["i32", "buf", "i32"], returns: "i32" },
  read: { args: ["i32", "buf", "u32"], returns: "i32" },
  write: { args: ["i32", "buf", "u32"], returns: "i32" },
  readv: { args: ["i32", "buf", "i32"], returns: "i32" },
  writev: { args: ["i32", "buf", "i32"], returns: "i32" },
  close: { args: ["i32"], returns: "i32" },
  // Variadic in C; fixed int arguments are sound on x86_64 and aarch64 Linux
  // (AsyncFd checks that an fd is non-blocking with F_GETFL).
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  eventfd: { args: ["u32", "i32"], returns: "i32" },
  epoll_create1: { args: ["i32"], returns: "i32" },
  epoll_ctl: { args: ["i32", "i32", "i32", "buf"], returns: "i32" },
  epoll_wait: { args: ["i32", "buf", "i32", "i32"], returns: "i32" },
  // glibc >= 2.35 (and a kernel >= 5.11, else ENOSYS); the last argument is
  // the sigmask (always null here). The epoll reactor falls back to
  // epoll_wait when it is missing.
  epoll_pwait2: { args: ["i32", "buf", "i32", "buf", "buf"], returns: "i32", optional: true },
  poll: { args: ["buf", "u32", "i32"], returns: "i32" },
  ppoll: { args: ["buf", "u32", "buf", "buf"], returns: "i32" },
  clock_gettime: { args: ["i32", "buf"], returns: "i32" },
  // glibc >= 2.30 (RHEL 8 has 2.28): else syscall(SYS_gettid).
  gettid: { args: [], returns: "i32", optional: true },
  // Variadic in C; called with the syscall number only (an int-class argument).
  syscall: { args: ["i32"], returns: "i32" },
  // errno's text and (glibc >= 2.32) its name, for SysError messages (older:
  // see errors.ts).
  strerror: { args: ["i32"], returns: "ptr" },
  strerrorname_np: { args: ["i32"], returns: "ptr", optional: true },
  _exit: { args: ["i32"], returns: "void" },
  // Variadic in C; only the first two (int-class) arguments are read for the
  // options strom uses, and ints travel in the same registers either way.
  prctl: { args: ["i32", "u32"], returns: "i32" },
  getrlimit: { args: ["i32", "buf"], returns: "i32" },
} as const satisfies SymbolTable;

/**
 * The optional symbols to treat as missing, from `STROM_WITHOUT_SYMBOLS`
 * (comma-separated), so the fallbacks an older glibc needs can be exercised
 * on a newer one. Names of required symbols are refused.
 */
export function parseWithout(table: SymbolTable, value: string | undefined): Set<string> {
  const names = new Set<string>();
  for (const raw of (value ?? "").split(",")) {
    const name = raw.trim();
    if (name === "") continue;
    const spec = table[name];
    if (spec === undefined || spec.optional !== true) {
      throw new TypeError(
        `STROM_WITHOUT_SYMBOLS names optional C symbols only (${
          Object.keys(table).filter((n) => table[n]?.optional === true).join(", ")
        }), got "${name}"`,
      );
    }
    names.add(name);
  }
  return names;
}
