/**
 * Self-validating nonces (RFC 7616 §3.3) and the nonce-count replay window
 * (RFC 7616 §3.4): format, valid/stale/invalid with a fake clock, forgeries,
 * the replay window, bounded memory and the history floor after a restart.
 */
import t from 'tap';
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { NonceService, NONCE_LENGTH, MIN_SECRET_BYTES } from '../../../lib/registrar/nonce.js';
import { SipdError } from '../../../lib/util/errors.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const SECRET = Buffer.alloc(32, 7);

function service(opts: { clock?: FakeClock; lifetimeSec?: number; realm?: string; maxTracked?: number; secret?: Buffer } = {}) {
  const clock = opts.clock ?? new FakeClock();
  const nonces = new NonceService({
    secret: opts.secret ?? SECRET,
    clock,
    ...(opts.lifetimeSec !== undefined ? { lifetimeSec: opts.lifetimeSec } : {}),
    ...(opts.realm !== undefined ? { realm: opts.realm } : {}),
    ...(opts.maxTracked !== undefined ? { maxTracked: opts.maxTracked } : {}),
  });
  return { clock, nonces };
}

t.test('format: 36 base64url characters, unique, time inside', async (t) => {
  const { clock, nonces } = service();
  const seen = new Set<string>();
  let bad = 0;
  for (let i = 0; i < 2000; i++) {
    const n = nonces.issue();
    if (n.length !== NONCE_LENGTH || !/^[A-Za-z0-9_-]{36}$/.test(n)) bad++;
    seen.add(n);
  }
  t.equal(bad, 0, 'every nonce is 36 base64url characters');
  t.equal(seen.size, 2000, 'all distinct even within one millisecond');
  const b = Buffer.from(nonces.issue(), 'base64url');
  t.equal(b.length, 27);
  t.equal(b[0], 2, 'version');
  t.equal(b.readUIntBE(1, 6), clock.wallNow(), 'issue time in ms');
  // MAC = first 12 bytes of SHA-256(secret ‖ body ‖ realm), recomputed independently
  const mac = createHash('sha256').update(SECRET).update(b.subarray(0, 15)).digest().subarray(0, 12);
  t.same(b.subarray(15), mac);
});

t.test('version 1 nonces (HMAC, issued before the upgrade) stay valid until they expire', async (t) => {
  const { clock, nonces } = service({ realm: 'office.example', lifetimeSec: 300 });
  const v1 = Buffer.alloc(27);
  v1[0] = 1;
  v1.writeUIntBE(clock.wallNow(), 1, 6);
  Buffer.alloc(8, 0x5a).copy(v1, 7);
  createHmac('sha256', SECRET).update(v1.subarray(0, 15)).update('office.example').digest().copy(v1, 15, 0, 12);
  const n = v1.toString('base64url');
  t.equal(nonces.check(n), 'valid');
  t.ok(nonces.checkCount(n, '00000001'), 'its counts are tracked like any other');
  t.notOk(nonces.checkCount(n, '00000001'), 'and replays refused');
  // a version 1 nonce with a version 2 MAC, and the other way round, are forgeries
  const crossed = Buffer.from(v1);
  createHash('sha256').update(SECRET).update(v1.subarray(0, 15)).update('office.example').digest().copy(crossed, 15, 0, 12);
  t.equal(nonces.check(crossed.toString('base64url')), 'invalid', 'v1 with the v2 MAC');
  const v2 = Buffer.from(nonces.issue(), 'base64url');
  createHmac('sha256', SECRET).update(v2.subarray(0, 15)).update('office.example').digest().copy(v2, 15, 0, 12);
  t.equal(nonces.check(v2.toString('base64url')), 'invalid', 'v2 with the v1 MAC');
  clock.advance(300_001);
  t.equal(nonces.check(n), 'stale', 'and expire like the others');
});

t.test('valid while fresh, stale after the lifetime (fake clock)', async (t) => {
  const { clock, nonces } = service({ lifetimeSec: 300 });
  t.equal(nonces.lifetimeSec, 300);
  const n = nonces.issue();
  t.equal(nonces.check(n), 'valid');
  clock.advance(300_000);
  t.equal(nonces.check(n), 'valid', 'exactly at the lifetime');
  clock.advance(1);
  t.equal(nonces.check(n), 'stale', 'one ms later');
  clock.advance(86_400_000);
  t.equal(nonces.check(n), 'stale', 'long after: still authentic, still stale');
  t.equal(nonces.check(nonces.issue()), 'valid', 'a new one is fine');
});

