/**
 * Codecs for the C structs strom hands to the kernel: socket addresses,
 * epoll_event, pollfd, timespec, rlimit. Pure data work on `Uint8Array` /
 * `DataView`: no FFI here, so these are unit-testable anywhere.
 *
 * Layouts are little-endian (both supported arches) with the per-arch sizes
 * from `constants.ts`. Network-order fields (ports, IPv6 flow info) are
 * written big-endian explicitly.
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  ARCH,
  EPOLL_EVENT_SIZE,
  POLLFD_SIZE,
  RLIMIT_SIZE,
  SOCKADDR_IN6_SIZE,
  SOCKADDR_IN_SIZE,
  TIMESPEC_SIZE,
} from "./constants.ts";

/** An IP socket address. `flowInfo`/`scopeId` only mean something for IPv6. */
export type SocketAddr = {
  family: "ipv4" | "ipv6";
  /** Textual address: dotted quad, or RFC 5952 IPv6 text without brackets. */
  address: string;
  port: number;
  /** IPv6 flow label word (host value; encoded big-endian). */
  flowInfo?: number;
  /** IPv6 scope (interface index) for link-local addresses. */
  scopeId?: number;
};

function view(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

// --- IP text ----------------------------------------------------------------

const DEC_OCTET = /^(0|[1-9][0-9]{0,2})$/;
const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;

/** Parses into `out[at..at+4)`; returns false on bad text. */
function parseIpv4Into(text: string, out: Uint8Array, at: number): boolean {
  const parts = text.split(".");
  if (parts.length !== 4) return false;
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    // Leading zeros are refused (as inet_pton does): "010" is octal to some parsers.
    if (!DEC_OCTET.test(p)) return false;
    const n = Number(p);
    if (n > 255) return false;
    out[at + i] = n;
  }
  return true;
}

/**
 * Parses a dotted-quad IPv4 address (`"127.0.0.1"`) into 4 bytes.
 * Throws a `TypeError` naming the input on anything else (including leading
 * zeros, which some parsers read as octal).
 */
export function parseIpv4(text: string): Uint8Array {
  const out = new Uint8Array(4);
  if (!parseIpv4Into(text, out, 0)) {
    throw new TypeError(`invalid IPv4 address: ${JSON.stringify(text)}`);
  }
  return out;
}

/** Formats 4 bytes (`bytes[0..4)`) as a dotted quad. */
export function formatIpv4(bytes: Uint8Array): string {
  if (bytes.length < 4) throw new TypeError(`an IPv4 address has 4 bytes, got ${bytes.length}`);
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** Parses groups of one side of "::" into `groups`; returns false on bad text. */
function parseGroups(text: string, groups: number[], allowV4Tail: boolean): boolean {
  if (text === "") return true;
  const parts = text.split(":");
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i]!;
    if (i === parts.length - 1 && allowV4Tail && p.includes(".")) {
      const v4 = new Uint8Array(4);
      if (!parseIpv4Into(p, v4, 0)) return false;
      groups.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      return true;
    }
    if (!HEX_GROUP.test(p)) return false;
    groups.push(parseInt(p, 16));
  }
  return true;
}

/**
 * Parses IPv6 text into 16 bytes: full form, `::` compression, and an
 * embedded IPv4 tail (`::ffff:1.2.3.4`). No zone (`%eth0`) or brackets here
 * ({@linkcode parseSocketAddr} handles those). Throws a `TypeError` naming the
 * input on bad text.
 */
export function parseIpv6(text: string): Uint8Array {
  const bad = () => new TypeError(`invalid IPv6 address: ${JSON.stringify(text)}`);
  const halves = text.split("::");
  if (halves.length > 2) throw bad();
  const head: number[] = [];
  const tail: number[] = [];
  if (halves.length === 1) {
    if (!parseGroups(text, head, true) || head.length !== 8) throw bad();
  } else {
    if (!parseGroups(halves[0]!, head, false)) throw bad();
    if (!parseGroups(halves[1]!, tail, true)) throw bad();
    // "::" stands for at least one zero group.
    if (head.length + tail.length > 7) throw bad();
  }
  const out = new Uint8Array(16);
  head.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  const start = 8 - tail.length;
  tail.forEach((g, i) => {
    out[2 * (start + i)] = g >> 8;
    out[2 * (start + i) + 1] = g & 0xff;
  });
  return out;
}

