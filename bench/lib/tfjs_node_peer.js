// bench/lib/tfjs_node_peer.js -- the peer of P1/P1b/P2: tfjs-node's own `file://` IO handler, the real code.
//
// tfjs-node cannot be installed here (its native libtensorflow download fails), but its file:// handler,
// `dist/io/file_system.js` (+ `dist/io/io_utils.js`), is plain JavaScript. So:
//   1. if `@tensorflow/tfjs-node` is resolvable, its installed `dist/io/file_system.js` is used as is;
//   2. else `npm pack @tensorflow/tfjs-node@4.22.0` (npm checks the registry's integrity hash) puts the tarball in
//      bench/.cache/tfjs-node-4.22.0/, it is extracted there, and that copy of `dist/io/file_system.js` is required.
// file_system.js does `require("@tensorflow/tfjs")` (the umbrella package), but uses only tfjs-core names
// (`tf.util.assert`, `tf.io.getModelArtifactsForJSON`, `tf.io.getModelArtifactsInfoForJSON`). When the umbrella is not
// installed, requests for "@tensorflow/tfjs" made *from files inside the cache dir only* are resolved to the repo's
// installed `@tensorflow/tfjs-core` with a Module._resolveFilename alias, so the handler shares the one tfjs-core
// instance with tfjs-layers and @tsmm/tfjs-backend. Nothing else in the process sees the alias.
// Registration is what tfjs-node's index.js does: tf.io.registerLoadRouter + registerSaveRouter(nodeFileSystemRouter).
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');
const { execFileSync } = require('node:child_process');

const VERSION = '4.22.0';
const CACHE = path.join(__dirname, '..', '.cache', `tfjs-node-${VERSION}`);
const REPO = path.join(__dirname, '..', '..');

let loaded = null;

function resolvable(id) {
  try {
    return require.resolve(id, { paths: [REPO] });
  } catch {
    return null;
  }
}

/** Download and extract the tfjs-node tarball into the cache, once. Returns the package dir. */
function fetchIntoCache(log) {
  const pkgDir = path.join(CACHE, 'package');
  const marker = path.join(pkgDir, 'dist', 'io', 'file_system.js');
  if (fs.existsSync(marker)) return pkgDir;
  fs.mkdirSync(CACHE, { recursive: true });
  log(`fetching @tensorflow/tfjs-node@${VERSION} with npm pack into ${path.relative(REPO, CACHE)}`);
  const out = execFileSync('npm', ['pack', `@tensorflow/tfjs-node@${VERSION}`, '--json', '--pack-destination', CACHE],
    { encoding: 'utf8', cwd: CACHE, stdio: ['ignore', 'pipe', 'pipe'], timeout: 300000 });
  const info = JSON.parse(out)[0];
  execFileSync('tar', ['xzf', path.join(CACHE, info.filename), '-C', CACHE], { stdio: 'ignore' });
  fs.writeFileSync(path.join(CACHE, 'pack.json'), JSON.stringify({ filename: info.filename, integrity: info.integrity, shasum: info.shasum }, null, 2));
  if (!fs.existsSync(marker)) throw new Error(`npm pack of tfjs-node did not contain ${marker}`);
  return pkgDir;
}

/** Make require("@tensorflow/tfjs") from files under `dir` resolve to the installed tfjs-core. */
function aliasUmbrella(dir) {
  const core = resolvable('@tensorflow/tfjs-core');
  if (core === null) throw new Error('@tensorflow/tfjs-core is not installed: run npm ci');
  const orig = Module._resolveFilename;
  const prefix = dir + path.sep;
  Module._resolveFilename = function (request, parent, ...rest) {
    if (request === '@tensorflow/tfjs' && parent && typeof parent.filename === 'string' && parent.filename.startsWith(prefix)) {
      return core;
    }
    return orig.call(this, request, parent, ...rest);
  };
}

/**
 * The tfjs-node file:// handler module ({ NodeFileSystem, nodeFileSystemRouter, fileSystem }) plus where it came from.
 * `register` (default true) registers its router for save and load in the tfjs-core of this repo.
 */
function loadFileHandler({ register = true, log = () => {} } = {}) {
  if (loaded !== null) return loaded;
  let file = resolvable('@tensorflow/tfjs-node/dist/io/file_system.js');
  let source = 'installed @tensorflow/tfjs-node';
  let pack = null;
  if (file === null) {
    const pkgDir = fetchIntoCache(log);
    file = path.join(pkgDir, 'dist', 'io', 'file_system.js');
    source = `npm pack @tensorflow/tfjs-node@${VERSION} (bench/.cache)`;
    try { pack = JSON.parse(fs.readFileSync(path.join(CACHE, 'pack.json'), 'utf8')); } catch { /* older cache */ }
    if (resolvable('@tensorflow/tfjs') === null) {
      aliasUmbrella(pkgDir);
      source += ', "@tensorflow/tfjs" aliased to the installed @tensorflow/tfjs-core';
    }
  }
  const mod = require(file);
  const pkgJson = path.join(path.dirname(file), '..', '..', 'package.json');
  const version = JSON.parse(fs.readFileSync(pkgJson, 'utf8')).version;
  if (register) {
    const tf = require(resolvable('@tensorflow/tfjs-core'));
    tf.io.registerLoadRouter(mod.nodeFileSystemRouter);
    tf.io.registerSaveRouter(mod.nodeFileSystemRouter);
  }
  loaded = { ...mod, file, source, version, pack };
  return loaded;
}

module.exports = { loadFileHandler, TFJS_NODE_VERSION: VERSION };
