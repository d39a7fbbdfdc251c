// The server's V8 GC flags: set unless the admin chose them on node's command line.
import t from 'tap';
import { SERVER_GC_FLAGS, gcFlagsToApply, tuneServerGc, v8FlagName } from '../../../lib/util/gc-tuning.js';

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
