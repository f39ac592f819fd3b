'use strict';
// Demo part 1 (PyMM's image demo): an image lives on a shelf as an ndarray, filters run in place on shelf memory with
// ndarray-ops, and a second run finds everything already there — re-opened, not recomputed.
const path = require('node:path');
const fs = require('node:fs');
const ops = require('ndarray-ops');
const { shelf, ndarray } = require('@tsmm/core');
const { writePng, ms, say } = require('./util');

const W = 640;
const H = 480;

/** A Mandelbrot set, coloured by smooth escape time, written straight into `img` ([H, W, 3] uint8 on the shelf). */
function mandelbrot(img) {
  const d = img.data;
  const maxIter = 200;
  for (let y = 0; y < H; y++) {
    const ci = (y - H / 2) * (2.4 / H);
    for (let x = 0; x < W; x++) {
      const cr = (x - W * 0.62) * (2.4 / H);
      let zr = 0;
      let zi = 0;
      let i = 0;
      while (i < maxIter && zr * zr + zi * zi < 16) {
        const t = zr * zr - zi * zi + cr;
        zi = 2 * zr * zi + ci;
        zr = t;
        i++;
      }
      const o = (y * W + x) * 3;
      if (i === maxIter) { d[o] = 10; d[o + 1] = 10; d[o + 2] = 30; continue; }
      const v = (i + 1 - Math.log2(Math.log2(Math.sqrt(zr * zr + zi * zi)))) / 40;
      d[o] = 128 + 127 * Math.sin(6.28 * v + 0.0);
      d[o + 1] = 128 + 127 * Math.sin(6.28 * v + 2.1);
      d[o + 2] = 128 + 127 * Math.sin(6.28 * v + 4.2);
    }
  }
}

/** In-place filters on shelf arrays, with ndarray-ops: luminance, gradient magnitude, posterize, ink the edges. */
function filters(s) {
  const img = s.image;
  s.gray = ndarray([H, W], 'float32');
  s.edges = ndarray([H, W], 'float32');
  s.filtered = img; // a copy, on the shelf
  const { gray, edges, filtered } = s;
  // luminance: gray = 0.299 R + 0.587 G + 0.114 B (`edges` serves as scratch space until it is computed)
  ops.assign(gray, img.pick(null, null, 0));
  ops.mulseq(gray, 0.299);
  ops.addeq(gray, scaled(img.pick(null, null, 1), 0.587, edges));
  ops.addeq(gray, scaled(img.pick(null, null, 2), 0.114, edges));
  // gradient magnitude |d/dx| + |d/dy| (central differences on interior views), into `edges`
  ops.assigns(edges, 0);
  const inner = edges.hi(H - 1, W - 1).lo(1, 1);
  ops.sub(inner, gray.hi(H - 1, W).lo(1, 2), gray.hi(H - 1, W - 2).lo(1, 0));
  ops.abseq(inner);
  s.gy = ndarray([H, W], 'float32');
  const gy = s.gy;
  const gyIn = gy.hi(H - 1, W - 1).lo(1, 1);
  ops.sub(gyIn, gray.hi(H, W - 1).lo(2, 1), gray.hi(H - 2, W - 1).lo(0, 1));
  ops.abseq(gyIn);
  ops.addeq(edges, gy);
  // posterize: keep the top 3 bits of each channel (bit shifts, in place on the uint8 copy)
  ops.rshiftseq(filtered, 5);
  ops.lshiftseq(filtered, 5);
  ops.addseq(filtered, 16);
  // ink: keep = (edges <= 40) -> 1 / 0, multiplied into every channel
  ops.leqseq(edges, 40);
  for (let c = 0; c < 3; c++) ops.muleq(filtered.pick(null, null, c), edges);
  s.erase('gy');
}

/** `dest = src * k`, returning dest (a float32 shelf scratch array of the same shape). */
function scaled(src, k, dest) {
  ops.assign(dest, src);
  ops.mulseq(dest, k);
  return dest;
}

/** FNV-1a of the image bytes, to show the re-opened data is the data written. */
function checksum(a) {
  const b = a.data;
  let h = 0x811c9dc5;
  for (let i = 0; i < b.length; i++) h = Math.imul(h ^ b[i], 0x01000193) >>> 0;
  return h.toString(16).padStart(8, '0');
}

/** Run part 1. Returns a summary line. */
function run({ outDir, fresh }) {
  const t0 = process.hrtime.bigint();
  const s = shelf('demo', fresh ? { sizeMb: 64, forceNew: true } : { sizeMb: 64 });
  const openMs = ms(t0);
  try {
    if (s.has('image') && s.has('filtered') && s.has('info')) {
      const info = s.info;
      s.replace('info', { ...info, runs: info.runs + 1 });
      say(`re-opened shelf ${rel(s.path)} in ${openMs} ms: 'image' ${fmt(s.image)} and 'filtered' are already there,`);
      say(`written by run 1 at ${info.created.toLocaleTimeString()} — nothing recomputed (generating took ${info.generateMs} ms, filters ${info.filterMs} ms)`);
      const sum = checksum(s.image);
      say(`image checksum ${sum} ${sum === info.checksum ? '= the one recorded at creation' : `!= ${info.checksum} recorded at creation`} (run ${info.runs + 1} of this shelf)`);
    } else {
      say(`created shelf ${rel(s.path)} (64 MiB; .data + .map files)`);
      const g0 = process.hrtime.bigint();
      s.image = ndarray([H, W, 3], 'uint8');
      mandelbrot(s.image);
      s.image.persist();
      const generateMs = ms(g0);
      say(`s.image = ndarray([${H}, ${W}, 3], 'uint8'), filled in place with a Mandelbrot set: ${generateMs} ms`);
      const f0 = process.hrtime.bigint();
      filters(s);
      s.persist();
      const filterMs = ms(f0);
      say(`filters in place on the shelf with ndarray-ops (luminance, gradient, posterize, ink edges): ${filterMs} ms`);
      s.info = { created: new Date(), generateMs, filterMs, checksum: checksum(s.image), runs: 1 };
      say(`run the demo again: the shelf is re-opened and nothing is recomputed (or: npm run demo -- --fresh)`);
    }
    fs.mkdirSync(outDir, { recursive: true });
    const before = path.join(outDir, 'image-before.png');
    const after = path.join(outDir, 'image-after.png');
    writePng(before, s.image);
    writePng(after, s.filtered);
    say(`wrote ${rel(before)} and ${rel(after)} straight from shelf memory`);
    return `image: ${s.items.length} variables on ${rel(s.path)}, ${s.used}% used`;
  } finally {
    s.close();
  }
}

function fmt(a) {
  return `[${a.shape.join(', ')}] ${a.data.constructor.name.replace('Array', '').toLowerCase()}`;
}

function rel(p) {
  const r = path.relative(process.cwd(), p);
  return r.startsWith('..') ? p : r;
}

module.exports = { run, mandelbrot, filters, W, H };
