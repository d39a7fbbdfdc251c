// `sipd --cdr` as a user runs it (bin/sipd, built dist/): table, --csv,
// --since, a bad date, an empty or old database, no database; the writer stays
// open as a running server would keep it.
import path from 'node:path';
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import { META_TABLE_SQL, MIGRATIONS } from '../../lib/store/migrations.js';
import { openStore } from '../../lib/store/sqlite.js';
import type { CdrRecord } from '../../lib/store/types.js';
import { FakeClock } from '../helpers/fake-clock.js';
import { runSipd, workDir } from '../helpers/sipd-process.js';

// sipd inherits this (runSipd copies process.env): local times are UTC+3 all year.
process.env.TZ = 'Europe/Moscow';

const T0 = Date.UTC(2024, 4, 1, 6, 0, 0); // 09:00 in Moscow

const CALLS: CdrRecord[] = [
  {
    callId: 'a84b4c76e66710@pc33',
    caller: 'alice',
    callerNumber: '4955550101',
    accountcode: 'office',
    dialled: '102',
    destination: 'bob',
    status: 200,
    reason: 'answered',
    startedAt: T0,
    answeredAt: T0 + 4_000,
    endedAt: T0 + 4_000 + 754_000,
    sourceAddress: '192.0.2.10:5060/udp',
    destinationAddress: '192.0.2.20:5062/tcp',
    fromTag: '1928301774',
    toTag: 'a6c85cf',
  },
  {
    callId: 'x2@pc33',
    caller: 'gw1',
    callerNumber: '74951234567',
    dialled: '4955550102',
    destination: 'bob',
    status: 486,
    reason: 'busy, then "voicemail"',
    startedAt: T0 + 86_400_000, // 2 May, 09:00 local
    endedAt: T0 + 86_400_000 + 2_000,
    sourceAddress: '198.51.100.1:5060/udp',
  },
];

function officeWithCalls(t: Test, calls: CdrRecord[] = CALLS) {
  const dir = workDir();
  const store = openStore(path.join(dir, 'sipd.sqlite3'), { clock: new FakeClock() });
  t.teardown(() => store.close());
  for (const c of calls) store.insert(c);
  store.flush();
  return dir;
}

t.test('--cdr prints an aligned table while the writer is open', async (t) => {
  const dir = officeWithCalls(t);
  const r = await runSipd(['--cdr', '-s', dir]);
  t.equal(r.stderr, '');
  t.equal(r.code, 0);
  const lines = r.stdout.split('\n');
  t.same(lines.map((l) => l.replace(/ +/g, ' ')), [
    'START CALLER CALLER NUMBER DIALLED DESTINATION STATUS REASON DURATION CALL-ID',
    '2024-05-01T09:00:00 alice 4955550101 102 bob 200 answered 0:12:34 a84b4c76e66710@pc33',
    '2024-05-02T09:00:00 gw1 74951234567 4955550102 bob 486 busy, then "voicemail" - x2@pc33',
    '2 call records',
    '',
  ]);
  const at = lines[0]!.indexOf('DURATION');
  t.equal(lines[1]!.indexOf('0:12:34'), at, 'aligned');
  t.equal(lines[2]!.indexOf('- '), at, 'aligned');
});

t.test('--cdr --csv: RFC 4180, every column, UTC times', async (t) => {
  const dir = officeWithCalls(t);
  const r = await runSipd(['--cdr', '--csv', '-s', dir]);
  t.equal(r.code, 0);
  t.equal(r.stderr, '');
  t.equal(
    r.stdout,
    'id,call_id,caller,caller_number,accountcode,dialled,destination,status,reason,started_at,answered_at,ended_at,source_address,destination_address,from_tag,to_tag\r\n' +
      '1,a84b4c76e66710@pc33,alice,4955550101,office,102,bob,200,answered,2024-05-01T06:00:00.000Z,2024-05-01T06:00:04.000Z,2024-05-01T06:12:38.000Z,192.0.2.10:5060/udp,192.0.2.20:5062/tcp,1928301774,a6c85cf\r\n' +
      '2,x2@pc33,gw1,74951234567,,4955550102,bob,486,"busy, then ""voicemail""",2024-05-02T06:00:00.000Z,,2024-05-02T06:00:02.000Z,198.51.100.1:5060/udp,,,\r\n',
  );
});