/**
 * Formats 16 bytes as IPv6 text per RFC 5952: lowercase hex without leading
 * zeros, the longest run of two or more zero groups compressed to `::` (the
 * first on ties), and IPv4-mapped addresses (`::ffff:0:0/96`) in mixed
 * notation (`::ffff:1.2.3.4`, RFC 5952 §5).
 */
export function formatIpv6(bytes: Uint8Array): string {
  if (bytes.length < 16) throw new TypeError(`an IPv6 address has 16 bytes, got ${bytes.length}`);
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((bytes[2 * i]! << 8) | bytes[2 * i + 1]!);
  if (g[0] === 0 && g[1] === 0 && g[2] === 0 && g[3] === 0 && g[4] === 0 && g[5] === 0xffff) {
    return `::ffff:${formatIpv4(bytes.subarray(12, 16))}`;
  }
  let bestAt = -1;
  let bestLen = 1; // a run must be >= 2 groups to be compressed
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(":");
  if (bestAt < 0) return hex(0, 8);
  return `${hex(0, bestAt)}::${hex(bestAt + bestLen, 8)}`;
}

// --- sockaddr ---------------------------------------------------------------

function checkPort(port: number): void {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`invalid port: ${port} (want an integer in 0..65535)`);
  }
}

/**
 * Encodes `addr` as a `sockaddr_in` (16 bytes) or `sockaddr_in6` (28 bytes)
 * into `out` (at least 28 bytes, or 16 for IPv4) and returns the length to
 * pass as `socklen_t`. The family is host order, the port and IPv6 flow info
 * big-endian (network order), the scope id host order, as the kernel expects.
 * Throws `TypeError`/`RangeError` on a bad address or port.
 */
export function encodeSockAddr(addr: SocketAddr, out: Uint8Array): number {
  checkPort(addr.port);
  const dv = view(out);
  if (addr.family === "ipv4") {
    if (out.length < SOCKADDR_IN_SIZE) {
      throw new RangeError(`sockaddr buffer too small: ${out.length} < 16`);
    }
    const ip = parseIpv4(addr.address);
    out.fill(0, 0, SOCKADDR_IN_SIZE); // sin_zero must be zero
    dv.setUint16(0, AF_INET, true);
    dv.setUint16(2, addr.port, false);
    out.set(ip, 4);
    return SOCKADDR_IN_SIZE;
  }
  if (addr.family === "ipv6") {
    if (out.length < SOCKADDR_IN6_SIZE) {
      throw new RangeError(`sockaddr buffer too small: ${out.length} < 28`);
    }
    const ip = parseIpv6(addr.address);
    dv.setUint16(0, AF_INET6, true);
    dv.setUint16(2, addr.port, false);
    dv.setUint32(4, (addr.flowInfo ?? 0) >>> 0, false);
    out.set(ip, 8);
    dv.setUint32(24, (addr.scopeId ?? 0) >>> 0, true);
    return SOCKADDR_IN6_SIZE;
  }
  throw new TypeError(`unknown address family: ${String((addr as { family: unknown }).family)}`);
}

/**
 * Decodes a `sockaddr_in`/`sockaddr_in6` of `len` bytes (as the kernel
 * reported it in `socklen_t`). Throws a `TypeError` on any other family or a
 * length too short for the family.
 */
export function decodeSockAddr(bytes: Uint8Array, len: number): SocketAddr {
  if (len < 2) throw new TypeError(`sockaddr too short: ${len} bytes`);
  const dv = view(bytes);
  const family = dv.getUint16(0, true);
  if (family === AF_INET) {
    if (len < SOCKADDR_IN_SIZE) throw new TypeError(`sockaddr_in too short: ${len} bytes`);
    return {
      family: "ipv4",
      address: formatIpv4(bytes.subarray(4, 8)),
      port: dv.getUint16(2, false),
    };
  }
  if (family === AF_INET6) {
    if (len < SOCKADDR_IN6_SIZE) throw new TypeError(`sockaddr_in6 too short: ${len} bytes`);
    return {
      family: "ipv6",
      address: formatIpv6(bytes.subarray(8, 24)),
      port: dv.getUint16(2, false),
      flowInfo: dv.getUint32(4, false),
      scopeId: dv.getUint32(24, true),
    };
  }
  throw new TypeError(`unsupported address family ${family} in sockaddr`);
}

