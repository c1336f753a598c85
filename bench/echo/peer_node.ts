// Peer echo server for the benchmark: node:net, run under Node, Deno or Bun.
// Same contract as examples/echo.ts: `bun bench/echo/peer_node.ts PORT [HOST]`,
// `deno run -A bench/echo/peer_node.ts PORT [HOST]`; Node 20 cannot run .ts, but the
// file holds no type syntax, so run.mjs copies it to peer_node.mjs for `node`. Prints
// exactly one line `listening on HOST:PORT` once it accepts, serves until killed.
// The idiomatic shape: write back in the 'data' handler.
import { createServer } from "node:net";
import process from "node:process";

const port = Number(process.argv[2] ?? "0");
const host = process.argv[3] ?? "127.0.0.1";

const server = createServer((sock) => {
  sock.setNoDelay(true);
  sock.on("data", (chunk) => sock.write(chunk));
  sock.on("error", () => {
    // a reset by the client ends the connection; nothing to report
  });
});
server.listen(port, host, () => {
  const a = server.address();
  if (a !== null && typeof a === "object") console.log(`listening on ${a.address}:${a.port}`);
});
