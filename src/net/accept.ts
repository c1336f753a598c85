/**
 * The accept loop every listener shares (TCP and Unix), written on
 * {@linkcode AsyncFd}'s public methods only: what a user's own listener
 * would do.
 *
 * @module
 */

import { ECONNABORTED, EMFILE, ENFILE, ENOBUFS, ENOMEM, ENOSPC, SysError } from "../ffi/mod.ts";
import type { Operation } from "../sched/types.ts";
import type { AsyncFd } from "./async_fd.ts";

/** EPROTO: a protocol error on a pending connection (accept(2) lists it). */
const EPROTO = 71;

/** The first and the longest pause of accept's back-off under fd or memory exhaustion. */
export const ACCEPT_BACKOFF_MS = { first: 1, max: 100 } as const;

// Out of fds or kernel memory: waiting lets the other tasks free some.
// ENOSPC/ENOMEM also come from registering the accepted fd (epoll_ctl at
// fs.epoll.max_user_watches).
const EXHAUSTED: ReadonlySet<number> = new Set([EMFILE, ENFILE, ENOBUFS, ENOMEM, ENOSPC]);
// A connection that died in the queue: take the next one.
const ABORTED: ReadonlySet<number> = new Set([ECONNABORTED, EPROTO]);

/**
 * Accepts one connection on `listener`: `attempt` is the `accept4` call
 * (returns the new fd or -1), `adopt` turns the fd into the stream (closing
 * it if that fails). Under exhaustion it backs off (1 ms, doubling up to
 * 100 ms; `onBackOff` counts it) while the thread's other tasks run, and
 * retries; the pending connection stays queued, except when only its
 * registration failed (`ENOSPC`/`ENOMEM` from `adopt`): that connection is
 * closed, the next is accepted after the pause. Aborted connections are
 * skipped. Cancel-safe: cancelled while waiting or pausing, nothing was
 * taken.
 */
export function* acceptWith<T>(
  listener: AsyncFd,
  attempt: () => number,
  adopt: (fd: number) => T,
  onBackOff: () => void,
): Operation<T> {
  let pause = 0;
  for (;;) {
    let fd: number;
    try {
      fd = yield* listener.readWith("accept", attempt, 0, "accept4");
      return adopt(fd);
    } catch (error) {
      if (!(error instanceof SysError)) throw error;
      if (ABORTED.has(error.errno)) continue;
      if (!EXHAUSTED.has(error.errno)) throw error;
    }
    pause = pause === 0 ? ACCEPT_BACKOFF_MS.first : Math.min(pause * 2, ACCEPT_BACKOFF_MS.max);
    onBackOff();
    yield* listener.pause(pause, "accept");
  }
}
