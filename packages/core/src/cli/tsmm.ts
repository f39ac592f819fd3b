#!/usr/bin/env node
/**
 * `tsmm` — look at, check and move data in and out of shelves from the shell.
 *
 * A `<shelf>` argument is the shelf's path without extension: `.shelves/demo` names `.shelves/demo.data` +
 * `.shelves/demo.map` (a trailing `.data` or `.map` is accepted too). Every command takes `--json` (one JSON document on
 * stdout, also for errors) and exits with a stable code: 0 ok, 1 corrupt, 2 usage, 3 not found, 4 locked, 5 other failure.
 * Errors print one line without a stack trace unless `TSMM_DEBUG` is set.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as util from 'node:util';
import scijs = require('ndarray');
import { MAX_VIEW_BYTES, ShelfError } from '@tsmm/native';
import { ChunkedData } from '../chunked';
import { DTYPE_CTORS, type DType } from '../dtypes';
import { formatNdarray } from '../inspect';
import { arraySource, ARRAY_KINDS, selectArrays } from '../interop/common';
import { exportNpy, importNpy, NPY_MAGIC } from '../interop/npy';
import { exportSafetensors, importSafetensors } from '../interop/safetensors';
import { decodeMeta } from '../meta';
import { shelf, coreOf, type Shelf } from '../shelf';
import { EXIT, exitCodeOf, fmtBytes, fmtShape, progressBar, table, UsageError } from './format';
import { verifyShelf } from './verify';

const VERSION: string = (() => {
  try {
    return (JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
})();

const USAGE = `tsmm ${VERSION} — persistent memory shelves

usage: tsmm <command> [options]

  ls <shelf>                               variables: kind, dtype, shape, size; and used %
  inspect <shelf> [name]                   pool statistics and every entry, or one variable in detail
  verify <shelf>                           read-only check: superblock, every log checksum, replay, every entry
  compact <shelf>                          rewrite the index log with only live entries
  grow <shelf> --size-mb N                 enlarge the shelf to N MiB, in place
  export <shelf> <name|prefix> -o <file> [--format npy|safetensors] [--strip-prefix] [--metadata k=v ...]
  import <file> <shelf> [name|prefix] [--format npy|safetensors] [--replace] [--size-mb N]

<shelf> is the path without extension: .shelves/demo names .shelves/demo.data + .shelves/demo.map.
options for every command: --json  --progress | --no-progress  -h, --help  --version
exit codes: 0 ok, 1 corrupt, 2 usage, 3 not found, 4 locked, 5 other failure. TSMM_DEBUG=1 prints stack traces.`;

const OPTIONS = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
  progress: { type: 'boolean' },
  'no-progress': { type: 'boolean' },
  'size-mb': { type: 'string' },
  format: { type: 'string', short: 'f' },
  output: { type: 'string', short: 'o' },
  replace: { type: 'boolean' },
  'strip-prefix': { type: 'boolean' },
  metadata: { type: 'string', multiple: true },
} as const;

const COMMON = ['json', 'help', 'version', 'progress', 'no-progress'];
const COMMANDS: Record<string, { args: [number, number]; options: string[]; usage: string }> = {
  ls: { args: [1, 1], options: [], usage: 'tsmm ls <shelf>' },
  inspect: { args: [1, 2], options: [], usage: 'tsmm inspect <shelf> [name]' },
  verify: { args: [1, 1], options: [], usage: 'tsmm verify <shelf>' },
  compact: { args: [1, 1], options: [], usage: 'tsmm compact <shelf>' },
  grow: { args: [1, 1], options: ['size-mb'], usage: 'tsmm grow <shelf> --size-mb N' },
  export: { args: [2, 2], options: ['format', 'output', 'strip-prefix', 'metadata'], usage: 'tsmm export <shelf> <name|prefix> -o <file> [--format npy|safetensors]' },
  import: { args: [2, 3], options: ['format', 'replace', 'size-mb'], usage: 'tsmm import <file> <shelf> [name|prefix] [--format npy|safetensors]' },
};

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K] extends { multiple: true } ? string[] : (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

interface Ctx {
  json: boolean;
  progress: 'auto' | 'always' | 'never';
  out: (text: string) => void;
}

/** `<shelf>` -> directory and name. */
function shelfSpec(arg: string): { dir: string; name: string; label: string } {
  if (arg.length === 0) throw new UsageError('the <shelf> argument is empty');
  const p = arg.replace(/\.(data|map)$/, '');
  const abs = path.resolve(p);
  return { dir: path.dirname(abs), name: path.basename(abs), label: p };
}

