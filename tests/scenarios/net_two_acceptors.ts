// Two tasks accept on the same listener at once: one of them could never be
// woken, so strom halts (socket-waited-on-twice) instead of hanging.
import { awaitAll, run, TcpListener } from "../../mod.ts";

run(function*() {
  const listener = TcpListener.bind("127.0.0.1:0");
  yield* awaitAll(listener.accept(), listener.accept());
}());
console.log("not reached");