t.test('default lifetime is 300 s', async (t) => {
  const { clock, nonces } = service();
  const n = nonces.issue();
  clock.advance(299_999);
  t.equal(nonces.check(n), 'valid');
  clock.advance(2);
  t.equal(nonces.check(n), 'stale');
});

t.test('survives a restart: same secret, new service', async (t) => {
  const clock = new FakeClock();
  const a = new NonceService({ secret: SECRET, clock });
  const n = a.issue();
  clock.advance(10_000);
  const b = new NonceService({ secret: Buffer.from(SECRET), clock });
  t.equal(b.check(n), 'valid');
  const c = new NonceService({ secret: Buffer.alloc(32, 8), clock });
  t.equal(c.check(n), 'invalid', 'another secret');
});

t.test('the realm is bound into the MAC', async (t) => {
  const clock = new FakeClock();
  const a = new NonceService({ secret: SECRET, clock, realm: 'office.example' });
  const b = new NonceService({ secret: SECRET, clock, realm: 'other.example' });
  const n = a.issue();
  t.equal(a.check(n), 'valid');
  t.equal(b.check(n), 'invalid');
});

t.test('a nonce from the future (wall clock stepped back) is stale, not valid', async (t) => {
  const clock = new FakeClock({ wall: Date.UTC(2024, 0, 1, 12) });
  const { nonces } = service({ clock });
  const later = new FakeClock({ wall: Date.UTC(2024, 0, 1, 13) });
  const fromFuture = new NonceService({ secret: SECRET, clock: later }).issue();
  t.equal(nonces.check(fromFuture), 'stale');
  const slightly = new NonceService({ secret: SECRET, clock: new FakeClock({ wall: Date.UTC(2024, 0, 1, 12) + 2000 }) }).issue();
  t.equal(nonces.check(slightly), 'valid', 'a little skew is tolerated');
});

t.test('forged, truncated and garbage nonces are invalid, never throw', async (t) => {
  const { nonces } = service();
  const good = nonces.issue();
  const b = Buffer.from(good, 'base64url');

  // every single-bit flip of the decoded bytes
  const accepted: string[] = [];
  for (let i = 0; i < b.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const f = Buffer.from(b);
      f[i]! ^= 1 << bit;
      if (nonces.check(f.toString('base64url')) !== 'invalid') accepted.push(`byte ${i} bit ${bit}`);
    }
  }
  t.same(accepted, [], 'every single-bit flip is invalid');
  // a later issue time with the old MAC (try to extend the lifetime)
  const moved = Buffer.from(b);
  moved.writeUIntBE(b.readUIntBE(1, 6) + 1_000_000, 1, 6);
  t.equal(nonces.check(moved.toString('base64url')), 'invalid');
  // a MAC made with another key
  const other = Buffer.from(b);
  createHash('sha256').update(Buffer.alloc(32, 9)).update(b.subarray(0, 15)).digest().copy(other, 15, 0, 12);
  t.equal(nonces.check(other.toString('base64url')), 'invalid');

  const garbage: unknown[] = [
    '', 'x', good.slice(0, 35), good + 'A', good.slice(1), `${good.slice(0, 35)}=`, `${good.slice(0, 35)}+`,
    `${good.slice(0, 35)}/`, good.replace(/./, '!'), ' '.repeat(36), good.toUpperCase() === good ? 'A'.repeat(36) : good.toUpperCase(),
    'A'.repeat(36), '_'.repeat(36), randomBytes(27).toString('base64url'), Buffer.from(good).toString('base64'),
    `"${good}"`, 'dcd98b7102dd2f0e8b11d0f600bfb0c093', '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v', '\u0000'.repeat(36),
    'é'.repeat(36), undefined, null, 42, {},
  ];
  for (const g of garbage) t.equal(nonces.check(g as string), 'invalid', JSON.stringify(g));
  // a version byte other than 1 and 2 with a MAC that would be right for either format
  for (const mk of [(x: Buffer) => createHash('sha256').update(SECRET).update(x).digest(), (x: Buffer) => createHmac('sha256', SECRET).update(x).digest()]) {
    const v3 = Buffer.from(b);
    v3[0] = 3;
    mk(v3.subarray(0, 15)).copy(v3, 15, 0, 12);
    t.equal(nonces.check(v3.toString('base64url')), 'invalid', 'unknown version');
  }
});