function openShelf(arg: string, readOnly: boolean, sizeMb?: number): Shelf {
  const { dir, name } = shelfSpec(arg);
  return shelf(name, sizeMb !== undefined ? { pmemPath: dir, sizeMb } : { pmemPath: dir, readOnly });
}

function sizeMbOf(v: string | undefined, required: boolean): number | undefined {
  if (v === undefined) {
    if (required) throw new UsageError('--size-mb N is required');
    return undefined;
  }
  const n = Number(v);
  if (!/^\d+(\.\d+)?$/.test(v) || !Number.isFinite(n) || n <= 0) throw new UsageError(`--size-mb expects a positive number of MiB, got ${JSON.stringify(v)}`);
  return n;
}

function withShelf<T>(s: Shelf, f: (s: Shelf) => T): T {
  try {
    return f(s);
  } finally {
    s.close({ force: true });
  }
}

// ---- commands ----

function cmdLs(ctx: Ctx, [arg]: string[]): number {
  const { label } = shelfSpec(arg);
  return withShelf(openShelf(arg, true), (s) => {
    const st = s.stats();
    const vars = s.inspect().map((r) => ({ name: r.name, kind: r.kind, dtype: r.dtype, shape: r.shape, bytes: r.bytes }));
    if (ctx.json) {
      ctx.out(JSON.stringify({ shelf: label, size: st.size, used: st.used, usedPercent: s.used, free: st.free, variables: vars }));
      return EXIT.OK;
    }
    ctx.out(`${label}: ${vars.length} variable${vars.length === 1 ? '' : 's'}, ${s.used}% used (${fmtBytes(st.used)} of ${fmtBytes(st.size)})`);
    if (vars.length > 0) {
      ctx.out(table(['name', 'kind', 'dtype', 'shape', 'size'],
        vars.map((v) => [v.name, v.kind, v.dtype, fmtShape(v.shape), fmtBytes(v.bytes)]), [4]));
    }
    return EXIT.OK;
  });
}

/** Text preview of an entry's value (arrays via their raw layout, so tfjs tensors print without tfjs). */
function preview(s: Shelf, name: string, kind: string): string {
  const core = coreOf(s);
  if (ARRAY_KINDS.includes(kind)) {
    const src = arraySource(core, name);
    const dt: DType = src.dtype === 'bool' ? 'uint8' : src.dtype;
    const Ctor = DTYPE_CTORS[dt];
    const wins = src.windows();
    const data = src.byteLength === 0 ? new Ctor(0)
      : src.byteLength <= MAX_VIEW_BYTES ? new Ctor(wins[0].buffer, wins[0].byteOffset, wins[0].byteLength / Ctor.BYTES_PER_ELEMENT)
        : new ChunkedData(dt, wins);
    // float32 prints with NumPy's default 8 significant digits, not as the float64 it widens to
    const at = data instanceof ChunkedData ? (i: number) => data.get(i) as number : (i: number) => (data as Float32Array)[i];
    const shown = src.dtype === 'float32'
      ? { dtype: 'float32', length: data.length, get: (i: number) => Number(at(i).toPrecision(8)), set: () => undefined }
      : data;
    const label = kind.startsWith('tfjs.') ? kind.slice(5) : 'array';
    return formatNdarray(scijs(shown as any, src.shape, src.stride, 0), label);
  }
  try {
    return util.inspect(s.get(name), { depth: 3, maxArrayLength: 20, maxStringLength: 200, breakLength: 100 });
  } catch (e) {
    return `(cannot read: ${(e as Error).message})`;
  }
}

