import fs from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import { StoreError } from '../../../lib/store/errors.js';
import { MIGRATIONS, SCHEMA_VERSION } from '../../../lib/store/migrations.js';
import { openReadOnly, openStore } from '../../../lib/store/sqlite.js';
import type { StoredBinding } from '../../../lib/store/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const WALL = Date.UTC(2024, 0, 1);

function binding(i: number, over: Partial<StoredBinding> = {}): StoredBinding {
  return {
    aor: `u${String(i).padStart(4, '0')}`,
    contact: `<sip:u${i}@192.168.1.${i % 250}:5060;rinstance=abc${i}>;+sip.instance="<urn:uuid:0000-${i}>";reg-id=1`,
    contactUri: `sip:u${i}@192.168.1.${i % 250}:5060;rinstance=abc${i}`,
    instance: `<urn:uuid:0000-${i}>`,
    regId: 1,
    callId: `call-${i}@phone`,
    cseq: 1,
    q: 0.5,
    expiresAt: WALL + 3600_000,
    registeredAt: WALL,
    source: { proto: 'udp', address: '203.0.113.7', port: 40000 + i, localAddress: '0.0.0.0', localPort: 5060 },
    userAgent: 'Test/1.0',
    ...over,
  };
}

function setup(t: Test, flushIntervalMs = 200) {
  const dir = t.testdir();
  const file = path.join(dir, 'sipd.sqlite3');
  const clock = new FakeClock();
  const store = openStore(file, { clock, flushIntervalMs });
  t.teardown(() => {
    try {
      store.close();
    } catch {
      // already closed by the test
    }
  });
  return { dir, file, clock, store };
}

function thrown(fn: () => unknown): StoreError {
  try {
    fn();
  } catch (err) {
    if (err instanceof StoreError) return err;
    throw err;
  }
  throw new Error('expected a StoreError');
}

function sortByAor(bs: StoredBinding[]): StoredBinding[] {
  return [...bs].sort((a, b) => (a.aor < b.aor ? -1 : a.aor > b.aor ? 1 : a.contactUri < b.contactUri ? -1 : 1));
}

t.test('migrations run once and set the schema version', async (t) => {
  const { file, store } = setup(t);
  t.equal(store.stats.migrationsApplied, MIGRATIONS.length);
  store.close();
  const again = openStore(file, { clock: new FakeClock() });
  t.equal(again.stats.migrationsApplied, 0, 'nothing to do on reopen');
  again.close();
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  t.equal(Number((db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: number }).value), SCHEMA_VERSION);
  t.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  for (const [i, m] of MIGRATIONS.entries()) t.equal(m.version, i + 1, 'migrations are numbered without gaps');
});

t.test('a database from a newer sipd is refused', async (t) => {
  const { file, store } = setup(t);
  store.close();
  const db = new Database(file);
  db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(SCHEMA_VERSION + 1);
  db.close();
  t.throws(() => openStore(file, { clock: new FakeClock() }), { code: 'SIPD_ERR_STORE_SCHEMA', file });
  t.throws(() => openReadOnly(file), { code: 'SIPD_ERR_STORE_SCHEMA' });
});

t.test('upserts are queued and written in one transaction by the timer', async (t) => {
  const { store, clock } = setup(t);
  for (let i = 0; i < 100; i++) store.upsert(binding(i));
  t.equal(store.stats.queued, 100);
  t.equal(store.stats.transactions, 0, 'nothing written on the caller stack');
  t.equal(clock.pending(), 1, 'one flush timer');
  t.equal(clock.nextIn(), 200);
  clock.advance(199);
  t.equal(store.stats.transactions, 0);
  clock.advance(1);
  t.equal(store.stats.transactions, 1, 'one transaction for 100 upserts');
  t.equal(store.stats.rowsWritten, 100);
  t.equal(store.stats.queued, 0);
  t.equal(clock.pending(), 0, 'no timer while the queue is empty');
  t.equal(store.loadAll(WALL).length, 100);
});

