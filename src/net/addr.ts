/**
 * Socket addresses as the networking API takes them: `"127.0.0.1:8080"`,
 * `"[::1]:8080"`, `"localhost:8080"`, or `{ hostname, port }`.
 *
 * Parsing here does no name resolution: a hostname must be an IPv4 or IPv6
 * literal, or `"localhost"` (which means `127.0.0.1`). A host name is a
 * `TypeError` saying that it needs resolving first (`resolve.ts`:
 * `lookupHost`, used by `connect` and `sendTo`).
 *
 * @module
 */

import {
  AF_INET,
  AF_INET6,
  decodeSockAddr,
  formatIpv4,
  formatIpv6,
  formatSocketAddr,
  libc,
  parseIpv4,
  parseIpv6,
  parseSocketAddr,
  SOCKADDR_STORAGE_SIZE,
  type SocketAddr,
  sysError,
} from "../ffi/mod.ts";
import { describe } from "./check.ts";

export type { SocketAddr };
export { formatSocketAddr };

/** An address given as host and port, like `Deno.listen`'s options. */
export interface HostPort {
  /** An IPv4 literal, an IPv6 literal (brackets optional), or `"localhost"`. */
  hostname: string;
  /** 0..65535 (0 asks the kernel for a free port when binding). */
  port: number;
}

/** What the networking API accepts wherever it takes an address. */
export type AddrLike = string | HostPort | SocketAddr;

/**
 * Turns `addr` into a {@linkcode SocketAddr}. Throws a `TypeError` for text
 * that is not `host:port` with a literal host (or `localhost`; a host name
 * says that names need resolving, a URL says it is one), or a port that is
 * not a number, and a `RangeError` for a port outside 0..65535.
 */
export function toSocketAddr(addr: AddrLike): SocketAddr {
  if (typeof addr === "string") return fromText(addr);
  if (addr === null || typeof addr !== "object") {
    throw new TypeError(
      `expected an address ("host:port" or {hostname, port}), got ${describe(addr)}`,
    );
  }
  if ("family" in addr && "address" in addr) {
    checkPort(addr.port);
    const ip = addr.family === "ipv4" ? formatIpv4(parseIpv4(addr.address)) : addr.family === "ipv6"
      ? formatIpv6(parseIpv6(addr.address))
      : badFamily(addr.family);
    return { ...addr, address: ip };
  }
  if (!("hostname" in addr) || typeof addr.hostname !== "string") {
    throw new TypeError("expected an address with a string hostname and a port");
  }
  return fromHostPort(addr.hostname, addr.port);
}

function fromText(text: string): SocketAddr {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    throw new TypeError(
      `invalid socket address ${
        JSON.stringify(text)
      }: a URL; give "host:port" (e.g. "127.0.0.1:80")`,
    );
  }
  const colon = text.lastIndexOf(":");
  const host = text.slice(0, colon);
  // Bracketed IPv6, a missing port, or a colon in the host: the literal
  // parser's own messages say what is wrong.
  if (colon <= 0 || host.startsWith("[") || host.includes(":")) return parseSocketAddr(text);
  if (host.toLowerCase() === "localhost") {
    return fromHostPort("localhost", Number(portText(text, text.slice(colon + 1))));
  }
  // A name with a good port: say it needs resolving; with a bad port, the
  // parser says what is wrong with the port first.
  const port = text.slice(colon + 1);
  if (isHostName(host) && /^[0-9]{1,5}$/.test(port) && Number(port) <= 65535) {
    throw needsResolver(host);
  }
  return parseSocketAddr(text);
}

/**
 * Whether `host` is a DNS name (letters, digits, hyphens, underscores, dots;
 * at least one letter or underscore) other than `localhost`, as opposed to
 * an IP literal or a malformed one such as `"1.2.3"`.
 */
export function isHostName(host: string): boolean {
  return /[a-z_]/i.test(host) && /^[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?$/i.test(host)
    && host.toLowerCase() !== "localhost";
}

function needsResolver(host: string): TypeError {
  return new TypeError(
    `cannot use the host name ${
      JSON.stringify(host)
    } here: names need resolving first (lookupHost; connect and sendTo resolve on their own), or give an IP literal or "localhost"`,
  );
}

function badFamily(family: unknown): never {
  throw new TypeError(`unknown address family ${String(family)} (want "ipv4" or "ipv6")`);
}

function portText(whole: string, text: string): string {
  if (!/^[0-9]{1,5}$/.test(text)) {
    throw new TypeError(`invalid socket address ${JSON.stringify(whole)}: bad port`);
  }
  return text;
}

function checkPort(port: unknown): asserts port is number {
  if (typeof port !== "number") {
    throw new TypeError(`port must be a number (an integer in 0..65535), got ${describe(port)}`);
  }
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`invalid port: ${port} (want an integer in 0..65535)`);
  }
}

function fromHostPort(hostname: string, port: unknown): SocketAddr {
  checkPort(port);
  let host = hostname;
  if (host.toLowerCase() === "localhost") host = "127.0.0.1";
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host.includes(":")) {
    if (host.includes("%")) return parseSocketAddr(`[${host}]:${port}`);
    return { family: "ipv6", address: formatIpv6(parseIpv6(host)), port };
  }
  if (isHostName(host)) throw needsResolver(hostname);
  return { family: "ipv4", address: formatIpv4(parseIpv4(host)), port };
}

/** The address family constant (AF_INET/AF_INET6) of `addr`. */
export function familyOf(addr: SocketAddr): number {
  return addr.family === "ipv4" ? AF_INET : AF_INET6;
}

/** The address `fd` is bound to (`getsockname`). Throws a `SysError`. */
export function localAddrOf(fd: number): SocketAddr {
  return queryAddr(fd, false);
}

/** The address `fd` is connected to (`getpeername`). Throws a `SysError` (`ENOTCONN`). */
export function peerAddrOf(fd: number): SocketAddr {
  return queryAddr(fd, true);
}

function queryAddr(fd: number, peer: boolean): SocketAddr {
  const buf = new Uint8Array(SOCKADDR_STORAGE_SIZE);
  const len = new Uint32Array([buf.length]);
  const r = peer ? libc.getpeername(fd, buf, len) : libc.getsockname(fd, buf, len);
  if (r < 0) throw sysError(peer ? "getpeername" : "getsockname", libc.errno());
  return decodeSockAddr(buf, len[0]!);
}
