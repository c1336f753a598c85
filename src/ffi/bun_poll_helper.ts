/**
 * The helper Worker that waits in the kernel for a Bun thread (Bun has no
 * non-blocking FFI calls; see `host_loop.ts`). It loads libc, receives a
 * SharedArrayBuffer laid out as `HelperLayout`, answers with one message,
 * then loops: sleep in `Atomics.wait` until the request counter moves, run
 * `ppoll` on the pollfd array in the buffer, store the result, bump the
 * answered counter and `Atomics.notify` it. A request of -1 ends the loop;
 * -2 leaves it for the next buffer (a larger one), which comes as a message.
 *
 * It never returns to its event loop while it serves, so it needs nothing
 * else from its host; it only ever blocks in `Atomics.wait` or `ppoll`.
 *
 * @module
 */

import { libc } from "./host.ts";
import { HelperLayout } from "./host_loop.ts";

interface HelperScope {
  onmessage: ((e: { data: SharedArrayBuffer }) => void) | null;
  postMessage(message: unknown): void;
  close(): void;
}

const scope = globalThis as unknown as HelperScope;

// Each buffer received is served until the JS thread asks for another one
// (request -2: a larger pollfd array, posted next; no new Worker, so no new
// fds, which may be scarce by then) or for the end (request -1).
scope.onmessage = (e) => {
  if (serve(e.data) === "end") {
    scope.onmessage = null;
    scope.close();
  }
};

function serve(sab: SharedArrayBuffer): "end" | "rebind" {
  const ctl = new Int32Array(sab, 0, 8);
  const bytes = new Uint8Array(sab);
  const timespec = bytes.subarray(HelperLayout.TIMESPEC_AT, HelperLayout.FDS_AT);
  const fds = bytes.subarray(HelperLayout.FDS_AT);
  scope.postMessage("ready");
  let seen = 0;
  for (;;) {
    Atomics.wait(ctl, HelperLayout.REQUEST, seen);
    const request = Atomics.load(ctl, HelperLayout.REQUEST);
    if (request === -1) return "end";
    if (request === -2) return "rebind";
    if (request === seen) continue; // spurious
    seen = request;
    const timeout = ctl[HelperLayout.HAS_TIMEOUT] === 1 ? timespec : null;
    ctl[HelperLayout.RESULT] = libc.ppoll(fds, ctl[HelperLayout.NFDS], timeout);
    Atomics.store(ctl, HelperLayout.ANSWERED, request);
    Atomics.notify(ctl, HelperLayout.ANSWERED);
  }
}
