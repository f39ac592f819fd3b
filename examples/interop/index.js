'use strict';
// Interop: put arrays on a shelf, export them to NumPy .npy and to safetensors, read the files back onto another shelf,
// and (when python3 with numpy is installed) let NumPy read what tsmm wrote.
//   node examples/interop/index.js
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawnSync } = require('node:child_process');
const scijs = require('ndarray');
const {
  shelf, ndarray, exportNpy, importNpy, exportSafetensors, importSafetensors, readNpyHeader, readSafetensorsHeader,
} = require('@tsmm/core');

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsmm-interop-'));
const out = path.join(__dirname, '..', 'out', 'interop');
fs.mkdirSync(out, { recursive: true });

const s = shelf('source', { sizeMb: 16, pmemPath: dir, forceNew: true });
s.grid = ndarray([3, 4], 'float64');
for (let i = 0; i < 3; i++) for (let j = 0; j < 4; j++) s.grid.set(i, j, i + j / 10);
s['model/weight'] = scijs(new Float32Array([0.5, -1, 2, 4, 8, 16]), [2, 3]);
s['model/bias'] = new Float32Array([0.1, 0.2]);
s['model/steps'] = new BigInt64Array([123456789012345n]);
s['model/notes'] = { author: 'tsmm' }; // not an array: skipped by the exporters

// .npy: one array per file, written straight from shelf memory.
const npy = path.join(out, 'grid.npy');
exportNpy(s, 'grid', npy);
console.log(`exportNpy(s, 'grid', ...)          -> ${path.relative(process.cwd(), npy)}: ${JSON.stringify(readNpyHeader(npy).descr)} ${JSON.stringify(readNpyHeader(npy).shape)}`);

// safetensors: many arrays per file; here every array under the prefix 'model/', named without it.
const st = path.join(out, 'model.safetensors');
const r = exportSafetensors(s, 'model/', st, { rename: (n) => n.slice('model/'.length), metadata: { format: 'np' } });
console.log(`exportSafetensors(s, 'model/', ...) -> ${path.relative(process.cwd(), st)}: ${r.names.join(', ')} (skipped: ${r.skipped.join(', ')})`);
console.log(`  header: ${JSON.stringify(readSafetensorsHeader(st).tensors.map((t) => [t.name, t.dtype, t.shape, t.dataOffsets]))}`);

// Read both back onto a second shelf: each file is read with fs.readSync straight into new shelf memory and committed
// atomically (a crash mid-import leaves nothing half-imported).
const t = shelf('target', { sizeMb: 16, pmemPath: dir, forceNew: true });
importNpy(npy, t);                        // -> variable 'grid'
importSafetensors(st, t, 'imported/');    // -> 'imported/weight', 'imported/bias', 'imported/steps'
console.log(`target shelf: ${t.items.join(', ')}`);
console.log(`  grid[2][3] = ${t.grid.get(2, 3)}, imported/weight[1][2] = ${t['imported/weight'].get(1, 2)}, steps = ${t['imported/steps'].get(0)}`);

// What Python sees (optional: only if python3 and numpy are installed).
const py = spawnSync('python3', ['-c', `
import numpy, json, struct
a = numpy.load(${JSON.stringify(npy)})
print('numpy.load(grid.npy):', a.dtype, a.shape, 'a[2,3] =', a[2, 3])
b = open(${JSON.stringify(st)}, 'rb').read()
n = struct.unpack('<Q', b[:8])[0]
h = json.loads(b[8:8 + n])
w = h['weight']
print('safetensors weight, read with numpy:', numpy.frombuffer(b[8 + n + w['data_offsets'][0]:8 + n + w['data_offsets'][1]], '<f4').reshape(w['shape']).tolist())
`], { encoding: 'utf8' });
if (py.status === 0) process.stdout.write(py.stdout);
else console.log('(python3 with numpy not found: skipped the NumPy check; in Python: numpy.load(path), safetensors.numpy.load_file(path))');

s.close();
t.close();
fs.rmSync(dir, { recursive: true, force: true });
console.log(`files left in ${path.relative(process.cwd(), out)}/; the CLI does the same: npx tsmm export <shelf> <name|prefix> -o file.npy|file.safetensors`);
