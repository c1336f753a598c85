/**
 * Host names: `lookupHost`, and the resolution that `TcpStream.connect` and
 * `UdpSocket.sendTo` do for a name, through the host's own resolver
 * (`node:dns/promises` `lookup`: getaddrinfo on the host's thread pool, so
 * /etc/hosts, nsswitch and DNS as every other program of the machine sees
 * them) and the bridge to host promises (`until`).
 *
 * IP literals and `localhost` never reach the resolver: they are parsed at
 * once, without waiting, exactly as before names were accepted.
 *
 * @module
 */

import { until } from "../host/until.ts";
import { currentTask } from "../sched/current.ts";
import type { Operation } from "../sched/types.ts";
import { type AddrLike, isHostName, type SocketAddr, toSocketAddr } from "./addr.ts";

/**
 * Thrown when a host name cannot be turned into addresses: the resolver
 * found none (`code` is the resolver's, e.g. `"ENOTFOUND"`, `"EAI_AGAIN"`),
 * resolution ran past a connect's `timeoutMs` (`"ETIMEDOUT"`), or the
 * thread cannot wait for the resolver because the blocking `run()` drives it
 * (`"ENOHOSTLOOP"`). The message always names the name.
 */
export class ResolveError extends Error {
  /** Always `"ResolveError"`. */
  override readonly name = "ResolveError";
  /** The host name that did not resolve. */
  readonly hostname: string;
  /** The resolver's error code (`"ENOTFOUND"`, ...), or strom's (see the class). */
  readonly code: string;

  /** Creates the error for `hostname`, with `code` and what went wrong. */
  constructor(hostname: string, code: string, detail: string, options?: ErrorOptions) {
    super(`cannot resolve host name ${JSON.stringify(hostname)}: ${detail}`, options);
    this.hostname = hostname;
    this.code = code;
  }
}

/** One answer of the resolver, as `node:dns` gives it. */
export interface ResolvedAddress {
  address: string;
  family: number;
}

/** What strom asks for a name's addresses (all of them, in the resolver's order). */
export type Resolver = (hostname: string, family: 0 | 4 | 6) => Promise<ResolvedAddress[]>;

let lookupAll: ((name: string, options: object) => Promise<ResolvedAddress[]>) | null = null;

/**
 * The host's resolver. `node:dns/promises` is imported on first use only:
 * loading Deno's Node compatibility layer costs milliseconds that programs
 * which never resolve a name should not pay.
 */
const hostResolver: Resolver = async (hostname, family) => {
  lookupAll ??= (await import("node:dns/promises")).lookup as unknown as (
    name: string,
    options: object,
  ) => Promise<ResolvedAddress[]>;
  return await lookupAll(hostname, { all: true, family, verbatim: true });
};

let resolver: Resolver = hostResolver;

/**
 * Replaces the resolver for this thread (tests: a resolver that never
 * answers, or answers with several addresses); `null` restores the host's.
 * Not part of the public API.
 */
export function setResolverForTesting(replacement: Resolver | null): void {
  resolver = replacement ?? hostResolver;
}

/** A host name and a port, split from an address that needs the resolver. */
export interface NamedTarget {
  hostname: string;
  port: number;
}

/**
 * The host name and port of `addr` if it names a host that needs the
 * resolver (`"db.internal:5432"`, `{ hostname: "db.internal", port: 5432 }`),
 * else `null`: an IP literal, `localhost`, or something the address parser
 * will reject with its own message. Validates the port the way
 * `toSocketAddr` does.
 */
export function namedTarget(addr: AddrLike): NamedTarget | null {
  let host: string;
  let port: unknown;
  if (typeof addr === "string") {
    const colon = addr.lastIndexOf(":");
    if (colon <= 0) return null;
    host = addr.slice(0, colon);
    const text = addr.slice(colon + 1);
    if (!/^[0-9]{1,5}$/.test(text)) return null; // the parser says what is wrong
    port = Number(text);
  } else if (
    addr !== null && typeof addr === "object" && !("family" in addr)
    && typeof (addr as { hostname?: unknown }).hostname === "string"
  ) {
    host = addr.hostname;
    port = addr.port;
  } else {
    return null;
  }
  if (!isHostName(host)) return null;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 0 || port > 65535) {
    return null; // toSocketAddr's RangeError/TypeError says what is wrong
  }
  return { hostname: host, port };
}

