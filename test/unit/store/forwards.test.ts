// Forwards set by feature codes in SQLite (issue 6): migration v3 on a v2 file
// (bindings and CDRs kept), synchronous writes that survive a crash (no close,
// and a child process killed with SIGKILL), the read-only reader on old files.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import Database from 'better-sqlite3';
import { META_TABLE_SQL, MIGRATIONS, SCHEMA_VERSION } from '../../../lib/store/migrations.js';
import { openReadOnly, openStore } from '../../../lib/store/sqlite.js';
import { StoreError } from '../../../lib/store/errors.js';
import type { StoredForward } from '../../../lib/store/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const WALL = Date.UTC(2024, 0, 1);
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** A database as sipd with CDRs (schema version 2) left it: one binding, one CDR. */
function createV2(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(META_TABLE_SQL);
  for (const m of MIGRATIONS.filter((m) => m.version <= 2)) db.exec(m.sql);
  db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', 2)").run();
  db.prepare(
    `INSERT INTO bindings (aor, contact_uri, contact, call_id, cseq, expires_at, registered_at, proto, address, port, local_address, local_port)
     VALUES ('alice', 'sip:alice@192.0.2.1', '<sip:alice@192.0.2.1>', 'reg-1', 3, ?, ?, 'udp', '192.0.2.1', 5060, '0.0.0.0', 5060)`,
  ).run(WALL + 3600_000, WALL);
  db.prepare("INSERT INTO cdr (call_id, caller, dialled, status, started_at) VALUES ('c1@pc', 'alice', '102', 486, ?)").run(WALL);
  db.close();
}

const fwd = (client: string, kind: StoredForward['kind'], target: string, updatedAt = WALL): StoredForward => ({ client, kind, target, updatedAt });

t.test('migration v3 creates the forwards table; v1 and v2 stay as released', async (t) => {
  t.equal(SCHEMA_VERSION, 3);
  t.same(MIGRATIONS.map((m) => m.version), [1, 2, 3]);
  t.notMatch(MIGRATIONS[1]!.sql, /forwards/, 'v2 is not edited');
  const dir = t.testdir();
  const file = path.join(dir, 'sipd.sqlite3');
  openStore(file, { clock: new FakeClock() }).close();
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  const cols = db.prepare('PRAGMA table_info(forwards)').all() as { name: string; pk: number; notnull: number }[];
  t.same(cols.map((c) => c.name), ['client', 'kind', 'target', 'updated_at']);
  t.same(cols.filter((c) => c.pk > 0).map((c) => c.name), ['client', 'kind'], 'primary key client + kind');
  t.ok(cols.every((c) => c.notnull === 1));
  t.throws(() => new Database(file).prepare("INSERT INTO forwards VALUES ('a', 'busy', '1', 0)").run(), /CHECK/, 'kind is checked');
});

t.test('a v2 database (bindings, CDRs) is migrated with everything kept; the reader copes before and after', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'sipd.sqlite3');
  createV2(file);

  const old = openReadOnly(file);
  t.same(old.listForwards(), [], 'no forwards table: an empty list, not a crash');
  t.equal(old.listBindings(WALL).length, 1);
  t.equal(old.listCdrs().length, 1);

  const store = openStore(file, { clock: new FakeClock() });
  t.teardown(() => store.close());
  t.equal(store.stats.migrationsApplied, 1, 'only v3 runs');
  t.equal(store.loadAll(WALL).length, 1, 'the binding is kept');
  t.same(store.loadForwards(), []);
  store.setForward(fwd('alice', 'always', '84991234567'));

  t.same(old.listForwards(), [fwd('alice', 'always', '84991234567')], 'a reader opened before the migration sees the new table');
  old.close();
  const reader = openReadOnly(file);
  t.teardown(() => reader.close());
  t.equal(reader.listCdrs().length, 1, 'the CDR is kept');
  t.equal(reader.listCdrs()[0]!.status, 486);
  t.same(reader.listForwards(), [fwd('alice', 'always', '84991234567')]);
});

