/**
 * The root tasks of `examples/multi_worker.ts`: the two ways of spreading
 * connections over a runtime's workers. (The runtime tests use them too,
 * through `tests/fixtures/runtime_servers.ts`.)
 *
 * 1. One acceptor hands accepted fds to workers: `acceptor` takes each
 *    connection, gives up its fd (`intoFd`) and submits `serveFd(fd)` as a
 *    root task with `ownedFd(fd)`; whichever worker takes it adopts the fd
 *    (`TcpStream.fromFd`), and the runtime closes it if the task never starts.
 * 2. One listener per worker with SO_REUSEPORT: `reusePortServer` on every
 *    worker binds the same port; the kernel spreads connections among them.
 *
 * A task module is imported by every worker that runs one of its tasks, so
 * it only declares: no top-level work.
 *
 * @module
 */

import {
  ownedFd,
  rootTask,
  spawn,
  submit,
  type Task,
  TcpListener,
  TcpStream,
  workerIndex,
} from "../mod.ts";

/**
 * Board words: the port, connections served, finally blocks run, the
 * acceptor's worker, listeners bound, and from PER_WORKER on the connections
 * served by worker i.
 */
export const ServerBoard = {
  PORT: 0,
  SERVED: 1,
  FINALLY: 2,
  ACCEPTOR: 3,
  BOUND: 4,
  PER_WORKER: 8,
} as const;

function bump(board: Int32Array, word: number): void {
  Atomics.add(board, word, 1);
  Atomics.notify(board, word);
}

/** Echoes `conn` until EOF, then closes it; counts it for this worker. */
export function* echo(conn: TcpStream, board: Int32Array | null): Task<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = yield* conn.read(buf);
      if (n === 0) break;
      yield* conn.writeAll(buf, n);
    }
    if (board !== null) {
      bump(board, ServerBoard.PER_WORKER + workerIndex());
      bump(board, ServerBoard.SERVED);
    }
  } catch {
    // A peer reset ends this connection only.
  } finally {
    conn.close();
  }
}

/** A root task: adopts the connected socket `fd` and echoes it. */
export function* serveFd(fd: number, board: Int32Array | null): Task<void> {
  yield* echo(TcpStream.fromFd(fd), board);
}

/**
 * Listens on `host:port` (0: any free port, published in the board), and
 * hands every accepted connection to the runtime as a `serveFd` root task,
 * waiting for room when the queue is full. Runs until cancelled.
 */
export function* acceptor(host: string, port: number, board: Int32Array | null): Task<void> {
  const listener = TcpListener.bind({ hostname: host, port });
  try {
    if (board !== null) {
      Atomics.store(board, ServerBoard.ACCEPTOR, workerIndex());
      Atomics.store(board, ServerBoard.PORT, listener.localAddr.port);
      bump(board, ServerBoard.BOUND);
    } else {
      console.log(`listening on ${host}:${listener.localAddr.port}`);
    }
    for (;;) {
      const conn = yield* listener.accept();
      conn.setNoDelay(true);
      // The fd leaves this thread, owned by the task: if the task never
      // starts (submit throws at shutdown, ...), the runtime closes it.
      yield* submit(rootTask(import.meta.url, serveFd, ownedFd(conn.intoFd()), board));
    }
  } finally {
    listener.close();
    if (board !== null) bump(board, ServerBoard.FINALLY);
  }
}

/**
 * One of several listeners on the same `host:port` (SO_REUSEPORT), each on
 * its own worker; serves its connections on its worker. Runs until cancelled.
 * With `port` 0 the first one picks the port and publishes it in the board.
 */
export function* reusePortServer(host: string, port: number, board: Int32Array | null): Task<void> {
  const listener = TcpListener.bind({ hostname: host, port }, { reusePort: true });
  try {
    if (board !== null) {
      Atomics.store(board, ServerBoard.PORT, listener.localAddr.port);
      bump(board, ServerBoard.BOUND);
    } else {
      console.log(`worker ${workerIndex()} listening on ${host}:${listener.localAddr.port}`);
    }
    for (;;) {
      const conn = yield* listener.accept();
      conn.setNoDelay(true);
      yield* spawn(echo(conn, board));
    }
  } finally {
    listener.close();
    if (board !== null) bump(board, ServerBoard.FINALLY);
  }
}