t.test('later operations on the same key replace earlier ones', async (t) => {
  const { store, clock } = setup(t);
  store.upsert(binding(1, { cseq: 1 }));
  store.upsert(binding(1, { cseq: 2 }));
  store.upsert(binding(1, { cseq: 3 }));
  store.upsert(binding(2));
  store.remove(binding(2).aor, binding(2).contactUri);
  t.equal(store.stats.queued, 2);
  store.flush();
  t.equal(store.stats.transactions, 1);
  t.equal(clock.pending(), 0, 'flush() clears the timer');
  const all = store.loadAll(WALL);
  t.equal(all.length, 1);
  t.equal(all[0]!.cseq, 3);
  store.flush();
  t.equal(store.stats.transactions, 1, 'an empty flush writes nothing');
});

t.test('remove and removeAor, in order with later upserts', async (t) => {
  const { store } = setup(t);
  const a1 = binding(1, { aor: 'alice', contactUri: 'sip:a1@x', contact: '<sip:a1@x>' });
  const a2 = binding(2, { aor: 'alice', contactUri: 'sip:a2@x', contact: '<sip:a2@x>' });
  const b1 = binding(3, { aor: 'bob' });
  store.upsert(a1);
  store.upsert(a2);
  store.upsert(b1);
  store.flush();
  store.remove('alice', 'sip:a1@x');
  store.flush();
  t.same(store.loadAll(WALL).map((b) => b.contactUri).sort(), [b1.contactUri, 'sip:a2@x'].sort());
  // removeAor drops queued ops of that AOR; an upsert after it survives.
  store.upsert(a1);
  store.removeAor('alice');
  const a3 = binding(4, { aor: 'alice', contactUri: 'sip:a3@x', contact: '<sip:a3@x>' });
  store.upsert(a3);
  store.flush();
  t.equal(store.stats.transactions, 3);
  t.same(
    store.loadAll(WALL).map((b) => `${b.aor} ${b.contactUri}`).sort(),
    ['alice sip:a3@x', `bob ${b1.contactUri}`],
  );
});

t.test('loadAll drops and deletes expired bindings, keeps valid ones and every field', async (t) => {
  const { store, file } = setup(t);
  const keep = binding(1);
  const minimal: StoredBinding = {
    aor: 'min',
    contact: 'sip:min@10.0.0.1',
    contactUri: 'sip:min@10.0.0.1',
    callId: 'c',
    cseq: 7,
    expiresAt: WALL + 10_000,
    registeredAt: WALL - 5,
    source: { proto: 'tcp', address: '::1', port: 5070, localAddress: '::', localPort: 5060 },
  };
  store.upsert(keep);
  store.upsert(minimal);
  store.upsert(binding(2, { expiresAt: WALL - 1 }));
  store.upsert(binding(3, { expiresAt: WALL }));
  const all = sortByAor(store.loadAll(WALL));
  t.same(all, sortByAor([keep, minimal]), 'round trip keeps every field, optional ones absent');
  t.notOk('instance' in all.find((b) => b.aor === 'min')!, 'absent optionals stay absent');
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  t.equal((db.prepare('SELECT count(*) AS n FROM bindings').get() as { n: number }).n, 2, 'expired rows deleted');
});

t.test('close flushes; reopening keeps the data', async (t) => {
  const { store, file } = setup(t);
  for (let i = 0; i < 10; i++) store.upsert(binding(i));
  store.close();
  store.close();
  t.throws(() => store.upsert(binding(1)), { code: 'SIPD_ERR_STORE_CLOSED' });
  const clock = new FakeClock();
  const again = openStore(file, { clock });
  t.teardown(() => again.close());
  t.equal(again.loadAll(WALL).length, 10);
});

t.test('a read-only handle sees flushed bindings while the writer is open', async (t) => {
  const { store, file, clock } = setup(t);
  const reader = openReadOnly(file);
  t.teardown(() => reader.close());
  t.same(reader.listBindings(WALL), []);
  store.upsert(binding(1, { q: 0.1, aor: 'a', contactUri: 'sip:low@x' }));
  store.upsert(binding(2, { q: 0.9, aor: 'a', contactUri: 'sip:high@x' }));
  store.upsert(binding(3, { aor: 'b', expiresAt: WALL - 1 }));
  t.same(reader.listBindings(WALL), [], 'not yet flushed');
  clock.advance(200);
  const seen = reader.listBindings(WALL);
  t.same(seen.map((b) => b.contactUri), ['sip:high@x', 'sip:low@x'], 'ordered by AOR then q, expired hidden');
  const ro = new Database(file, { readonly: true });
  t.throws(() => ro.prepare('DELETE FROM bindings').run(), /readonly/i);
  ro.close();
  // The reader never deletes: the writer still has the expired row until loadAll.
  store.upsert(binding(4, { aor: 'c' }));
  store.flush();
  t.equal(reader.listBindings(WALL).length, 3);
  // And after the writer has closed (no -wal/-shm files left): --registrations with sipd stopped.
  reader.close();
  store.close();
  t.notOk(fs.existsSync(`${file}-wal`), 'the WAL is checkpointed and removed on close');
  const later = openReadOnly(file);
  t.equal(later.listBindings(WALL).length, 3);
  later.close();
});

