// The upstream of the gateway benchmark: node:http answering `hello from PATH`.
// `node bench/bridge/upstream.mjs` prints `listening on 127.0.0.1:PORT`.
import { createServer } from "node:http";
const server = createServer((req, res) => res.end(`hello from ${req.url}`));
server.listen(0, "127.0.0.1", () => console.log(`listening on 127.0.0.1:${server.address().port}`));
