/**
 * Living with the host's event loop: the host-specific pieces strom needs to
 * wait for the kernel without holding the JS thread, to give the host loop a
 * turn, and to hear signals.
 *
 * - {@linkcode pollOffThread}: `ppoll(2)` on another thread, as a Promise.
 *   Deno runs it as a `nonblocking` FFI call (on Deno's blocking-task
 *   threads); Bun has no non-blocking FFI calls, so a helper Worker of this
 *   thread blocks in `ppoll` on a SharedArrayBuffer copy of the fds and
 *   answers through `Atomics.notify`, which the JS thread awaits with
 *   `Atomics.waitAsync` (see `bun_poll_helper.ts`).
 * - {@linkcode yieldToHostLoop}: one macrotask, `setImmediate` (both hosts
 *   have it; 1-2 µs here, where `setTimeout(0)` is clamped to 1-4 ms).
 * - {@linkcode onHostSignal}: `Deno.addSignalListener` / `process.on`.
 *
 * @module
 */

// deno-lint-ignore-file no-explicit-any
import { POLLFD_SIZE, TIMESPEC_SIZE } from "./constants.ts";
import { host, LIBC_PATH } from "./host.ts";
import { encodeTimespec } from "./structs.ts";

const g = globalThis as any;

/**
 * Lets the host's event loop run once (its timers, I/O callbacks, promise
 * jobs) and resolves right after: a `setImmediate` macrotask.
 */
export function yieldToHostLoop(): Promise<void> {
  return new Promise<void>((resolve) => g.setImmediate(resolve));
}

/**
 * Waits on another thread until one of the first `nfds` entries of the
 * pollfd array `fds` is ready or `timeoutNs` passes (-1: no limit), and
 * resolves with what `ppoll` returned (the count of ready entries, 0 on
 * time-out, -1 on failure: errno is not readable from here). `fds` must not
 * be changed until the promise settles; the revents land in `fds` on Deno
 * only (callers read readiness with a zero-timeout wait afterwards). One wait
 * at a time per thread.
 */
export function pollOffThread(fds: Uint8Array, nfds: number, timeoutNs: number): Promise<number> {
  return (poller ??= host === "deno" ? new DenoPoller() : new BunPoller()).poll(
    fds,
    nfds,
    timeoutNs,
  );
}

/** Ends this thread's off-thread poller (Bun: its helper Worker); idempotent. */
export function closeOffThreadPoller(): void {
  poller?.close();
  poller = null;
}

/**
 * Gets this thread's off-thread poller ready before its first wait (Bun:
 * starts its helper Worker now, while fds are surely available; Deno needs
 * nothing). Idempotent; a failure surfaces at the first wait.
 */
export function prepareOffThreadPoller(): void {
  if (host !== "bun") return;
  const p = (poller ??= new BunPoller()) as BunPoller;
  p.prepare();
}

interface Poller {
  poll(fds: Uint8Array, nfds: number, timeoutNs: number): Promise<number>;
  close(): void;
}

let poller: Poller | null = null;

class DenoPoller implements Poller {
  readonly #lib: { symbols: { ppoll(...args: any[]): Promise<number> }; close(): void };
  readonly #timespec = new Uint8Array(TIMESPEC_SIZE);

  constructor() {
    // A library handle of its own: `nonblocking` is a property of the symbol.
    this.#lib = g.Deno.dlopen(LIBC_PATH, {
      ppoll: {
        parameters: ["buffer", "u32", "buffer", "buffer"],
        result: "i32",
        nonblocking: true,
      },
    });
  }

  poll(fds: Uint8Array, nfds: number, timeoutNs: number): Promise<number> {
    let timeout: Uint8Array | null = null;
    if (timeoutNs >= 0) {
      encodeTimespec(timeoutNs, this.#timespec);
      timeout = this.#timespec;
    }
    return this.#lib.symbols.ppoll(fds, nfds, timeout, null);
  }

  close(): void {
    // A pending call still reads the library: only close when none is (the
    // scheduler never closes while waiting).
    this.#lib.close();
  }
}

/** The layout of the Bun helper's SharedArrayBuffer (see `bun_poll_helper.ts`). */
export const HelperLayout = {
  /** Int32 index: the request counter (the JS thread bumps it; -1 asks the helper to end). */
  REQUEST: 0,
  /** Int32 index: the last request answered. */
  ANSWERED: 1,
  /** Int32 index: the number of pollfd entries. */
  NFDS: 2,
  /** Int32 index: 1 if the timespec holds a time-out, 0 for none. */
  HAS_TIMEOUT: 3,
  /** Int32 index: ppoll's result. */
  RESULT: 4,
  /** Byte offset of the timespec. */
  TIMESPEC_AT: 32,
  /** Byte offset of the pollfd array. */
  FDS_AT: 48,
} as const;

class BunPoller implements Poller {
  #worker: any = null;
  #sab: SharedArrayBuffer | null = null;
  #ctl: Int32Array = new Int32Array(0);
  #bytes: Uint8Array = new Uint8Array(0);
  #capacity = 0;
  #request = 0;
  #starting: Promise<void> | null = null;

