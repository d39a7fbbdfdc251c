// CDRs in SQLite (issue 5 part 4): migration v2 on a v1 file, batched
// inserts sharing the location batch, the read-only reader (also on a v1
// file), since/limit filtering.
import path from 'node:path';
import t, { type Test } from 'tap';
import Database from 'better-sqlite3';
import { META_TABLE_SQL, MIGRATIONS, SCHEMA_VERSION } from '../../../lib/store/migrations.js';
import { openReadOnly, openStore } from '../../../lib/store/sqlite.js';
import type { CdrRecord, StoredBinding, StoredCdr } from '../../../lib/store/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const WALL = Date.UTC(2024, 0, 1);

function cdr(i: number, over: Partial<CdrRecord> = {}): CdrRecord {
  return {
    callId: `call-${i}@10.0.0.1`,
    caller: 'alice',
    callerNumber: '4955550101',
    accountcode: 'office',
    dialled: '102',
    destination: 'bob',
    status: 200,
    reason: 'answered',
    startedAt: WALL + i * 1000,
    answeredAt: WALL + i * 1000 + 300,
    endedAt: WALL + i * 1000 + 60_300,
    sourceAddress: '203.0.113.7:5060/udp',
    destinationAddress: '[2001:db8::2]:5062/tcp',
    fromTag: `f${i}`,
    toTag: `t${i}`,
    ...over,
  };
}

function binding(aor: string): StoredBinding {
  return {
    aor,
    contact: `<sip:${aor}@192.0.2.1>`,
    contactUri: `sip:${aor}@192.0.2.1`,
    callId: `reg-${aor}`,
    cseq: 1,
    expiresAt: WALL + 3600_000,
    registeredAt: WALL,
    source: { proto: 'udp', address: '192.0.2.1', port: 5060, localAddress: '0.0.0.0', localPort: 5060 },
  };
}

/** Drops the row id, for comparing with what was inserted. */
function plain(c: StoredCdr): CdrRecord {
  const { id: _id, ...rest } = c;
  return rest;
}

function setup(t: Test, opts: { flushIntervalMs?: number; maxQueuedCdrs?: number } = {}) {
  const dir = t.testdir();
  const file = path.join(dir, 'sipd.sqlite3');
  const clock = new FakeClock();
  const store = openStore(file, { clock, flushIntervalMs: opts.flushIntervalMs ?? 200, ...(opts.maxQueuedCdrs !== undefined ? { maxQueuedCdrs: opts.maxQueuedCdrs } : {}) });
  t.teardown(() => {
    try {
      store.close();
    } catch {
      // already closed by the test
    }
  });
  return { dir, file, clock, store };
}

/** A database exactly as sipd 0.1 (schema version 1) left it, with one binding. */
function createV1(file: string): void {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.exec(META_TABLE_SQL);
  db.exec(MIGRATIONS.find((m) => m.version === 1)!.sql);
  db.prepare("INSERT INTO meta (key, value) VALUES ('schema_version', 1)").run();
  db.prepare(
    `INSERT INTO bindings (aor, contact_uri, contact, call_id, cseq, expires_at, registered_at, proto, address, port, local_address, local_port)
     VALUES ('alice', 'sip:alice@192.0.2.1', '<sip:alice@192.0.2.1>', 'reg-1', 3, ?, ?, 'udp', '192.0.2.1', 5060, '0.0.0.0', 5060)`,
  ).run(WALL + 3600_000, WALL);
  db.close();
}

t.test('migration v2 adds the cdr table and its index; v1 stays as released', async (t) => {
  t.ok(SCHEMA_VERSION >= 2);
  t.same(MIGRATIONS.slice(0, 2).map((m) => m.version), [1, 2]);
  t.match(MIGRATIONS[0]!.sql, /CREATE TABLE bindings/);
  t.notMatch(MIGRATIONS[0]!.sql, /cdr/, 'v1 is not edited');
  const { file, store } = setup(t);
  store.close();
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  const cols = (db.prepare('PRAGMA table_info(cdr)').all() as { name: string; notnull: number; pk: number }[]).map((c) => c.name);
  t.same(cols, [
    'id', 'call_id', 'caller', 'caller_number', 'accountcode', 'dialled', 'destination', 'status', 'reason',
    'started_at', 'answered_at', 'ended_at', 'source_address', 'destination_address', 'from_tag', 'to_tag',
  ]);
  const idx = db.prepare("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'cdr'").all() as { sql: string }[];
  t.ok(idx.some((i) => /\(started_at\)/.test(i.sql)), 'index on started_at');
});