t.test('nonce-count: increasing accepted, replay refused', async (t) => {
  const { nonces } = service();
  const n = nonces.issue();
  t.ok(nonces.checkCount(n, '00000001'));
  t.notOk(nonces.checkCount(n, '00000001'), 'same nc again');
  t.ok(nonces.checkCount(n, '00000002'));
  t.ok(nonces.checkCount(n, '0000000A'), 'hex, upper case');
  t.notOk(nonces.checkCount(n, '0000000a'), 'same value in lower case');
  t.notOk(nonces.checkCount(n, 10));
  t.ok(nonces.checkCount(n, 11), 'numbers work too');
  t.notOk(nonces.checkCount(n, '00000002'), 'already seen');
  const m = nonces.issue();
  t.ok(nonces.checkCount(m, '00000001'), 'counts are per nonce');
  t.equal(nonces.tracked, 2);
});

t.test('nonce-count: out of order within the 32 window, once each', async (t) => {
  const { nonces } = service();
  const n = nonces.issue();
  t.ok(nonces.checkCount(n, 3));
  t.ok(nonces.checkCount(n, 1), 'parallel request that arrived late');
  t.ok(nonces.checkCount(n, 2));
  t.notOk(nonces.checkCount(n, 1));
  t.notOk(nonces.checkCount(n, 2));
  t.notOk(nonces.checkCount(n, 3));
  t.ok(nonces.checkCount(n, 40));
  t.ok(nonces.checkCount(n, 8), '40 - 32 = 8 is the oldest count inside the window');
  t.notOk(nonces.checkCount(n, 7), 'older than the window: refused even though never seen');
  t.notOk(nonces.checkCount(n, 8));
  // a jump of exactly 32 keeps the old max as the oldest bit
  t.ok(nonces.checkCount(n, 72));
  t.notOk(nonces.checkCount(n, 40), 'old max is remembered after a 32 jump');
  t.ok(nonces.checkCount(n, 41));
  // a big jump clears the window
  t.ok(nonces.checkCount(n, 1000));
  t.notOk(nonces.checkCount(n, 72));
  t.ok(nonces.checkCount(n, 999));
  t.notOk(nonces.checkCount(n, 999));
  t.ok(nonces.checkCount(n, 0xffffffff), 'the largest count');
  t.notOk(nonces.checkCount(n, 0xffffffff));
});

t.test('nonce-count: property check against a model', async (t) => {
  const { nonces } = service();
  const n = nonces.issue();
  const seen = new Set<number>();
  let max = 0;
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let i = 0; i < 5000; i++) {
    const nc = Math.max(1, max + Math.floor(rnd() * 50) - 38);
    const want = !seen.has(nc) && (nc > max || max - nc <= 32);
    const got = nonces.checkCount(n, nc.toString(16).padStart(8, '0'));
    if (got !== want) {
      t.fail(`nc=${nc} max=${max}: got ${got}, want ${want}`);
      break;
    }
    if (got) {
      seen.add(nc);
      if (nc > max) max = nc;
    }
  }
  t.pass('model agrees');
});

t.test('nonce-count: malformed counts are refused', async (t) => {
  const { nonces } = service();
  const n = nonces.issue();
  for (const nc of ['', '0', '00000000', '000000001', 'g0000001', '-0000001', ' 0000001', '0x000001', '1.5']) {
    t.notOk(nonces.checkCount(n, nc), JSON.stringify(nc));
  }
  for (const nc of [0, -1, 1.5, NaN, Infinity, 2 ** 32]) t.notOk(nonces.checkCount(n, nc), String(nc));
  t.notOk(nonces.checkCount('garbage', 1), 'undecodable nonce');
  t.equal(nonces.tracked, 0);
});

t.test('entries die with the nonce lifetime (lazy, no timers)', async (t) => {
  const { clock, nonces } = service({ lifetimeSec: 60 });
  for (let i = 0; i < 20; i++) t.ok(nonces.checkCount(nonces.issue(), 1));
  t.equal(nonces.tracked, 20);
  t.equal(clock.pending(), 0, 'no timer was set');
  clock.advance(60_001);
  const fresh = nonces.issue();
  t.ok(nonces.checkCount(fresh, 1));
  t.equal(nonces.tracked, 1, 'expired entries swept on the next call');
});

t.test('a stale nonce never gets a count, even after its entry was swept', async (t) => {
  const { clock, nonces } = service({ lifetimeSec: 60 });
  const n = nonces.issue();
  t.ok(nonces.checkCount(n, 1));
  clock.advance(61_000);
  t.ok(nonces.checkCount(nonces.issue(), 1)); // sweeps n
  t.notOk(nonces.checkCount(n, 1), 'not accepted as new');
});

