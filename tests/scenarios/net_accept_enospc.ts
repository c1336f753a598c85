// accept when registering the accepted fd fails: strace (attached to this
// thread only, so the host's own threads are untouched) makes the first
// `epoll_ctl` calls after it attaches fail with ENOSPC, as the kernel does at
// fs.epoll.max_user_watches. Those are the registrations of the first
// accepted connections. accept must close each such fd, back off, and keep
// listening: the connections after them are served.
//
// Args: the strace output file. Prints `ready PORT` once strace is attached
// (the test then connects clients one after another), then
// `ok served=N backoffs=B leaked=L` and exits 0.
import { spawn as spawnChild } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { run, type Task, TcpListener, type TcpStream } from "../../mod.ts";
import { libc } from "../../src/ffi/mod.ts";

const [traceFile] = process.argv.slice(2);
const FAILED = 2; // registrations made to fail
const SERVED = 2; // connections to serve afterwards

function say(line: string): void {
  // Straight to fd 1: a host's own stdout machinery might call epoll_ctl.
  const bytes = new TextEncoder().encode(line + "\n");
  libc.write(1, bytes, bytes.length);
}

function* echoOnce(conn: TcpStream): Task<void> {
  try {
    const buf = new Uint8Array(16);
    const n = yield* conn.read(buf);
    yield* conn.writeAll(buf, n);
  } finally {
    conn.close();
  }
}

const listener = TcpListener.bind("127.0.0.1:0");
const tid = libc.gettid();
const strace = spawnChild("strace", [
  "-p",
  String(tid),
  "-o",
  traceFile,
  "-e",
  "trace=epoll_ctl",
  "-e",
  `inject=epoll_ctl:error=ENOSPC:when=1..${FAILED}`,
], { stdio: "ignore" });
strace.on("error", (error) => {
  throw error;
});
// Wait for the attach without turning the host's event loop (its own
// epoll_ctl calls on this thread would take the injected failures): the
// kernel shows the tracer in /proc/self/status.
const deadline = Date.now() + 20_000;
while (!/^TracerPid:\s*[1-9]/m.test(readFileSync("/proc/self/status", "utf8"))) {
  if (Date.now() > deadline) throw new Error("strace did not attach");
  libc.poll(new Uint8Array(8), 0, 5); // sleep 5 ms
}
const fdsBefore = readdirSync("/proc/self/fd").length;
say(`ready ${listener.localAddr.port}`);
run(function*(): Task<void> {
  for (let i = 0; i < SERVED; i++) yield* echoOnce(yield* listener.accept());
}());
const leaked = readdirSync("/proc/self/fd").length - fdsBefore;
say(`ok served=${SERVED} backoffs=${listener.acceptBackoffs} leaked=${leaked}`);
listener.close();
process.exit(0);
