// Preload for sipd under the bench (SIPD_NODE_FLAGS="-r ./bench/probes/heap-spaces.cjs"): on
// SIGUSR2, appends V8's heap spaces (used / physical MB) and process.memoryUsage() to
// PROBE_OUT (default /tmp/sipd-heap-spaces.txt). Send it before and after a burst to see
// which space grew: `kill -USR2 $(pgrep -f 'bin/sipd -b')`.
'use strict';
const fs = require('node:fs');
const v8 = require('node:v8');
const file = process.env.PROBE_OUT ?? '/tmp/sipd-heap-spaces.txt';
let n = 0;
process.on('SIGUSR2', () => {
  const lines = [`#${++n} at ${Math.round(performance.now())} ms`];
  for (const s of v8.getHeapSpaceStatistics()) {
    lines.push(`${s.space_name}: used=${(s.space_used_size / 1e6).toFixed(2)} phys=${(s.physical_space_size / 1e6).toFixed(2)}`);
  }
  const m = process.memoryUsage();
  const mb = (x) => (x / 1e6).toFixed(1);
  lines.push(`rss=${mb(m.rss)} heapUsed=${mb(m.heapUsed)} external=${mb(m.external)} arrayBuffers=${mb(m.arrayBuffers)}`);
  fs.appendFileSync(file, lines.join('\n') + '\n');
});