t.test('hard cap: oldest evicted, and its nonce is not trusted again', async (t) => {
  const { clock, nonces } = service({ maxTracked: 100 });
  const issued: string[] = [];
  for (let i = 0; i < 250; i++) {
    const n = nonces.issue();
    issued.push(n);
    t.ok(nonces.checkCount(n, 1));
    t.ok(nonces.tracked <= 100);
    clock.advance(1);
  }
  t.equal(nonces.tracked, 100);
  // the evicted ones lost their history: a replay must not pass
  t.notOk(nonces.checkCount(issued[0]!, 1), 'replay of an evicted nonce refused');
  t.notOk(nonces.checkCount(issued[0]!, 2), 'even with a new count (history unknown)');
  t.notOk(nonces.checkCount(issued[149]!, 2), 'last evicted one');
  t.ok(nonces.checkCount(issued[150]!, 2), 'tracked ones keep working');
  t.notOk(nonces.checkCount(issued[150]!, 2));
  t.ok(nonces.checkCount(nonces.issue(), 1), 'new nonces keep working');
});

t.test('memory stays bounded under a flood of distinct nonces', async (t) => {
  const { nonces } = service({ maxTracked: 1000 });
  for (let i = 0; i < 20_000; i++) nonces.checkCount(nonces.issue(), 1);
  t.equal(nonces.tracked, 1000);
});

t.test('after a restart, counts for older nonces are refused (history lost), new ones work', async (t) => {
  const clock = new FakeClock();
  const before = new NonceService({ secret: SECRET, clock });
  const old = before.issue();
  t.ok(before.checkCount(old, 1));
  clock.advance(5_000);
  const after = new NonceService({ secret: SECRET, clock });
  t.equal(after.check(old), 'valid', 'still authentic and fresh');
  t.notOk(after.checkCount(old, 2), 'but its history is gone: the verifier answers stale=true');
  const n = after.issue();
  t.ok(after.checkCount(n, 1), 'issued at construction time: fine');
});

t.test('setLifetime keeps the history and changes freshness', async (t) => {
  const { clock, nonces } = service({ lifetimeSec: 60 });
  const n = nonces.issue();
  t.ok(nonces.checkCount(n, 1));
  nonces.setLifetime(60);
  t.equal(nonces.tracked, 1);
  clock.advance(90_000);
  t.equal(nonces.check(n), 'stale');
  nonces.setLifetime(120);
  t.equal(nonces.lifetimeSec, 120);
  t.equal(nonces.check(n), 'valid', 'longer lifetime');
  t.notOk(nonces.checkCount(n, 1), 'history kept across the change');
  t.ok(nonces.checkCount(n, 2));
  // an entry swept under a short lifetime cannot come back when it grows
  nonces.setLifetime(10);
  const m = nonces.issue();
  t.ok(nonces.checkCount(m, 1));
  clock.advance(11_000);
  t.ok(nonces.checkCount(nonces.issue(), 1)); // sweeps m
  nonces.setLifetime(300);
  t.equal(nonces.check(m), 'valid');
  t.notOk(nonces.checkCount(m, 1), 'replay of a swept nonce refused');
  t.throws(() => nonces.setLifetime(0));
  t.throws(() => nonces.setLifetime(NaN));
});

t.test('options are checked', async (t) => {
  const clock = new FakeClock();
  t.throws(() => new NonceService({ secret: Buffer.alloc(MIN_SECRET_BYTES - 1), clock }), { code: 'SIPD_ERR_NONCE_OPTIONS' });
  t.throws(() => new NonceService({ secret: 'x'.repeat(64) as unknown as Uint8Array, clock }), SipdError);
  t.throws(() => new NonceService({ secret: SECRET, clock, lifetimeSec: -1 }), { code: 'SIPD_ERR_NONCE_OPTIONS' });
  t.throws(() => new NonceService({ secret: SECRET, clock, maxTracked: 0 }), { code: 'SIPD_ERR_NONCE_OPTIONS' });
  const secret = Buffer.alloc(32, 1);
  const s = new NonceService({ secret, clock });
  const n = s.issue();
  secret.fill(2);
  t.equal(s.check(n), 'valid', 'the secret is copied');
  try {
    new NonceService({ secret: Buffer.alloc(8, 0x41), clock });
  } catch (e) {
    t.notMatch((e as Error).message, /AAAA/, 'the secret is not in the message');
  }
});