t.test('--since: local date, local time, ISO with a zone', async (t) => {
  const dir = officeWithCalls(t);
  const ids = async (since: string) => {
    const r = await runSipd(['--cdr', '--csv', '--since', since, '-s', dir]);
    t.equal(r.code, 0, since);
    return r.stdout.split('\r\n').slice(1, -1).map((l) => l.split(',')[1]);
  };
  t.same(await ids('2024-05-01'), ['a84b4c76e66710@pc33', 'x2@pc33']);
  t.same(await ids('2024-05-02'), ['x2@pc33'], 'local midnight of 2 May');
  t.same(await ids('2024-05-02T09:00'), ['x2@pc33'], 'inclusive');
  t.same(await ids('2024-05-02T09:00:01'), []);
  t.same(await ids('2024-05-02T05:59:59Z'), ['x2@pc33']);
  t.same(await ids('2024-05-02T06:00:01+00:00'), []);
  const table = await runSipd(['--since=2024-05-02', '--cdr', '-s', dir]);
  t.match(table.stdout, /^START .*\n2024-05-02T09:00:00 .*x2@pc33\n1 call record\n$/);
  const none = await runSipd(['--cdr', '--since', '2025-01-01', '-s', dir]);
  t.equal(none.code, 0);
  t.equal(none.stdout, 'no call records since 2025-01-01T00:00:00\n');
});

t.test('a bad --since date is one clear line and exit code 1', async (t) => {
  const dir = officeWithCalls(t);
  for (const bad of ['2024-02-30', 'yesterday', '2024-05-01T25:00']) {
    const r = await runSipd(['--cdr', '--since', bad, '-s', dir]);
    t.equal(r.code, 1, bad);
    t.equal(r.stdout, '');
    t.equal(
      r.stderr,
      `sipd: bad date '${bad}' (--since): expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (local time), or ISO 8601 with a zone such as 2024-05-01T09:00:00Z\n`,
    );
  }
  const alone = await runSipd(['--csv', '-s', dir]);
  t.equal(alone.code, 1);
  t.equal(alone.stderr, 'sipd: --csv goes with --cdr (sipd --cdr --since DATE --csv)\n');
});

t.test('no records, a database from before CDRs, no database', async (t) => {
  const empty = officeWithCalls(t, []);
  const r = await runSipd(['--cdr', '-s', empty]);
  t.equal(r.code, 0);
  t.equal(r.stdout, 'no call records\n');
  const csv = await runSipd(['--cdr', '--csv', '-s', empty]);
  t.equal(csv.code, 0);
  t.equal(csv.stdout.split('\r\n').length, 2, 'the header alone: still a valid CSV file');
  t.equal(csv.stderr, 'no call records\n');

  const old = workDir();
  const db = new Database(path.join(old, 'sipd.sqlite3'));
  db.exec(META_TABLE_SQL);
  db.exec(MIGRATIONS[0]!.sql);
  db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', 1)").run();
  db.close();
  const v1 = await runSipd(['--cdr', '-s', old]);
  t.equal(v1.code, 0);
  t.equal(v1.stdout, 'no call records\n');

  const none = workDir();
  const missing = await runSipd(['--cdr', '-s', none]);
  const reg = await runSipd(['--registrations', '-s', none]);
  t.equal(missing.code, 1);
  t.equal(missing.stdout, '');
  t.equal(missing.stderr, `sipd: no database at ${path.join(none, 'sipd.sqlite3')}; has sipd run with this working directory (-s)?\n`);
  t.equal(missing.stderr, reg.stderr, 'as --registrations');
});

t.test('--help lists --cdr, --since and --csv', async (t) => {
  const h = await runSipd(['--help']);
  t.equal(h.code, 0);
  for (const f of ['--cdr', '--since <date>', '--csv']) t.match(h.stdout, f);
});
