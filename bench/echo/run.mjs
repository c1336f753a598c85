#!/usr/bin/env node
// TCP echo benchmark (issue 4): strom's echo server against the host runtimes'
// own networking, side by side in one run. Not a test: it prints figures.
//
//   node bench/echo/run.mjs [--quick] [--json FILE] [--servers a,b,...] [--conns 1,64,...]
//                           [--duration S] [--warmup S] [--repeat N] [--no-syscalls] [--no-rss]
//
// For each server and connection count: start the server pinned to core 0
// (with RLIMIT_NOFILE raised through prlimit), wait for its one line
// `listening on HOST:PORT`, run bench/echo/client.c pinned to core 1 (closed
// loop, 64-byte messages), and take from the client the round trips/s,
// latency p50/p99 and the server's utime+stime over the measured window (the
// client reads /proc/PID/stat itself at the window's edges). Then, at 64
// connections: the server's syscalls per round trip (strace -f -c attached
// only around a window in which the client alone drives it; and, when perf
// works, perf's syscall tracepoints at full speed). Then RSS per idle
// connection at 10k connections (VmRSS before/after opening them).
//
// The figure that compares servers is server CPU µs per round trip: on two
// cores the client and the server share the machine, so round trips/s mostly
// shows which one is the bottleneck. CPU per round trip also depends on the
// load's shape (the busier the server, the more events each epoll_wait
// returns), so compare servers only within one run of this script.
//
// Node (no dependencies), Linux, gcc, taskset and prlimit required; strace and
// perf optional.
import { execFileSync, spawn } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { cpus, release } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const build = join(here, ".build");

// ---- options -------------------------------------------------------------

