/**
 * `src/ffi`: the only part of strom that knows which host runs it. Exports
 * this thread's loaded {@linkcode libc}, the {@linkcode host} name, the
 * kernel constants, errno handling, the C struct codecs, the monotonic clock
 * and the process helpers the halt mechanism uses.
 *
 * Importing this module loads libc (top-level await on Bun, where `bun:ffi`
 * is imported dynamically).
 *
 * @module
 */

export { monotonicNowMs, monotonicNowNs } from "./clock.ts";
export * from "./constants.ts";
export * from "./errors.ts";
export {
  bindSymbols,
  envVar,
  exitProcess,
  hardwareConcurrency,
  host,
  hostArgs,
  isWorkerThread,
  libc,
  LIBC_PATH,
  writeStderr,
} from "./host.ts";
export {
  closeOffThreadPoller,
  onHostSignal,
  pollOffThread,
  prepareOffThreadPoller,
  yieldToHostLoop,
} from "./host_loop.ts";
export type { Bytes, Libc } from "./libc.ts";
export { MAX_IO_LEN, MAX_IOV } from "./libc.ts";
export * from "./structs.ts";
export type { Bound, CFn, CType, SymbolSpec, SymbolTable } from "./symbols.ts";
export { MultishotPoll } from "./uring.ts";
