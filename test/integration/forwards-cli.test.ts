// `sipd --forwards` as a user runs it (bin/sipd, built dist/): forwards set by
// feature codes (written by a store handle kept open, as the running server
// keeps it; and while a real sipd runs on the same directory) merged with
// sip.conf's, where each comes from; no database, a database from before
// forwards, a broken sip.conf; the hint in --registrations; --help.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import Database from 'better-sqlite3';
import { META_TABLE_SQL, MIGRATIONS } from '../../lib/store/migrations.js';
import { openStore } from '../../lib/store/sqlite.js';
import { ForwardState } from '../../lib/pbx/features.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { runSipd, startSipd, workDir } from '../helpers/sipd-process.js';
import type { TapTest } from '../helpers/tap.js';

// sipd inherits this (runSipd copies process.env): local times are UTC+3 all year.
process.env.TZ = 'Europe/Moscow';

const T0 = Date.UTC(2024, 4, 1, 6, 0, 0); // 09:00 in Moscow

const CONF = [
  '[alice]',
  'accountcode=office',
  'secret=a',
  'exten=4955550101#101',
  '[bob]',
  'accountcode=office',
  'secret=b',
  'exten=4955550102#102~103',
  '[carol]',
  'accountcode=office',
  'secret=c',
  'exten=103=84991234567',
  '[dave]',
  'accountcode=office',
  'secret=d',
  'exten=104',
  '',
].join('\n');

/** A working directory whose database holds: alice *72 84991234567, carol *73, zed (no longer in sip.conf) *71 101. */
function officeWithForwards(t: TapTest, dir = workDir(CONF)) {
  const store = openStore(path.join(dir, 'sipd.sqlite3'), { clock: new FakeClock() });
  t.teardown(() => store.close());
  const state = new ForwardState(store);
  state.set('alice', 'always', '84991234567', T0);
  state.clear('carol', T0 + 60_000);
  state.set('zed', 'unavailable', '101', T0 + 120_000);
  return dir;
}

const squeeze = (s: string) => s.split('\n').map((l) => l.replace(/ +/g, ' '));

const TABLE = [
  'CLIENT NUMBERS FORWARD TO SET BY',
  'alice 4955550101, 101 always 84991234567 *72 at 2024-05-01T09:00:00',
  'bob 4955550102, 102 when unavailable 103 sip.conf:8',
  'carol 103 none - *73 at 2024-05-01T09:01:00 (hides sip.conf:12 =84991234567)',
  'zed (not in sip.conf) when unavailable 101 *71 at 2024-05-01T09:02:00',
  '2 forwards in force',
  '',
];

t.test('--forwards: run-time and sip.conf forwards, where each comes from, aligned', async (t) => {
  const dir = officeWithForwards(t);
  const r = await runSipd(['--forwards', '-s', dir]);
  t.equal(r.stderr, '');
  t.equal(r.code, 0);
  t.same(squeeze(r.stdout), TABLE);
  const lines = r.stdout.split('\n');
  const at = lines[0]!.indexOf('SET BY');
  t.equal(lines[2]!.indexOf('sip.conf:8'), at, 'aligned');
});

t.test('--forwards while sipd runs on the same directory', async (t) => {
  const dir = workDir(CONF);
  const server = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.teardown(() => server.stop());
  officeWithForwards(t, dir); // a second writer, as the server's own feature codes would be
  const r = await runSipd(['--forwards', '-s', dir]);
  t.equal(r.code, 0, r.stderr);
  t.same(squeeze(r.stdout), TABLE);
  const reg = await runSipd(['--registrations', '-s', dir]);
  t.equal(reg.code, 0);
  t.match(reg.stdout, /\n2 forwards in force: see sipd --forwards\n0 registrations\n$/, '--registrations points to --forwards');
});

t.test('no database, a database from before forwards: sip.conf forwards only', async (t) => {
  const none = workDir(CONF);
  const r = await runSipd(['--forwards', '-s', none]);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  t.same(squeeze(r.stdout), [
    'CLIENT NUMBERS FORWARD TO SET BY',
    'bob 4955550102, 102 when unavailable 103 sip.conf:8',
    'carol 103 always 84991234567 sip.conf:12',
    '2 forwards in force',
    '',
  ]);
  t.notOk(fs.existsSync(path.join(none, 'sipd.sqlite3')), 'read-only: no database created');

  const old = workDir(CONF);
  const db = new Database(path.join(old, 'sipd.sqlite3'));
  db.exec(META_TABLE_SQL);
  for (const m of MIGRATIONS.filter((m) => m.version <= 2)) db.exec(m.sql);
  db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', 2)").run();
  db.close();
  const v2 = await runSipd(['--forwards', '-s', old]);
  t.equal(v2.code, 0, v2.stderr);
  t.equal(v2.stdout, r.stdout);

  const quiet = workDir('[alice]\nsecret=a\n');
  const q = await runSipd(['--forwards', '-s', quiet]);
  t.equal(q.code, 0);
  t.equal(q.stdout, 'no forwards\n');
});

t.test('a broken sip.conf: the run-time forwards alone, and why', async (t) => {
  const dir = officeWithForwards(t, workDir('[alice]\nsecret=a\nbogus=1\n'));
  const r = await runSipd(['--forwards', '-s', dir]);
  t.equal(r.code, 0);
  t.match(r.stderr, /sip\.conf:3: .*bogus/);
  t.match(r.stderr, /sipd: listing only the forwards set by feature codes\n$/);
  t.same(squeeze(r.stdout), [
    'CLIENT NUMBERS FORWARD TO SET BY',
    'alice always 84991234567 *72 at 2024-05-01T09:00:00',
    'carol none - *73 at 2024-05-01T09:01:00',
    'zed when unavailable 101 *71 at 2024-05-01T09:02:00',
    '2 forwards in force',
    '',
  ]);
});

t.test('--help lists --forwards', async (t) => {
  const h = await runSipd(['--help']);
  t.equal(h.code, 0);
  t.match(h.stdout, '--forwards');
});
