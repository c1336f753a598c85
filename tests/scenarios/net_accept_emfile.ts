// accept under fd exhaustion: with RLIMIT_NOFILE lowered so that no new fd
// can be opened, a pending connection makes accept4 fail with EMFILE. The
// accept loop must back off (not spin) while an existing connection keeps
// being served, and take the pending connection once fds are available again.
// Prints one line `ok backoffs=N rounds=M limit=L ms=T` (T: how long accept
// met EMFILE; L: the soft limit used,
// the lowest free fd at that point) and exits 0, or throws.
import {
  awaitAll,
  type JoinHandle,
  now,
  run,
  sleep,
  spawn,
  type Task,
  TcpListener,
  TcpStream,
} from "../../mod.ts";
import { decodeRlimit, EFD_CLOEXEC, encodeRlimit, libc, RLIMIT_NOFILE } from "../../src/ffi/mod.ts";
import { testLibc } from "../helpers/test_libc.ts";

function* echo(conn: TcpStream): Task<void> {
  const buf = new Uint8Array(256);
  try {
    for (;;) {
      const n = yield* conn.read(buf);
      if (n === 0) return;
      yield* conn.writeAll(buf, n);
    }
  } finally {
    conn.close();
  }
}

function* roundTrip(conn: TcpStream, byte: number): Task<void> {
  const msg = new Uint8Array([byte, byte, byte]);
  const back = new Uint8Array(3);
  yield* conn.writeAll(msg);
  yield* conn.readExact(back);
  if (back.join() !== msg.join()) throw new Error(`echo mismatch: ${back} vs ${msg}`);
}

/** The lowest free fd number: what the next fd the kernel hands out gets. */
function lowestFreeFd(): number {
  const probe = libc.eventfd(0, EFD_CLOEXEC);
  if (probe < 0) throw new Error("eventfd failed");
  libc.close(probe);
  return probe;
}

const rl = new Uint8Array(16);
if (testLibc.getrlimit(RLIMIT_NOFILE, rl) !== 0) throw new Error("getrlimit failed");
const original = decodeRlimit(rl);

const listener = TcpListener.bind("127.0.0.1:0", { backlog: 16 });
run(function*(): Task<void> {
  const handlers: JoinHandle<void>[] = [];
  const acceptOne = function*(): Task<void> {
    handlers.push(yield* spawn(echo(yield* listener.accept())));
  };
  yield* spawn(acceptOne());
  const a = yield* TcpStream.connect(listener.localAddr);
  yield* roundTrip(a, 1); // A is accepted and served
  const b = yield* TcpStream.connect(listener.localAddr); // B waits in the queue
  // From now on no fd can be opened: accepting B meets EMFILE.
  const limit = lowestFreeFd();
  encodeRlimit(limit, original.hard, rl);
  if (testLibc.setrlimit(RLIMIT_NOFILE, rl) !== 0) throw new Error("setrlimit failed");
  const server = yield* spawn(acceptOne());
  const emfileFrom = now();
  let rounds = 0;
  try {
    // A keeps being served while accept backs off.
    for (let i = 0; i < 30; i++) {
      yield* roundTrip(a, i);
      rounds++;
      yield* sleep(10);
    }
  } finally {
    encodeRlimit(original.soft, original.hard, rl);
    // deno-lint-ignore no-unsafe-finally -- a limit not restored must end the scenario
    if (testLibc.setrlimit(RLIMIT_NOFILE, rl) !== 0) throw new Error("setrlimit (restore) failed");
  }
  const emfileMs = now() - emfileFrom;
  const backoffs = listener.acceptBackoffs;
  if (backoffs < 1) throw new Error("accept never met EMFILE");
  // ~300 ms of EMFILE (longer on a busy machine: the bound scales with the
  // time measured, not a fixed 20) with pauses of 1, 2, 4, ... 100 ms: about
  // 8 + ms / 100 tries. A spinning accept would have made thousands.
  const most = 10 + Math.ceil(emfileMs / 50);
  if (backoffs > most) {
    throw new Error(`accept retried ${backoffs} times in ${emfileMs.toFixed(0)} ms: it spins`);
  }
  yield* roundTrip(b, 42); // B is accepted once fds are available
  yield* server.join();
  a.close();
  b.close();
  yield* awaitAll(handlers.map((h) => h.join()));
  listener.close();
  console.log(`ok backoffs=${backoffs} rounds=${rounds} limit=${limit} ms=${emfileMs.toFixed(0)}`);
}());
