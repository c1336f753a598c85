/**
 * Picks a reactor backend: the `STROM_REACTOR` environment variable
 * (`epoll` or `poll`) or the platform's best.
 *
 * @module
 */

import { envVar } from "../ffi/mod.ts";
import { EpollReactor } from "./epoll_reactor.ts";
import { PollReactor } from "./poll_reactor.ts";
import type { Reactor, ReactorKind } from "./reactor.ts";

/** The backend used when none is asked for: `STROM_REACTOR`, else epoll. */
export function defaultReactorKind(): ReactorKind {
  const asked = envVar("STROM_REACTOR");
  if (asked === undefined || asked === "") return "epoll";
  if (asked !== "epoll" && asked !== "poll") {
    throw new TypeError(`STROM_REACTOR must be "epoll" or "poll", got "${asked}"`);
  }
  return asked;
}

/** Creates a reactor of `kind` (default: {@linkcode defaultReactorKind}). */
export function createReactor(kind: ReactorKind = defaultReactorKind()): Reactor {
  return kind === "epoll" ? new EpollReactor() : new PollReactor();
}