function parseOptions(argv) {
  let v;
  try {
    v = parseArgs({
      args: argv,
      options: {
        quick: { type: "boolean", default: false },
        json: { type: "string" },
        servers: { type: "string" },
        conns: { type: "string" },
        duration: { type: "string" },
        warmup: { type: "string" },
        repeat: { type: "string" },
        "no-syscalls": { type: "boolean", default: false },
        "no-rss": { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
    }).values;
  } catch (e) {
    usage(e.message);
  }
  if (v.help) usage(null);
  const o = {
    quick: v.quick,
    json: v.json ?? null,
    servers: v.servers?.split(",") ?? null,
    conns: v.conns?.split(",").map(Number) ?? [1, 64, 1024, 10000],
    duration: v.duration !== undefined ? Number(v.duration) : v.quick ? 1 : 3,
    warmup: v.warmup !== undefined ? Number(v.warmup) : v.quick ? 0.3 : 1,
    repeat: v.repeat !== undefined ? Number(v.repeat) : v.quick ? 1 : 2,
    syscalls: !v["no-syscalls"],
    rss: !v["no-rss"],
  };
  if (!(o.duration > 0) || !(o.warmup >= 0) || !(o.repeat >= 1)) {
    usage("bad duration/warmup/repeat");
  }
  if (o.conns.some((c) => !Number.isInteger(c) || c < 1)) usage("bad --conns");
  return o;
}

function usage(err) {
  if (err) console.error(`run.mjs: ${err}`);
  console.error(
    "usage: node bench/echo/run.mjs [--quick] [--json FILE] [--servers a,b,...] [--conns 1,64,...]\n"
      + "                              [--duration S] [--warmup S] [--repeat N] [--no-syscalls] [--no-rss]\n"
      + `servers: ${SERVERS.map((s) => s.id).join(", ")} (default: ${
        SERVERS.filter((s) => s.byDefault).map((s) => s.id).join(",")
      })`,
  );
  process.exit(err ? 2 : 0);
}

// ---- binaries --------------------------------------------------------------

/** The real executable behind node_modules/.bin/NAME (not an npm shim), so
 * /proc CPU time and strace see the server itself. */
function realBin(name) {
  const p = realpathSync(join(root, "node_modules", ".bin", name));
  const fd = openSync(p, "r");
  const head = Buffer.alloc(4);
  readSync(fd, head, 0, 4, 0);
  closeSync(fd);
  if (head.toString("latin1") !== "\x7fELF") {
    throw new Error(`${p} is not an ELF executable (a shim?): run the real binary`);
  }
  return p;
}

function version(bin, args) {
  try {
    return execFileSync(bin, args, { encoding: "utf8" }).split("\n")[0].trim();
  } catch {
    return "?";
  }
}

function have(cmd, args = ["--version"]) {
  try {
    execFileSync(cmd, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/** Compiles client.c and floor_server.c into bench/echo/.build (ignored by git)
 * when the source is newer; returns the client's path. */
function buildClient() {
  mkdirSync(build, { recursive: true });
  for (const [src, out] of [["client.c", "echo-client"], ["floor_server.c", "floor-server"]]) {
    const s = join(here, src);
    const o = join(build, out);
    if (!existsSync(o) || statSync(o).mtimeMs < statSync(s).mtimeMs) {
      // Build beside and rename: another run may be executing the old binary.
      const tmp = `${o}.${process.pid}`;
      execFileSync("gcc", ["-O2", "-Wall", "-o", tmp, s], { stdio: "inherit" });
      renameSync(tmp, o);
    }
  }
  // Node 20 cannot run .ts; peer_node.ts holds no type syntax, so a copy runs as .mjs.
  const mjs = join(build, "peer_node.mjs");
  copyFileSync(join(here, "peer_node.ts"), `${mjs}.${process.pid}`);
  renameSync(`${mjs}.${process.pid}`, mjs);
  return join(build, "echo-client");
}

const deno = realBin("deno");
const bun = realBin("bun");
const node = realpathSync(process.execPath);
const echoTs = join(root, "examples", "echo.ts");

const SERVERS = [
  {
    id: "strom-deno",
    runtime: "deno",
    impl: "strom",
    byDefault: true,
    argv: () => [deno, "run", "-A", echoTs],
    needs: echoTs,
  },
  {
    id: "strom-bun",
    runtime: "bun",
    impl: "strom",
    byDefault: true,
    argv: () => [bun, echoTs],
    needs: echoTs,
  },
  {
    // The same echo under the blocking run() (examples/echo.ts uses runAsync).
    id: "strom-deno-run",
    runtime: "deno",
    impl: "strom (run)",
    byDefault: false,
    argv: () => [deno, "run", "-A", join(here, "strom_run.ts")],
  },
  {
    id: "strom-bun-run",
    runtime: "bun",
    impl: "strom (run)",
    byDefault: false,
    argv: () => [bun, join(here, "strom_run.ts")],
  },
  {
    // The blocking run() while 10k other tasks loop on yieldNow() (issue 12).
    id: "strom-deno-busy",
    runtime: "deno",
    impl: "strom (run, 10k busy tasks)",
    byDefault: false,
    argv: () => [deno, "run", "-A", join(here, "strom_run.ts")],
    env: { STROM_BENCH_BUSY_TASKS: "10000" },
  },
  {
    id: "strom-bun-busy",
    runtime: "bun",
    impl: "strom (run, 10k busy tasks)",
    byDefault: false,
    argv: () => [bun, join(here, "strom_run.ts")],
    env: { STROM_BENCH_BUSY_TASKS: "10000" },
  },
  {
    // The same without the epoll doorbell: the fair looks poll every 0.1 ms
    // (what the scheduler does where io_uring is missing).
    id: "strom-deno-busy-clock",
    runtime: "deno",
    impl: "strom (run, 10k busy tasks, no doorbell)",
    byDefault: false,
    argv: () => [deno, "run", "-A", join(here, "strom_run.ts")],
    env: { STROM_BENCH_BUSY_TASKS: "10000", STROM_DOORBELL: "0" },
  },
  {
    id: "strom-bun-busy-clock",
    runtime: "bun",
    impl: "strom (run, 10k busy tasks, no doorbell)",
    byDefault: false,
    argv: () => [bun, join(here, "strom_run.ts")],
    env: { STROM_BENCH_BUSY_TASKS: "10000", STROM_DOORBELL: "0" },
  },
  {
    id: "deno-listen",
    runtime: "deno",
    impl: "Deno.listen",
    byDefault: true,
    argv: () => [deno, "run", "-A", join(here, "peer_deno.ts")],
  },
  {
    id: "bun-listen",
    runtime: "bun",
    impl: "Bun.listen",
    byDefault: true,
    argv: () => [bun, join(here, "peer_bun.ts")],
  },
  {
    id: "node-net",
    runtime: "node",
    impl: "node:net",
    byDefault: true,
    argv: () => [node, join(build, "peer_node.mjs")],
  },
  {
    // Not a peer: a minimal C epoll echo server, the floor for CPU per round trip.
    id: "c-epoll",
    runtime: "c",
    impl: "C epoll (floor)",
    byDefault: false,
    argv: () => [join(build, "floor-server")],
  },
  {
    id: "node-net-deno",
    runtime: "deno",
    impl: "node:net",
    byDefault: false,
    argv: () => [deno, "run", "-A", join(here, "peer_node.ts")],
  },
  {
    id: "node-net-bun",
    runtime: "bun",
    impl: "node:net",
    byDefault: false,
    argv: () => [bun, join(here, "peer_node.ts")],
  },
];

// ---- processes -------------------------------------------------------------

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function hardNofile() {
  const m = readFileSync("/proc/self/limits", "utf8").match(/Max open files\s+\S+\s+(\S+)/);
  return m && m[1] !== "unlimited" ? Number(m[1]) : Infinity;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = s.address().port;
      s.close(() => resolve(port));
    });
  });
}

/** Lines of a stream, to a callback. */
function onLines(stream, cb) {
  let buf = "";
  stream.setEncoding("utf8");
  stream.on("data", (d) => {
    buf += d;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      cb(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
}

/**
 * Starts a server pinned to core 0 with RLIMIT_NOFILE = nofile, and resolves
 * once it printed `listening on HOST:PORT`. taskset and prlimit exec the
 * server, so the child's pid is the server's own.
 */
async function startServer(server, nofile) {
  const port = await freePort();
  const argv = [
    "taskset",
    "-c",
    "0",
    "prlimit",
    `--nofile=${nofile}:${nofile}`,
    "--",
    ...server.argv(),
    String(port),
  ];
  const child = spawn(argv[0], argv.slice(1), {
    cwd: root,
    env: server.env ? { ...process.env, ...server.env } : process.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const srv = { child, pid: child.pid, stdout: [], stderr: "", exited: null, host: "", port: 0 };
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (d) => (srv.stderr = (srv.stderr + d).slice(-4000)));
  const exited = new Promise((r) => child.on("exit", (code, sig) => r(srv.exited = sig ?? code)));
  srv.exitedP = exited;
  const ready = new Promise((resolve) => {
    onLines(child.stdout, (line) => {
      srv.stdout.push(line);
      const m = line.match(/^listening on (.+):(\d+)$/);
      if (m && srv.port === 0) {
        srv.host = m[1].replace(/^\[|\]$/g, "");
        srv.port = Number(m[2]);
        resolve(true);
      }
    });
  });
  let timer;
  const timeout = new Promise((r) => (timer = setTimeout(() => r("timeout"), 30000)));
  const r = await Promise.race([ready, exited.then(() => "exited"), timeout]);
  clearTimeout(timer);
  if (r !== true) {
    await stopServer(srv);
    throw new Error(
      `${server.id} did not print "listening on HOST:PORT" (${r}); stderr: ${srv.stderr.trim()}`,
    );
  }
  if (srv.port !== port) throw new Error(`${server.id} listens on ${srv.port}, asked ${port}`);
  if (srv.host === "0.0.0.0") srv.host = "127.0.0.1";
  if (srv.host === "::") srv.host = "::1";
  const exe = realpathSync(`/proc/${srv.pid}/exe`);
  if (exe !== server.argv()[0]) throw new Error(`pid ${srv.pid} is ${exe}, not the server`);
  return srv;
}

async function stopServer(srv) {
  if (srv.exited !== null) return;
  srv.child.kill("SIGTERM");
  const t = setTimeout(() => srv.child.kill("SIGKILL"), 3000);
  await srv.exitedP;
  clearTimeout(t);
}

/** Runs the client pinned to core 1; resolves with its parsed JSON lines. */
function runClient(client, args, { onLine, stdin } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn("taskset", ["-c", "1", client, ...args], {
      stdio: [stdin ? "pipe" : "ignore", "pipe", "pipe"],
    });
    const lines = [];
    let err = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d) => (err += d));
    onLines(child.stdout, (line) => {
      let v;
      try {
        v = JSON.parse(line);
      } catch {
        return;
      }
      lines.push(v);
      onLine?.(v, child);
    });
    child.on("error", reject);
    child.on("exit", (code) => {
      if (code === 0) resolve(lines);
      else reject(new Error(`client exited ${code}: ${err.trim()}`));
    });
  });
}

function vmRssKiB(pid) {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const m = s.match(/VmRSS:\s+(\d+) kB/);
  return m ? Number(m[1]) : NaN;
}

// ---- measurements ------------------------------------------------------------

const nofileFor = (conns) => Math.min(conns + 1024, HARD);
let HARD = Infinity;

async function measureThroughput(client, server, conns, o) {
  const srv = await startServer(server, nofileFor(conns));
  try {
    const args = ["-h", srv.host, "-p", String(srv.port), "-c", String(conns)];
    args.push("-d", String(o.duration), "-w", String(o.warmup), "-P", String(srv.pid), "-t", "60");
    const [r] = await runClient(client, args);
    if (srv.exited !== null) throw new Error(`${server.id} exited (${srv.exited})`);
    if (srv.stdout.length !== 1) {
      r.odd = `server printed ${srv.stdout.length} stdout lines: ${srv.stdout.join(" | ")}`;
    }
    r.server_busy = r.server_cpu_s / r.seconds;
    // Load on the cores that was neither the server (core 0) nor the client (core 1).
    if (r.cpu_busy?.length >= 2) {
      r.other_load = [
        Math.max(0, r.cpu_busy[0] - r.server_busy),
        Math.max(0, r.cpu_busy[1] - r.client_busy),
      ];
    }
    return r;
  } finally {
    await stopServer(srv);
  }
}

const TRACED = [
  "recvfrom",
  "sendto",
  "read",
  "write",
  "readv",
  "writev",
  "recvmsg",
  "sendmsg",
  "epoll_wait",
  "epoll_pwait",
  "epoll_pwait2",
  "epoll_ctl",
  "poll",
  "ppoll",
  "futex",
  "accept4",
];

/**
 * Syscalls per round trip at `conns` connections. The client (-T) stops
 * before and after its window, so the tracer attached around it sees only the
 * window's work. tool "strace": strace -f -c (a breakdown of every syscall,
 * but the traced server is slowed down, so each epoll_wait returns more events
 * than at full speed). tool "perf": perf stat on syscall tracepoints, at full
 * speed (the listed syscalls plus the total).
 */
async function measureSyscalls(client, server, conns, tool, o) {
  const srv = await startServer(server, nofileFor(conns));
  const out = join(build, `${tool}-${server.id}-${process.pid}.txt`);
  rmSync(out, { force: true });
  let tracer = null;
  try {
    const args = ["-h", srv.host, "-p", String(srv.port), "-c", String(conns), "-T"];
    args.push("-d", String(o.quick ? 1 : 2), "-w", String(o.warmup), "-P", String(srv.pid));
    let tracerDone = null;
    const lines = await runClient(client, args, {
      stdin: true,
      onLine: async (v, child) => {
        if (v.ready) {
          const targv = tool === "strace"
            ? ["strace", "-f", "-c", "-o", out, "-p", String(srv.pid)]
            : [
              "perf",
              "stat",
              "-x",
              ",",
              "-o",
              out,
              "-e",
              ["raw_syscalls:sys_enter", ...TRACED.map((s) => `syscalls:sys_enter_${s}`)].join(","),
              "-p",
              String(srv.pid),
            ];
          tracer = spawn(targv[0], targv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
          let terr = "";
          tracer.stderr.setEncoding("utf8");
          tracerDone = new Promise((r) => tracer.on("exit", r));
          if (tool === "strace") {
            // strace says "Process N attached with K threads" once attached.
            await new Promise((r) => {
              tracer.stderr.on("data", (d) => {
                terr += d;
                if (/attached/.test(terr)) r();
              });
              tracerDone.then(r);
            });
          }
          await sleep(500); // perf has no "attached" message; give both time
          child.stdin.write("go\n");
        } else if (v.round_trips !== undefined) {
          tracer.kill("SIGINT");
          await tracerDone;
          child.stdin.end();
        }
      },
    });
    const r = lines.find((v) => v.round_trips !== undefined);
    const rts = r.round_trips;
    const text = readFileSync(out, "utf8");
    rmSync(out, { force: true });
    const calls = tool === "strace" ? parseStrace(text) : parsePerf(text);
    const total = calls.total;
    delete calls.total;
    const breakdown = Object.fromEntries(
      Object.entries(calls)
        .filter(([, n]) => n > 0)
        .sort((a, b) => b[1] - a[1])
        .map(([k, n]) => [k, { calls: n, per_rt: n / rts }]),
    );
    return {
      server: server.id,
      tool,
      conns,
      round_trips: rts,
      total,
      per_rt: total / rts,
      breakdown,
    };
  } finally {
    if (tracer && tracer.exitCode === null) tracer.kill("SIGKILL");
    await stopServer(srv);
  }
}

function parseStrace(text) {
  const calls = {};
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    // % time, seconds, usecs/call, calls, [errors], syscall
    if (f.length >= 5 && /^\d/.test(f[0]) && /^\d+$/.test(f[3])) {
      const name = f[f.length - 1];
      if (name === "total") calls.total = Number(f[3]);
      else calls[name] = Number(f[3]);
    }
  }
  return calls;
}

function parsePerf(text) {
  const calls = {};
  for (const line of text.split("\n")) {
    const f = line.split(",");
    if (f.length < 3 || !/^\d+$/.test(f[0])) continue;
    const ev = f[2];
    if (ev === "raw_syscalls:sys_enter") calls.total = Number(f[0]);
    else if (ev.startsWith("syscalls:sys_enter_")) {
      calls[ev.slice("syscalls:sys_enter_".length)] = Number(f[0]);
    }
  }
  if (calls.total !== undefined) {
    const listed = Object.entries(calls).filter(([k]) => k !== "total").reduce(
      (a, [, n]) => a + n,
      0,
    );
    calls.other = calls.total - listed;
  }
  return calls;
}

/** RSS per idle connection: VmRSS after a short warm-up run vs with `conns` idle ones open. */
async function measureRss(client, server, conns) {
  const srv = await startServer(server, nofileFor(conns));
  try {
    const base = ["-h", srv.host, "-p", String(srv.port)];
    // Warm the server's accept and echo paths (JIT, buffers), then let those
    // 64 connections close before the baseline.
    await runClient(client, [...base, "-c", "64", "-d", "0.5", "-w", "0"]);
    await sleep(500);
    const before = vmRssKiB(srv.pid);
    let after = NaN;
    let connectS = NaN;
    await runClient(client, [...base, "-c", String(conns), "-i", "-t", "60"], {
      stdin: true,
      onLine: async (v, child) => {
        if (v.idle_ready) {
          connectS = v.connect_s;
          await sleep(1000); // let the server settle
          after = vmRssKiB(srv.pid);
          child.stdin.end();
        }
      },
    });
    if (srv.exited !== null) throw new Error(`${server.id} exited (${srv.exited})`);
    return {
      server: server.id,
      conns,
      rss_before_kib: before,
      rss_after_kib: after,
      bytes_per_conn: ((after - before) * 1024) / conns,
      connect_s: connectS,
    };
  } finally {
    await stopServer(srv);
  }
}

// ---- report ------------------------------------------------------------------

const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function fmt(x, digits = 1) {
  if (x === undefined || x === null || !Number.isFinite(x)) return "-";
  return x.toFixed(digits);
}

function fmtInt(x) {
  if (!Number.isFinite(x)) return "-";
  return Math.round(x).toLocaleString("en-US");
}

function table(rows, headers) {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => String(r[i]).length)));
  const line = (cells) =>
    cells.map((c, i) => (i < 2 ? String(c).padEnd(w[i]) : String(c).padStart(w[i]))).join("  ");
  return [line(headers), line(w.map((n) => "-".repeat(n))), ...rows.map(line)].join("\n");
}