t.test('a v1 database: readable as is (no CDRs), then migrated by the writer with its bindings kept', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'sipd.sqlite3');
  createV1(file);

  const old = openReadOnly(file);
  t.same(old.listCdrs(), [], 'no cdr table: an empty list, not a crash');
  t.same(old.listCdrs({ since: WALL, limit: 5 }), []);
  t.equal(old.listBindings(WALL).length, 1, 'bindings readable');
  old.close();

  const clock = new FakeClock();
  const store = openStore(file, { clock });
  t.teardown(() => store.close());
  t.equal(store.stats.migrationsApplied, MIGRATIONS.length - 1, 'v1 is not run again');
  const bs = store.loadAll(WALL);
  t.equal(bs.length, 1);
  t.equal(bs[0]!.aor, 'alice');
  t.equal(bs[0]!.cseq, 3);
  store.insert(cdr(1));
  store.flush();
  const reader = openReadOnly(file);
  t.teardown(() => reader.close());
  t.same(reader.listCdrs().map(plain), [cdr(1)]);
  const db = new Database(file, { readonly: true });
  t.teardown(() => db.close());
  t.equal(Number((db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").get() as { value: number }).value), SCHEMA_VERSION);
});

t.test('a reader opened on a v1 file sees CDRs once a newer writer has migrated it', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'sipd.sqlite3');
  createV1(file);
  const reader = openReadOnly(file);
  t.teardown(() => reader.close());
  t.same(reader.listCdrs(), []);
  const store = openStore(file, { clock: new FakeClock() });
  t.teardown(() => store.close());
  store.insert(cdr(1));
  store.flush();
  t.equal(reader.listCdrs().length, 1);
});

t.test('inserts are queued and written with the location writes in one transaction', async (t) => {
  const { store, clock, file } = setup(t);
  for (let i = 0; i < 50; i++) store.insert(cdr(i));
  store.upsert(binding('alice'));
  t.equal(store.stats.queued, 51);
  t.equal(store.stats.transactions, 0, 'nothing written on the caller stack');
  t.equal(clock.pending(), 1, 'one flush timer for both');
  clock.advance(200);
  t.equal(store.stats.transactions, 1, 'one transaction for 50 CDRs and a binding');
  t.equal(store.stats.rowsWritten, 51);
  t.equal(store.stats.cdrsWritten, 50);
  t.equal(store.stats.queued, 0);
  t.equal(clock.pending(), 0);
  const reader = openReadOnly(file);
  t.teardown(() => reader.close());
  t.same(reader.listCdrs().map(plain), Array.from({ length: 50 }, (_, i) => cdr(i)), 'every field round-trips, in order');
  t.equal(reader.listBindings(WALL).length, 1);
  // CDRs alone arm the timer too.
  store.insert(cdr(50));
  t.equal(clock.pending(), 1);
  clock.advance(200);
  t.equal(store.stats.transactions, 2);
  t.equal(reader.listCdrs().length, 51);
});

t.test('optional fields stay absent; the record is copied when queued', async (t) => {
  const { store, file } = setup(t);
  const minimal: CdrRecord = { callId: 'min@x', caller: '', dialled: '*72', status: 0, startedAt: WALL };
  store.insert(minimal);
  const mutable = cdr(2);
  store.insert(mutable);
  mutable.reason = 'changed after insert';
  mutable.status = 486;
  store.flush();
  const reader = openReadOnly(file);
  t.teardown(() => reader.close());
  const [a, b] = reader.listCdrs();
  t.same(plain(a!), minimal);
  for (const k of ['callerNumber', 'accountcode', 'destination', 'reason', 'answeredAt', 'endedAt', 'sourceAddress', 'destinationAddress', 'fromTag', 'toTag']) {
    t.notOk(k in a!, `${k} absent`);
  }
  t.equal(typeof a!.id, 'number');
  t.ok(b!.id > a!.id, 'ids increase');
  t.equal(b!.reason, 'answered', 'later changes to the object are not written');
  t.equal(b!.status, 200);
});

t.test('a bad record fails its caller and never joins the batch', async (t) => {
  const { store } = setup(t);
  t.throws(() => store.insert(cdr(1, { startedAt: Number.NaN })), RangeError);
  t.throws(() => store.insert({ ...cdr(1), startedAt: undefined } as unknown as CdrRecord), RangeError);
  t.equal(store.stats.queued, 0);
  // Missing required text in untyped callers becomes '' rather than a NOT NULL failure.
  store.insert({ callId: 'c', startedAt: WALL, status: 1.5 } as unknown as CdrRecord);
  store.flush();
  t.equal(store.stats.cdrsWritten, 1);
});

