#!/usr/bin/env node
// Writes docs/api.md, strom's API reference, from the JSDoc of mod.ts's
// exports. The source is `deno doc --json mod.ts` (offline, the pinned deno
// of node_modules/.bin), so the reference says what the code says.
//
//   node scripts/api_doc.mjs           regenerate docs/api.md
//   node scripts/api_doc.mjs --check   exit 1 when docs/api.md is stale
//
// tests/packaging.test.ts checks that docs/api.md has one `###` heading per
// export of mod.ts, with its kind, so a new export without a regenerated
// reference fails the suite. Runs under Node, Deno (`deno run -A`) and Bun;
// no dependencies.

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));
const target = join(root, "docs", "api.md");

/** The `deno doc --json` output for mod.ts (format version 2). */
function denoDoc() {
  const deno = join(root, "node_modules", ".bin", "deno");
  const r = spawnSync(existsSync(deno) ? deno : "deno", ["doc", "--json", "mod.ts"], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    env: { ...process.env, NO_COLOR: "1" },
  });
  if (r.status !== 0) {
    throw new Error(`deno doc --json mod.ts failed (${r.status}): ${r.stderr}`);
  }
  const doc = JSON.parse(r.stdout);
  if (doc.version !== 2) throw new Error(`unknown deno doc JSON version ${doc.version}`);
  const mod = Object.entries(doc.nodes).find(([url]) => url.endsWith("/mod.ts"));
  if (!mod) throw new Error("deno doc --json has no node for mod.ts");
  return mod[1];
}

// ---- types -------------------------------------------------------------

/** Renders a deno doc TsTypeDef as TypeScript text. */
function type(t) {
  if (!t) return "unknown";
  const v = t.value;
  switch (t.kind) {
    case "keyword":
      return v;
    case "typeRef":
      return v.typeParams?.length
        ? `${v.typeName}<${v.typeParams.map(type).join(", ")}>`
        : v.typeName;
    case "union":
      return v.map(type).join(" | ");
    case "intersection":
      return v.map(type).join(" & ");
    case "array": {
      const inner = type(v);
      return /^[\w.<>, ]+$/.test(inner) && !inner.includes(" ") ? `${inner}[]` : `(${inner})[]`;
    }
    case "tuple":
      return `[${v.map(type).join(", ")}]`;
    case "literal":
      return literal(v, t.repr);
    case "typeOperator":
      return `${v.operator} ${type(v.tsType)}`;
    case "parenthesized":
      return `(${type(v)})`;
    case "indexedAccess":
      return `${type(v.objType)}[${type(v.indexType)}]`;
    case "typeQuery":
      return `typeof ${typeof v === "string" ? v : t.repr}`;
    case "this":
      return "this";
    case "optional":
      return `${type(v)}?`;
    case "rest":
      return `...${type(v)}`;
    case "infer":
      return `infer ${v.typeParam.name}`;
    case "conditional":
      return `${type(v.checkType)} extends ${type(v.extendsType)} ? ${type(v.trueType)} : ${
        type(v.falseType)
      }`;
    case "mapped": {
      const ro = v.readonly === true ? "readonly " : v.readonly ? `${v.readonly}readonly ` : "";
      const opt = v.optional === true ? "?" : v.optional ? `${v.optional}?` : "";
      const c = v.typeParam.constraint ? ` in ${type(v.typeParam.constraint)}` : "";
      return `{ ${ro}[${v.typeParam.name}${c}]${opt}: ${type(v.tsType)} }`;
    }
    case "typeLiteral":
      return typeLiteral(v);
    case "fnOrConstructor": {
      const sig = `(${params(v.params)}) => ${type(v.tsType)}`;
      return v.constructor
        ? `new ${typeParams(v.typeParams)}${sig}`
        : `${typeParams(v.typeParams)}${sig}`;
    }
    case "typePredicate":
      return `${v.asserts ? "asserts " : ""}${v.param.name ?? "this"}${
        v.type ? ` is ${type(v.type)}` : ""
      }`;
    case "importType":
      return `import("${v.specifier}")${v.qualifier ? `.${v.qualifier}` : ""}`;
    default:
      return t.repr || "unknown";
  }
}

