// Bar charts as PNG files, from Node with no dependencies: a small RGB
// bitmap, a 5x8 pixel font of our own, and a PNG writer (node:zlib deflate +
// CRC-32 chunks). Used by bench/report.mjs for docs/bench/*.png.
//
//   import { barChart, stack, writePng } from "./chart.mjs";
//   writePng("out.png", barChart({ title, yLabel, series, groups, log, format }));
//
// Why not an npm plotting package or headless Chromium: the report must run on
// a fresh machine with only Node, and pictures of bars need little more than
// rectangles and text.

import { writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";

// ---- font --------------------------------------------------------------------

// Glyphs drawn as 5x8 pictures ('#' = ink): rows 0-6 above the baseline, row 7
// the descender. Each block lists its characters, then 8 rows of pictures in
// the same order, separated by spaces.
const FONT_SOURCE = [
  [
    "0123456789",
    ".###. ..#.. .###. ##### ...#. ##### ..##. ##### .###. .###.",
    "#...# .##.. #...# ...#. ..##. #.... .#... ....# #...# #...#",
    "#..## ..#.. ....# ..#.. .#.#. ####. #.... ...#. #...# #...#",
    "#.#.# ..#.. ...#. ...#. #..#. ....# ####. ..#.. .###. .####",
    "##..# ..#.. ..#.. ....# ##### ....# #...# .#... #...# ....#",
    "#...# ..#.. .#... #...# ...#. #...# #...# .#... #...# ...#.",
    ".###. .###. ##### .###. ...#. .###. .###. .#... .###. .##..",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
  ],
  [
    "ABCDEFGHIJKLM",
    ".###. ####. .###. ###.. ##### ##### .###. #...# .###. ..### #...# #.... #...#",
    "#...# #...# #...# #..#. #.... #.... #...# #...# ..#.. ...#. #..#. #.... ##.##",
    "#...# #...# #.... #...# #.... #.... #.... #...# ..#.. ...#. #.#.. #.... #.#.#",
    "##### ####. #.... #...# ####. ####. #.### ##### ..#.. ...#. ##... #.... #.#.#",
    "#...# #...# #.... #...# #.... #.... #...# #...# ..#.. ...#. #.#.. #.... #...#",
    "#...# #...# #...# #..#. #.... #.... #...# #...# ..#.. #..#. #..#. #.... #...#",
    "#...# ####. .###. ###.. ##### #.... .#### #...# .###. .##.. #...# ##### #...#",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
  ],
  [
    "NOPQRSTUVWXYZ",
    "#...# .###. ####. .###. ####. .#### ##### #...# #...# #...# #...# #...# #####",
    "#...# #...# #...# #...# #...# #.... ..#.. #...# #...# #...# #...# #...# ....#",
    "##..# #...# #...# #...# #...# #.... ..#.. #...# #...# #...# .#.#. .#.#. ...#.",
    "#.#.# #...# ####. #...# ####. .###. ..#.. #...# #...# #.#.# ..#.. ..#.. ..#..",
    "#..## #...# #.... #.#.# #.#.. ....# ..#.. #...# #...# #.#.# .#.#. ..#.. .#...",
    "#...# #...# #.... #..#. #..#. ....# ..#.. #...# .#.#. #.#.# #...# ..#.. #....",
    "#...# .###. #.... .##.# #...# ####. ..#.. .###. ..#.. .#.#. #...# ..#.. #####",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .....",
  ],
  [
    "abcdefghijklm",
    "..... #.... ..... ....# ..... ..##. ..... #.... ..#.. ...#. #.... .##.. .....",
    "..... #.... ..... ....# ..... .#..# ..... #.... ..... ..... #.... ..#.. .....",
    ".###. #.##. .###. .##.# .###. .#... .#### #.##. .##.. ..##. #..#. ..#.. ##.#.",
    "....# ##..# #.... #..## #...# ###.. #...# ##..# ..#.. ...#. #.#.. ..#.. #.#.#",
    ".#### #...# #.... #...# ##### .#... #...# #...# ..#.. ...#. ##... ..#.. #.#.#",
    "#...# #...# #...# #...# #.... .#... .#### #...# ..#.. ...#. #.#.. ..#.. #...#",
    ".#### ####. .###. .#### .###. .#... ....# #...# .###. #..#. #..#. .###. #...#",
    "..... ..... ..... ..... ..... ..... .###. ..... ..... .##.. ..... ..... .....",
  ],
  [
    "nopqrstuvwxyz",
    "..... ..... ..... ..... ..... ..... .#... ..... ..... ..... ..... ..... .....",
    "..... ..... ..... ..... ..... ..... .#... ..... ..... ..... ..... ..... .....",
    "#.##. .###. ####. .#### #.##. .#### ###.. #...# #...# #...# #...# #...# #####",
    "##..# #...# #...# #...# ##..# #.... .#... #...# #...# #...# .#.#. #...# ...#.",
    "#...# #...# #...# #...# #.... .###. .#... #...# #...# #.#.# ..#.. #...# ..#..",
    "#...# #...# ####. .#### #.... ....# .#..# #..## .#.#. #.#.# .#.#. .#### .#...",
    "#...# .###. #.... ....# #.... ####. ..##. .##.# ..#.. .#.#. #...# ....# #####",
    "..... ..... #.... ....# ..... ..... ..... ..... ..... ..... ..... .###. .....",
  ],
  [
    " !\"#$%&'()*+,",
    "..... ..#.. .#.#. .#.#. ..#.. ##... .##.. ..#.. ...#. .#... ..... ..... .....",
    "..... ..#.. .#.#. ##### .#### ##..# #..#. ..#.. ..#.. ..#.. ..#.. ..#.. .....",
    "..... ..#.. ..... .#.#. #.#.. ...#. .##.. ..... .#... ...#. #.#.# ..#.. .....",
    "..... ..#.. ..... .#.#. .###. ..#.. .#... ..... .#... ...#. .###. ##### .....",
    "..... ..#.. ..... .#.#. ..#.# .#... #.#.# ..... .#... ...#. #.#.# ..#.. .....",
    "..... ..... ..... ##### ####. #..## #..#. ..... ..#.. ..#.. ..#.. ..#.. ..#..",
    "..... ..#.. ..... .#.#. ..#.. ...## .##.# ..... ...#. .#... ..... ..... ..#..",
    "..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... ..... .#...",
  ],
  [
    "-./:;<=>?@[\\]",
    "..... ..... ..... ..... ..... ...#. ..... .#... .###. .###. .###. ..... .###.",
    "..... ..... ....# ..... ..... ..#.. ..... ..#.. #...# #...# .#... #.... ...#.",
    "..... ..... ...#. ..#.. ..#.. .#... ##### ...#. ....# #.### .#... .#... ...#.",
    "##### ..... ..#.. ..... ..... #.... ..... ....# ...#. #.#.# .#... ..#.. ...#.",
    "..... ..... .#... ..... ..... .#... ##### ...#. ..#.. #.### .#... ...#. ...#.",
    "..... ..... #.... ..#.. ..#.. ..#.. ..... ..#.. ..... #.... .#... ....# ...#.",
    "..... ..#.. ..... ..... ..#.. ...#. ..... .#... ..#.. .###. .###. ..... .###.",
    "..... ..... ..... ..... .#... ..... ..... ..... ..... ..... ..... ..... .....",
  ],
  [
    "^_`{|}~µ×≤≥÷·",
    "..#.. ..... .#... ...#. ..#.. .#... ..... ..... ..... ...#. .#... ..... .....",
    ".#.#. ..... ..#.. ..#.. ..#.. ..#.. ..... ..... ..... ..#.. ..#.. ..#.. .....",
    "#...# ..... ..... ..#.. ..#.. ..#.. .#... #...# #...# .#... ...#. ..... .....",
    "..... ..... ..... .#... ..#.. ...#. #.#.# #...# .#.#. ..#.. ..#.. ##### ..#..",
    "..... ..... ..... ..#.. ..#.. ..#.. ...#. #...# ..#.. ...#. .#... ..... .....",
    "..... ..... ..... ..#.. ..#.. ..#.. ..... ##..# .#.#. ..... ..... ..#.. .....",
    "..... ##### ..... ...#. ..#.. .#... ..... #.##. #...# ##### ##### ..... .....",
    "..... ..... ..... ..... ..... ..... ..... #.... ..... ..... ..... ..... .....",
  ],
];

const GLYPH_W = 5;
const GLYPH_H = 8;
/** Advance per character and line height, in font pixels (before scaling). */
const CELL_W = 6;
const CELL_H = 10;

/** char -> Uint8Array(GLYPH_W * GLYPH_H) of 0/1. */
const FONT = new Map();
for (const [chars, ...rows] of FONT_SOURCE) {
  const glyphRows = rows.map((r) => r.split(" "));
  [...chars].forEach((ch, i) => {
    const g = new Uint8Array(GLYPH_W * GLYPH_H);
    for (let y = 0; y < GLYPH_H; y++) {
      const row = glyphRows[y][i];
      if (row === undefined || row.length !== GLYPH_W) {
        throw new Error(`font: glyph ${JSON.stringify(ch)} row ${y} is malformed`);
      }
      for (let x = 0; x < GLYPH_W; x++) g[y * GLYPH_W + x] = row[x] === "#" ? 1 : 0;
    }
    FONT.set(ch, g);
  });
}
const UNKNOWN = FONT.get("?");

/** Width in pixels of `text` drawn at `scale`. */
export function textWidth(text, scale = 1) {
  const n = [...text].length;
  return n === 0 ? 0 : (n * CELL_W - 1) * scale;
}

/** Height in pixels of one line of text drawn at `scale` (glyphs with descender). */
export const textHeight = (scale = 1) => GLYPH_H * scale;

// ---- bitmap --------------------------------------------------------------------

/** Parses "#rrggbb" into [r, g, b]. */
function rgb(color) {
  if (Array.isArray(color)) return color;
  const m = /^#([0-9a-f]{6})$/i.exec(color);
  if (!m) throw new Error(`bad color ${color}`);
  const v = parseInt(m[1], 16);
  return [v >> 16, (v >> 8) & 255, v & 255];
}

/** An RGB image, white to start with; coordinates outside it are clipped. */
export class Bitmap {
  constructor(width, height, background = "#ffffff") {
    this.width = width;
    this.height = height;
    this.data = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x, y, c) {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const i = (y * this.width + x) * 3;
    this.data[i] = c[0];
    this.data[i + 1] = c[1];
    this.data[i + 2] = c[2];
  }

  fillRect(x, y, w, h, color) {
    const c = rgb(color);
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) {
      for (let xx = x0; xx < x1; xx++) this.setPixel(xx, yy, c);
    }
  }

  /** Outline of a rectangle, 1 px. */
  strokeRect(x, y, w, h, color) {
    this.fillRect(x, y, w, 1, color);
    this.fillRect(x, y + h - 1, w, 1, color);
    this.fillRect(x, y, 1, h, color);
    this.fillRect(x + w - 1, y, 1, h, color);
  }

  /** Horizontal line; `dash` > 0 draws dashes of that length. */
  hline(x0, x1, y, color, dash = 0) {
    const c = rgb(color);
    for (let x = Math.round(x0); x <= Math.round(x1); x++) {
      if (dash > 0 && Math.floor((x - x0) / dash) % 2 === 1) continue;
      this.setPixel(x, Math.round(y), c);
    }
  }

  /**
   * Draws `text` with its top-left corner at (x, y). `rotate` = true turns it
   * 90° counter-clockwise (reading bottom to top), anchored at its bottom-left
   * corner (x, y): the text then goes up from y, its glyphs' tops facing left.
   */
  text(x, y, text, color = "#000000", scale = 1, rotate = false) {
    const c = rgb(color);
    let pen = 0;
    for (const ch of text) {
      const g = FONT.get(ch) ?? UNKNOWN;
      for (let gy = 0; gy < GLYPH_H; gy++) {
        for (let gx = 0; gx < GLYPH_W; gx++) {
          if (!g[gy * GLYPH_W + gx]) continue;
          for (let sy = 0; sy < scale; sy++) {
            for (let sx = 0; sx < scale; sx++) {
              const u = pen + gx * scale + sx; // along the text
              const v = gy * scale + sy; // across it, top to bottom
              if (rotate) this.setPixel(Math.round(x) + v, Math.round(y) - u, c);
              else this.setPixel(Math.round(x) + u, Math.round(y) + v, c);
            }
          }
        }
      }
      pen += CELL_W * scale;
    }
  }

  /** Copies `src` with its top-left corner at (x, y). */
  blit(src, x, y) {
    for (let yy = 0; yy < src.height; yy++) {
      const ty = y + yy;
      if (ty < 0 || ty >= this.height) continue;
      for (let xx = 0; xx < src.width; xx++) {
        const tx = x + xx;
        if (tx < 0 || tx >= this.width) continue;
        const s = (yy * src.width + xx) * 3;
        const t = (ty * this.width + tx) * 3;
        this.data[t] = src.data[s];
        this.data[t + 1] = src.data[s + 1];
        this.data[t + 2] = src.data[s + 2];
      }
    }
  }
}