/**
 * Parses `"127.0.0.1:8080"`, `"[::1]:8080"` or `"[fe80::1%2]:8080"` (numeric
 * zone = scope id). Throws a `TypeError` naming the input on bad text.
 */
export function parseSocketAddr(text: string): SocketAddr {
  const bad = (why: string) =>
    new TypeError(`invalid socket address ${JSON.stringify(text)}: ${why}`);
  const colon = text.lastIndexOf(":");
  if (colon < 0) throw bad("no port");
  const portText = text.slice(colon + 1);
  if (!/^[0-9]{1,5}$/.test(portText)) throw bad("bad port");
  const port = Number(portText);
  if (port > 65535) throw bad("port out of range");
  const host = text.slice(0, colon);
  if (host.startsWith("[")) {
    if (!host.endsWith("]")) throw bad("unclosed bracket");
    let inner = host.slice(1, -1);
    let scopeId: number | undefined;
    const pct = inner.indexOf("%");
    if (pct >= 0) {
      const zone = inner.slice(pct + 1);
      if (!/^[0-9]+$/.test(zone)) throw bad("zone must be a numeric interface index");
      scopeId = Number(zone);
      inner = inner.slice(0, pct);
    }
    const address = formatIpv6(parseIpv6(inner));
    return scopeId === undefined
      ? { family: "ipv6", address, port }
      : { family: "ipv6", address, port, scopeId };
  }
  if (host.includes(":")) throw bad("IPv6 addresses need brackets");
  return { family: "ipv4", address: formatIpv4(parseIpv4(host)), port };
}

/** Formats `addr` as `"a.b.c.d:port"` or `"[v6]:port"` (`"[v6%scope]:port"` with a scope id). */
export function formatSocketAddr(addr: SocketAddr): string {
  if (addr.family === "ipv4") return `${addr.address}:${addr.port}`;
  const zone = addr.scopeId ? `%${addr.scopeId}` : "";
  return `[${addr.address}${zone}]:${addr.port}`;
}

// --- epoll_event ------------------------------------------------------------

/** u32 words per epoll_event and the word index of `data` (packed on x86_64). */
const EV_WORDS = EPOLL_EVENT_SIZE / 4;
const EV_DATA_WORD = ARCH === "x86_64" ? 1 : 2;

/**
 * An array of `capacity` epoll_events for `epoll_wait` to fill. `data(i)` is
 * the low 32 bits of the u64 data field (strom registers a u32 token there).
 * Read through a `Uint32Array` (the host is little-endian, as the structs).
 */
export class EpollEvents {
  /** How many events fit. */
  readonly capacity: number;
  /** The raw array, passed to epoll_wait/epoll_pwait2. */
  readonly bytes: Uint8Array;
  readonly #words: Uint32Array;

  /** Allocates room for `capacity` events (>= 1). */
  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`bad epoll capacity ${capacity}`);
    }
    this.capacity = capacity;
    this.bytes = new Uint8Array(capacity * EPOLL_EVENT_SIZE);
    this.#words = new Uint32Array(this.bytes.buffer);
  }

  /** The `events` mask of event `i` (an unsigned 32-bit number). */
  events(i: number): number {
    return this.#words[i * EV_WORDS]!;
  }

  /** The low 32 bits of event `i`'s data field. */
  data(i: number): number {
    return this.#words[i * EV_WORDS + EV_DATA_WORD]!;
  }
}

/**
 * Encodes one epoll_event into `out` (at least `EPOLL_EVENT_SIZE` bytes):
 * `events` as u32 (bit 31, EPOLLET, allowed either sign), `data` as a u64
 * whose low half is the u32 `data` and high half zero.
 */
export function encodeEpollEvent(events: number, data: number, out: Uint8Array): void {
  const dv = view(out);
  const at = EV_DATA_WORD * 4;
  dv.setUint32(0, events >>> 0, true);
  dv.setUint32(at, data >>> 0, true);
  dv.setUint32(at + 4, 0, true);
}

// --- pollfd -----------------------------------------------------------------

/**
 * A growable array of `struct pollfd` (i32 fd, i16 events, i16 revents).
 * {@linkcode PollFds.bytes} is replaced when it grows: read it after the
 * last `set` before each poll call.
 */
export class PollFds {
  #bytes: Uint8Array;
  #dv: DataView;

