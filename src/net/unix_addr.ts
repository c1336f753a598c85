/**
 * Unix domain socket addresses: a filesystem path, a Linux abstract name
 * (no file; gone when the last socket bound to it closes), or unnamed (a
 * socket that never bound: a connecting client, one end of a pair), and
 * their `sockaddr_un` encoding. Also `struct ucred` (peer credentials).
 *
 * @module
 */

import { AF_UNIX } from "../ffi/mod.ts";
import { describe } from "./check.ts";

/**
 * A Unix socket address as strom reports it. A named one can be passed back
 * wherever a {@linkcode UnixAddrLike} is taken (to reply to a sender).
 */
export type UnixAddr =
  | { kind: "path"; path: string }
  | { kind: "abstract"; abstract: string }
  | { kind: "unnamed" };

/**
 * What the Unix socket API takes as an address: a filesystem path
 * (`"/run/app.sock"`), `{ path }`, or `{ abstract: "name" }` for a Linux
 * abstract name (or a named {@linkcode UnixAddr}).
 */
export type UnixAddrLike = string | { path: string } | { abstract: string } | UnixAddr;

/** The identity of the process at the other end of a connected Unix socket (`SO_PEERCRED`). */
export interface PeerCredentials {
  /** Its process id (as seen in the caller's pid namespace). */
  pid: number;
  /** Its effective user id when it connected (or created the pair). */
  uid: number;
  /** Its effective group id at that time. */
  gid: number;
}

/** sizeof(struct sockaddr_un): sa_family_t + char sun_path[108]. */
export const SOCKADDR_UN_SIZE = 110;
const PATH_OFFSET = 2;
// sun_path holds 108 bytes; a path needs its NUL, an abstract name its leading NUL.
const MAX_NAME_BYTES = 107;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Encodes `addr` as a `sockaddr_un` into a fresh buffer; returns it and the
 * length to pass. Throws a `TypeError` for a value that is not an address,
 * a `RangeError` for an empty name, a NUL in a path, or more than 107 bytes.
 */
export function encodeUnixAddr(addr: UnixAddrLike): [Uint8Array, number] {
  let bytes: Uint8Array;
  let abstract = false;
  if (typeof addr === "string" || (addr !== null && typeof addr === "object" && "path" in addr)) {
    const path = typeof addr === "string" ? addr : addr.path;
    if (typeof path !== "string") throw badAddr(addr);
    if (path.includes("\0")) {
      throw new RangeError(
        `invalid Unix socket path ${
          JSON.stringify(path)
        }: contains a NUL (for an abstract name use { abstract: "name" })`,
      );
    }
    bytes = encoder.encode(path);
  } else if (addr !== null && typeof addr === "object" && "abstract" in addr) {
    if (typeof addr.abstract !== "string") throw badAddr(addr);
    bytes = encoder.encode(addr.abstract);
    abstract = true;
  } else if (addr !== null && typeof addr === "object" && addr.kind === "unnamed") {
    throw new TypeError("an unnamed Unix socket address cannot be bound or sent to");
  } else {
    throw badAddr(addr);
  }
  if (bytes.length === 0) {
    throw new RangeError("invalid Unix socket address: the path or name is empty");
  }
  if (bytes.length > MAX_NAME_BYTES) {
    throw new RangeError(
      `invalid Unix socket address: ${bytes.length} bytes, the limit is ${MAX_NAME_BYTES}`,
    );
  }
  const buf = new Uint8Array(SOCKADDR_UN_SIZE);
  new DataView(buf.buffer).setUint16(0, AF_UNIX, true);
  // Abstract: sun_path[0] is NUL and the name is exactly the bytes after it
  // (the length says where it ends). Path: NUL-terminated.
  buf.set(bytes, PATH_OFFSET + (abstract ? 1 : 0));
  return [buf, PATH_OFFSET + 1 + bytes.length];
}

function badAddr(addr: unknown): TypeError {
  return new TypeError(
    `expected a Unix socket address (a path string, { path } or { abstract }), got ${
      describe(addr)
    }`,
  );
}

/** Decodes the `sockaddr_un` of `len` bytes in `buf` (as accept/getsockname fill it). */
export function decodeUnixAddr(buf: Uint8Array, len: number): UnixAddr {
  if (len <= PATH_OFFSET) return { kind: "unnamed" };
  const end = Math.min(len, SOCKADDR_UN_SIZE);
  if (buf[PATH_OFFSET] === 0) {
    return { kind: "abstract", abstract: decoder.decode(buf.subarray(PATH_OFFSET + 1, end)) };
  }
  const path = buf.subarray(PATH_OFFSET, end);
  const nul = path.indexOf(0);
  return { kind: "path", path: decoder.decode(nul < 0 ? path : path.subarray(0, nul)) };
}

/** sizeof(struct ucred): pid_t, uid_t, gid_t. */
export const UCRED_SIZE = 12;

/** Decodes a `struct ucred`. */
export function decodeUcred(buf: Uint8Array): PeerCredentials {
  const view = new DataView(buf.buffer, buf.byteOffset, UCRED_SIZE);
  return {
    pid: view.getInt32(0, true),
    uid: view.getUint32(4, true),
    gid: view.getUint32(8, true),
  };
}

/** `addr` as text: the path, `@name` for an abstract name, `(unnamed)`. */
export function formatUnixAddr(addr: UnixAddr): string {
  return addr.kind === "path"
    ? addr.path
    : addr.kind === "abstract"
    ? `@${addr.abstract}`
    : "(unnamed)";
}
