/**
 * The eventfd another thread writes to wake a reactor from its kernel wait.
 *
 * @module
 */

import { check, EFD_CLOEXEC, EFD_NONBLOCK, libc } from "../ffi/mod.ts";

/** A non-blocking eventfd used as a reactor's doorbell. */
export class WakeFd {
  readonly fd: number;
  readonly #buf = new Uint8Array(8);

  constructor() {
    this.fd = check(libc.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC), "eventfd", libc);
  }

  /** Rings the bell (from any thread: the fd is shared by the process). */
  signal(): void {
    const one = new Uint8Array(8);
    one[0] = 1;
    libc.write(this.fd, one, 8);
  }

  /** Resets the counter so the next signal is a new edge. */
  drain(): void {
    libc.read(this.fd, this.#buf, 8);
  }

  /** Closes the eventfd. */
  close(): void {
    libc.close(this.fd);
  }
}
