// ChurnMap: a Map whose abandoned hash tables keep no values alive (see lib/util/churn-map.ts).
import t from 'tap';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ChurnMap } from '../../../lib/util/churn-map.js';
import { ROOT } from '../../helpers/sipd-process.js';

t.test('behaves as the Map it replaces', async (t) => {
  const m = new ChurnMap<string, { n: number }>();
  t.equal(m.size, 0);
  t.equal(m.get('a'), undefined);
  t.equal(m.delete('a'), false, 'deleting a missing key');
  const a = { n: 1 };
  t.equal(m.set('a', a), m, 'set returns the map');
  m.set('b', { n: 2 }).set('c', { n: 3 });
  t.equal(m.get('a'), a, 'the same object back');
  t.ok(m.has('b'));
  t.notOk(m.has('z'));
  m.set('a', { n: 10 });
  t.same([...m.entries()], [['a', { n: 10 }], ['b', { n: 2 }], ['c', { n: 3 }]], 'overwriting keeps the insertion place');
  t.equal(m.delete('b'), true);
  t.equal(m.size, 2);
  t.notOk(m.has('b'));
  t.same([...m.values()].map((v) => v.n), [10, 3]);
  t.same([...m].map(([k]) => k), ['a', 'c'], 'iterable like a Map');
  m.set('b', { n: 4 });
  t.same([...m].map(([k]) => k), ['a', 'c', 'b'], 're-added at the end');
  m.clear();
  t.equal(m.size, 0);
  t.same([...m], []);
});

t.test('deleting while walking the entries, as a Map allows', async (t) => {
  const m = new ChurnMap<number, string>();
  for (let i = 0; i < 10; i++) m.set(i, `v${i}`);
  const seen: number[] = [];
  for (const [k] of m) {
    seen.push(k);
    m.delete(k + 1); // the next one goes before it is reached
  }
  t.same(seen, [0, 2, 4, 6, 8]);
  t.same([...m.values()], ['v0', 'v2', 'v4', 'v6', 'v8']);
});

/** Bytes the young collections promoted while `kind` churned (node --trace-gc-nvp). */
function promoted(kind: 'map' | 'churn-map'): number {
  const script = path.join(ROOT, 'test/fixtures/gc/churn.mjs');
  const r = spawnSync(process.execPath, ['--trace-gc-nvp', script, kind, '100000'], { encoding: 'utf8', env: { PATH: process.env['PATH'] ?? '' } });
  if (r.status !== 0) throw new Error(`churn.mjs ${kind} failed: ${r.stderr}`);
  if (!r.stdout.includes(`done ${kind} 40`)) throw new Error(`churn.mjs ${kind} did not finish: ${r.stdout.slice(-200)}`);
  let sum = 0;
  for (const line of r.stdout.split('\n')) {
    if (!line.includes('gc=s ')) continue;
    const m = / promoted=(\d+)/.exec(line);
    if (m !== null) sum += Number(m[1]);
  }
  return sum;
}

t.test('an old table under turnover: a Map promotes the values it held, a ChurnMap does not', async (t) => {
  const map = promoted('map');
  const churn = promoted('churn-map');
  t.comment(`promoted by young collections: Map ${(map / 1e6).toFixed(1)} MB, ChurnMap ${(churn / 1e6).toFixed(1)} MB`);
  t.ok(map > 50e6, `the plain Map shows the problem (${map} bytes promoted)`);
  t.ok(churn * 5 < map, `ChurnMap promotes less than a fifth of it (${churn} vs ${map} bytes)`);
});
