// The folders of src/ are layers: each imports only from the layers below it
// (docs: README "Layout"). This test reads every import of every source file
// and fails on one that runs upwards or sideways.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { test } from "node:test";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..");

/** Each layer and the layers it may import from (itself always allowed). */
const ALLOWED: Record<string, readonly string[]> = {
  ffi: [],
  io: ["ffi"],
  sched: ["ffi", "io"],
  time: ["ffi", "io", "sched"],
  sync: ["ffi", "io", "sched", "time"],
  host: ["ffi", "io", "sched", "time", "sync"],
  net: ["ffi", "io", "sched", "time", "sync", "host"],
  runtime: ["ffi", "io", "sched", "time", "sync", "host", "net"],
};

function sourceFiles(): string[] {
  const src = join(root, "src");
  return readdirSync(src, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => join(src, f));
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const specs: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;]*?from\s*"([^"]+)"/g)) {
    specs.push(m[1]);
  }
  for (const m of text.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g)) specs.push(m[1]);
  return specs;
}

function layerOf(file: string): string {
  return relative(join(root, "src"), file).split("/")[0];
}

test("every folder of src/ is a known layer", () => {
  const layers = new Set(sourceFiles().map(layerOf));
  for (const layer of layers) assert.ok(layer in ALLOWED, `unknown layer src/${layer}/`);
  assert.ok(layers.size >= 6, `layers found: ${[...layers]}`);
});

test("no import runs from a lower layer to a higher one", () => {
  const wrong: string[] = [];
  let edges = 0;
  for (const file of sourceFiles()) {
    const from = layerOf(file);
    for (const spec of importsOf(file)) {
      if (!spec.startsWith(".")) continue; // node: builtins
      const target = resolve(dirname(file), spec);
      const rel = relative(join(root, "src"), target);
      assert.ok(!rel.startsWith(".."), `${relative(root, file)} imports outside src/: ${spec}`);
      const to = rel.split("/")[0];
      edges++;
      if (to !== from && !ALLOWED[from].includes(to)) {
        wrong.push(`${relative(root, file)} (${from}) imports ${spec} (${to})`);
      }
    }
  }
  assert.ok(edges > 50, `only ${edges} imports found: the parser is broken`);
  assert.deepEqual(wrong, []);
});

test("nothing above src/ffi/ names a host runtime", () => {
  const named: string[] = [];
  for (const file of sourceFiles()) {
    if (layerOf(file) === "ffi") continue;
    const code = readFileSync(file, "utf8")
      .replace(/\/\*[\s\S]*?\*\//g, "")
      .replace(/\/\/.*$/gm, "");
    if (/\bDeno\.|\bBun\.|bun:ffi/.test(code)) named.push(relative(root, file));
  }
  assert.deepEqual(named, []);
});