/** Bitmaps one under the other (centred), as one bitmap. */
export function stack(bitmaps, gap = 10) {
  const width = Math.max(...bitmaps.map((b) => b.width));
  const height = bitmaps.reduce((a, b) => a + b.height, 0) + gap * (bitmaps.length - 1);
  const out = new Bitmap(width, height);
  let y = 0;
  for (const b of bitmaps) {
    out.blit(b, Math.floor((width - b.width) / 2), y);
    y += b.height + gap;
  }
  return out;
}

// ---- PNG -----------------------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 255] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, "latin1");
  Buffer.from(data).copy(out, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** The PNG file (8-bit RGB, no interlace) of a bitmap, as a Buffer. */
export function encodePng(bmp) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(bmp.width, 0);
  ihdr.writeUInt32BE(bmp.height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type: RGB
  ihdr[10] = 0; // deflate
  ihdr[11] = 0; // adaptive filtering (we use filter 0 on every row)
  ihdr[12] = 0; // no interlace
  const stride = bmp.width * 3;
  const raw = Buffer.alloc((stride + 1) * bmp.height);
  for (let y = 0; y < bmp.height; y++) {
    raw[y * (stride + 1)] = 0;
    raw.set(bmp.data.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", ihdr),
    chunk("IDAT", deflateSync(raw, { level: 9 })),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Writes a bitmap as a PNG file. */
export function writePng(file, bmp) {
  writeFileSync(file, encodePng(bmp));
}

// ---- bar chart -------------------------------------------------------------------

/** A palette that stays distinct in print and for common colour blindness. */
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
  const [r, g, b] = rgb(color);
  const m = (v) => Math.round(v + (255 - v) * t);
  return "#" + [m(r), m(g), m(b)].map((v) => v.toString(16).padStart(2, "0")).join("");
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
 *   width?, height?,                          // of the whole image
 * }
 * Returns a Bitmap.
 */
export function barChart(spec) {
  const format = spec.format ?? ((v) => String(+v.toPrecision(3)));
  const nS = spec.series.length;
  const nG = spec.groups.length;
  const width = spec.width ?? Math.max(640, Math.min(1400, 110 + nG * (nS * 20 + 28)));
  const height = spec.height ?? 440;
  const img = new Bitmap(width, height);
  const ink = "#222222";
  const muted = "#666666";

  // Title, subtitle, legend.
  let y = 10;
  img.text(Math.floor((width - textWidth(spec.title, 2)) / 2), y, spec.title, ink, 2);
  y += textHeight(2) + 6;
  if (spec.subtitle) {
    img.text(Math.floor((width - textWidth(spec.subtitle)) / 2), y, spec.subtitle, muted);
    y += CELL_H + 4;
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
  for (const row of rows) {
    let x = Math.floor((width - row.reduce((a, it) => a + it.w, 0) + 16) / 2);
    for (const it of row) {
      img.fillRect(x, y, 10, 10, it.color);
      img.text(x + 14, y + 1, it.name, ink);
      x += it.w;
    }
    y += CELL_H + 4;
  }

  // Plot area.
  const groupLabelLines = Math.max(1, ...spec.groups.map((g) => g.label.split("\n").length));
  const left = 78;
  const right = 16;
  const top = y + 8;
  const bottom = height - (14 + groupLabelLines * CELL_H + 6);
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
    const ty = Math.round(toY(t));
    if (ty < top - 1) continue;
    img.hline(left, left + plotW, ty, "#e3e3e3");
    const label = format(t);
    img.text(left - 6 - textWidth(label), ty - 4, label, muted);
    if (spec.log) {
      // Minor ticks at 2..9 × 10^e.
      for (let m = 2; m < 10; m++) {
        const my = Math.round(toY(t * m));
        if (my >= top) img.fillRect(left - 3, my, 3, 1, "#bbbbbb");
      }
    }
  }
  // Axes.
  img.fillRect(left, top, 1, plotH + 1, ink);
  img.fillRect(left, bottom, plotW + 1, 1, ink);
  // Y-axis label, reading upwards, centred on the plot.
  const yl = spec.yLabel ?? "";
  const tickW = Math.max(0, ...ticks.map((t) => textWidth(format(t))));
  const ylX = Math.max(4, left - 6 - tickW - 8 - GLYPH_H);
  img.text(ylX, Math.floor(top + plotH / 2 + textWidth(yl) / 2), yl, ink, 1, true);

  // Bars.
  const groupW = plotW / nG;
  const barW = Math.max(3, Math.floor(Math.min(36, (groupW * 0.82) / nS)));
  // Value labels horizontal when every one fits its bar, else all upwards.
  const flat = values.every((v) => textWidth(format(v)) + 2 <= barW - 1);
  spec.groups.forEach((g, gi) => {
    const gx = left + gi * groupW;
    const x0 = Math.round(gx + (groupW - barW * nS) / 2);
    g.values.forEach((v, si) => {
      const bx = x0 + si * barW;
      if (!Number.isFinite(v) || (spec.log && v <= 0)) {
        img.text(bx + Math.floor((barW - 8) / 2), bottom - 4, "n/a", muted, 1, true);
        return;
      }
      const by = Math.round(toY(Math.max(v, base)));
      img.fillRect(bx, by, barW - 1, bottom - by, spec.series[si].color);
      const label = format(v);
      if (flat) {
        img.text(bx + Math.floor((barW - 1 - textWidth(label)) / 2), by - 11, label, ink);
      } else {
        img.text(bx + Math.floor((barW - 1 - GLYPH_H) / 2), by - 4, label, ink, 1, true);
      }
    });
    g.label.split("\n").forEach((line, li) => {
      const lx = Math.round(gx + (groupW - textWidth(line)) / 2);
      img.text(lx, bottom + 8 + li * CELL_H, line, li === 0 ? ink : muted);
    });
  });

  // Reference lines on top, labelled at the right end.
  for (const r of spec.refLines ?? []) {
    if (spec.log && r.value <= 0) continue;
    const ry = Math.round(toY(r.value));
    img.hline(left + 1, left + plotW, ry, r.color ?? "#c0392b", 6);
    const lx = left + plotW - textWidth(r.label) - 4;
    img.fillRect(lx - 3, ry - 13, textWidth(r.label) + 6, 12, "#ffffff");
    img.text(lx, ry - 11, r.label, r.color ?? "#c0392b");
  }
  return img;
}
