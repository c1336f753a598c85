/**
 * Socket addresses as the networking API takes them: `"127.0.0.1:8080"`,
 * `"[::1]:8080"`, `"localhost:8080"`, or `{ hostname, port }`.
 *
 * strom does no name resolution (DNS would mean a blocking call or a resolver
 * of its own): a hostname must be an IPv4 or IPv6 literal, or `"localhost"`
 * (which means `127.0.0.1`). Anything else is a `TypeError` saying so.
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
 * that is not `host:port` with a literal host (or `localhost`), and a
 * `RangeError` for a port that is not an integer in 0..65535.
 */
export function toSocketAddr(addr: AddrLike): SocketAddr {
  if (typeof addr === "string") {
    const colon = addr.lastIndexOf(":");
    if (colon > 0 && addr.slice(0, colon).toLowerCase() === "localhost") {
      return fromHostPort("localhost", Number(portText(addr, addr.slice(colon + 1))));
    }
    return parseSocketAddr(addr);
  }
  if (addr === null || typeof addr !== "object") {
    throw new TypeError(`expected an address ("host:port" or {hostname, port}), got ${addr}`);
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
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`invalid port: ${String(port)} (want an integer in 0..65535)`);
  }
}

function fromHostPort(hostname: string, port: number): SocketAddr {
  checkPort(port);
  let host = hostname;
  if (host.toLowerCase() === "localhost") host = "127.0.0.1";
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host.includes(":")) {
    if (host.includes("%")) return parseSocketAddr(`[${host}]:${port}`);
    return { family: "ipv6", address: formatIpv6(parseIpv6(host)), port };
  }
  if (/^[0-9.]+$/.test(host)) return { family: "ipv4", address: formatIpv4(parseIpv4(host)), port };
  throw new TypeError(
    `cannot resolve hostname ${
      JSON.stringify(hostname)
    }: strom takes IP literals and "localhost" only`,
  );
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