/** Median over repeats of each figure of one (server, conns) cell. */
function summarize(runs) {
  const ok = runs.filter((r) => !r.error);
  if (ok.length === 0) return { error: runs[0]?.error ?? "no run" };
  const m = (k) => median(ok.map((r) => r[k]));
  return {
    rt_per_s: m("rt_per_s"),
    server_cpu_us_per_rt: m("server_cpu_us_per_rt"),
    p50_us: m("p50_us"),
    p99_us: m("p99_us"),
    client_busy: m("client_busy"),
    server_busy: m("server_busy"),
    other_load_core0: median(ok.map((r) => r.other_load?.[0])),
    other_load_core1: median(ok.map((r) => r.other_load?.[1])),
    cpu_us_per_rt_all: ok.map((r) => r.server_cpu_us_per_rt),
    repeats: ok.length,
    errors: runs.filter((r) => r.error).map((r) => r.error),
  };
}

// ---- main --------------------------------------------------------------------

async function main() {
  const o = parseOptions(process.argv.slice(2));
  HARD = hardNofile();
  const client = buildClient();
  const strace = o.syscalls && have("strace", ["-V"]);
  const perf = o.syscalls && have("perf", ["stat", "-e", "raw_syscalls:sys_enter", "true"]);

  let servers = SERVERS.filter((s) => (o.servers ? o.servers.includes(s.id) : s.byDefault));
  if (o.servers) {
    for (const id of o.servers) {
      if (!SERVERS.some((s) => s.id === id)) usage(`unknown server ${id}`);
    }
  }
  const skipped = servers.filter((s) => s.needs && !existsSync(s.needs));
  for (const s of skipped) console.log(`# skipping ${s.id}: ${s.needs} does not exist yet`);
  servers = servers.filter((s) => !skipped.includes(s));
  const conns = o.conns.filter((c) => {
    if (c + 64 > HARD) {
      console.log(`# skipping ${c} connections: RLIMIT_NOFILE hard limit is ${HARD}`);
      return false;
    }
    return true;
  });

  const meta = {
    date: new Date().toISOString(),
    kernel: release(),
    cpus: cpus().length,
    cpu_model: cpus()[0]?.model ?? "?",
    deno: version(deno, ["--version"]),
    bun: version(bun, ["--version"]),
    node: process.version,
    loadavg_before: readFileSync("/proc/loadavg", "utf8").trim(),
    msg_bytes: 64,
    duration_s: o.duration,
    warmup_s: o.warmup,
    repeat: o.repeat,
    pinning: { server_core: 0, client_core: 1 },
    command: `node bench/echo/run.mjs ${process.argv.slice(2).join(" ")}`.trim(),
  };
  const tStart = Date.now();
  console.log(
    `# TCP echo, ${meta.msg_bytes}-byte messages, closed loop; server on core 0, client `
      + `(bench/echo/client.c) on core 1; ${o.duration} s measured after ${o.warmup} s warm-up`
      + (o.repeat > 1 ? `, median of ${o.repeat}` : ""),
  );
  console.log(`# ${meta.deno} | bun ${meta.bun} | node ${meta.node} | Linux ${meta.kernel}`);
  console.log(`# load average before: ${meta.loadavg_before}`);

  // Throughput and CPU per round trip: servers interleaved within each
  // connection count, so a burst of foreign load hits them alike.
  const raw = {};
  for (let rep = 0; rep < o.repeat; rep++) {
    for (const c of conns) {
      for (const s of servers) {
        const key = `${s.id}/${c}`;
        let r;
        try {
          r = await measureThroughput(client, s, c, o);
        } catch (e) {
          r = { error: String(e.message ?? e) };
        }
        (raw[key] ??= []).push(r);
        const at = `[${fmt((Date.now() - tStart) / 1000, 0)} s]`;
        process.stderr.write(
          r.error
            ? `  ${at} ${key}: ERROR ${r.error}\n`
            : `  ${at} ${key}: ${fmtInt(r.rt_per_s)} rt/s, ${
              fmt(r.server_cpu_us_per_rt, 2)
            } µs/rt\n`,
        );
      }
    }
  }

  const results = [];
  for (const s of servers) {
    for (const c of conns) {
      results.push({
        server: s.id,
        runtime: s.runtime,
        impl: s.impl,
        conns: c,
        ...summarize(raw[`${s.id}/${c}`]),
        runs: raw[`${s.id}/${c}`],
      });
    }
  }
  const cell = (id, c) => results.find((r) => r.server === id && r.conns === c);

  // Syscalls per round trip at 64 connections.
  const syscalls = [];
  if (o.syscalls) {
    const tools = [...(strace ? ["strace"] : []), ...(perf ? ["perf"] : [])];
    if (tools.length === 0) console.log("# syscalls: neither strace nor perf usable; skipped");
    for (const tool of tools) {
      for (const s of servers) {
        try {
          syscalls.push(await measureSyscalls(client, s, 64, tool, o));
        } catch (e) {
          syscalls.push({ server: s.id, tool, conns: 64, error: String(e.message ?? e) });
        }
      }
    }
  }

  // RSS per idle connection at the largest connection count (10k by default).
  const rss = [];
  const rssConns = Math.max(...conns);
  if (o.rss) {
    for (const s of servers) {
      try {
        rss.push(await measureRss(client, s, rssConns));
      } catch (e) {
        rss.push({ server: s.id, conns: rssConns, error: String(e.message ?? e) });
      }
    }
  }

  // ---- print
  const rows = results.map((r) =>
    r.error ? [r.server, r.impl, r.conns, "ERROR", "", "", "", "", "", ""] : [
      r.server,
      r.impl,
      r.conns,
      fmtInt(r.rt_per_s),
      fmt(r.server_cpu_us_per_rt, 2),
      r.repeats > 1
        ? `${fmt(Math.min(...r.cpu_us_per_rt_all), 2)}-${fmt(Math.max(...r.cpu_us_per_rt_all), 2)}`
        : "",
      fmt(r.p50_us, 0),
      fmt(r.p99_us, 0),
      `${fmt(r.server_busy * 100, 0)}/${fmt(r.client_busy * 100, 0)}`,
      `${fmt(r.other_load_core0 * 100, 0)}/${fmt(r.other_load_core1 * 100, 0)}`,
    ]
  );
  console.log("");
  console.log(
    table(rows, [
      "server",
      "impl",
      "conns",
      "rt/s",
      "CPU µs/rt",
      "CPU range",
      "p50 µs",
      "p99 µs",
      "busy% srv/cli",
      "other% c0/c1",
    ]),
  );

  // Ratios: strom against each peer on the same runtime.
  const ratios = [];
  for (const s of servers.filter((x) => x.impl === "strom")) {
    for (const p of servers.filter((x) => x.impl !== "strom" && x.runtime === s.runtime)) {
      for (const c of conns) {
        const a = cell(s.id, c);
        const b = cell(p.id, c);
        if (!a || !b || a.error || b.error) continue;
        ratios.push({
          strom: s.id,
          peer: p.id,
          conns: c,
          cpu_per_rt_ratio: a.server_cpu_us_per_rt / b.server_cpu_us_per_rt,
          rt_per_s_ratio: a.rt_per_s / b.rt_per_s,
        });
      }
    }
  }
  if (ratios.length) {
    console.log(
      "\n# strom / peer on the same runtime (CPU per rt: lower is better, target <= 1.00)",
    );
    console.log(
      table(
        ratios.map((r) => [
          r.strom,
          r.peer,
          r.conns,
          fmt(r.cpu_per_rt_ratio, 2),
          fmt(r.rt_per_s_ratio, 2),
        ]),
        ["strom", "peer", "conns", "CPU/rt ratio", "rt/s ratio"],
      ),
    );
  }

  // Throughput at the largest connection count against 64 (target: within 10%).
  const scale = [];
  const big = Math.max(...conns);
  if (conns.includes(64) && big > 64) {
    for (const s of servers) {
      const a = cell(s.id, big);
      const b = cell(s.id, 64);
      if (!a || !b || a.error || b.error) continue;
      scale.push({ server: s.id, conns: big, rt_per_s_vs_64: a.rt_per_s / b.rt_per_s });
    }
    console.log(`\n# rt/s at ${big} connections / rt/s at 64 (target for strom: >= 0.90)`);
    console.log(
      table(scale.map((x) => [x.server, "", fmt(x.rt_per_s_vs_64, 2)]), ["server", "", "ratio"]),
    );
  }

  for (const tool of ["strace", "perf"]) {
    const rs = syscalls.filter((x) => x.tool === tool);
    if (rs.length === 0) continue;
    console.log(
      `\n# syscalls per round trip at 64 connections (${tool}`
        + (tool === "strace"
          ? ", attached around the window; the traced server runs slower, so epoll_wait returns more events each)"
          : ", syscall tracepoints at full speed)"),
    );
    const rows2 = rs.map((x) =>
      x.error ? [x.server, "ERROR: " + x.error.slice(0, 80), ""] : [
        x.server,
        fmt(x.per_rt, 2),
        Object.entries(x.breakdown).filter(([, v]) => v.per_rt >= 0.005).map(([k, v]) =>
          `${k} ${v.per_rt.toFixed(2)}`
        ).join(", "),
      ]
    );
    console.log(table(rows2, ["server", "per rt", "breakdown (calls per round trip)"]));
  }

  if (rss.length) {
    console.log(`\n# RSS per idle connection at ${rssConns} connections (VmRSS after - before)`);
    console.log(
      table(
        rss.map((x) =>
          x.error ? [x.server, "ERROR: " + x.error.slice(0, 80), "", ""] : [
            x.server,
            fmtInt(x.rss_before_kib),
            fmtInt(x.rss_after_kib),
            fmtInt(x.bytes_per_conn),
          ]
        ),
        ["server", "before KiB", "after KiB", "bytes/conn"],
      ),
    );
  }

  const odd = results.flatMap((r) => (r.runs ?? []).filter((x) => x.odd).map((x) => x.odd));
  for (const x of new Set(odd)) console.log(`# odd: ${x}`);
  const noisy = results.filter((r) => r.other_load_core0 > 0.1 || r.other_load_core1 > 0.1);
  if (noisy.length) {
    console.log(
      `# note: other processes used >10% of a benchmark core in ${noisy.length} cells `
        + `(column other%); CPU µs/rt holds up better than rt/s under such load`,
    );
  }
  meta.seconds_total = (Date.now() - tStart) / 1000;
  meta.loadavg_after = readFileSync("/proc/loadavg", "utf8").trim();
  console.log(`# total ${fmt(meta.seconds_total, 0)} s`);

  if (o.json) {
    writeFileSync(
      o.json,
      JSON.stringify({ meta, results, ratios, scale, syscalls, rss }, null, 2) + "\n",
    );
    console.log(`# wrote ${o.json}`);
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
