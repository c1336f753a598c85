/**
 * libc calls only the tests make, bound here so the shipped loaders bind
 * only what strom itself calls (with the same table format and the same
 * per-host mapping, through `bindSymbols`).
 */
import { bindSymbols, type Bytes, type SymbolTable } from "../../src/ffi/mod.ts";

const TEST_SYMBOLS = {
  socketpair: { args: ["i32", "i32", "i32", "buf"], returns: "i32" },
  pipe2: { args: ["buf", "i32"], returns: "i32" },
  fcntl: { args: ["i32", "i32", "i32"], returns: "i32" },
  getrlimit: { args: ["i32", "buf"], returns: "i32" },
  setrlimit: { args: ["i32", "buf"], returns: "i32" },
  getpid: { args: [], returns: "i32" },
} as const satisfies SymbolTable;

const s = bindSymbols(TEST_SYMBOLS);

/** The test-only libc calls (raw: -1 and errno on failure, like `Libc`). */
export const testLibc: {
  socketpair(domain: number, type: number, protocol: number, fds: Int32Array): number;
  pipe2(fds: Int32Array, flags: number): number;
  /** `fcntl` is variadic in C; fixed int arguments are sound on x86_64 and aarch64 Linux. */
  fcntl(fd: number, cmd: number, arg: number): number;
  getrlimit(resource: number, rlimit: Bytes): number;
  setrlimit(resource: number, rlimit: Bytes): number;
  getpid(): number;
} = s;
