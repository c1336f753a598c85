// Bar charts as SVG for docs/benchmarks/*.svg (GitHub, JSR and npm render
// SVG images; text stays text). Written for Node with no dependencies.
//
// A chart is a Figure: { width, height, body } where body is SVG markup in
// the figure's own coordinates. `stack` and `row` place figures under or
// beside each other; `writeSvg` writes the outer <svg> document.

import { writeFileSync } from "node:fs";

const FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace";
const FONT_SIZE = 12;
// A monospace glyph is about 0.6 em wide: text is measured without a renderer.
const CHAR_W = 0.6;

/** Width in px of `text` at `size` (monospace estimate). */
export function textWidth(text, size = FONT_SIZE) {
  return [...text].length * size * CHAR_W;
}

const esc = (s) =>
  String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(
    /"/g,
    "&quot;",
  );
const num = (v) => String(Math.round(v * 10) / 10);

/** One line of text; `anchor` start/middle/end, `rotate` reads bottom to top around (x, y). */
function text(
  x,
  y,
  s,
  { color = "#222222", size = FONT_SIZE, anchor = "start", rotate = false } = {},
) {
  const t = rotate ? ` transform="rotate(-90 ${num(x)} ${num(y)})"` : "";
  return `<text x="${num(x)}" y="${
    num(y)
  }" font-size="${size}" fill="${color}" text-anchor="${anchor}"${t}>${esc(s)}</text>`;
}

function rect(x, y, w, h, color) {
  return `<rect x="${num(x)}" y="${num(y)}" width="${num(w)}" height="${num(h)}" fill="${color}"/>`;
}

function line(x0, y0, x1, y1, color, dash = 0) {
  const d = dash > 0 ? ` stroke-dasharray="${dash} ${dash}"` : "";
  return `<line x1="${num(x0)}" y1="${num(y0)}" x2="${num(x1)}" y2="${
    num(y1)
  }" stroke="${color}" stroke-width="1"${d}/>`;
}

/** Figures one under the other (centred), as one figure. */
export function stack(figures, gap = 10) {
  const width = Math.max(...figures.map((f) => f.width));
  let y = 0;
  const parts = [];
  for (const f of figures) {
    parts.push(`<g transform="translate(${num((width - f.width) / 2)} ${num(y)})">${f.body}</g>`);
    y += f.height + gap;
  }
  return { width, height: y - gap, body: parts.join("\n") };
}

/** Figures side by side (top-aligned), as one figure. */
export function row(figures, gap = 10) {
  const height = Math.max(...figures.map((f) => f.height));
  let x = 0;
  const parts = [];
  for (const f of figures) {
    parts.push(`<g transform="translate(${num(x)} 0)">${f.body}</g>`);
    x += f.width + gap;
  }
  return { width: x - gap, height, body: parts.join("\n") };
}

/** The SVG document of `figure`, with `title` as its accessible name. */
export function toSvg(figure, title) {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${num(figure.width)}" height="${
      num(figure.height)
    }" viewBox="0 0 ${num(figure.width)} ${num(figure.height)}" font-family="${FONT}">`,
    `<title>${esc(title)}</title>`,
    rect(0, 0, figure.width, figure.height, "#ffffff"),
    figure.body,
    "</svg>",
    "",
  ].join("\n");
}

/** Writes `figure` to `file` as an SVG document. */
export function writeSvg(file, figure, title) {
  writeFileSync(file, toSvg(figure, title));
}

export const PALETTE = [
  "#1f5fa8", // blue
  "#e07b00", // orange
  "#2e9e44", // green
  "#c0392b", // red
  "#7b4ea3", // purple
  "#8c6d31", // brown
  "#d45fa0", // pink
  "#5f6b73", // grey
];

/** Lighter shade of a colour (t = 0: same, 1: white). */
export function tint(color, t) {
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) throw new Error(`bad color ${color}`);
  const v = parseInt(m[1], 16);
  const c = [v >> 16, (v >> 8) & 255, v & 255].map((x) => Math.round(x + (255 - x) * t));
  return "#" + c.map((x) => x.toString(16).padStart(2, "0")).join("");
}