  // One Worker for the thread's life, started once: growing the pollfd
  // array posts a new buffer to it (request -2, then the buffer) rather than
  // starting another. A Worker takes fds (its event loop's epoll fd, its
  // module's file), and Bun ends the whole process when it cannot get one
  // ("bun ran out of file descriptors"): a server that accepted up to the fd
  // limit must not need a new one (see docs/findings.md).
  async #start(capacity: number): Promise<void> {
    const sab = new SharedArrayBuffer(HelperLayout.FDS_AT + capacity * POLLFD_SIZE);
    let worker = this.#worker;
    if (worker !== null) {
      Atomics.store(this.#ctl, HelperLayout.REQUEST, -2);
      Atomics.notify(this.#ctl, HelperLayout.REQUEST);
    } else {
      worker = new g.Worker(new URL("./bun_poll_helper.ts", import.meta.url).href);
    }
    await new Promise<void>((resolve, reject) => {
      worker.onmessage = () => resolve();
      worker.onerror = (e: { message?: string }) =>
        reject(new Error(`strom: the poll helper worker failed: ${e.message ?? e}`));
      worker.postMessage(sab);
    });
    worker.onmessage = null;
    worker.onerror = null;
    this.#worker = worker;
    this.#sab = sab;
    this.#ctl = new Int32Array(sab, 0, 8);
    this.#bytes = new Uint8Array(sab);
    this.#capacity = capacity;
    this.#request = 0;
    worker.unref(); // referenced only while a wait is pending
  }

  /** Starts the helper now (idempotent), so it exists before fds may run out. */
  prepare(): void {
    if (this.#worker !== null || this.#starting !== null) return;
    const starting = this.#start(64);
    this.#starting = starting;
    // A failure is poll's to report (it awaits the same promise); here it
    // must not be an unhandled rejection.
    starting.then(() => {
      if (this.#starting === starting) this.#starting = null;
    }, () => {});
  }

  async poll(fds: Uint8Array, nfds: number, timeoutNs: number): Promise<number> {
    if (this.#capacity < nfds || this.#worker === null) {
      let capacity = Math.max(this.#capacity, 64);
      while (capacity < nfds) capacity *= 2;
      // A start under way (prepare) is awaited first; then grow if needed.
      if (this.#starting !== null) {
        try {
          await this.#starting;
        } finally {
          this.#starting = null;
        }
      }
      if (this.#capacity < nfds || this.#worker === null) {
        this.#starting = this.#start(capacity);
        try {
          await this.#starting;
        } finally {
          this.#starting = null;
        }
      }
    }
    const ctl = this.#ctl;
    this.#bytes.set(fds.subarray(0, nfds * POLLFD_SIZE), HelperLayout.FDS_AT);
    ctl[HelperLayout.NFDS] = nfds;
    if (timeoutNs >= 0) {
      encodeTimespec(
        timeoutNs,
        this.#bytes.subarray(HelperLayout.TIMESPEC_AT, HelperLayout.TIMESPEC_AT + TIMESPEC_SIZE),
      );
      ctl[HelperLayout.HAS_TIMEOUT] = 1;
    } else {
      ctl[HelperLayout.HAS_TIMEOUT] = 0;
    }
    const answered = Atomics.load(ctl, HelperLayout.ANSWERED);
    Atomics.store(ctl, HelperLayout.REQUEST, ++this.#request);
    Atomics.notify(ctl, HelperLayout.REQUEST);
    const worker = this.#worker;
    worker.ref(); // a pending wait keeps the process alive, like Deno's pending call
    try {
      const w = (Atomics as any).waitAsync(ctl, HelperLayout.ANSWERED, answered);
      if (w.async) await w.value;
    } finally {
      worker.unref();
    }
    return ctl[HelperLayout.RESULT]!;
  }

  #stopWorker(): void {
    if (this.#worker === null) return;
    // The helper waits in Atomics.wait between requests (never in ppoll here:
    // a request is always answered before the next poll or close).
    Atomics.store(this.#ctl, HelperLayout.REQUEST, -1);
    Atomics.notify(this.#ctl, HelperLayout.REQUEST);
    this.#worker.unref();
    this.#worker = null;
  }

  close(): void {
    this.#stopWorker();
  }
}

/**
 * The signals a program may listen for: the catchable ones both hosts
 * accept (not SIGKILL/SIGSTOP, nor the faults a runtime keeps for itself).
 * Bun takes any name as an event name, so strom checks names itself.
 */
export const LISTENABLE_SIGNALS: readonly string[] = Object.freeze([
  "SIGHUP",
  "SIGINT",
  "SIGQUIT",
  "SIGTERM",
  "SIGUSR1",
  "SIGUSR2",
  "SIGALRM",
  "SIGCHLD",
  "SIGCONT",
  "SIGTSTP",
  "SIGTTIN",
  "SIGTTOU",
  "SIGWINCH",
  "SIGPIPE",
]);

/**
 * Calls `handler` with the signal's name each time one of `signals` (e.g.
 * `"SIGINT"`, `"SIGTERM"`) reaches the process, through the host's own
 * signal API (delivered on this thread's event loop). Returns the function
 * that removes the listeners. Throws a `TypeError` for a name not in
 * {@linkcode LISTENABLE_SIGNALS} or one the host refuses.
 */
export function onHostSignal(
  signals: readonly string[],
  handler: (signal: string) => void,
): () => void {
  for (const signal of signals) {
    if (!LISTENABLE_SIGNALS.includes(signal)) {
      throw new TypeError(
        `expected a signal name among ${LISTENABLE_SIGNALS.join(", ")}, got ${String(signal)}`,
      );
    }
  }
  const removers: (() => void)[] = [];
  try {
    for (const signal of signals) {
      const listener = () => handler(signal);
      if (host === "deno") {
        g.Deno.addSignalListener(signal, listener);
        removers.push(() => g.Deno.removeSignalListener(signal, listener));
      } else {
        g.process.on(signal, listener);
        removers.push(() => g.process.off(signal, listener));
      }
    }
  } catch (error) {
    for (const remove of removers) remove();
    throw new TypeError(
      `cannot listen for signals ${signals.join(", ")}: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
  return () => {
    for (const remove of removers) remove();
  };
}
