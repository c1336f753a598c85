// The earliest pending timer is absurdly far (any finite ms is legal): the
// thread must still wait in the kernel (in slices) and go on when an fd
// event comes, not fail with EINVAL from the kernel or a RangeError.
// A child bash process sends the datagram 200 ms later.
import { spawn as spawnProcess } from "node:child_process";
import { run, sleep, spawn, UdpSocket } from "../../mod.ts";

run(function*() {
  const sock = UdpSocket.bind("127.0.0.1:0");
  try {
    yield* spawn(sleep(1e22));
    yield* spawn(sleep(1e303));
    const sender = spawnProcess("bash", [
      "-c",
      `sleep 0.2; printf far > /dev/udp/127.0.0.1/${sock.localAddr.port}`,
    ], { stdio: "ignore" });
    sender.unref();
    const buf = new Uint8Array(16);
    const { n } = yield* sock.recvFrom(buf);
    console.log(`received ${new TextDecoder().decode(buf.subarray(0, n))}`);
  } finally {
    sock.close();
  }
}());
