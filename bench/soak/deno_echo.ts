// The soak's Deno.listen echo server (the A/B peer of strom_echo.ts): one
// 16 KiB buffer per connection; prints `mem ...` every 5 s to stderr.
const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
console.log(`listening on 127.0.0.1:${(listener.addr as Deno.NetAddr).port}`);
setInterval(() => {
  const m = Deno.memoryUsage();
  const mb = (n: number) => (n / 2 ** 20).toFixed(0);
  console.error(`mem rss=${mb(m.rss)} heap=${mb(m.heapUsed)} ext=${mb(m.external)}`);
}, 5000);

async function serve(conn: Deno.TcpConn): Promise<void> {
  const buf = new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let off = 0;
      while (off < n) off += await conn.write(buf.subarray(off, n));
    }
  } catch {
    // a reset ends this connection only
  } finally {
    try {
      conn.close();
    } catch {
      // already closed
    }
  }
}

for await (const conn of listener) serve(conn);
