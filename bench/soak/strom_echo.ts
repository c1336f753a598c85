// The soak's strom echo server: `deno run -A bench/soak/strom_echo.ts [MODE]`
// (or bun). MODE `per-conn` (default) gives each connection its own 16 KiB
// buffer, as examples/echo.ts does; `shared` reuses one. Every 5 s it prints
// `mem rss=... heap=... ext=...` (MB) to stderr; with TRIM=1 (Deno) it calls
// glibc's malloc_trim(0) first and prints what that gave back.
import { args, run, sleep, spawn, type Task, TcpListener, type TcpStream } from "../../mod.ts";
import { envVar } from "../../src/ffi/mod.ts";

interface Memory {
  rss: number;
  heapUsed: number;
  external: number;
}
interface Host {
  Deno?: {
    memoryUsage(): Memory;
    dlopen(
      path: string,
      symbols: { malloc_trim: { parameters: ["usize"]; result: "i32" } },
    ): { symbols: { malloc_trim(pad: bigint): number } };
  };
  process?: { memoryUsage(): Memory };
}
const g = globalThis as unknown as Host;
const memory = (): Memory => (g.Deno ?? g.process)!.memoryUsage();
const mb = (n: number) => (n / 2 ** 20).toFixed(0);

const [mode = "per-conn"] = args();
const shared = new Uint8Array(16 * 1024);
const trim = g.Deno && envVar("TRIM") === "1"
  ? g.Deno.dlopen("libc.so.6", { malloc_trim: { parameters: ["usize"], result: "i32" } }).symbols
    .malloc_trim
  : null;

function* echo(conn: TcpStream): Task<void> {
  const buf = mode === "shared" ? shared : new Uint8Array(16 * 1024);
  try {
    for (;;) {
      const n = yield* conn.read(buf);
      if (n === 0) return;
      yield* conn.writeAll(buf, n);
    }
  } catch {
    // a reset ends this connection only
  } finally {
    conn.close();
  }
}

function* report(): Task<void> {
  for (;;) {
    yield* sleep(5000);
    if (trim !== null) {
      const before = memory().rss;
      trim(0n);
      console.error(`trim: rss ${mb(before)} -> ${mb(memory().rss)} MB`);
    }
    const m = memory();
    console.error(`mem rss=${mb(m.rss)} heap=${mb(m.heapUsed)} ext=${mb(m.external)}`);
  }
}

run(function*(): Task<void> {
  const listener = TcpListener.bind("127.0.0.1:0");
  console.log(`listening on 127.0.0.1:${listener.localAddr.port}`);
  yield* spawn(report());
  for (;;) yield* spawn(echo(yield* listener.accept()));
}());