function niceStep(range, targetTicks) {
  const raw = range / targetTicks;
  const p = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

/**
 * A grouped bar chart.
 *
 * spec: {
 *   title, subtitle?, yLabel,
 *   series: [{ name, color }],               // one bar per series in each group
 *   groups: [{ label, values: [number?] }],  // values[i] belongs to series[i]; missing = "n/a"
 *   log?: boolean,                           // log10 y axis (values must be > 0)
 *   format?: (v) => string,                  // value labels and tick labels
 *   refLines?: [{ value, label, color }],    // dashed horizontal lines (e.g. a target)
 *   width?, height?,                          // of the whole figure
 * }
 * Returns a Figure.
 */
export function barChart(spec) {
  const format = spec.format ?? ((v) => String(+v.toPrecision(3)));
  const nS = spec.series.length;
  const nG = spec.groups.length;
  const width = spec.width ?? Math.max(640, Math.min(1400, 110 + nG * (nS * 20 + 28)));
  const height = spec.height ?? 440;
  const lineH = FONT_SIZE + 4;
  const ink = "#222222";
  const muted = "#666666";
  const out = [];

  // Title, subtitle, legend.
  let y = 8 + 16;
  out.push(text(width / 2, y, spec.title, { size: 16, anchor: "middle" }));
  y += 8;
  if (spec.subtitle) {
    y += FONT_SIZE;
    out.push(text(width / 2, y, spec.subtitle, { color: muted, anchor: "middle" }));
    y += 4;
  }
  // Legend: swatches and names, wrapped into centred rows.
  const items = spec.series.map((s) => ({ ...s, w: 14 + textWidth(s.name) + 16 }));
  const rows = [[]];
  let rowW = 0;
  for (const it of items) {
    if (rowW + it.w > width - 40 && rows[rows.length - 1].length > 0) {
      rows.push([]);
      rowW = 0;
    }
    rows[rows.length - 1].push(it);
    rowW += it.w;
  }
  y += 6;
  for (const r of rows) {
    let x = (width - r.reduce((a, it) => a + it.w, 0) + 16) / 2;
    for (const it of r) {
      out.push(rect(x, y, 10, 10, it.color));
      out.push(text(x + 14, y + 9.5, it.name));
      x += it.w;
    }
    y += lineH;
  }

  // Plot area.
  const groupLabelLines = Math.max(1, ...spec.groups.map((g) => g.label.split("\n").length));
  const left = 78;
  const right = 16;
  const top = y + 8;
  const bottom = height - (12 + groupLabelLines * lineH);
  const plotW = width - left - right;
  const plotH = bottom - top;

  const values = spec.groups.flatMap((g) => g.values).filter((v) => Number.isFinite(v));
  const refs = (spec.refLines ?? []).map((r) => r.value);
  const all = [...values, ...refs].filter((v) => !spec.log || v > 0);
  // Room above the tallest bar for its value label, written upwards.
  const labelRoom = Math.max(0, ...values.map((v) => textWidth(format(v)))) + 8;

  let toY;
  let base = 0; // where bars start
  const ticks = [];
  if (spec.log) {
    const lo = Math.floor(Math.log10(Math.min(...all, 1e300)));
    const hiV = Math.log10(Math.max(...all, 1e-300));
    const span = Math.max(1, hiV - lo);
    // Extend the top so the tallest bar leaves labelRoom pixels free.
    const hi = hiV + span * labelRoom / Math.max(1, plotH - labelRoom);
    toY = (v) => bottom - (Math.log10(v) - lo) / (hi - lo) * plotH;
    for (let e = lo; e <= Math.floor(hi); e++) ticks.push(10 ** e);
    base = 10 ** lo;
  } else {
    const maxV = Math.max(...all, 0) || 1;
    const hi = maxV * plotH / Math.max(1, plotH - labelRoom);
    const step = niceStep(hi, 6);
    toY = (v) => bottom - v / hi * plotH;
    for (let t = 0; t <= hi + 1e-9; t += step) ticks.push(+t.toPrecision(12));
  }
  // Grid and y ticks.
  for (const t of ticks) {
    const ty = toY(t);
    if (ty < top - 1) continue;
    out.push(line(left, ty, left + plotW, ty, "#e3e3e3"));
    out.push(text(left - 6, ty + 4, format(t), { color: muted, anchor: "end" }));
    if (spec.log) {
      // Minor ticks at 2..9 × 10^e.
      for (let m = 2; m < 10; m++) {
        const my = toY(t * m);
        if (my >= top) out.push(line(left - 3, my, left, my, "#bbbbbb"));
      }
    }
  }
  // Axes.
  out.push(line(left, top, left, bottom, ink));
  out.push(line(left, bottom, left + plotW, bottom, ink));
  // Y-axis label, reading upwards, centred on the plot.
  const tickW = Math.max(0, ...ticks.map((t) => textWidth(format(t))));
  const ylX = Math.max(FONT_SIZE + 2, left - 6 - tickW - 8);
  out.push(text(ylX, top + plotH / 2, spec.yLabel ?? "", { anchor: "middle", rotate: true }));

  // Bars.
  const groupW = plotW / nG;
  const barW = Math.max(3, Math.floor(Math.min(36, (groupW * 0.82) / nS)));
  // Value labels horizontal when every one fits its bar, else all upwards.
  const flat = values.every((v) => textWidth(format(v)) + 2 <= barW - 1);
  spec.groups.forEach((g, gi) => {
    const gx = left + gi * groupW;
    const x0 = gx + (groupW - barW * nS) / 2;
    g.values.forEach((v, si) => {
      const bx = x0 + si * barW;
      const cx = bx + (barW - 1) / 2;
      if (!Number.isFinite(v) || (spec.log && v <= 0)) {
        out.push(text(cx + 4, bottom - 4, "n/a", { color: muted, rotate: true }));
        return;
      }
      const by = toY(Math.max(v, base));
      out.push(rect(bx, by, barW - 1, bottom - by, spec.series[si].color));
      const label = format(v);
      if (flat) out.push(text(cx, by - 3, label, { anchor: "middle" }));
      else out.push(text(cx + 4, by - 4, label, { rotate: true }));
    });
    g.label.split("\n").forEach((l, li) => {
      out.push(
        text(gx + groupW / 2, bottom + 4 + (li + 1) * lineH - 4, l, {
          color: li === 0 ? ink : muted,
          anchor: "middle",
        }),
      );
    });
  });

  // Reference lines on top, labelled at the right end.
  for (const r of spec.refLines ?? []) {
    if (spec.log && r.value <= 0) continue;
    const ry = toY(r.value);
    const color = r.color ?? "#c0392b";
    out.push(line(left + 1, ry, left + plotW, ry, color, 6));
    const w = textWidth(r.label);
    out.push(rect(left + plotW - w - 7, ry - 15, w + 6, 13, "#ffffff"));
    out.push(text(left + plotW - 4, ry - 4, r.label, { color, anchor: "end" }));
  }
  return { width, height, body: out.join("\n") };
}
