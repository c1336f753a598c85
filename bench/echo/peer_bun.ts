// Peer echo server for the benchmark: Bun's own networking (Bun.listen).
// Same contract as examples/echo.ts: `bun bench/echo/peer_bun.ts PORT [HOST]`,
// prints exactly one line `listening on HOST:PORT` once it accepts, serves until killed.
// The idiomatic shape: write back in the `data` handler; keep what did not fit
// and flush it on `drain` (with 64-byte messages that never happens).

/** The part of Bun's socket API this server uses (declared here so `deno check` passes). */
interface BunSocket {
  write(data: Uint8Array): number;
  setNoDelay?(on: boolean): boolean;
  data: { pending: Uint8Array | null };
}
interface BunGlobal {
  argv: string[];
  listen(options: {
    hostname: string;
    port: number;
    socket: {
      open(s: BunSocket): void;
      data(s: BunSocket, chunk: Uint8Array): void;
      drain(s: BunSocket): void;
      error?(s: BunSocket, e: Error): void;
    };
  }): { hostname: string; port: number };
}

const bun = (globalThis as unknown as { Bun: BunGlobal }).Bun;
const args = bun.argv.slice(2);
const port = Number(args[0] ?? "0");
const hostname = args[1] ?? "127.0.0.1";

function append(a: Uint8Array | null, b: Uint8Array): Uint8Array {
  if (a === null) return b.slice();
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

const server = bun.listen({
  hostname,
  port,
  socket: {
    open(s) {
      s.data = { pending: null };
      s.setNoDelay?.(true);
    },
    data(s, chunk) {
      if (s.data.pending !== null) {
        s.data.pending = append(s.data.pending, chunk);
        return;
      }
      const n = s.write(chunk);
      if (n < chunk.length) s.data.pending = chunk.slice(Math.max(n, 0));
    },
    drain(s) {
      const p = s.data.pending;
      if (p === null) return;
      const n = s.write(p);
      s.data.pending = n < p.length ? p.slice(Math.max(n, 0)) : null;
    },
    error() {
      // a reset by the client ends the connection; nothing to report
    },
  },
});
console.log(`listening on ${server.hostname}:${server.port}`);
