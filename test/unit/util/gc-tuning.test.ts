// The server's V8 GC flags: set unless the admin chose them on node's command line.
import t from 'tap';
import { runInNewContext } from 'node:vm';
import { SERVER_GC_FLAGS, collectOnce, gcFlagsToApply, tuneServerGc, v8FlagName } from '../../../lib/util/gc-tuning.js';

const ALL = SERVER_GC_FLAGS.map((f) => f.flag);

t.test('flag names as V8 reads them: dashes or underscores, with or without "no"', async (t) => {
  t.equal(v8FlagName('--heap-growing-percent=100'), 'heap-growing-percent');
  t.equal(v8FlagName('--heap_growing_percent=100'), 'heap-growing-percent');
  t.equal(v8FlagName('--allocation-site-pretenuring'), 'allocation-site-pretenuring');
  t.equal(v8FlagName('--no-allocation-site-pretenuring'), 'allocation-site-pretenuring');
  t.equal(v8FlagName('--noallocation-site-pretenuring'), 'allocation-site-pretenuring');
  t.equal(v8FlagName('--no_allocation_site_pretenuring'), 'allocation-site-pretenuring');
  t.equal(v8FlagName('--nodes'), 'nodes', 'a "no" that starts a flag name we do not set stays');
  t.equal(v8FlagName('-r'), undefined);
  t.equal(v8FlagName('--'), undefined);
  t.equal(v8FlagName('bin/sipd'), undefined);
});

t.test('every flag is set when node was started plainly', async (t) => {
  t.same(gcFlagsToApply([]), ALL);
  t.same(gcFlagsToApply(['--enable-source-maps', '--max-old-space-size=512']), ALL, 'other flags change nothing');
  t.same(ALL, ['--no-allocation-site-pretenuring', '--heap-growing-percent=300']);
});

t.test("the admin's own choice on node's command line wins", async (t) => {
  t.same(gcFlagsToApply(['--heap-growing-percent=50']), ['--no-allocation-site-pretenuring']);
  t.same(gcFlagsToApply(['--allocation_site_pretenuring', '--heap_growing_percent=10']), []);
  t.same(gcFlagsToApply(['--allocation-site-pretenuring']), ['--heap-growing-percent=300']);
});

t.test('tuneServerGc hands the flags to V8 and reports them', async (t) => {
  // Setting them here is harmless: they only steer the collector of this test process.
  t.same(tuneServerGc([]), ALL);
  t.same(tuneServerGc(['--heap-growing-percent=300', '--no-allocation-site-pretenuring']), [], 'nothing left to set');
});

t.test('collectOnce: one full collection, measured; no gc global is left behind', async (t) => {
  // Garbage the collection must find: 20 MB of arrays nothing refers to any more.
  let junk: number[][] | undefined = Array.from({ length: 200 }, () => new Array<number>(12_500).fill(1.5));
  t.equal(junk.length, 200);
  junk = undefined;
  let tick = 0;
  const c = collectOnce(() => (tick += 7));
  if (c === undefined) {
    t.fail('V8 offered no gc function');
    return;
  }
  t.equal(c.ms, 7, 'timed with the clock given');
  t.ok(c.beforeBytes - c.afterBytes > 10 * 1048576, `the garbage was collected (${c.beforeBytes} -> ${c.afterBytes} bytes)`);
  t.equal(typeof (globalThis as { gc?: unknown }).gc, 'undefined', 'this context has no gc global');
  t.equal(runInNewContext('typeof gc'), 'undefined', 'and contexts made later have none either: the flag is off again');
});
