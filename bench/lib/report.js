// bench/lib/report.js -- the markdown table and the SVG chart (hand-written, no chart dependency).
'use strict';
const { fmtBytes, fmtMs } = require('./stats');

const RATIO_WORD = {
  'peer/tsmm': 'faster',
  'tsmm/peer': 'of peer time',
  'tsmm/bound': 'of bound',
  'tsmm/limit': 'of limit',
};

function fmtVal(v, unit) {
  if (v == null || Number.isNaN(v)) return '—';
  if (unit === 'bytes') return fmtBytes(v);
  if (unit === 'ms') return fmtMs(v);
  return `${v.toPrecision(3)} ${unit}`;
}

/** "12.3 ms [11.9–13.0]": median and min–max. */
function cell(side, unit) {
  if (!side) return '—';
  const spread = side.n > 0 ? ` [${fmtVal(side.min, unit)}–${fmtVal(side.max, unit)}]` : '';
  const cpu = side.cpu ? ` · cpu ${fmtVal(side.cpu.median, unit)}` : '';
  return `${side.label}: **${fmtVal(side.median, unit)}**${spread}${cpu}`;
}

function fmtRatio(l) {
  if (l.ratio == null || !Number.isFinite(l.ratio)) return '—';
  const r = l.ratio >= 100 ? l.ratio.toFixed(0) : l.ratio >= 10 ? l.ratio.toFixed(1) : l.ratio.toFixed(2);
  return `${r}× ${RATIO_WORD[l.ratioDef] ?? ''}`.trim();
}

function verdict(l) {
  if (l.skipped) return `skipped: ${l.skipped}`;
  if (l.pass === true) return '✅ pass';
  if (l.pass === false) return '❌ miss';
  return 'report';
}

/** Markdown table of every line of every row, then per-row notes. */
function markdown(results) {
  const out = [];
  out.push('| # | what | bytes | tsmm: median [min–max] | peer / bound: median [min–max] | ratio | target | result |');
  out.push('|---|---|---|---|---|---|---|---|');
  for (const row of results.rows) {
    if (row.error || row.unavailable) {
      out.push(`| ${row.id} | ${row.title} | | | | | | ${row.error ? `error: ${row.error.split('\n')[0]}` : `skipped: ${row.unavailable}`} |`);
      continue;
    }
    for (const l of row.lines) {
      const unitNote = l.per ? ` (${l.per})` : '';
      out.push(`| ${l.id} | ${l.label}${unitNote} | ${l.bytes == null ? '—' : fmtBytes(l.bytes)} | ${cell(l.tsmm, l.unit)} | ${cell(l.peer, l.unit)} | ` +
        `${fmtRatio(l)} | ${l.target ? l.target.text : 'report'} | ${verdict(l)} |`);
    }
  }
  const notes = [];
  for (const row of results.rows) {
    for (const n of row.notes ?? []) notes.push(`- ${row.id}: ${n}`);
    for (const l of row.lines ?? []) if (l.note) notes.push(`- ${l.id} ${l.label}: ${l.note}`);
  }
  if (notes.length) out.push('', ...notes);
  return out.join('\n');
}

function esc(s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Horizontal bar chart of every line's ratio on a log scale, the target as a dashed tick on the same row.
 * Green: pass; red: miss; grey: report only.
 */
function svg(results) {
  const lines = [];
  for (const row of results.rows) for (const l of row.lines ?? []) if (l.ratio != null && Number.isFinite(l.ratio) && l.ratio > 0) lines.push(l);
  const W = 1200;
  const left = 340;
  const right = 300;
  const top = 64;
  const rowH = 26;
  const H = top + Math.max(1, lines.length) * rowH + 56;
  const vals = lines.flatMap((l) => [l.ratio, l.target ? l.target.value : l.ratio]);
  const lo = Math.min(0.1, ...vals.map((v) => v / 1.5));
  const hi = Math.max(100, ...vals.map((v) => v * 1.5));
  const x = (v) => left + ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * (W - left - right);
  const o = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(`<text x="16" y="20" font-size="15" font-weight="bold">tsmm vs peers — ratios of medians (log scale)</text>`);
  o.push(`<text x="16" y="38" fill="#555">${esc(results.modeLine)}</text>`);
  o.push(`<text x="16" y="54" fill="#555">bar: ratio (label says which way); dashed tick: target; green pass, red miss, grey report</text>`);
  const ticks = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].filter((t) => t >= lo && t <= hi);
  const yEnd = top + lines.length * rowH;
  for (const t of ticks) {
    o.push(`<line x1="${x(t).toFixed(1)}" y1="${top - 4}" x2="${x(t).toFixed(1)}" y2="${yEnd}" stroke="${t === 1 ? '#888' : '#e4e4e4'}"/>`);
    o.push(`<text x="${x(t).toFixed(1)}" y="${yEnd + 16}" text-anchor="middle" fill="#555">${t}×</text>`);
  }
  lines.forEach((l, i) => {
    const y = top + i * rowH;
    const color = l.pass === true ? '#2e9d4b' : l.pass === false ? '#d0342c' : '#9a9a9a';
    const x0 = x(Math.max(lo, Math.min(1, l.ratio)));
    const x1 = x(Math.max(1, l.ratio));
    const bx = l.ratio >= 1 ? x(1) : x(l.ratio);
    const bw = Math.max(1, l.ratio >= 1 ? x1 - x(1) : x(1) - x0);
    o.push(`<text x="${left - 8}" y="${y + 17}" text-anchor="end">${esc(((t) => (t.length > 46 ? `${t.slice(0, 45)}…` : t))(`${l.id} ${l.label}`))}</text>`);
    o.push(`<rect x="${bx.toFixed(1)}" y="${y + 5}" width="${bw.toFixed(1)}" height="${rowH - 10}" fill="${color}"/>`);
    if (l.target) {
      const tx = x(l.target.value).toFixed(1);
      o.push(`<line x1="${tx}" y1="${y + 1}" x2="${tx}" y2="${y + rowH - 1}" stroke="#111" stroke-width="2" stroke-dasharray="3,2"/>`);
    }
    const label = `${fmtRatio(l)}${l.target ? ` (target ${l.target.text})` : ''}`;
    o.push(`<text x="${W - right + 6}" y="${y + 17}" fill="#333">${esc(label)}</text>`);
  });
  o.push(`<text x="16" y="${H - 12}" fill="#777">rerun: ${esc(results.command)}</text>`);
  o.push('</svg>');
  return o.join('\n');
}

module.exports = { markdown, svg, fmtRatio };