function cmdInspect(ctx: Ctx, [arg, name]: string[]): number {
  const { label } = shelfSpec(arg);
  return withShelf(openShelf(arg, true), (s) => {
    const core = coreOf(s);
    if (name !== undefined) {
      const e = core.pool.get(name);
      if (e === null) throw new ShelfError('ESHELF_NOT_FOUND', `no variable '${name}' on shelf ${label}`);
      const { kind, header } = decodeMeta(e.meta, `'${name}'`);
      const rec = s.inspect().find((r) => r.name === name);
      const info = { shelf: label, name, kind, dtype: rec?.dtype ?? '', shape: rec?.shape ?? [], bytes: e.length, offset: e.offset, seq: e.seq, header };
      if (ctx.json) {
        ctx.out(JSON.stringify(info));
        return EXIT.OK;
      }
      ctx.out(table(['field', 'value'], [
        ['name', name], ['kind', kind], ['dtype', info.dtype], ['shape', fmtShape(info.shape)],
        ['bytes', `${e.length} (${fmtBytes(e.length)})`], ['offset', String(e.offset)], ['seq', String(e.seq)],
        ['header', JSON.stringify(header)],
      ]));
      ctx.out(preview(s, name, kind));
      return EXIT.OK;
    }
    const st = s.stats();
    const recs = s.inspect();
    if (ctx.json) {
      ctx.out(JSON.stringify({ shelf: label, stats: st, variables: recs.slice() }));
      return EXIT.OK;
    }
    ctx.out(`shelf ${label}`);
    ctx.out(table(['stat', 'value'], [
      ['size', `${st.size} (${fmtBytes(st.size)})`], ['used', `${st.used} (${fmtBytes(st.used)}, ${s.used}%)`],
      ['free', `${st.free} (largest extent ${fmtBytes(st.largestFree)}, fragmentation ${(st.fragmentation * 100).toFixed(1)}%)`],
      ['pinned', String(st.pinned)], ['entries', String(st.entries)], ['seq', String(st.seq)],
      ['log', `${st.logBytes} bytes (${st.liveLogBytes} live)`], ['medium', `${st.medium}, persist by ${st.persistMethod}${st.durable ? '' : ', NOT durable across power loss'}`],
      ['layout', st.layout],
    ]));
    if (recs.length > 0) {
      ctx.out('');
      ctx.out(table(['name', 'kind', 'dtype', 'shape', 'bytes', 'offset'],
        recs.map((r) => [r.name, r.kind, r.dtype, fmtShape(r.shape), String(r.bytes), String(r.offset)]), [4, 5]));
    }
    return EXIT.OK;
  });
}

function cmdVerify(ctx: Ctx, [arg]: string[]): number {
  const { dir, name, label } = shelfSpec(arg);
  const r = verifyShelf(dir, name, label);
  if (ctx.json) ctx.out(JSON.stringify(r));
  else {
    ctx.out(`verify ${label}`);
    for (const c of r.checks) ctx.out(`  ok    ${c}`);
    for (const w of r.warnings) ctx.out(`  warn  ${w}`);
    for (const p of r.problems) ctx.out(`  FAIL  ${p}`);
    const w = r.warnings.length > 0 ? ` (${r.warnings.length} warning${r.warnings.length === 1 ? '' : 's'})` : '';
    ctx.out(r.ok ? `${label}: sound${w}` : `${label}: CORRUPT — ${r.problems.length} problem${r.problems.length === 1 ? '' : 's'}${w}`);
  }
  return r.ok ? EXIT.OK : EXIT.CORRUPT;
}

function cmdCompact(ctx: Ctx, [arg]: string[]): number {
  const { label } = shelfSpec(arg);
  return withShelf(openShelf(arg, false), (s) => {
    const pool = coreOf(s).pool;
    const before = pool.stats().logBytes;
    pool.compact();
    const after = pool.stats().logBytes;
    if (ctx.json) ctx.out(JSON.stringify({ shelf: label, logBytesBefore: before, logBytesAfter: after }));
    else ctx.out(`${label}: index log ${fmtBytes(before)} -> ${fmtBytes(after)}`);
    return EXIT.OK;
  });
}

