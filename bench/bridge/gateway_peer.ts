// The peer of examples/gateway.ts for the benchmark: the same gateway
// written the host's own way (Deno.serve or Bun.serve, and fetch). Same
// contract: `deno run -A bench/bridge/gateway_peer.ts PORT UPSTREAM_URL
// [TIMEOUT_MS]` or `bun bench/bridge/gateway_peer.ts ...` prints
// `listening on 127.0.0.1:PORT` and answers GET /path with what
// fetch(UPSTREAM_URL + "/path") gets; 502/504 likewise.
// deno-lint-ignore-file no-explicit-any
const g = globalThis as any;
const argv: string[] = g.Deno?.args ?? g.process.argv.slice(2);
const [port = "8080", upstreamArg = "", timeoutArg = "10000"] = argv;
const upstream = upstreamArg.replace(/\/+$/, "");
const timeoutMs = Number(timeoutArg);

async function handle(req: Request): Promise<Response> {
  const path = new URL(req.url).pathname;
  try {
    const res = await fetch(upstream + path, { signal: AbortSignal.timeout(timeoutMs) });
    const body = new Uint8Array(await res.arrayBuffer());
    return new Response(body, { status: res.status, headers: { "content-type": "text/plain" } });
  } catch (error) {
    const timedOut = (error as Error).name === "TimeoutError";
    return new Response(timedOut ? "timeout\n" : "upstream failed\n", {
      status: timedOut ? 504 : 502,
    });
  }
}

if (g.Deno !== undefined) {
  g.Deno.serve({
    hostname: "127.0.0.1",
    port: Number(port),
    onListen: (a: { port: number }) => console.log(`listening on 127.0.0.1:${a.port}`),
  }, handle);
} else {
  const server = g.Bun.serve({ hostname: "127.0.0.1", port: Number(port), fetch: handle });
  console.log(`listening on 127.0.0.1:${server.port}`);
}
