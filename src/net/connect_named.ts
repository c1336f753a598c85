/**
 * Connecting to a host name: resolve it, then try each address in the
 * resolver's order until one connects (as tokio's and Go's connect do).
 *
 * @module
 */

import { currentTask } from "../sched/current.ts";
import type { Operation } from "../sched/types.ts";
import { timeout, TimeoutError } from "../time/timeout.ts";
import type { SocketAddr } from "./addr.ts";
import { type NamedTarget, ResolveError, resolveNamed } from "./resolve.ts";

/** Connects to one address, with an optional time-out (`TcpStream.connect`). */
export type ConnectOne<S> = (addr: SocketAddr, options: { timeoutMs?: number }) => Operation<S>;

/**
 * Resolves `target` and connects to its addresses one after another, in the
 * resolver's order, returning the first connection made. Every failure
 * except bad input (`TypeError`, `RangeError`) moves on to the next
 * address; when none is left, the last address's error is thrown (so a
 * refused `localhost` says `ECONNREFUSED`, as with one address).
 * `timeoutMs` bounds the whole: the resolution (past it, a
 * {@linkcode ResolveError} with code `"ETIMEDOUT"`) and every attempt,
 * each given what is left. Cancel-safe as `connect`: the attempt under way
 * closes its socket; a cancelled resolution opened nothing.
 */
export function* connectNamed<S>(
  target: NamedTarget,
  options: { timeoutMs?: number },
  connectOne: ConnectOne<S>,
): Operation<S> {
  const ms = options.timeoutMs;
  if (ms !== undefined && (typeof ms !== "number" || !(ms >= 0))) {
    throw new RangeError(`connect: timeoutMs must be a number >= 0, got ${ms}`);
  }
  const scheduler = currentTask("connect").scheduler;
  let addrs: SocketAddr[];
  if (ms === undefined) {
    addrs = yield* resolveNamed(target);
  } else {
    const deadline = scheduler.now() + ms;
    try {
      addrs = yield* timeout(ms, resolveNamed(target));
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      throw new ResolveError(
        target.hostname,
        "ETIMEDOUT",
        `the resolver did not answer within connect's timeoutMs (${ms} ms)`,
      );
    }
    return yield* tryEach(addrs, connectOne, () => Math.max(0, deadline - scheduler.now()));
  }
  return yield* tryEach(addrs, connectOne, null);
}

function* tryEach<S>(
  addrs: readonly SocketAddr[],
  connectOne: ConnectOne<S>,
  left: (() => number) | null,
): Operation<S> {
  let last: unknown = null;
  for (let i = 0; i < addrs.length; i++) {
    // Past the deadline, one more attempt would only time out at once.
    if (left !== null && i > 0 && left() === 0) break;
    try {
      return yield* connectOne(addrs[i]!, left === null ? {} : { timeoutMs: left() });
    } catch (error) {
      if (error instanceof TypeError || error instanceof RangeError) throw error;
      last = error;
    }
  }
  throw last;
}
