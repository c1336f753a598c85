/**
 * The poll backend: portable (ppoll exists wherever POSIX does), level-
 * triggered, and O(waiting fds) per wait — the fallback, not the fast path.
 *
 * Sources with a waiting task are kept in a dense interest list; each wait
 * builds its pollfd array from that list.
 *
 * @module
 */

import {
  check,
  EINTR,
  encodeTimespec,
  libc,
  POLLERR,
  PollFds,
  POLLHUP,
  POLLIN,
  POLLNVAL,
  POLLOUT,
  POLLRDHUP,
} from "../ffi/mod.ts";
import { IoSource, PollHint, type Reactor, WaiterBook } from "./reactor.ts";
import { WakeFd } from "./wake_fd.ts";

const READ_EVENTS = POLLIN | POLLRDHUP | POLLHUP | POLLERR | POLLNVAL;
const WRITE_EVENTS = POLLOUT | POLLHUP | POLLERR | POLLNVAL;

/** A {@linkcode Reactor} on ppoll(2). */
export class PollReactor extends WaiterBook implements Reactor {
  readonly kind = "poll";
  readonly #wake = new WakeFd();
  #listed: IoSource[] = [];
  readonly #fds = new PollFds(256);
  readonly #timespec = new Uint8Array(16);

  get wakeFd(): number {
    return this.#wake.fd;
  }

  readonly ownFd = -1;

  register(fd: number): IoSource {
    return new IoSource(fd, this);
  }

  deregister(source: IoSource): void {
    source.reader = null;
    source.writer = null;
  }

  protected override interested(source: IoSource): void {
    if (source.pollSlot < 0) {
      source.pollSlot = this.#listed.length;
      this.#listed.push(source);
    }
  }

  watchFds(out: PollFds): number {
    // Drop the sources whose waiters left first: each pollfd counts against
    // nfds even with fd -1, and ppoll fails with EINVAL once nfds exceeds
    // RLIMIT_NOFILE. Left in, they did: examples/echo.ts under `ulimit -n
    // 256` (tests/slow_peers.test.ts) died with "ppoll failed: EINVAL" when
    // a wave of idle connections closed and new ones were accepted between
    // two waits. Compacted, nfds is at most the open fds waited on + 1.
    this.#compact();
    out.set(0, this.#wake.fd, POLLIN);
    let n = 1;
    for (const source of this.#listed) {
      const events = (source.reader !== null ? POLLIN | POLLRDHUP : 0)
        | (source.writer !== null ? POLLOUT : 0);
      out.set(n++, source.fd, events);
    }
    return n;
  }

  /** Always {@linkcode PollHint.Unknown}: ppoll has no readiness to read without a syscall. */
  pollHint(): PollHint {
    return PollHint.Unknown;
  }

  /** Always false: ppoll has no readiness to read without a syscall. */
  setBusy(_busy: boolean): boolean {
    return false;
  }

  wait(timeoutNs: number): boolean {
    const fds = this.#fds;
    const n = this.watchFds(fds);
    const listed = this.#listed;
    let timeout: Uint8Array | null = null;
    if (timeoutNs >= 0) {
      encodeTimespec(timeoutNs, this.#timespec);
      timeout = this.#timespec;
    }
    const ready = libc.ppoll(fds.bytes, n, timeout);
    if (ready < 0 && libc.errno() !== EINTR) check(ready, "ppoll", libc);
    const woken = ready > 0 && fds.revents(0) !== 0;
    if (woken) this.#wake.drain();
    for (let i = 1; ready > 0 && i < n; i++) {
      const rev = fds.revents(i);
      if (rev === 0) continue;
      const source = listed[i - 1]!;
      if ((rev & READ_EVENTS) !== 0 && source.reader !== null) this.readyToRead(source);
      if ((rev & WRITE_EVENTS) !== 0 && source.writer !== null) this.readyToWrite(source);
    }
    return woken;
  }

  // Drops sources nobody waits on from the interest list.
  #compact(): void {
    const kept: IoSource[] = [];
    for (const source of this.#listed) {
      if (source.reader !== null || source.writer !== null) {
        source.pollSlot = kept.length;
        kept.push(source);
      } else {
        source.pollSlot = -1;
      }
    }
    this.#listed = kept;
  }

  close(): void {
    this.#wake.close();
  }
}
