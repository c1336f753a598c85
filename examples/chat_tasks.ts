/**
 * The root task of `examples/chat.ts`: one chat server per worker.
 *
 * Each worker runs `chatWorker`: a listener on the shared port
 * (SO_REUSEPORT: the kernel spreads connections over the workers), a
 * {@linkcode Semaphore} capping its connections, and a broadcaster. A line a
 * client sends goes, tagged with the client's id, into the **inbox** of
 * every worker (a {@linkcode SharedChannel} each, its own included); each
 * worker's broadcaster takes lines from its inbox and queues them for its
 * own clients (a {@linkcode Channel} per client, drained by the client's
 * writer), skipping the client that sent it. A client whose queue grows past
 * {@linkcode MAX_QUEUED_BYTES} has stopped reading: it is dropped (its
 * connection closed), so it cannot stall the others.
 *
 * A task module is imported by every worker: it only declares.
 *
 * @module
 */

import {
  awaitAny,
  Channel,
  type JoinHandle,
  Semaphore,
  SharedChannel,
  spawn,
  SysError,
  type Task,
  TaskSet,
  TcpListener,
  type TcpStream,
} from "../mod.ts";

/** Connections one worker serves at once; more wait in the kernel's backlog. */
export const MAX_CONNECTIONS_PER_WORKER = 1024;
/** Bytes queued for one client before it counts as not reading and is dropped. */
export const MAX_QUEUED_BYTES = 1 << 20;
/** The longest line (newline included); a longer one drops its sender. */
export const MAX_LINE = 64 * 1024;

/** Board words shared with the host: the port, and the workers listening. */
export const ChatBoard = { PORT: 0, BOUND: 1 } as const;

const NL = 0x0a;
// Lines per vectored write (writev takes at most 64 buffers).
const MAX_BATCH = 64;

interface Client {
  readonly id: number;
  readonly out: Channel<Uint8Array>;
  queuedBytes: number;
  session: JoinHandle<void> | null;
}

/**
 * Serves chat on `host:port` on this worker (`port` 0: pick one and publish
 * it in `board`). `me` is this server's index; `inboxes[i]` is server i's
 * inbox. Runs until cancelled (the runtime's shutdown).
 */
export function* chatWorker(
  host: string,
  port: number,
  board: Int32Array,
  me: number,
  ...inboxes: SharedArrayBuffer[]
): Task<void> {
  const channels = inboxes.map((b) => new SharedChannel<Uint8Array>(b));
  const clients = new Map<number, Client>();
  const listener = TcpListener.bind({ hostname: host, port }, { reusePort: true });
  try {
    Atomics.store(board, ChatBoard.PORT, listener.localAddr.port);
    Atomics.add(board, ChatBoard.BOUND, 1);
    Atomics.notify(board, ChatBoard.BOUND);
    // The two loops end only by an error (or with this task): the first one
    // to end ends the worker's server, and `using` cancels the other.
    using loops = new TaskSet<void>();
    loops.spawn(acceptLoop(listener, me, clients, channels));
    loops.spawn(broadcast(channels[me], clients));
    yield* loops.joinNext();
  } finally {
    listener.close();
  }
}

function* acceptLoop(
  listener: TcpListener,
  me: number,
  clients: Map<number, Client>,
  inboxes: SharedChannel<Uint8Array>[],
): Task<void> {
  const connections = new Semaphore(MAX_CONNECTIONS_PER_WORKER);
  let next = 0;
  for (;;) {
    // Take a permit before accepting: at the cap, connections wait in the backlog.
    const permit = yield* connections.acquire();
    let conn: TcpStream;
    try {
      conn = yield* listener.accept();
    } catch (error) {
      permit.release();
      throw error;
    }
    conn.setNoDelay(true);
    const client: Client = {
      id: me * 2 ** 24 + (next++ % 2 ** 24),
      out: new Channel<Uint8Array>(1 << 16),
      queuedBytes: 0,
      session: null,
    };
    clients.set(client.id, client);
    client.session = yield* spawn(session(conn, client, clients, inboxes, permit));
  }
}

// One connection: its reader and its writer; when either ends, so does the
// other, and the connection is closed, forgotten and its permit released.
function* session(
  conn: TcpStream,
  client: Client,
  clients: Map<number, Client>,
  inboxes: SharedChannel<Uint8Array>[],
  permit: Disposable,
): Task<void> {
  using _permit = permit;
  try {
    yield* awaitAny(readLines(conn, client.id, inboxes), writeQueued(conn, client));
  } catch (error) {
    // A reset or a too-long line ends this client only; anything else is a bug.
    if (!(error instanceof SysError || error instanceof RangeError)) throw error;
  } finally {
    clients.delete(client.id);
    client.out.close();
    conn.close();
  }
}

// Reads lines and sends each, tagged with the client's id, to every inbox.
function* readLines(conn: TcpStream, id: number, inboxes: SharedChannel<Uint8Array>[]): Task<void> {
  const buf = new Uint8Array(MAX_LINE);
  let have = 0;
  for (;;) {
    const n = yield* conn.read(buf.subarray(have));
    if (n === 0) return; // the client left (a partial last line is dropped)
    let start = 0;
    for (let i = have; i < have + n; i++) {
      if (buf[i] !== NL) continue;
      const message = new Uint8Array(4 + i + 1 - start);
      new DataView(message.buffer).setUint32(0, id);
      message.set(buf.subarray(start, i + 1), 4);
      for (const inbox of inboxes) yield* inbox.send(message);
      start = i + 1;
    }
    have += n;
    if (start > 0) {
      buf.copyWithin(0, start, have);
      have -= start;
    }
    if (have === buf.length) throw new RangeError(`a line longer than ${MAX_LINE} bytes`);
  }
}

// Writes what the broadcaster queued for this client, several lines per write.
function* writeQueued(conn: TcpStream, client: Client): Task<void> {
  const batch: Uint8Array[] = [];
  for (let r = yield* client.out.recv(); !r.done; r = yield* client.out.recv()) {
    batch.push(r.value);
    while (batch.length < MAX_BATCH) {
      const more = client.out.tryRecv();
      if (more === null || more.done) break;
      batch.push(more.value);
    }
    let bytes = 0;
    for (const line of batch) bytes += line.length;
    yield* conn.writevAll(batch);
    client.queuedBytes -= bytes;
    batch.length = 0;
  }
}

// Takes lines from this worker's inbox and queues each for every local
// client but its sender; drops a client that stopped reading.
function* broadcast(inbox: SharedChannel<Uint8Array>, clients: Map<number, Client>): Task<void> {
  for (let r = yield* inbox.recv(); !r.done; r = yield* inbox.recv()) {
    const from = new DataView(r.value.buffer, r.value.byteOffset).getUint32(0);
    const line = r.value.subarray(4);
    for (const client of clients.values()) {
      if (client.id === from) continue;
      if (client.queuedBytes + line.length > MAX_QUEUED_BYTES || !client.out.trySend(line)) {
        client.session?.cancel(); // not reading: drop it (its finally closes it)
        continue;
      }
      client.queuedBytes += line.length;
    }
  }
}