/**
 * The message for a synchronous call (`bind`, `UdpSocket.connect`) given a
 * host name: it cannot wait for the resolver, so it says how to resolve
 * first.
 */
export function nameNeedsLookup(call: string, target: NamedTarget): TypeError {
  const text = `${target.hostname}:${target.port}`;
  return new TypeError(
    `${call} takes an IP address (or "localhost"), got the host name ${
      JSON.stringify(target.hostname)
    }: resolve it first, inside a task under runAsync: \`${call}((yield* lookupHost(${
      JSON.stringify(text)
    }))[0])\``,
  );
}

/**
 * Asks the resolver for the addresses of `target` (all of them, in its
 * order, `family` 4 or 6 to ask for one family only), waiting through
 * `until`. Throws {@linkcode ResolveError}: the resolver's code, or
 * `ENOHOSTLOOP` when the blocking `run()` drives the thread (the resolver's
 * promise could never settle). Cancel-safe: cancelled, nothing was opened;
 * the resolver's late answer is dropped.
 */
export function* resolveNamed(
  target: NamedTarget,
  family: 0 | 4 | 6 = 0,
): Operation<SocketAddr[]> {
  const task = currentTask("lookupHost");
  if (!task.scheduler.hostLoop) {
    throw new ResolveError(
      target.hostname,
      "ENOHOSTLOOP",
      "host names need the host's resolver, which answers through the host's event loop, and the blocking run() never lets it run: drive the task with `await runAsync(task)` (or give an IP address)",
    );
  }
  let answers: ResolvedAddress[];
  try {
    answers = yield* until(resolver(target.hostname, family));
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    // Deno without --allow-net refuses getaddrinfo itself, with EPERM.
    const text = code === "EPERM"
      ? "EPERM (the host refused to resolve: on Deno, allow it with --allow-net)"
      : typeof code === "string"
      ? code
      : String(error);
    throw new ResolveError(target.hostname, typeof code === "string" ? code : "EUNKNOWN", text, {
      cause: error,
    });
  }
  const addrs: SocketAddr[] = [];
  for (const a of answers) {
    if (a.family === 4 || a.family === 6) {
      addrs.push({
        family: a.family === 4 ? "ipv4" : "ipv6",
        address: a.address,
        port: target.port,
      });
    }
  }
  if (addrs.length === 0) {
    throw new ResolveError(target.hostname, "ENOTFOUND", "ENOTFOUND (no IPv4 or IPv6 address)");
  }
  return addrs;
}

/**
 * Resolves `addr` to the socket addresses it stands for, like tokio's
 * `lookup_host`: `"db.internal:5432"` or `{ hostname, port }` asks the
 * host's resolver (`getaddrinfo`: /etc/hosts, then DNS, as the machine is
 * configured) and gives every address it answered, in its order; an IP
 * literal or `localhost` (which means 127.0.0.1) gives that one address at
 * once, without waiting. The result is what `TcpListener.bind`,
 * `UdpSocket.bind` and the other calls that take an address accept.
 *
 * A name needs the host's event loop: `runAsync` or a runtime worker. The
 * thread is never blocked: the resolver runs on the host's own threads and
 * the other tasks keep running meanwhile.
 *
 * Throws {@linkcode ResolveError} naming the name: `code` is the resolver's
 * (`"ENOTFOUND"` for a name that does not exist, `"EAI_AGAIN"` when DNS
 * cannot be reached), or `"ENOHOSTLOOP"` for a name under the blocking
 * `run()`. Throws a `TypeError`/`RangeError` for an address that is
 * neither. Cancel-safe: cancelled while the resolver works, the task
 * returns at once and the late answer is dropped (a resolver call cannot be
 * stopped: it ends on its own). Halts outside a task.
 *
 * @example
 * ```ts
 * await runAsync(function* () {
 *   const [addr] = yield* lookupHost("localhost:8080");
 *   const listener = TcpListener.bind(addr);
 *   // ...
 * }());
 * ```
 */
export function* lookupHost(addr: AddrLike): Operation<SocketAddr[]> {
  currentTask("lookupHost");
  const named = namedTarget(addr);
  if (named === null) return [toSocketAddr(addr)];
  return yield* resolveNamed(named);
}
