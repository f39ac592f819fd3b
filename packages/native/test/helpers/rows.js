'use strict';
// runRows -- the hostile-input children's loop: run each row's call, classify what it threw (a ShelfError's code,
// TypeError, RangeError, or another class name) and print one JSON line per row, each preceded by "S <i>" so that a
// crash names the row it happened in. Shared by the engine table (130) and the shelf table (730).
function runRows(rows, ctx, out, ShelfError) {
  rows.forEach(([id, , fn], i) => {
    out(`S ${i}`);
    let got = 'ok';
    let message = '';
    try {
      fn(ctx);
    } catch (err) {
      message = String(err && err.message).slice(0, 300);
      if (err instanceof ShelfError) got = err.code;
      else if (err instanceof TypeError) got = 'TypeError';
      else if (err instanceof RangeError) got = 'RangeError';
      else got = `${err && err.constructor && err.constructor.name}`;
    }
    out(JSON.stringify({ i, id, got, message }));
  });
  out('DONE');
}

module.exports = { runRows };
