/**
 * `untilSignal`: a task waits for a process signal, through the host.
 *
 * @module
 */

import { onHostSignal } from "../ffi/mod.ts";
import type { Operation } from "../sched/types.ts";
import { untilInBackground } from "./until.ts";

/** The signals a graceful shutdown waits for by default. */
export const SHUTDOWN_SIGNALS: readonly string[] = Object.freeze(["SIGINT", "SIGTERM"]);

/**
 * Waits until the process receives one of `signals` (default: SIGINT and
 * SIGTERM) and evaluates to its name. While it waits, those signals no
 * longer end the process: the program decides. The usual shape is a root
 * task that starts the work, waits for a signal and returns: `runAsync`
 * then cancels what it spawned (their `finally` blocks run, sockets close)
 * and the process ends normally, with exit code 0.
 *
 * Signals reach the process through the host's own API
 * (`Deno.addSignalListener`, `process.on`), so it needs the host's event
 * loop: `runAsync` (under the blocking `run` it halts, like `until`). On a
 * runtime worker, listen on the host thread instead: the host delivers
 * signals to its main thread.
 *
 * Cancel-safe: cancelled, it removes its listeners, and once no listener is
 * left the signal's default action returns (it ends the process again;
 * checked on both hosts). Throws a `TypeError` for an empty list or a name
 * that is not a catchable signal (`SIGHUP`, `SIGINT`, `SIGQUIT`, `SIGTERM`,
 * `SIGUSR1`, `SIGUSR2`, `SIGALRM`, `SIGCHLD`, `SIGCONT`, `SIGTSTP`,
 * `SIGTTIN`, `SIGTTOU`, `SIGWINCH`, `SIGPIPE`). Halts outside a task.
 *
 * @example
 * ```ts
 * await runAsync(function* () {
 *   yield* spawn(serve(listener));
 *   const signal = yield* untilSignal();
 *   console.log(`${signal}: shutting down`);
 * }());
 * ```
 */
export function* untilSignal(signals: readonly string[] = SHUTDOWN_SIGNALS): Operation<string> {
  if (!Array.isArray(signals) || signals.length === 0) {
    throw new TypeError(`untilSignal: expected a non-empty array of signal names, got ${signals}`);
  }
  let remove: (() => void) | null = null;
  try {
    return yield* untilInBackground((_signal) =>
      new Promise<string>((resolve) => {
        remove = onHostSignal(signals, resolve);
      })
    );
  } finally {
    (remove as (() => void) | null)?.();
  }
}