function literal(v, repr) {
  switch (v.kind) {
    case "string":
      return JSON.stringify(v.string);
    case "number":
      return String(v.number);
    case "boolean":
      return String(v.boolean);
    case "bigInt":
      return `${v.string}n`;
    case "template":
      return `\`${repr}\``;
    default:
      return repr;
  }
}

function typeLiteral(v) {
  const parts = [
    ...(v.properties ?? []).map((p) =>
      `${p.readonly ? "readonly " : ""}${p.name}${p.optional ? "?" : ""}: ${type(p.tsType)}`
    ),
    ...(v.methods ?? []).map((m) =>
      `${m.name}${typeParams(m.typeParams)}(${params(m.params)}): ${type(m.returnType)}`
    ),
    ...(v.callSignatures ?? []).map((c) =>
      `${typeParams(c.typeParams)}(${params(c.params)}): ${type(c.tsType)}`
    ),
    ...(v.indexSignatures ?? []).map((s) =>
      `${s.readonly ? "readonly " : ""}[${params(s.params)}]: ${type(s.tsType)}`
    ),
  ];
  return parts.length ? `{ ${parts.join("; ")} }` : "{}";
}

function typeParams(tps) {
  if (!tps?.length) return "";
  return `<${
    tps.map((p) =>
      `${p.name}${p.constraint ? ` extends ${type(p.constraint)}` : ""}${
        p.default ? ` = ${type(p.default)}` : ""
      }`
    ).join(", ")
  }>`;
}

function param(p) {
  const ann = (t) => (t ? `: ${type(t)}` : "");
  switch (p.kind) {
    case "identifier":
      return `${p.name}${p.optional ? "?" : ""}${ann(p.tsType)}`;
    case "rest":
      return `...${param(p.arg)}${ann(p.tsType)}`;
    case "assign": // a default value: shown as optional, the doc says the default
      return `${param({ ...p.left, optional: true })}`;
    case "object":
      return `{ ${p.props.map((x) => x.key ?? x.name ?? "...").join(", ")} }${ann(p.tsType)}`;
    case "array":
      return `[...]${ann(p.tsType)}`;
    default:
      return p.name ?? "arg";
  }
}

function params(ps) {
  return (ps ?? []).map(param).join(", ");
}

// ---- declarations --------------------------------------------------------

function functionSig(name, f, prefix = "function ") {
  const ret = f.returnType ? `: ${type(f.returnType)}` : "";
  return `${prefix}${name}${typeParams(f.typeParams)}(${params(f.params)})${ret}`;
}

/** The TypeScript signature(s) of one export, as a code block's lines. */
function signature(name, decls) {
  const out = [];
  for (const d of decls) {
    const def = d.def;
    switch (d.kind) {
      case "function":
        // An overloaded function: show the overloads, not the implementation.
        if (decls.length > 1 && !d.jsDoc && decls.some((x) => x.jsDoc)) continue;
        out.push(functionSig(name, def));
        break;
      case "class": {
        const ext = def.extends ? ` extends ${def.extends}` : "";
        out.push(
          `${def.isAbstract ? "abstract " : ""}class ${name}${typeParams(def.typeParams)}${ext}`,
        );
        break;
      }
      case "interface": {
        const ext = def.extends?.length ? ` extends ${def.extends.map(type).join(", ")}` : "";
        out.push(`interface ${name}${typeParams(def.typeParams)}${ext}`);
        break;
      }
      case "typeAlias":
        out.push(`type ${name}${typeParams(def.typeParams)} = ${type(def.tsType)}`);
        break;
      case "variable":
        out.push(`${def.kind} ${name}: ${type(def.tsType)}`);
        break;
      case "enum":
        out.push(`enum ${name}`);
        break;
      case "namespace":
        out.push(`namespace ${name}`);
        break;
      default:
        out.push(`${d.kind} ${name}`);
    }
  }
  return out;
}

