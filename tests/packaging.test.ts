// strom as users get it: imported by `deno run` from a URL (plain and
// version-pinned), added to a fresh Bun project with `bun add`, published to
// JSR (deno.json, `deno publish --dry-run`), and described by docs/api.md,
// which must list exactly mod.ts's exports. Every test runs child processes
// (the pinned deno and bun of node_modules/.bin, and a static file server in
// a child of the host runtime) and removes what it created.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { hostArgv } from "./helpers/child.ts";

const root = fileURLToPath(new URL("..", import.meta.url));
const bin = (name: string) => join(root, "node_modules", ".bin", name);
const readJson = (file: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(root, file), "utf8"));
const denoJson = readJson("deno.json");
const packageJson = readJson("package.json");
const version = String(denoJson.version);

/** How a child process ended. */
interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Quiet, offline environment for the child tools. */
function childEnv(extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  return { ...env, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1", ...extra };
}

/**
 * How long a child command may take by default: generous, since `deno
 * publish --dry-run` type-checks the whole package and took over 20 s on a
 * busy 2-core machine.
 */
const EXEC_LIMIT_MS = 120_000;

/** Runs a command to its end (killed after `limitMs`), without blocking the thread. */
function exec(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; limitMs?: number } = {},
): Promise<Exit> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd ?? root,
      env: opts.env ?? childEnv(),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (s: string) => stdout += s);
    child.stderr!.setEncoding("utf8").on("data", (s: string) => stderr += s);
    const timer = setTimeout(() => {
      stderr += `\n[killed after ${opts.limitMs ?? EXEC_LIMIT_MS} ms]`;
      child.kill("SIGKILL");
    }, opts.limitMs ?? EXEC_LIMIT_MS);
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A temp dir that `use` may fill; removed afterwards whatever happens. */
async function withTempDir<T>(prefix: string, use: (dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  try {
    return await use(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The static file server of tests/fixtures, running in a child process. */
interface FileServer {
  port: number;
  /** Its request log so far: one `<status> <path>` per line. */
  log(): string[];
}

/** Starts the file server, hands it to `use`, and kills it afterwards. */
async function withFileServer<T>(use: (server: FileServer) => Promise<T>): Promise<T> {
  const script = fileURLToPath(new URL("./fixtures/packaging_server.mjs", import.meta.url));
  const [cmd, argv] = hostArgv(script, [root, version]);
  const child: ChildProcess = spawn(cmd, argv, {
    env: childEnv(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const exited = new Promise<void>((resolve) => child.on("close", () => resolve()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`file server did not start: ${err}`)),
        15_000,
      );
      child.on("error", reject);
      child.on("close", (code) => reject(new Error(`file server exited (${code}): ${err}`)));
      child.stderr!.setEncoding("utf8").on("data", (s: string) => err += s);
      child.stdout!.setEncoding("utf8").on("data", (s: string) => {
        out += s;
        const m = /^listening (\d+)$/m.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
    });
    const log = () => out.split("\n").filter((l) => /^\d{3} /.test(l));
    return await use({ port, log });
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    await exited;
  }
}

/**
 * The program a user writes: an echo round trip over loopback through
 * strom's TcpListener/TcpStream, with awaitAll running server and client.
 */
function echoProgram(specifier: string): string {
  return `import { awaitAll, run, sleep, TcpListener, TcpStream } from "${specifier}";

const listener = TcpListener.bind("127.0.0.1:0");
const reply = run(function* () {
  const [, got] = yield* awaitAll(
    (function* () {
      const conn = yield* listener.accept();
      try {
        const buf = new Uint8Array(64);
        const n = yield* conn.read(buf);
        yield* conn.writeAll(buf, n);
      } finally {
        conn.close();
      }
    })(),
    (function* () {
      yield* sleep(1);
      const conn = yield* TcpStream.connect(listener.localAddr);
      try {
        yield* conn.writeAll(new TextEncoder().encode("ping from a user"));
        const buf = new Uint8Array(16);
        yield* conn.readExact(buf);
        return new TextDecoder().decode(buf);
      } finally {
        conn.close();
      }
    })(),
  );
  return got;
}());
listener.close();
console.log("strom from " + import.meta.resolve("${specifier}"));
console.log("echo: " + reply);
`;
}

/** Runs the echo program with `deno run`, importing strom from `url`, nothing cached. */
async function denoRunFromUrl(url: string): Promise<Exit> {
  return await withTempDir("strom-url-", async (dir) => {
    writeFileSync(join(dir, "main.ts"), echoProgram(url));
    return await exec(bin("deno"), ["run", "-A", "--no-check", "--reload", "main.ts"], {
      cwd: dir,
      env: childEnv({ DENO_DIR: join(dir, "deno_dir") }),
    });
  });
}

/** Asserts the program echoed, with strom loaded from where `from` says. */
function assertEchoed(r: Exit, from: string | RegExp): void {
  assert.equal(r.code, 0, `exit code; stdout: ${r.stdout}; stderr: ${r.stderr}`);
  const line = r.stdout.split("\n").find((l) => l.startsWith("strom from "))?.slice(11);
  if (typeof from === "string") assert.equal(line, from, "where strom was loaded from");
  else assert.match(line ?? "", from, "where strom was loaded from");
  assert.match(r.stdout, /^echo: ping from a user$/m, `stdout: ${r.stdout}`);
}

/** Asserts the server log shows strom's modules fetched under `prefix`, all found. */
function assertFetched(log: string[], prefix: string): void {
  for (const path of ["mod.ts", "src/sched/run.ts", "src/net/tcp_stream.ts", "src/ffi/mod.ts"]) {
    assert.ok(
      log.includes(`200 ${prefix}${path}`),
      `GET ${prefix}${path} served; log:\n${log.join("\n")}`,
    );
  }
  const failed = log.filter((l) => !l.startsWith("200 "));
  assert.deepEqual(failed, [], "every module strom imports is served");
}

test("deno run imports strom from an http URL and runs an echo round trip", async () => {
  await withFileServer(async (server) => {
    const url = `http://127.0.0.1:${server.port}/mod.ts`;
    const r = await denoRunFromUrl(url);
    assertEchoed(r, url);
    assertFetched(server.log(), "/");
  });
});

test("deno run imports strom from a version-pinned URL (strom@<version>)", async () => {
  await withFileServer(async (server) => {
    const prefix = `/strom@${version}/`;
    const url = `http://127.0.0.1:${server.port}${prefix}mod.ts`;
    const r = await denoRunFromUrl(url);
    assertEchoed(r, url);
    assertFetched(server.log(), prefix);
    assert.ok(server.log().every((l) => l.includes(prefix)), "nothing fetched outside the pin");
  });
});

/** Every static import/export specifier in the published TypeScript sources. */
function specifiers(): { file: string; spec: string }[] {
  const out: { file: string; spec: string }[] = [];
  const files = ["mod.ts"];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir))) {
      const rel = `${dir}/${name}`;
      if (name.endsWith(".ts")) files.push(rel);
      else if (!name.includes(".")) walk(rel);
    }
  };
  walk("src");
  const re =
    /(?:^|\n)\s*(?:import|export)\b[^'"]*?\bfrom\s+["']([^"']+)["']|\bimport\s*\(\s*["']([^"']+)["']/g;
  for (const file of files) {
    const text = readFileSync(join(root, file), "utf8");
    for (const m of text.matchAll(re)) out.push({ file, spec: m[1] ?? m[2] });
  }
  return out;
}

// A bare specifier ("effection", "@std/x") resolves only through an import
// map or package.json the user does not have; `node:` builtins resolve
// everywhere strom runs (Deno, Bun), from a URL too.
test("mod.ts and src/ import only relative paths and node: builtins", () => {
  const all = specifiers();
  assert.ok(all.length > 20, `found the imports (${all.length})`);
  const bare = all.filter(({ spec }) =>
    !spec.startsWith("./") && !spec.startsWith("../") && !spec.startsWith("node:")
  );
  assert.deepEqual(bare, [], "bare specifiers in the published code");
  for (const { file, spec } of all.filter(({ spec }) => !spec.startsWith("node:"))) {
    assert.ok(
      spec.endsWith(".ts"),
      `${file}: "${spec}" names its file with .ts (Deno needs the extension)`,
    );
  }
});

/** `npm pack` of the repository into `dir`: the tarball's path and its file list. */
async function pack(dir: string): Promise<{ tarball: string; files: string[] }> {
  const r = await exec("npm", ["pack", "--json", "--pack-destination", dir], {
    env: childEnv({ npm_config_cache: join(dir, "npm-cache"), npm_config_offline: "true" }),
  });
  assert.equal(r.code, 0, `npm pack: ${r.stderr}`);
  const [info] = JSON.parse(r.stdout) as [{ filename: string; files: { path: string }[] }];
  return { tarball: join(dir, info.filename), files: info.files.map((f) => f.path).sort() };
}

test("npm pack ships mod.ts, src/, the docs and examples, and no tests, benchmarks or tooling", async () => {
  await withTempDir("strom-pack-", async (dir) => {
    const { files } = await pack(dir);
    for (
      const f of [
        "package.json",
        "README.md",
        "LICENSE",
        "mod.ts",
        "src/sched/run.ts",
        "src/net/mod.ts",
        "src/ffi/mod.ts",
        "examples/echo.ts",
      ]
    ) {
      assert.ok(files.includes(f), `${f} is packed; packed: ${files.join(", ")}`);
    }
    const stray = files.filter((f) =>
      !(f === "package.json" || f === "README.md" || f === "LICENSE" || f === "mod.ts"
        || f.startsWith("src/") || f.startsWith("examples/")
        || /^docs\/[^/]+\.md$/.test(f) || /^docs\/benchmarks\/[^/]+\.(svg|json)$/.test(f))
    );
    assert.deepEqual(
      stray,
      [],
      "files packed besides package.json, README, LICENSE, mod.ts, src/, examples/, docs/*.md, docs/benchmarks/*.{svg,json}",
    );
    assert.ok(files.every((f) => !f.includes(".test.") && !f.includes("node_modules")));
  });
});

/** The relative link targets (`[text](target)`) of a markdown text, without their #fragment. */
function relativeLinks(markdown: string): string[] {
  const targets = [...markdown.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1] ?? "");
  return targets
    .filter((t) => !/^[a-z][a-z0-9+.-]*:/i.test(t) && !t.startsWith("#"))
    .map((t) => t.replace(/#.*$/, ""));
}

test("every relative link in the packed README and docs resolves inside the npm package", async () => {
  await withTempDir("strom-links-", async (dir) => {
    const { files } = await pack(dir);
    const packed = new Set(files);
    const isDir = (p: string) => files.some((f) => f.startsWith(p.endsWith("/") ? p : p + "/"));
    const broken: string[] = [];
    let checked = 0;
    for (const doc of files.filter((f) => f.endsWith(".md"))) {
      const base = doc.includes("/") ? doc.slice(0, doc.lastIndexOf("/") + 1) : "";
      for (const target of relativeLinks(readFileSync(join(root, doc), "utf8"))) {
        const path = new URL(target, `file:///pkg/${base}`).pathname.slice("/pkg/".length);
        checked++;
        if (!packed.has(path) && !isDir(path)) broken.push(`${doc}: ${target}`);
      }
    }
    assert.ok(checked >= 10, `links found: ${checked}`);
    assert.deepEqual(broken, [], "links to files the package does not ship");
  });
});

test("package.json states engines, os, cpu and repository", () => {
  const engines = packageJson.engines as Record<string, string> | undefined;
  assert.deepEqual(engines, { bun: ">=1.4.0", deno: ">=2.9.0" });
  const pinned = readJson("package.json").devDependencies as Record<string, string>;
  assert.ok(pinned.bun?.startsWith("1.4.") && pinned.deno?.startsWith("2.9."), "tested versions");
  assert.deepEqual(packageJson.os, ["linux"]);
  assert.deepEqual(packageJson.cpu, ["x64", "arm64"]);
  const repo = packageJson.repository as { type?: string; url?: string } | undefined;
  assert.equal(repo?.type, "git");
  assert.match(repo?.url ?? "", /^git\+https:\/\/\S+\.git$/);
});

test("bun add of the packed tarball: a fresh project imports strom and runs an echo round trip", async () => {
  await withTempDir("strom-bun-add-", async (dir) => {
    const { tarball } = await pack(dir);
    const app = join(dir, "app");
    const env = childEnv({ BUN_INSTALL_CACHE_DIR: join(dir, "bun-cache") });
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "strom-user", private: true, type: "module" }, null, 2),
    );
    const add = await exec(bin("bun"), ["add", tarball], { cwd: app, env });
    assert.equal(add.code, 0, `bun add: ${add.stdout}${add.stderr}`);
    const { dependencies: deps } = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as {
      dependencies?: Record<string, string>;
    };
    assert.ok(deps?.strom, `bun add recorded the dependency: ${JSON.stringify(deps)}`);
    writeFileSync(join(app, "main.ts"), echoProgram("strom"));
    const r = await exec(bin("bun"), ["main.ts"], { cwd: app, env });
    assertEchoed(r, /\/app\/node_modules\/strom\/mod\.ts$/);
  });
});

test("package.json and deno.json agree on the version and the TypeScript entry", () => {
  assert.equal(packageJson.name, "strom");
  assert.match(version, /^\d+\.\d+\.\d+(-[\w.]+)?$/, "deno.json version is semver");
  assert.equal(packageJson.version, version, "same version in package.json and deno.json");
  assert.equal(packageJson.type, "module");
  assert.deepEqual(packageJson.exports, { ".": "./mod.ts" }, "package.json exports the TS entry");
  assert.match(
    String(denoJson.name),
    /^@[a-z0-9-]+\/[a-z0-9-]+$/,
    "deno.json name is a JSR @scope/name",
  );
  assert.equal(denoJson.exports, "./mod.ts", "deno.json exports the TS entry");
});

test("deno publish --dry-run accepts the package (slow types, files) without the network", async () => {
  const r = await exec(bin("deno"), ["publish", "--dry-run", "--allow-dirty"]);
  const out = r.stdout + r.stderr;
  assert.equal(r.code, 0, `deno publish --dry-run:\n${out}`);
  assert.match(
    out,
    new RegExp(`Simulating publish of ${denoJson.name}@${version.replace(/\./g, "\\.")}`),
  );
  const files = [...out.matchAll(/file:\/\/\S+?\/(mod\.ts|src\/\S+|tests\/\S+|bench\/\S+)\s/g)]
    .map((m) => m[1]);
  assert.ok(files.includes("mod.ts") && files.includes("src/sched/run.ts"), `files: ${files}`);
  assert.deepEqual(files.filter((f) => !f.startsWith("src/") && f !== "mod.ts"), []);
  // docs/benchmarks.md shows these charts: on JSR too.
  assert.match(out, /docs\/benchmarks\/sched\.svg/, "the benchmark charts are published");
});

/** mod.ts's exports as `deno doc --json` lists them (type-only ones too), with their kinds. */
async function modExports(): Promise<string[]> {
  const r = await exec(bin("deno"), ["doc", "--json", "mod.ts"]);
  assert.equal(r.code, 0, `deno doc --json mod.ts: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as {
    nodes: Record<string, { symbols: { name: string; declarations: { kind: string }[] }[] }>;
  };
  const mod = Object.entries(doc.nodes).find(([url]) => url.endsWith("/mod.ts"));
  assert.ok(mod, "deno doc has mod.ts");
  return mod[1].symbols.map((s) => {
    const kind = s.declarations[0].kind;
    return `${s.name}: ${kind === "typeAlias" ? "type" : kind}`;
  }).sort();
}

test("docs/api.md documents exactly mod.ts's exports (regenerate: node scripts/api_doc.mjs)", async () => {
  const exports = await modExports();
  assert.ok(exports.length > 20, `mod.ts has its exports (${exports.length})`);
  const lines = readFileSync(join(root, "docs", "api.md"), "utf8").split("\n");
  const documented: string[] = [];
  lines.forEach((line, i) => {
    const m = /^### `([\w$]+)`$/.exec(line);
    if (!m) return;
    const kind = /^Kind: (\w+)$/.exec(lines[i + 2] ?? "");
    assert.ok(kind, `docs/api.md: "Kind: ..." two lines under ${line}`);
    documented.push(`${m[1]}: ${kind[1]}`);
  });
  assert.deepEqual(
    documented.sort(),
    exports,
    "docs/api.md is stale: run node scripts/api_doc.mjs",
  );
});

/**
 * Runs `cmd args` in a pseudo-terminal (util-linux `script`), as a user at a
 * shell would: Deno prompts for a missing permission only when it has a
 * terminal. stdin stays open (a prompt would wait, not read EOF).
 */
function execInTerminal(cmd: string, args: string[], cwd: string): Promise<Exit> {
  const line = [cmd, ...args].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
  return new Promise((resolve, reject) => {
    const child = spawn("script", ["-qec", line, "/dev/null"], {
      cwd,
      env: childEnv({ STROM_REACTOR: "poll" }),
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.setEncoding("utf8").on("data", (s: string) => {
      stdout += s;
      if (/Allow\?/.test(stdout)) child.kill("SIGKILL"); // a prompt waits for an answer
    });
    child.stderr!.setEncoding("utf8").on("data", (s: string) => stderr += s);
    const timer = setTimeout(() => {
      stderr += "\n[killed: still running after 60 s]";
      child.kill("SIGKILL");
    }, 60_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      child.stdin!.destroy();
      resolve({ code, stdout, stderr });
    });
  });
}

// STROM_REACTOR is set (to a value strom would honour); without
// --allow-env it is ignored, silently.
test("deno run --allow-ffi (no -A) in a terminal: strom runs, no permission prompt", async () => {
  await withTempDir("strom-perm-", async (dir) => {
    writeFileSync(join(dir, "main.ts"), echoProgram(join(root, "mod.ts")));
    const r = await execInTerminal(
      bin("deno"),
      ["run", "--allow-ffi", "--no-check", "main.ts"],
      dir,
    );
    const out = r.stdout + r.stderr;
    assert.doesNotMatch(out, /requests \S*\s*\S*env access/, `a permission prompt:\n${out}`);
    assert.equal(r.code, 0, `exit code; output:\n${out}`);
    assert.match(out, /^echo: ping from a user\r?$/m, out);
    // And with no terminal at all (stdin not a TTY: Deno cannot prompt and
    // would refuse instead).
    const piped = await exec(bin("deno"), ["run", "--allow-ffi", "--no-check", "main.ts"], {
      cwd: dir,
      env: childEnv({ STROM_REACTOR: "poll" }),
    });
    assert.equal(piped.code, 0, `no terminal: ${piped.stdout}${piped.stderr}`);
    assert.doesNotMatch(piped.stderr, /env access/, piped.stderr);
    assert.match(piped.stdout, /^echo: ping from a user$/m);
  });
});

test("deno run with the flags the README gives for Runtime (--allow-ffi --allow-read) runs a root task", async () => {
  await withTempDir("strom-perm-rt-", async (dir) => {
    const mod = join(root, "mod.ts");
    writeFileSync(
      join(dir, "tasks.ts"),
      `import { type Task } from "${mod}";\nexport function* square(n: number): Task<number> {\n  return n * n;\n}\n`,
    );
    writeFileSync(
      join(dir, "main.ts"),
      `import { rootTask, Runtime } from "${mod}";
import { square } from "./tasks.ts";
const runtime = await Runtime.create({ workers: 1 });
console.log("square: " + await runtime.spawn(rootTask(new URL("./tasks.ts", import.meta.url), square, 7)));
await runtime.shutdown();
`,
    );
    const r = await execInTerminal(
      bin("deno"),
      ["run", "--allow-ffi", `--allow-read=${root},${dir}`, "--no-check", "main.ts"],
      dir,
    );
    const out = r.stdout + r.stderr;
    assert.doesNotMatch(out, /Deno requests/, `a permission prompt:\n${out}`);
    assert.equal(r.code, 0, `exit code; output:\n${out}`);
    assert.match(out, /^square: 49\r?$/m, out);
  });
});

test("bun build of a Runtime program, as the README says: the bundle runs root tasks on workers", async () => {
  await withTempDir("strom-bun-build-", async (dir) => {
    const { tarball } = await pack(dir);
    const app = join(dir, "app");
    const env = childEnv({ BUN_INSTALL_CACHE_DIR: join(dir, "bun-cache") });
    mkdirSync(app);
    writeFileSync(
      join(app, "package.json"),
      JSON.stringify({ name: "strom-user", private: true, type: "module" }, null, 2),
    );
    const add = await exec(bin("bun"), ["add", tarball], { cwd: app, env });
    assert.equal(add.code, 0, `bun add: ${add.stdout}${add.stderr}`);
    writeFileSync(
      join(app, "tasks.ts"),
      `import { type Task, workerIndex } from "strom";
export function* square(n: number): Task<{ value: number; worker: number }> {
  return { value: n * n, worker: workerIndex() };
}
`,
    );
    writeFileSync(
      join(app, "main.ts"),
      `import { rootTask, Runtime } from "strom";
import { square } from "./tasks.ts";
const runtime = await Runtime.create({ workers: 2 });
const { value } = await runtime.spawn(rootTask(new URL("./tasks.ts", import.meta.url), square, 7));
console.log("square: " + value);
await runtime.shutdown();
`,
    );
    const build = await exec(bin("bun"), [
      "build",
      "./main.ts",
      "--outdir",
      "./dist",
      "--target",
      "bun",
      "--packages",
      "external",
      "--external",
      "./tasks.ts",
    ], { cwd: app, env });
    assert.equal(build.code, 0, `bun build: ${build.stdout}${build.stderr}`);
    copyFileSync(join(app, "tasks.ts"), join(app, "dist", "tasks.ts"));
    // Run from elsewhere: nothing may depend on the working directory.
    const r = await exec(bin("bun"), [join(app, "dist", "main.js")], { cwd: dir, env });
    assert.equal(r.code, 0, `bun dist/main.js: ${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^square: 49$/m);
  });
});