t.test('openReadOnly: a missing file or a foreign database is a clear error', async (t) => {
  const dir = t.testdir();
  const missing = path.join(dir, 'none.sqlite3');
  const e1 = thrown(() => openReadOnly(missing));
  t.equal(e1.code, 'SIPD_ERR_STORE_OPEN');
  t.ok(e1.message.includes(missing), e1.message);
  t.notOk(fs.existsSync(missing), 'not created');
  const foreign = path.join(dir, 'foreign.sqlite3');
  const db = new Database(foreign);
  db.exec('CREATE TABLE x (y)');
  db.close();
  t.ok(thrown(() => openReadOnly(foreign)).message.includes(`${foreign} is not a sipd database`));
});

t.test('the secret persists across reopen', async (t) => {
  const { store, file } = setup(t);
  const s1 = store.getOrCreateSecret('nonce', 32);
  t.equal(s1.length, 32);
  t.same(store.getOrCreateSecret('nonce', 32), s1);
  t.notSame(store.getOrCreateSecret('other', 32), s1, 'separate names, separate secrets');
  store.close();
  const again = openStore(file, { clock: new FakeClock() });
  t.teardown(() => again.close());
  t.same(again.getOrCreateSecret('nonce', 32), s1, 'same secret after restart');
  const s16 = again.getOrCreateSecret('nonce', 16);
  t.equal(s16.length, 16, 'another length replaces it');
  t.throws(() => again.getOrCreateSecret('x', 0), RangeError);
});

t.test('a corrupt or unopenable file is a clear error naming the file', async (t) => {
  const dir = t.testdir({ 'garbage.sqlite3': 'this is not a database, just some text that is long enough to matter '.repeat(20), 'adir.sqlite3': {} });
  const garbage = path.join(dir, 'garbage.sqlite3');
  const e = thrown(() => openStore(garbage, { clock: new FakeClock() }));
  t.equal(e.code, 'SIPD_ERR_STORE_OPEN');
  t.equal(e.file, garbage);
  t.ok(e.message.includes(garbage), e.message);
  t.match(e.message, /not a database.*SQLITE_NOTADB.*move it away/);
  t.throws(() => openReadOnly(garbage), { code: 'SIPD_ERR_STORE_OPEN', message: /garbage\.sqlite3.*not a database/ });
  const adir = path.join(dir, 'adir.sqlite3');
  t.throws(() => openStore(adir, { clock: new FakeClock() }), { code: 'SIPD_ERR_STORE_OPEN', message: new RegExp(`${adir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*writable`) });
  const nodir = path.join(dir, 'missing', 'sipd.sqlite3');
  t.throws(() => openStore(nodir, { clock: new FakeClock() }), { code: 'SIPD_ERR_STORE_OPEN', message: /missing\/sipd\.sqlite3: .*directory does not exist/ });
});

t.test('a failed batch is kept and retried', async (t) => {
  const { store, clock, file } = setup(t);
  // Another connection holds the write lock: the batch fails (busy), stays queued, and is written later.
  const other = new Database(file);
  t.teardown(() => other.close());
  other.pragma('busy_timeout = 0');
  const slow = openStore(file, { clock, busyTimeoutMs: 0 });
  t.teardown(() => slow.close());
  other.exec('BEGIN IMMEDIATE');
  slow.upsert(binding(1));
  t.throws(() => slow.flush(), { code: 'SIPD_ERR_STORE_WRITE', message: /sipd\.sqlite3.*retried/ });
  t.equal(slow.stats.queued, 1);
  clock.advance(200);
  t.equal(slow.stats.failedFlushes, 2, 'the timer retry failed too, without throwing');
  other.exec('COMMIT');
  clock.advance(200);
  t.equal(slow.stats.queued, 0);
  t.equal(store.loadAll(WALL).length, 1);
});