t.test('set, replace, order, clear one kind or all; rows of other clients untouched', async (t) => {
  const dir = t.testdir();
  const store = openStore(path.join(dir, 'sipd.sqlite3'), { clock: new FakeClock() });
  t.teardown(() => store.close());
  store.setForward(fwd('bob', 'unavailable', '102', WALL + 1));
  store.setForward(fwd('bob', 'always', '', WALL + 1));
  store.setForward(fwd('alice', 'unavailable', '+441234567890', WALL + 2));
  store.setForward(fwd('alice', 'always', '103', WALL + 3));
  t.same(store.loadForwards(), [
    fwd('alice', 'always', '103', WALL + 3),
    fwd('alice', 'unavailable', '+441234567890', WALL + 2),
    fwd('bob', 'always', '', WALL + 1),
    fwd('bob', 'unavailable', '102', WALL + 1),
  ], 'by client, always first; an empty target is kept as is');
  store.setForward(fwd('alice', 'always', '104', WALL + 4));
  t.same(store.loadForwards()[0], fwd('alice', 'always', '104', WALL + 4), 'replaced, not added');
  t.equal(store.loadForwards().length, 4);
  store.clearForward('alice', 'unavailable');
  t.same(store.loadForwards().map((f) => `${f.client}/${f.kind}`), ['alice/always', 'bob/always', 'bob/unavailable']);
  store.clearForward('bob');
  t.same(store.loadForwards().map((f) => `${f.client}/${f.kind}`), ['alice/always']);
  store.clearForward('nobody');
  t.equal(store.stats.transactions, 0, 'no batch was needed: forwards bypass the queue');
  t.equal(store.stats.queued, 0);
  t.throws(() => store.setForward({ ...fwd('x', 'always', '1'), kind: 'busy' as 'always' }), RangeError);
  t.throws(() => store.setForward({ ...fwd('x', 'always', '1'), updatedAt: Number.NaN }), RangeError);
  store.close();
  t.throws(() => store.setForward(fwd('x', 'always', '1')), StoreError, 'closed');
});

t.test('a forward is on disk when setForward returns: open, write, no close, reopen', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'sipd.sqlite3');
  const clock = new FakeClock();
  const crashed = openStore(file, { clock, flushIntervalMs: 60_000 });
  crashed.setForward(fwd('alice', 'always', '84991234567'));
  crashed.clearForward('alice', 'unavailable');
  // No flush, no close, no timer fired: another connection (as after a restart) sees it.
  const raw = new Database(file, { readonly: true });
  t.same(raw.prepare('SELECT client, kind, target FROM forwards').all(), [{ client: 'alice', kind: 'always', target: '84991234567' }]);
  raw.close();
  const again = openStore(file, { clock: new FakeClock() });
  t.same(again.loadForwards(), [fwd('alice', 'always', '84991234567')]);
  again.close();
  crashed.close();
});

const BUILT_STORE = path.join(ROOT, 'dist/lib/store/sqlite.js');
const BUILT_CLOCK = path.join(ROOT, 'dist/lib/util/clock.js');

function skipReason(): string | false {
  let why: string | false = false;
  if (!fs.existsSync(BUILT_STORE) || !fs.existsSync(BUILT_CLOCK)) why = 'needs `npm run build` (dist/lib/store/sqlite.js missing)';
  else {
    const newest = Math.max(...fs.readdirSync(path.join(ROOT, 'lib/store')).map((f) => fs.statSync(path.join(ROOT, 'lib/store', f)).mtimeMs));
    if (fs.statSync(BUILT_STORE).mtimeMs < newest) why = 'dist/ is older than lib/store: run `npm run build`';
  }
  if (why !== false && process.env.CI === 'true') throw new Error(`crash test cannot run: ${why}`);
  return why;
}

const CHILD = `
import { pathToFileURL } from 'node:url';
const [storeJs, clockJs, file] = process.argv.slice(2);
const { openStore } = await import(pathToFileURL(storeJs).href);
const { systemClock } = await import(pathToFileURL(clockJs).href);
const store = openStore(file, { clock: systemClock, flushIntervalMs: 600000 });
store.setForward({ client: 'alice', kind: 'always', target: '84991234567', updatedAt: 1 });
store.setForward({ client: 'alice', kind: 'unavailable', target: '', updatedAt: 1 });
store.setForward({ client: 'bob', kind: 'always', target: '', updatedAt: 1 });
store.clearForward('bob');
// "Forward set" would be announced now. Then the process dies without closing.
process.stdout.write('ready\\n');
setInterval(() => {}, 60000);
`;

t.test('kill -9 right after setForward loses nothing', { skip: skipReason() }, async (t) => {
  const dir = t.testdir({ 'child.mjs': CHILD });
  const file = path.join(dir, 'sipd.sqlite3');
  const child = spawn(process.execPath, [path.join(dir, 'child.mjs'), BUILT_STORE, BUILT_CLOCK, file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.on('exit', () => reject(new Error(`child exited before ready: ${stderr}`)));
  });
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL', 'killed at once, not closed');
  const store = openStore(file, { clock: new FakeClock() });
  t.teardown(() => store.close());
  t.same(store.loadForwards(), [fwd('alice', 'always', '84991234567', 1), fwd('alice', 'unavailable', '', 1)]);
});
