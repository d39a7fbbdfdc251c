// Preload for sipd under the bench (SIPD_NODE_FLAGS="-r ./bench/probes/loop-gc.cjs"): records
// event-loop turns longer than PROBE_GAP_MS (default 3) and every garbage collection longer
// than 2 ms (young ones) or of any other kind, with the process's own time in ms, into
// PROBE_OUT (default /tmp/sipd-loop-gc.txt) when sipd exits. Lines: "<ms> gap <n>ms" and
// "<ms> gc kind=<1 young | 4 full | 8 incremental | 16 weak> <n>ms". A 1 ms interval timer
// costs a little CPU: compare figures taken with it only with each other.
'use strict';
const fs = require('node:fs');
const { PerformanceObserver, performance } = require('node:perf_hooks');
const limit = Number(process.env.PROBE_GAP_MS ?? 3);
const file = process.env.PROBE_OUT ?? '/tmp/sipd-loop-gc.txt';
const out = [];
let last = performance.now();
setInterval(() => {
  const now = performance.now();
  if (now - last > limit) out.push(`${now.toFixed(0)} gap ${(now - last).toFixed(1)}ms`);
  last = now;
}, 1).unref();
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    if (e.duration > 2 || e.detail?.kind !== 1) out.push(`${e.startTime.toFixed(0)} gc kind=${e.detail?.kind} ${e.duration.toFixed(1)}ms`);
  }
}).observe({ entryTypes: ['gc'] });
process.on('exit', () => fs.writeFileSync(file, out.join('\n') + '\n'));