/** JSDoc text with its `@example`s (and other tags worth showing). */
function docText(jsDoc, headingLevel) {
  if (!jsDoc) return "";
  let text = (jsDoc.doc ?? "").trim();
  // {@linkcode x} / {@link x} → `x`
  text = text.replace(
    /\{@link(?:code|plain)?\s+([^}|\s]+)(?:[ |]([^}]*))?\}/g,
    (_, t, label) => label ? `${label.trim()} (\`${t}\`)` : `\`${t}\``,
  );
  const extra = [];
  for (const tag of jsDoc.tags ?? []) {
    if (tag.kind === "example") {
      extra.push(`${"#".repeat(headingLevel)} Example\n\n${tag.doc.trim()}`);
    } else if (tag.kind === "deprecated") extra.push(`**Deprecated.** ${tag.doc ?? ""}`.trim());
    else if (tag.kind === "throws") {
      extra.push(`Throws ${tag.type ? `\`${tag.type}\` ` : ""}${tag.doc ?? ""}`.trim());
    } else if (tag.kind === "param" && tag.doc) extra.push(`- \`${tag.name}\`: ${tag.doc}`);
    else if (tag.kind === "return" && tag.doc) extra.push(`Returns ${tag.doc}`);
  }
  return unformatted([text, ...extra].filter(Boolean).join("\n\n"));
}

/**
 * Marks the code blocks of JSDoc (examples) `dprint-ignore`: they are
 * fragments from inside a generator (`yield* x`), which dprint's TypeScript
 * formatter would rewrite as a multiplication (`yield * x`).
 */
function unformatted(markdown) {
  let inside = false;
  return markdown.split("\n").map((line) => {
    if (!line.trimStart().startsWith("```")) return line;
    inside = !inside;
    return inside ? `<!-- dprint-ignore -->\n${line}` : line;
  }).join("\n");
}

/** Whether JSDoc marks a declaration as not part of the API. */
function hidden(jsDoc) {
  return (jsDoc?.tags ?? []).some((t) =>
    t.kind === "internal" || t.kind === "ignore" || t.kind === "private"
  );
}

/** Members of a class or an interface, each as `#### name` with signature and doc. */
function members(name, d) {
  const def = d.def;
  const out = [];
  const add = (title, sig, jsDoc) => {
    out.push(`#### ${title}\n\n\`\`\`ts\n${sig}\n\`\`\``);
    const text = docText(jsDoc, 5);
    if (text) out.push(text);
  };
  if (d.kind === "class") {
    for (const c of def.constructors ?? []) {
      if (c.accessibility === "private" || c.accessibility === "protected" || hidden(c.jsDoc)) {
        continue;
      }
      add(`new ${name}`, `new ${name}(${params(c.params)})`, c.jsDoc);
    }
    const visible = (m) =>
      m.accessibility !== "private" && m.accessibility !== "protected" && !hidden(m.jsDoc);
    for (const p of (def.properties ?? []).filter(visible)) {
      const mods = `${p.isStatic ? "static " : ""}${p.readonly ? "readonly " : ""}`;
      add(
        `${p.isStatic ? `${name}.` : ""}${p.name}`,
        `${mods}${p.name}${p.optional ? "?" : ""}: ${type(p.tsType)}`,
        p.jsDoc,
      );
    }
    // Getter/setter pairs and overloads share a name: document each name once,
    // with every signature it has.
    const byName = new Map();
    for (const m of (def.methods ?? []).filter(visible)) {
      const key = `${m.isStatic ? "static " : ""}${m.name}`;
      if (!byName.has(key)) byName.set(key, []);
      byName.get(key).push(m);
    }
    for (const ms of byName.values()) {
      const first = ms[0];
      const sigs = ms.filter((m) =>
        !(ms.length > 1 && m.kind === "method" && !m.jsDoc && ms.some((x) => x.jsDoc))
      )
        .map((m) => {
          const st = m.isStatic ? "static " : "";
          if (m.kind === "getter") return `${st}get ${m.name}(): ${type(m.functionDef.returnType)}`;
          if (m.kind === "setter") return `${st}set ${m.name}(${params(m.functionDef.params)})`;
          return functionSig(m.name, m.functionDef, st);
        });
      add(
        `${first.isStatic ? `${name}.` : ""}${first.name}`,
        sigs.join("\n"),
        ms.find((m) => m.jsDoc)?.jsDoc,
      );
    }
  } else if (d.kind === "interface") {
    for (const p of def.properties ?? []) {
      add(
        p.name,
        `${p.readonly ? "readonly " : ""}${p.name}${p.optional ? "?" : ""}: ${type(p.tsType)}`,
        p.jsDoc,
      );
    }
    for (const m of def.methods ?? []) {
      add(
        m.name,
        `${m.name}${m.optional ? "?" : ""}${typeParams(m.typeParams)}(${params(m.params)}): ${
          type(m.returnType)
        }`,
        m.jsDoc,
      );
    }
  } else if (d.kind === "variable" && d.def.tsType?.kind === "typeLiteral") {
    // A constant object such as `Rule`: its keys are the API.
    for (const p of d.def.tsType.value.properties ?? []) {
      add(
        `${name}.${p.name}`,
        `${p.readonly ? "readonly " : ""}${p.name}: ${type(p.tsType)}`,
        p.jsDoc,
      );
    }
  }
  return out;
}

