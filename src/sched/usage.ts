/**
 * The usage model's rules and the halt that enforces them.
 *
 * Breaking a rule is a bug in the program, not bad input: strom does not try
 * to recover, because the state it would recover from may already be
 * corrupt. It writes one line naming the rule to stderr and ends the process
 * with {@linkcode HALT_EXIT_CODE}.
 *
 * @module
 */

import { exitProcess, writeStderr } from "../ffi/mod.ts";

/** The exit code of a process halted for breaking the usage model. */
export const HALT_EXIT_CODE = 86;

/** Every rule of the usage model, by the name printed when it is broken. */
export const Rule = {
  /** A strom operation was advanced by something other than a strom task. */
  OutsideTask: "operation-outside-task",
  /** A task yielded a value that is not a strom request (`yield` for `yield*`). */
  ForeignYield: "yield-without-star",
  /** `run` was called while a task of this thread was running. */
  RunInsideTask: "run-inside-task",
  /** A task was joined from a scheduler other than the one that runs it. */
  ForeignJoin: "join-from-other-thread",
  /** A generator already given to strom (started or finished) was given again. */
  ReusedGenerator: "generator-reused",
  /** A `finally` block waited while its task was being cancelled. */
  WaitDuringCancel: "wait-during-cancel",
  /** Every task of the thread waits and nothing can ever wake one. */
  Deadlock: "deadlock",
  /** A socket was used from a thread other than the one it is registered with. */
  ForeignSocket: "socket-from-other-thread",
  /** Two tasks waited to read (or to write) the same socket at once. */
  SharedSocketWait: "socket-waited-on-twice",
  /** A socket was used after `close()`. */
  UseAfterClose: "socket-used-after-close",
  /** A runtime was shut down from one of its own workers. */
  ShutdownFromWorker: "shutdown-from-own-worker",
  /** A root task sent to a worker is not a named export of a module. */
  UnnamedRootTask: "root-task-not-named-export",
  /** A task waited for a host promise on a thread driven by the blocking `run`. */
  UntilUnderBlockingRun: "until-under-blocking-run",
} as const;

/** The name of a usage-model rule. */
export type RuleName = typeof Rule[keyof typeof Rule];

/**
 * Halts the process for breaking `rule`: prints
 * `strom: usage rule broken: <rule>: <detail>` to stderr and exits with
 * {@linkcode HALT_EXIT_CODE}. Never returns.
 */
export function halt(rule: RuleName, detail: string): never {
  writeStderr(`strom: usage rule broken: ${rule}: ${detail}\n`);
  return exitProcess(HALT_EXIT_CODE);
}
