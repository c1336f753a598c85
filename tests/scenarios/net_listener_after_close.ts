// Calls accept on a closed TcpListener: halts with socket-used-after-close.
import { run, TcpListener } from "../../mod.ts";

const listener = TcpListener.bind("127.0.0.1:0");
listener.close();
run(function*() {
  yield* listener.accept(); // halts here
  console.log("not reached");
}());