t.test('flush() and close() write pending CDRs; reopening keeps them', async (t) => {
  const { store, file } = setup(t);
  store.insert(cdr(1));
  store.flush();
  t.equal(store.stats.cdrsWritten, 1);
  store.insert(cdr(2));
  store.insert(cdr(3));
  store.close();
  t.throws(() => store.insert(cdr(4)), { code: 'SIPD_ERR_STORE_CLOSED' });
  const again = openStore(file, { clock: new FakeClock() });
  t.equal(again.stats.migrationsApplied, 0);
  again.insert(cdr(4));
  again.close();
  const reader = openReadOnly(file);
  t.teardown(() => reader.close());
  t.same(reader.listCdrs().map((c) => c.callId), ['call-1@10.0.0.1', 'call-2@10.0.0.1', 'call-3@10.0.0.1', 'call-4@10.0.0.1']);
});

t.test('a read-only reader sees flushed CDRs while the writer is open', async (t) => {
  const { store, file, clock } = setup(t);
  const reader = openReadOnly(file);
  t.teardown(() => reader.close());
  t.same(reader.listCdrs(), []);
  store.insert(cdr(1));
  t.same(reader.listCdrs(), [], 'not yet flushed');
  clock.advance(200);
  t.same(reader.listCdrs().map(plain), [cdr(1)]);
  const ro = new Database(file, { readonly: true });
  t.throws(() => ro.prepare('DELETE FROM cdr').run(), /readonly/i);
  ro.close();
});

t.test('since and limit; order by start time, then insertion', async (t) => {
  const { store, file } = setup(t);
  // Inserted out of start order (a long call ends after a short later one).
  store.insert(cdr(5, { callId: 'e' }));
  store.insert(cdr(1, { callId: 'a' }));
  store.insert(cdr(3, { callId: 'c1' }));
  store.insert(cdr(3, { callId: 'c2' }));
  store.insert(cdr(2, { callId: 'b' }));
  store.flush();
  const reader = openReadOnly(file);
  t.teardown(() => reader.close());
  const ids = (opts?: { since?: number; limit?: number }) => reader.listCdrs(opts).map((c) => c.callId);
  t.same(ids(), ['a', 'b', 'c1', 'c2', 'e']);
  t.same(ids({}), ['a', 'b', 'c1', 'c2', 'e']);
  t.same(ids({ since: WALL + 3000 }), ['c1', 'c2', 'e'], 'since is inclusive');
  t.same(ids({ since: WALL + 3001 }), ['e']);
  t.same(ids({ since: WALL + 10_000 }), []);
  t.same(ids({ since: -Infinity }), ['a', 'b', 'c1', 'c2', 'e']);
  t.same(ids({ limit: 2 }), ['a', 'b'], 'the earliest');
  t.same(ids({ since: WALL + 2000, limit: 2 }), ['b', 'c1']);
  t.same(ids({ limit: 0 }), []);
  t.throws(() => reader.listCdrs({ limit: -1 }), RangeError);
  t.throws(() => reader.listCdrs({ limit: 1.5 }), RangeError);
  t.throws(() => reader.listCdrs({ since: Number.NaN }), RangeError);
});

t.test('while the database refuses writes, CDRs wait in a capped queue', async (t) => {
  const { store, clock, file } = setup(t);
  store.close();
  const other = new Database(file);
  t.teardown(() => other.close());
  const slow = openStore(file, { clock, busyTimeoutMs: 0, maxQueuedCdrs: 3 });
  t.teardown(() => slow.close());
  other.exec('BEGIN IMMEDIATE');
  for (let i = 0; i < 5; i++) slow.insert(cdr(i));
  t.equal(slow.stats.queued, 3);
  t.equal(slow.stats.droppedCdrs, 2, 'beyond the cap: dropped and counted');
  t.throws(() => slow.flush(), { code: 'SIPD_ERR_STORE_WRITE' });
  clock.advance(200);
  t.equal(slow.stats.failedFlushes, 2);
  t.equal(slow.stats.queued, 3, 'kept for the retry');
  other.exec('COMMIT');
  clock.advance(200);
  t.equal(slow.stats.queued, 0);
  t.equal(slow.stats.cdrsWritten, 3);
  const reader = openReadOnly(file);
  t.teardown(() => reader.close());
  t.same(reader.listCdrs().map((c) => c.fromTag), ['f0', 'f1', 'f2']);
});