function cmdGrow(ctx: Ctx, [arg]: string[], v: Values): number {
  const { label } = shelfSpec(arg);
  const mb = sizeMbOf(v['size-mb'], true)!;
  return withShelf(openShelf(arg, false), (s) => {
    const before = s.stats().size;
    if (mb * 2 ** 20 <= before) throw new UsageError(`--size-mb ${mb} would not enlarge ${label}: it is already ${fmtBytes(before)} (${before / 2 ** 20} MiB)`);
    s.grow(mb);
    const after = s.stats().size;
    if (ctx.json) ctx.out(JSON.stringify({ shelf: label, sizeBefore: before, sizeAfter: after }));
    else ctx.out(`${label}: ${fmtBytes(before)} -> ${fmtBytes(after)}`);
    return EXIT.OK;
  });
}

function formatOf(v: string | undefined, file: string, sniff: boolean): 'npy' | 'safetensors' {
  if (v !== undefined) {
    if (v !== 'npy' && v !== 'safetensors') throw new UsageError(`--format expects npy or safetensors, got ${JSON.stringify(v)}`);
    return v;
  }
  if (/\.npy$/i.test(file)) return 'npy';
  if (/\.safetensors$/i.test(file)) return 'safetensors';
  if (sniff) {
    try {
      const fd = fs.openSync(file, 'r');
      const b = Buffer.alloc(6);
      fs.readSync(fd, b, 0, 6, 0);
      fs.closeSync(fd);
      return b.equals(NPY_MAGIC) ? 'npy' : 'safetensors';
    } catch {
      // reported by the importer
    }
  }
  throw new UsageError(`cannot tell the format of ${file}: pass --format npy or --format safetensors`);
}

function cmdExport(ctx: Ctx, [arg, sel]: string[], v: Values): number {
  const out = v.output;
  if (out === undefined) throw new UsageError('export needs -o <file>');
  const format = formatOf(v.format, out, false);
  const metadata: Record<string, string> = {};
  for (const kv of v.metadata ?? []) {
    const i = kv.indexOf('=');
    if (i <= 0) throw new UsageError(`--metadata expects key=value, got ${JSON.stringify(kv)}`);
    metadata[kv.slice(0, i)] = kv.slice(i + 1);
  }
  if (format === 'npy' && (v.metadata !== undefined || v['strip-prefix'] === true)) {
    throw new UsageError('--metadata and --strip-prefix apply to safetensors only');
  }
  const { label } = shelfSpec(arg);
  return withShelf(openShelf(arg, true), (s) => {
    const bar = progressBar(`export ${sel}`, ctx.progress);
    let res: { file: string; names: string[]; bytes: number; skipped?: string[] };
    try {
      if (format === 'npy') {
        const { names } = selectArrays(coreOf(s), sel);
        if (names.length !== 1) {
          throw new UsageError(`a .npy file holds one array but '${sel}' selects ${names.length} (${names.slice(0, 5).join(', ')}${names.length > 5 ? ', ...' : ''}): ` +
            'name one, or use --format safetensors');
        }
        res = exportNpy(s, names[0], out, { onProgress: bar.onProgress });
      } else {
        const strip = v['strip-prefix'] === true ? sel : '';
        res = exportSafetensors(s, sel, out, {
          onProgress: bar.onProgress,
          ...(v.metadata !== undefined ? { metadata } : {}),
          ...(strip !== '' ? { rename: (n: string) => (n.startsWith(strip) && n.length > strip.length ? n.slice(strip.length) : n) } : {}),
        });
      }
    } finally {
      bar.stop();
    }
    if (ctx.json) ctx.out(JSON.stringify({ shelf: label, format, ...res }));
    else {
      ctx.out(`wrote ${out}: ${res.names.length} array${res.names.length === 1 ? '' : 's'} (${res.names.join(', ')}), ${fmtBytes(res.bytes)}`);
      if (res.skipped !== undefined && res.skipped.length > 0) ctx.out(`skipped (not arrays): ${res.skipped.join(', ')}`);
    }
    return EXIT.OK;
  });
}