  /** Allocates room for `capacity` entries (grows on demand). */
  constructor(capacity: number) {
    this.#bytes = new Uint8Array(Math.max(1, capacity) * POLLFD_SIZE);
    this.#dv = new DataView(this.#bytes.buffer);
  }

  /** The raw array to pass to poll/ppoll (may be a new array after a `set` that grew it). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  /** How many entries fit before the next growth. */
  get capacity(): number {
    return this.#bytes.length / POLLFD_SIZE;
  }

  /** Sets entry `i` to watch `fd` for `events`, clearing its revents; grows (doubling) as needed. */
  set(i: number, fd: number, events: number): void {
    if (i >= this.capacity) {
      let cap = this.capacity;
      while (cap <= i) cap *= 2;
      const next = new Uint8Array(cap * POLLFD_SIZE);
      next.set(this.#bytes);
      this.#bytes = next;
      this.#dv = new DataView(next.buffer);
    }
    const at = i * POLLFD_SIZE;
    this.#dv.setInt32(at, fd, true);
    this.#dv.setInt16(at + 4, events, true);
    this.#dv.setInt16(at + 6, 0, true);
  }

  /** The fd of entry `i`. */
  fd(i: number): number {
    return this.#dv.getInt32(i * POLLFD_SIZE, true);
  }

  /** The requested events of entry `i`. */
  events(i: number): number {
    return this.#dv.getUint16(i * POLLFD_SIZE + 4, true);
  }

  /** The events the kernel reported for entry `i`. */
  revents(i: number): number {
    return this.#dv.getUint16(i * POLLFD_SIZE + 6, true);
  }
}

// --- timespec ---------------------------------------------------------------

/**
 * Encodes a duration or time of `ns` nanoseconds (finite, >= 0) as a
 * timespec (i64 seconds, i64 nanoseconds) into `out[0..16)`. Fractions of a
 * nanosecond are rounded down.
 */
export function encodeTimespec(ns: number, out: Uint8Array): void {
  if (!(ns >= 0) || !Number.isFinite(ns)) {
    throw new RangeError(`invalid timespec duration: ${ns} ns`);
  }
  if (out.length < TIMESPEC_SIZE) throw new RangeError(`timespec buffer too small: ${out.length}`);
  const sec = Math.floor(ns / 1e9);
  const nsec = Math.min(999_999_999, Math.floor(ns - sec * 1e9));
  const dv = view(out);
  dv.setUint32(0, sec % 0x1_0000_0000, true);
  dv.setUint32(4, Math.floor(sec / 0x1_0000_0000), true);
  dv.setUint32(8, nsec, true);
  dv.setUint32(12, 0, true);
}

/**
 * Decodes a timespec to nanoseconds (`sec * 1e9 + nsec`); exact while the
 * result is below 2^53 ns (about 104 days).
 */
export function decodeTimespecNs(bytes: Uint8Array): number {
  const dv = view(bytes);
  const sec = dv.getUint32(0, true) + dv.getInt32(4, true) * 0x1_0000_0000;
  return sec * 1e9 + dv.getUint32(8, true);
}

// --- rlimit -----------------------------------------------------------------

const RLIM_INFINITY = 0xffff_ffff_ffff_ffffn;

/** Encodes `struct rlimit` (u64 soft, u64 hard) into `out[0..16)`; `Infinity` is RLIM_INFINITY. */
export function encodeRlimit(soft: number, hard: number, out: Uint8Array): void {
  if (out.length < RLIMIT_SIZE) throw new RangeError(`rlimit buffer too small: ${out.length}`);
  const enc = (v: number) => {
    if (v === Infinity) return RLIM_INFINITY;
    if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`invalid rlimit value: ${v}`);
    return BigInt(v);
  };
  const dv = view(out);
  dv.setBigUint64(0, enc(soft), true);
  dv.setBigUint64(8, enc(hard), true);
}

/** Decodes `struct rlimit`; RLIM_INFINITY becomes `Infinity`. */
export function decodeRlimit(bytes: Uint8Array): { soft: number; hard: number } {
  const dv = view(bytes);
  const dec = (v: bigint) => (v === RLIM_INFINITY ? Infinity : Number(v));
  return { soft: dec(dv.getBigUint64(0, true)), hard: dec(dv.getBigUint64(8, true)) };
}
