/**
 * Root tasks of `bench/sync/cross.ts` (named exports only: every worker
 * imports this module).
 *
 * @module
 */

import { awaitAll, SharedChannel, type Task, workerIndex } from "../../mod.ts";

/** The value number `i` of kind `kind`: a number, or 64 bytes. */
export function value(kind: string, i: number): number | Uint8Array {
  if (kind === "number") return i;
  const bytes = new Uint8Array(64);
  new DataView(bytes.buffer).setUint32(0, i);
  return bytes;
}

/** Sends `n` values, then closes the channel. */
export function* produce(buffer: SharedArrayBuffer, n: number, kind: string): Task<number> {
  const ch = new SharedChannel<number | Uint8Array>(buffer);
  for (let i = 0; i < n; i++) yield* ch.send(value(kind, i));
  ch.close();
  return workerIndex();
}

/** Receives until closed; returns how many arrived and where. */
export function* consume(buffer: SharedArrayBuffer): Task<[number, number]> {
  const ch = new SharedChannel<number | Uint8Array>(buffer);
  let n = 0;
  for (let r = yield* ch.recv(); !r.done; r = yield* ch.recv()) n++;
  return [n, workerIndex()];
}

/** Producer and consumer on this one worker. */
export function* both(buffer: SharedArrayBuffer, n: number, kind: string): Task<number> {
  const [, [got]] = yield* awaitAll(produce(buffer, n, kind), consume(buffer));
  return got;
}

// A stress message: producer p's k-th value, as one number.
const SPAN = 1 << 22;

/** Sends `count` numbers `p * 2^22 + k` in order; the last producer closes. */
export function* stressProduce(
  buffer: SharedArrayBuffer,
  left: Int32Array,
  p: number,
  count: number,
): Task<number> {
  const ch = new SharedChannel<number>(buffer);
  for (let k = 0; k < count; k++) yield* ch.send(p * SPAN + k);
  if (Atomics.sub(left, 0, 1) === 1) ch.close();
  return workerIndex();
}

/** Receives until closed; counts each message in `seen` and those out of order per producer. */
export function* stressConsume(
  buffer: SharedArrayBuffer,
  seen: Int32Array,
  count: number,
): Task<[number, number, number]> {
  const ch = new SharedChannel<number>(buffer);
  const last = new Int32Array(64).fill(-1);
  let received = 0;
  let outOfOrder = 0;
  for (let r = yield* ch.recv(); !r.done; r = yield* ch.recv()) {
    const p = Math.floor(r.value / SPAN);
    const k = r.value % SPAN;
    if (last[p] >= k) outOfOrder++;
    last[p] = k;
    Atomics.add(seen, p * count + k, 1);
    received++;
  }
  return [received, outOfOrder, workerIndex()];
}