function cmdImport(ctx: Ctx, [file, arg, name]: string[], v: Values): number {
  const format = formatOf(v.format, file, true);
  const sizeMb = sizeMbOf(v['size-mb'], false);
  const { dir, name: shelfName, label } = shelfSpec(arg);
  if (sizeMb !== undefined && !fs.existsSync(`${dir}/${shelfName}.data`) && !fs.existsSync(dir)) {
    throw new ShelfError('ESHELF_NOT_FOUND', `directory ${dir} does not exist`);
  }
  if (!fs.existsSync(file)) throw new ShelfError('ESHELF_NOT_FOUND', `no file ${file}`);
  return withShelf(openShelf(arg, false, sizeMb), (s) => {
    const bar = progressBar(`import ${path.basename(file)}`, ctx.progress);
    const opts = { onProgress: bar.onProgress, replace: v.replace === true };
    let names: string[];
    let bytes: number;
    try {
      if (format === 'npy') {
        const r = importNpy(file, s, name, opts);
        names = [r.name];
        bytes = r.bytes;
      } else {
        const r = importSafetensors(file, s, name ?? '', opts);
        names = r.names;
        bytes = r.bytes;
      }
    } finally {
      bar.stop();
    }
    if (ctx.json) ctx.out(JSON.stringify({ shelf: label, format, file: path.resolve(file), names, bytes }));
    else ctx.out(`imported ${names.length} array${names.length === 1 ? '' : 's'} onto ${label}: ${names.join(', ')} (${fmtBytes(bytes)})`);
    return EXIT.OK;
  });
}

const RUN: Record<string, (ctx: Ctx, args: string[], v: Values) => number> = {
  ls: cmdLs, inspect: cmdInspect, verify: cmdVerify, compact: cmdCompact, grow: cmdGrow, export: cmdExport, import: cmdImport,
};

/** Run the CLI with `argv` (without node and script). Returns the exit code; writes to stdout/stderr. */
export function main(argv: string[]): number {
  let json = argv.includes('--json');
  const out = (text: string): void => { process.stdout.write(`${text}\n`); };
  try {
    let parsed;
    try {
      parsed = util.parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError((e as Error).message.replace(/\. To specify a positional argument.*$/s, ''));
    }
    const v = parsed.values as Values;
    json = v.json === true;
    if (v.version === true) {
      out(json ? JSON.stringify({ version: VERSION }) : VERSION);
      return EXIT.OK;
    }
    const [cmd, ...args] = parsed.positionals;
    if (cmd === undefined || cmd === 'help' || (v.help === true && (cmd === undefined || !(cmd in COMMANDS)))) {
      if (cmd === undefined && v.help !== true) {
        process.stderr.write(`${USAGE}\n`);
        return EXIT.USAGE;
      }
      out(USAGE);
      return EXIT.OK;
    }
    const spec = COMMANDS[cmd];
    if (spec === undefined) throw new UsageError(`unknown command ${JSON.stringify(cmd)} (commands: ${Object.keys(COMMANDS).join(', ')})`);
    if (v.help === true) {
      out(`usage: ${spec.usage}`);
      return EXIT.OK;
    }
    for (const k of Object.keys(v)) {
      if (!COMMON.includes(k) && !spec.options.includes(k)) throw new UsageError(`option --${k} does not apply to '${cmd}' (usage: ${spec.usage})`);
    }
    if (args.length < spec.args[0] || args.length > spec.args[1]) throw new UsageError(`usage: ${spec.usage}`);
    if (v.progress === true && v['no-progress'] === true) throw new UsageError('--progress and --no-progress cannot be combined');
    const ctx: Ctx = {
      json,
      progress: v['no-progress'] === true || (json && v.progress !== true) ? 'never' : v.progress === true ? 'always' : 'auto',
      out,
    };
    return RUN[cmd](ctx, args, v);
  } catch (e) {
    const code = exitCodeOf(e);
    const err = e as Error & { code?: string };
    const tag = e instanceof ShelfError ? `${e.code}: ` : e instanceof UsageError ? '' : `${err.name}: `;
    if (json) out(JSON.stringify({ error: { code: e instanceof ShelfError ? e.code : e instanceof UsageError ? 'EUSAGE' : err.name, message: err.message }, exitCode: code }));
    process.stderr.write(`tsmm: ${tag}${err.message}\n`);
    if (e instanceof UsageError) process.stderr.write('run "tsmm --help" for usage\n');
    if (process.env.TSMM_DEBUG !== undefined && process.env.TSMM_DEBUG !== '' && process.env.TSMM_DEBUG !== '0' && err.stack !== undefined) {
      process.stderr.write(`${err.stack}\n`);
    }
    return code;
  }
}

if (require.main === module) {
  process.exitCode = main(process.argv.slice(2));
}
