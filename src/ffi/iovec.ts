/**
 * Shared helpers for the loaders' vectored calls (readv, writev, sendmsg):
 * the iovec and msghdr scratch buffers and how a 64-bit address is written
 * into them. Host-neutral: the loader supplies how to take an address.
 *
 * @module
 */

import { IOVEC_SIZE, MSGHDR_SIZE } from "./constants.ts";
import { MAX_IOV } from "./libc.ts";

/**
 * Per-loaded-instance scratch: `iov` holds up to {@linkcode MAX_IOV} iovecs,
 * `msg` one msghdr whose `msg_iov` points at `iov`. Both live as long as the
 * loader instance (module-level in the loader), so the kernel never sees a
 * pointer to a collected buffer. They are 1 KiB / 56 bytes: allocated out of
 * line by both engines and never moved.
 */
export class IovScratch {
  /** The iovec array passed to readv/writev. */
  readonly iov: Uint8Array = new Uint8Array(MAX_IOV * IOVEC_SIZE);
  /** The msghdr passed to sendmsg. */
  readonly msg: Uint8Array = new Uint8Array(MSGHDR_SIZE);
  readonly #iovWords: Uint32Array = new Uint32Array(this.iov.buffer);
  readonly #msgWords: Uint32Array = new Uint32Array(this.msg.buffer);

  /**
   * `addressOf(buf)` must return the address of `buf[0]` (byteOffset
   * included) as a number, or 0 for an empty buffer.
   */
  constructor(private readonly addressOf: (buf: Uint8Array) => number) {
    // msghdr on 64-bit Linux: name @0, namelen @8, iov @16, iovlen @24,
    // control @32, controllen @40, flags @48 (56 bytes). Only iovlen varies.
    setU64(this.#msgWords, 16 / 4, addressOf(this.iov));
  }

  /**
   * Fills the iovecs for `bufs` and returns their count. Throws a RangeError
   * beyond MAX_IOV. Call it right before the syscall: the addresses are only
   * guaranteed while no JS allocation happens in between (see `stable`).
   */
  fill(bufs: readonly Uint8Array[]): number {
    const n = bufs.length;
    if (n > MAX_IOV) throw new RangeError(`at most ${MAX_IOV} buffers per vectored call, got ${n}`);
    // First pin every buffer (touching .buffer moves an engine's small
    // in-heap array storage out of the moving heap for good), then take the
    // addresses: taking an address may allocate, which could otherwise move
    // a buffer whose address was already written.
    for (let i = 0; i < n; i++) stable(bufs[i]!);
    const w = this.#iovWords;
    for (let i = 0; i < n; i++) {
      const b = bufs[i]!;
      setU64(w, i * 4, b.byteLength === 0 ? 0 : this.addressOf(b));
      setU64(w, i * 4 + 2, b.byteLength);
    }
    return n;
  }

  /** Fills the iovecs and the msghdr's iovlen for `bufs`; returns the count. */
  fillMsg(bufs: readonly Uint8Array[]): number {
    const n = this.fill(bufs);
    setU64(this.#msgWords, 24 / 4, n);
    return n;
  }
}

/** Writes a u64 (a number below 2^53) little-endian at u32 word index `at`. */
function setU64(words: Uint32Array, at: number, value: number): void {
  words[at] = value % 0x1_0000_0000;
  words[at + 1] = Math.floor(value / 0x1_0000_0000);
}

/**
 * Makes sure a TypedArray's storage will not move: V8 keeps arrays of <= 64
 * bytes inside its moving heap until `.buffer` is asked for, JSC likewise
 * ("fast" typed arrays) — asking for `.buffer` relocates the storage to a
 * fixed allocation for good. Cheap once done.
 */
export function stable(buf: ArrayBufferView): void {
  void buf.buffer;
}
