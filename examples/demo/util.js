'use strict';
// Small helpers shared by the demo parts: PNG output, timing, printing, progress bars.
const fs = require('node:fs');
const { PNG } = require('pngjs');
const cliProgress = require('cli-progress');

/** Write an [H, W, 3] (or [H, W]) uint8 ndarray as an RGB(A) PNG. */
function writePng(file, a) {
  const [h, w] = a.shape;
  const rgb = a.shape.length === 3;
  const png = new PNG({ width: w, height: h });
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const o = (y * w + x) * 4;
      for (let c = 0; c < 3; c++) png.data[o + c] = rgb ? a.get(y, x, c) : a.get(y, x);
      png.data[o + 3] = 255;
    }
  }
  fs.writeFileSync(file, PNG.sync.write(png));
}

/** Milliseconds since `t0` (a process.hrtime.bigint()), rounded. */
function ms(t0) {
  return Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
}

/** Print an indented line. */
function say(line) {
  process.stdout.write(`  ${line}\n`);
}

/**
 * Progress bars on stderr when it is a terminal (no-ops otherwise): `const bars = progress(); const b = bars.add(label,
 * total); b.update(v); ... bars.stop()`. Several bars may run at once.
 */
function progress() {
  if (!process.stderr.isTTY) return { add: () => ({ update() {} }), stop() {} };
  const multi = new cliProgress.MultiBar({
    format: '  {label} [{bar}] {value}/{total} {unit}', barsize: 24, hideCursor: true, clearOnComplete: true, stream: process.stderr,
  }, cliProgress.Presets.shades_classic);
  return {
    add(label, total, unit = '') {
      const b = multi.create(total, 0, { label: label.padEnd(18), unit });
      return { update: (v) => b.update(v) };
    },
    stop: () => multi.stop(),
  };
}

module.exports = { writePng, ms, say, progress };
