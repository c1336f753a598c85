// Peer echo server for the benchmark: Deno's own networking (Deno.listen).
// Same contract as examples/echo.ts: `deno run -A bench/echo/peer_deno.ts PORT [HOST]`,
// prints exactly one line `listening on HOST:PORT` once it accepts, serves until killed.
// The idiomatic shape: one async loop per connection, read then write all.

const port = Number(Deno.args[0] ?? "0");
const hostname = Deno.args[1] ?? "127.0.0.1";
const listener = Deno.listen({ hostname, port });
const addr = listener.addr as Deno.NetAddr;
console.log(`listening on ${addr.hostname}:${addr.port}`);

async function serve(conn: Deno.TcpConn): Promise<void> {
  conn.setNoDelay(true);
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await conn.write(buf.subarray(off, n));
    }
  } catch {
    // a reset by the client ends the connection; nothing to report
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

for await (const conn of listener) void serve(conn);
