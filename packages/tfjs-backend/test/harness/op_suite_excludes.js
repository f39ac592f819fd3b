'use strict';
/**
 * Specs of tfjs-core's op suite that are NOT run against 'shelf', each with its reason.
 * A spec is excluded when its full name contains `match` and the run's backend/placement is listed.
 * (Empty means: every op spec that passes on 'cpu' passes on 'shelf' in both placements.)
 */
const EXCLUDES = [];

function isExcluded(fullName, backend, placement) {
  for (const x of EXCLUDES) {
    if (x.backends && !x.backends.includes(backend)) continue;
    if (x.placements && !x.placements.includes(placement)) continue;
    if (fullName.includes(x.match)) return true;
  }
  return false;
}

module.exports = { EXCLUDES, isExcluded };
