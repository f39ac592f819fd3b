// bench/lib/machine.js -- what the machine was, gathered at run time for the report and latest.json.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function read(f) {
  try { return fs.readFileSync(f, 'utf8'); } catch { return ''; }
}

function sh(cmd, args) {
  try { return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return ''; }
}

/** The mount holding `dir`: { source, fstype, options, target }. */
function mountOf(dir) {
  const real = fs.realpathSync(dir);
  let best = null;
  for (const line of read('/proc/self/mounts').split('\n')) {
    const [source, target, fstype, options] = line.split(' ');
    if (!target) continue;
    const t = target.replace(/\\040/g, ' ');
    if ((real === t || real.startsWith(t.endsWith('/') ? t : t + '/')) && (!best || t.length >= best.target.length)) {
      best = { source, target: t, fstype, options };
    }
  }
  return best;
}

/** Block device facts for a mount source like /dev/vda1: { device, rotational, scheduler, model }. */
function deviceOf(source) {
  if (!source || !source.startsWith('/dev/')) return null;
  let dev = path.basename(fs.existsSync(source) ? fs.realpathSync(source) : source);
  let sys = `/sys/class/block/${dev}`;
  if (fs.existsSync(path.join(sys, 'partition'))) dev = path.basename(path.dirname(fs.realpathSync(sys)));
  sys = `/sys/block/${dev}`;
  const sched = read(path.join(sys, 'queue', 'scheduler')).trim();
  return {
    device: dev,
    rotational: read(path.join(sys, 'queue', 'rotational')).trim() === '1',
    scheduler: (sched.match(/\[(.*?)\]/) || [])[1] || sched,
    model: read(path.join(sys, 'device', 'model')).trim() || read(path.join(sys, 'device', 'vendor')).trim() || 'virtio/unknown',
  };
}

function pkgVersion(name) {
  try {
    return JSON.parse(fs.readFileSync(require.resolve(`${name}/package.json`, { paths: [path.join(__dirname, '..', '..')] }), 'utf8')).version;
  } catch {
    return null;
  }
}

/** Everything a reader needs to judge the numbers: cpu, cores, RAM, disk/fs of each bench dir, node, kernel, load. */
function machineInfo(dirs) {
  const cpuinfo = read('/proc/cpuinfo');
  const model = (cpuinfo.match(/^model name\s*:\s*(.*)$/m) || [])[1] || os.cpus()[0]?.model || 'unknown';
  const mhz = (cpuinfo.match(/^cpu MHz\s*:\s*(.*)$/m) || [])[1];
  const flags = (cpuinfo.match(/^flags\s*:\s*(.*)$/m) || [])[1] || '';
  const lscpuHv = (sh('lscpu', []).match(/^Hypervisor vendor:\s*(.*)$/m) || [])[1];
  const hypervisor = flags.includes('hypervisor') ? (lscpuHv || sh('systemd-detect-virt', []) || 'yes') : 'no';
  const media = {};
  for (const [k, d] of Object.entries(dirs)) {
    if (!d) continue;
    const m = mountOf(d);
    media[k] = { dir: d, fstype: m?.fstype, source: m?.source, mount: m?.target, options: m?.options, device: deviceOf(m?.source) };
    try {
      const st = fs.statfsSync(d);
      media[k].freeBytes = st.bavail * st.bsize;
    } catch { /* node < 18.15 */ }
  }
  return {
    cpu: { model, mhz: mhz ? Number(mhz) : null, cores: os.cpus().length, hypervisor, avx512: flags.includes('avx512f'), clwb: flags.includes('clwb') },
    memory: { totalBytes: os.totalmem(), freeBytesAtStart: os.freemem() },
    media,
    node: process.version,
    v8: process.versions.v8,
    kernel: `${os.type()} ${os.release()}`,
    os: (read('/etc/os-release').match(/^PRETTY_NAME="?(.*?)"?$/m) || [])[1] || os.platform(),
    loadavgAtStart: os.loadavg(),
    hostname: os.hostname(),
    git: sh('git', ['-C', path.join(__dirname, '..', '..'), 'rev-parse', '--short', 'HEAD']) || null,
    gitDirty: sh('git', ['-C', path.join(__dirname, '..', '..'), 'status', '--porcelain']).length > 0,
    packages: Object.fromEntries(['@tensorflow/tfjs-core', '@tensorflow/tfjs-layers', '@tensorflow/tfjs-backend-cpu', 'ndarray', 'ndarray-ops']
      .map((p) => [p, pkgVersion(p)])),
  };
}

/** One line for the report header. */
function machineLine(m) {
  const gib = (b) => `${(b / 2 ** 30).toFixed(1)} GiB`;
  const med = Object.entries(m.media).map(([k, v]) => `${k}: ${v.dir} on ${v.fstype} (${v.device ? v.device.device : v.source})`).join('; ');
  return `${m.cpu.model}, ${m.cpu.cores} cores${m.cpu.hypervisor !== 'no' ? ` (VM: ${m.cpu.hypervisor})` : ''}, ${gib(m.memory.totalBytes)} RAM; ` +
    `${med}; node ${m.node}, ${m.kernel}; load at start ${m.loadavgAtStart.map((x) => x.toFixed(2)).join(' ')}`;
}

module.exports = { machineInfo, machineLine, mountOf };
