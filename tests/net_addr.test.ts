// Addresses as the socket API takes them: what is accepted, and that each
// mistake a user makes is named for what it is.
import assert from "node:assert/strict";
import { test } from "node:test";
import { toSocketAddr } from "../mod.ts";

function message(addr: unknown): string {
  try {
    toSocketAddr(addr as string);
  } catch (error) {
    assert.ok(error instanceof TypeError || error instanceof RangeError, String(error));
    return `${error.name}: ${error.message}`;
  }
  assert.fail(`${JSON.stringify(addr)} was accepted`);
}

test("a host name where an IP is expected says names need resolving", () => {
  for (const addr of ["example.com:80", "foo:80", { hostname: "example.com", port: 80 }]) {
    const m = message(addr);
    assert.match(m, /^TypeError: /, m);
    assert.match(m, /host name/, m);
    assert.match(m, /resol/, m);
    assert.doesNotMatch(m, /invalid IPv4/, m);
  }
});

test("a port of the wrong type says so, not that it is out of range", () => {
  for (const port of ["7996", null, undefined, 80n, [80]]) {
    const m = message({ hostname: "127.0.0.1", port });
    assert.match(m, /^TypeError: /, m);
    assert.match(m, /port must be a number/, m);
  }
  for (const port of [1.5, -1, 65536, NaN]) {
    assert.match(message({ hostname: "127.0.0.1", port }), /^RangeError: .*0\.\.65535/);
  }
});

test("a URL is not reported as an IPv6 problem", () => {
  for (const addr of ["http://127.0.0.1:7997", "tcp://[::1]:80"]) {
    const m = message(addr);
    assert.match(m, /^TypeError: /, m);
    assert.match(m, /URL/, m);
    assert.doesNotMatch(m, /IPv6/, m);
  }
});

test("malformed literals keep their precise messages", () => {
  assert.match(message("::1:80"), /brackets/);
  assert.match(message("127.0.0.1"), /no port/);
  assert.match(message("256.1.1.1:80"), /IPv4/);
  assert.match(message("1.2.3:80"), /IPv4/);
  assert.match(message("127.0.0.1:abc"), /port/);
  assert.match(message(42), /expected an address/);
  assert.deepEqual(toSocketAddr("LOCALHOST:5"), { family: "ipv4", address: "127.0.0.1", port: 5 });
  assert.deepEqual(toSocketAddr("[::1]:5"), { family: "ipv6", address: "::1", port: 5 });
});