/** The kind shown in an export's heading (the test reads it back). */
export function kindOf(decls) {
  return decls[0].kind === "typeAlias" ? "type" : decls[0].kind;
}

function render(mod) {
  const symbols = mod.symbols;
  const bySource = new Map();
  for (const s of symbols) {
    const file = relative(root, fileURLToPath(s.declarations[0].location.filename));
    if (!bySource.has(file)) bySource.set(file, []);
    bySource.get(file).push(s);
  }
  const out = [
    "# strom API reference",
    "",
    "<!-- Generated from the JSDoc of mod.ts's exports by scripts/api_doc.mjs. Do not edit by hand. -->",
    "",
    "Generated from the JSDoc of `mod.ts`'s exports (via `deno doc --json mod.ts`); do not edit by",
    "hand. Regenerate after changing an export or its JSDoc:",
    "",
    "```sh",
    "node scripts/api_doc.mjs          # rewrite docs/api.md",
    "node scripts/api_doc.mjs --check  # exit 1 when docs/api.md is stale",
    "```",
    "",
    "`tests/packaging.test.ts` fails when this file does not list exactly `mod.ts`'s exports.",
    "For the usage model (tasks, `yield*`, cancellation, threads, the rules that halt) see",
    "[model.md](model.md).",
    "",
  ];
  if (mod.module_doc?.doc) out.push(docText(mod.module_doc, 3), "");
  out.push("## Exports", "");
  for (const [file, syms] of bySource) {
    out.push(
      `- \`${file}\`: ${syms.map((s) => `[\`${s.name}\`](#${s.name.toLowerCase()})`).join(", ")}`,
    );
  }
  out.push("");
  for (const [file, syms] of bySource) {
    out.push(`## \`${file}\``, "");
    for (const s of syms) {
      const decls = s.declarations;
      out.push(`### \`${s.name}\``, "");
      out.push(`Kind: ${kindOf(decls)}`, "");
      out.push("```ts", ...signature(s.name, decls), "```", "");
      const withDoc = decls.filter((d) => d.jsDoc);
      if (withDoc.length === 0) out.push("_No JSDoc._", "");
      for (const d of withDoc) out.push(docText(d.jsDoc, 4), "");
      for (const d of decls) {
        const m = members(s.name, d);
        if (m.length) out.push(...m.flatMap((x) => [x, ""]));
      }
    }
  }
  return out.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd() + "\n";
}

/** Formats Markdown the way `dprint check` wants it, when dprint is there. */
function formatted(text) {
  const dprint = join(root, "node_modules", ".bin", "dprint");
  if (!existsSync(dprint)) return text;
  const r = spawnSync(dprint, ["fmt", "--stdin", "docs/api.md"], {
    cwd: root,
    input: text,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`dprint fmt --stdin failed: ${r.stderr}`);
  return r.stdout;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const text = formatted(render(denoDoc()));
  if (process.argv.includes("--check")) {
    const current = existsSync(target) ? readFileSync(target, "utf8") : "";
    if (current !== text) {
      console.error("docs/api.md is stale: run `node scripts/api_doc.mjs`");
      process.exit(1);
    }
    console.log("docs/api.md is current");
  } else {
    writeFileSync(target, text);
    console.log(`wrote docs/api.md (${exportCount(text)} exports)`);
  }
}

function exportCount(text) {
  return text.split("\n").filter((l) => l.startsWith("### `")).length;
}
