// UDP echo server: `deno run -A examples/udp_echo.ts [PORT] [HOST]` or
// `bun examples/udp_echo.ts [PORT] [HOST]` (defaults: 7001, 127.0.0.1; port 0
// picks a free one). Prints `listening on HOST:PORT` once bound, then sends
// every datagram back to its sender until killed. A datagram larger than the
// 64 KiB buffer cannot happen over UDP/IP; a truncated one would be echoed cut.
import { args, formatSocketAddr, run, type Task, UdpSocket } from "../mod.ts";

function* serve(port: number, host: string): Task<void> {
  const sock = UdpSocket.bind({ hostname: host, port });
  console.log(`listening on ${formatSocketAddr(sock.localAddr)}`);
  const buf = new Uint8Array(65536);
  try {
    for (;;) {
      const d = yield* sock.recvFrom(buf);
      try {
        yield* sock.sendTo(buf.subarray(0, d.n), d.addr);
      } catch {
        // One unreachable sender must not stop the server.
      }
    }
  } finally {
    sock.close();
  }
}

const [port = "7001", host = "127.0.0.1"] = args();
run(serve(Number(port), host));
