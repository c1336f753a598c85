// A user's AsyncFd read after close(): its fd number may already belong to
// something else, so strom halts (socket-used-after-close) naming the type.
import { AsyncFd, run } from "../../mod.ts";
import { libc, O_CLOEXEC, O_NONBLOCK } from "../../src/ffi/mod.ts";
import { testLibc } from "../helpers/test_libc.ts";

const fds = new Int32Array(2);
if (testLibc.pipe2(fds, O_NONBLOCK | O_CLOEXEC) !== 0) throw new Error("pipe2 failed");
const reader = new AsyncFd(fds[0], { name: "PipeReader" });
const buf = new Uint8Array(4);
run(function*() {
  reader.close();
  yield* reader.readWith("read", () => libc.read(fds[0], buf, 4));
}());
console.log("not reached");
