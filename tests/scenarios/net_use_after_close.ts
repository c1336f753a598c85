// Uses a TcpStream after close(): halts with socket-used-after-close.
import { awaitAll, run, TcpListener, TcpStream } from "../../mod.ts";

const listener = TcpListener.bind("127.0.0.1:0");
run(function*() {
  const [a, b] = yield* awaitAll(
    listener.accept(),
    TcpStream.connect(listener.localAddr),
  );
  a.close();
  b.close();
  b.close(); // close is idempotent: no halt yet
  yield* b.read(new Uint8Array(1)); // halts here
  console.log("not reached");
}());
