// A plain Web Worker for the postMessage baselines of bench/sync/cross.ts:
// told { n, kind } (and maybe a MessagePort), it posts n values to the host
// (or through the port), then "done"; told { receive: port }, it counts what
// arrives on the port and posts the count to the host at "done".
import { value } from "./cross_tasks.ts";

interface Scope {
  onmessage: ((e: MessageEvent) => void) | null;
  postMessage(m: unknown): void;
}
const scope = globalThis as unknown as Scope;

scope.onmessage = (e) => {
  const msg = e.data as { n?: number; kind?: string; port?: MessagePort; receive?: MessagePort };
  if (msg.receive !== undefined) {
    let n = 0;
    msg.receive.onmessage = (m) => {
      if (m.data === "done") scope.postMessage(n);
      else n++;
    };
    return;
  }
  const target = msg.port ?? scope;
  for (let i = 0; i < msg.n!; i++) target.postMessage(value(msg.kind!, i));
  target.postMessage("done");
};
