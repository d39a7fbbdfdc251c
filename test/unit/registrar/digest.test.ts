/**
 * Digest math, challenges and verification: RFC 7616 §3.9.1 and RFC 2617
 * §3.5 known answers, an RFC 2069 (no qop) answer, SIPp-style MD5 computed
 * independently with node:crypto, SHA-512-256 and -sess round trips, every
 * failure reason, stale handling, nonce-count replay, and the rule that an
 * unknown user and a wrong password look the same.
 */
import t from 'tap';
import { createHash } from 'node:crypto';
import {
  challengeHeaders,
  computeResponse,
  DEFAULT_CHALLENGE_ALGORITHMS,
  parseDigestAlgorithm,
  parseDigestCredentials,
  verifyDigest,
  type DigestAlgorithm,
  type DigestAlgorithmName,
  type DigestCredentials,
  type DigestOutcome,
} from '../../../lib/registrar/digest.js';
import { NonceService, type NonceStatus, type NonceVerifier } from '../../../lib/registrar/nonce.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const REALM = 'sipd.test';
const SECRET = Buffer.alloc(32, 0x5a);

/** Accepts any nonce: for the RFC examples, whose nonces sipd did not mint. */
function anyNonce(status: NonceStatus = 'valid'): NonceVerifier & { counts: string[] } {
  const counts: string[] = [];
  return { counts, check: () => status, checkCount: (_n, nc) => (counts.push(String(nc)), true) };
}

/** An independent client: node:crypto directly, the RFC 7616 §3.4.1 formulas written out again. */
function clientResponse(o: {
  hash: string;
  sess?: boolean;
  user: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  qop?: string;
  nc?: string;
  cnonce?: string;
}): string {
  const H = (s: string | Buffer) => createHash(o.hash).update(s).digest('hex');
  let ha1 = H(`${o.user}:${o.realm}:${o.password}`);
  if (o.sess) ha1 = H(`${ha1}:${o.nonce}:${o.cnonce}`);
  const ha2 = H(`${o.method}:${o.uri}`);
  return o.qop ? H(`${ha1}:${o.nonce}:${o.nc}:${o.cnonce}:${o.qop}:${ha2}`) : H(`${ha1}:${o.nonce}:${ha2}`);
}

const NODE_HASH: Record<DigestAlgorithm, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

function setup(lifetimeSec = 300) {
  const clock = new FakeClock();
  const nonces = new NonceService({ secret: SECRET, clock, lifetimeSec, realm: REALM });
  return { clock, nonces };
}

/** A SIPp-style Authorization value (SIPp's [authentication] keyword layout: no spaces, MD5, qop=auth). */
function sippAuthorization(o: { user: string; password: string; nonce: string; uri: string; method: string; nc?: string; cnonce?: string; algorithm?: DigestAlgorithm; realm?: string }): string {
  const algorithm = o.algorithm ?? 'MD5';
  const nc = o.nc ?? '00000001';
  const cnonce = o.cnonce ?? '6b8b4567';
  const realm = o.realm ?? REALM;
  const response = clientResponse({ hash: NODE_HASH[algorithm], user: o.user, realm, password: o.password, method: o.method, uri: o.uri, nonce: o.nonce, qop: 'auth', nc, cnonce });
  return `Digest username="${o.user}",realm="${realm}",cnonce="${cnonce}",nc=${nc},qop=auth,uri="${o.uri}",nonce="${o.nonce}",response="${response}",algorithm=${algorithm}`;
}

function creds(value: string): DigestCredentials {
  const c = parseDigestCredentials(value);
  if (c === undefined) throw new Error(`did not parse: ${value}`);
  return c;
}

t.test('RFC 7616 §3.9.1: MD5 and SHA-256 known answers', async (t) => {
  const base = {
    username: 'Mufasa',
    realm: 'http-auth@example.org',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    qop: 'auth' as const,
    nc: '00000001',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
  };
  t.equal(computeResponse({ ...base, algorithm: 'MD5' }), '8ca523f5e9506fed4657c9700eebdbec');
  t.equal(computeResponse({ ...base, algorithm: 'SHA-256' }), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');

  // the RFC's Authorization headers, verbatim layout, parse and verify
  for (const [algorithm, response] of [
    ['MD5', '8ca523f5e9506fed4657c9700eebdbec'],
    ['SHA-256', '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1'],
  ] as const) {
    const header = `Digest username="Mufasa",
       realm="http-auth@example.org",
       uri="/dir/index.html",
       algorithm=${algorithm},
       nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v",
       nc=00000001,
       cnonce="f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ",
       qop=auth,
       response="${response}",
       opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`;
    const c = creds(header);
    t.equal(c.algorithm, algorithm);
    const nonces = anyNonce();
    const out = verifyDigest({ credentials: c, method: 'GET', password: 'Circle of Life', realm: 'http-auth@example.org', nonces, opaque: 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS' });
    t.same(out, { ok: true }, algorithm);
    t.same(nonces.counts, ['00000001'], 'the count was recorded');
    t.match(verifyDigest({ credentials: c, method: 'GET', password: 'Circle Of Life', realm: 'http-auth@example.org', nonces: anyNonce() }), { ok: false, reason: 'bad-password' }, 'capital O is another password (erratum 4495)');
  }
});

t.test('RFC 2617 §3.5 known answer (qop=auth) and the RFC 2069 form (no qop)', async (t) => {
  const base = { username: 'Mufasa', realm: 'testrealm@host.com', password: 'Circle Of Life', method: 'GET', uri: '/dir/index.html', nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093' };
  t.equal(computeResponse({ ...base, algorithm: 'MD5', qop: 'auth', nc: '00000001', cnonce: '0a4f113b' }), '6629fae49393a05397450978507c4ef1');
  t.equal(computeResponse({ ...base, algorithm: 'MD5' }), '670fd8c2df070c60b045671b8b24ff02');
  const c = creds('Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", qop=auth, nc=00000001, cnonce="0a4f113b", response="6629fae49393a05397450978507c4ef1", opaque="5ccc069c403ebaf9f0171e9517f40e41"');
  t.same(verifyDigest({ credentials: c, method: 'GET', password: 'Circle Of Life', realm: 'testrealm@host.com', nonces: anyNonce() }), { ok: true });
  t.equal(c.algorithm, 'MD5', 'MD5 when algorithm is absent');
});

t.test('SIPp-style MD5 REGISTER, computed independently, against a sipd nonce', async (t) => {
  const { nonces } = setup();
  const [challenge] = challengeHeaders({ realm: REALM, nonces });
  const nonce = /nonce="([^"]+)"/.exec(challenge!)![1]!;
  const value = sippAuthorization({ user: 'u0001', password: 'pw0001', nonce, uri: 'sip:127.0.0.1:5060', method: 'REGISTER' });
  const c = creds(value);
  t.same(verifyDigest({ credentials: c, method: 'REGISTER', password: 'pw0001', realm: REALM, nonces }), { ok: true });
  t.match(verifyDigest({ credentials: c, method: 'REGISTER', password: 'pw0001', realm: REALM, nonces }), { ok: false, stale: true, reason: 'replay' }, 'the same packet again');
  const next = creds(sippAuthorization({ user: 'u0001', password: 'pw0001', nonce, uri: 'sip:127.0.0.1:5060', method: 'REGISTER', nc: '00000002', cnonce: '327b23c6' }));
  t.same(verifyDigest({ credentials: next, method: 'REGISTER', password: 'pw0001', realm: REALM, nonces }), { ok: true }, 'refresh with nc=2 on the same nonce');
  // the method is part of HA2: the REGISTER credentials do not authorise an INVITE
  const third = creds(sippAuthorization({ user: 'u0001', password: 'pw0001', nonce, uri: 'sip:127.0.0.1:5060', method: 'REGISTER', nc: '00000003' }));
  t.match(verifyDigest({ credentials: third, method: 'INVITE', password: 'pw0001', realm: REALM, nonces }), { ok: false, reason: 'bad-password' });
});

t.test('INVITE: the digest uri need not equal the Request-URI (SIPp uses sip:HOST:PORT)', async (t) => {
  const { nonces } = setup();
  const nonce = nonces.issue();
  // Request-URI would be sip:1234@127.0.0.1:5060; SIPp's digest uri is the server address
  const c = creds(sippAuthorization({ user: 'u0002', password: 'secret', nonce, uri: 'sip:127.0.0.1:5060', method: 'INVITE' }));
  t.same(verifyDigest({ credentials: c, method: 'INVITE', password: 'secret', realm: REALM, nonces }), { ok: true });
});

t.test('every algorithm and its -sess form: computeResponse matches an independent client; round trip', async (t) => {
  const { nonces } = setup();
  const algs: DigestAlgorithmName[] = ['MD5', 'SHA-256', 'SHA-512-256', 'MD5-sess', 'SHA-256-sess', 'SHA-512-256-sess'];
  let nc = 0;
  for (const algorithm of algs) {
    const sess = algorithm.endsWith('-sess');
    const hash = NODE_HASH[algorithm.replace(/-sess$/, '') as DigestAlgorithm];
    const nonce = nonces.issue();
    const p = { user: 'alice', realm: REALM, password: 'p@ss w0rd', method: 'REGISTER', uri: 'sip:sipd.test', nonce, qop: 'auth', nc: (++nc).toString(16).padStart(8, '0'), cnonce: 'abc,def' };
    const want = clientResponse({ ...p, hash, sess });
    t.equal(computeResponse({ ...p, username: p.user, algorithm, qop: 'auth' }), want, algorithm);
    t.equal(want.length, algorithm.startsWith('MD5') ? 32 : 64);
    const header = `Digest username="alice", realm="${REALM}", nonce="${nonce}", uri="sip:sipd.test", response="${want}", algorithm=${algorithm}, qop=auth, nc=${p.nc}, cnonce="abc,def"`;
    t.same(verifyDigest({ credentials: creds(header), method: 'REGISTER', password: 'p@ss w0rd', realm: REALM, nonces }), { ok: true }, `${algorithm} verifies`);
  }
  // SHA-512-256 is not SHA-512 cut short (FIPS 180-4 §5.3.6: other initial values)
  const sha512cut = createHash('sha512').update('abc').digest('hex').slice(0, 64);
  t.not(createHash('sha512-256').update('abc').digest('hex'), sha512cut);
  t.equal(createHash('sha512-256').update('abc').digest('hex'), '53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23', 'FIPS 180-4 example');
});

t.test('no qop (RFC 2069 clients): accepted while fresh, without count tracking; stale afterwards', async (t) => {
  const { clock, nonces } = setup(60);
  const nonce = nonces.issue();
  const response = clientResponse({ hash: 'md5', user: 'old', realm: REALM, password: 'pw', method: 'REGISTER', uri: 'sip:sipd.test', nonce });
  const c = creds(`Digest username="old", realm="${REALM}", nonce="${nonce}", uri="sip:sipd.test", response="${response}"`);
  t.equal(c.qop, undefined);
  const input = { credentials: c, method: 'REGISTER', password: 'pw', realm: REALM, nonces };
  t.same(verifyDigest(input), { ok: true });
  t.same(verifyDigest(input), { ok: true }, 'no nonce-count, no replay detection (documented)');
  t.equal(nonces.tracked, 0);
  clock.advance(61_000);
  t.same(verifyDigest(input), { ok: false, stale: true, reason: 'bad-nonce' });
});

t.test('stale nonce: stale=true only when the digest is right', async (t) => {
  const { clock, nonces } = setup(300);
  const nonce = nonces.issue();
  clock.advance(300_001);
  const right = creds(sippAuthorization({ user: 'bob', password: 'right', nonce, uri: 'sip:sipd.test', method: 'REGISTER' }));
  t.same(verifyDigest({ credentials: right, method: 'REGISTER', password: 'right', realm: REALM, nonces }), { ok: false, stale: true, reason: 'bad-nonce' });
  t.same(verifyDigest({ credentials: right, method: 'REGISTER', password: 'other', realm: REALM, nonces }), { ok: false, stale: false, reason: 'bad-password' });
  t.same(verifyDigest({ credentials: right, method: 'REGISTER', password: undefined, realm: REALM, nonces }), { ok: false, stale: false, reason: 'unknown-user' });
  t.equal(nonces.tracked, 0, 'no count recorded for a stale nonce');
});

t.test('forged nonces: bad-nonce, not stale, whatever the password', async (t) => {
  const { nonces } = setup();
  const forged = 'AQAAAYzAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
  for (const nonce of [forged, 'dcd98b7102dd2f0e8b11d0f600bfb0c093', nonces.issue().slice(0, 30)]) {
    const c = creds(sippAuthorization({ user: 'bob', password: 'right', nonce, uri: 'sip:sipd.test', method: 'REGISTER' }));
    t.same(verifyDigest({ credentials: c, method: 'REGISTER', password: 'right', realm: REALM, nonces }), { ok: false, stale: false, reason: 'bad-nonce' }, nonce);
  }
  // a nonce minted by another sipd (other secret)
  const other = new NonceService({ secret: Buffer.alloc(32, 1), clock: new FakeClock(), realm: REALM }).issue();
  const c = creds(sippAuthorization({ user: 'bob', password: 'right', nonce: other, uri: 'sip:sipd.test', method: 'REGISTER' }));
  t.match(verifyDigest({ credentials: c, method: 'REGISTER', password: 'right', realm: REALM, nonces }), { ok: false, stale: false, reason: 'bad-nonce' });
});

t.test('replay: refused with stale=true; a wrong digest does not burn counts', async (t) => {
  const { nonces } = setup();
  const nonce = nonces.issue();
  const v = (nc: string, password = 'pw') =>
    verifyDigest({ credentials: creds(sippAuthorization({ user: 'carol', password, nonce, uri: 'sip:sipd.test', method: 'REGISTER', nc })), method: 'REGISTER', password: 'pw', realm: REALM, nonces });
  t.same(v('00000005', 'attacker-guess'), { ok: false, stale: false, reason: 'bad-password' });
  t.same(v('00000005'), { ok: true }, 'the failed attempt with nc=5 did not consume it');
  t.same(v('00000005'), { ok: false, stale: true, reason: 'replay' });
  t.same(v('00000004'), { ok: true }, 'out of order inside the window');
  t.same(v('00000006'), { ok: true });
  t.same(v('00000004'), { ok: false, stale: true, reason: 'replay' });
});

t.test('realm, algorithm, qop and opaque checks', async (t) => {
  const { nonces } = setup();
  const nonce = nonces.issue();
  let count = 0;
  const ok = (over: Partial<Parameters<typeof verifyDigest>[0]> & { header?: string }) =>
    verifyDigest({
      credentials: creds(over.header ?? sippAuthorization({ user: 'dave', password: 'pw', nonce, uri: 'sip:sipd.test', method: 'REGISTER', nc: (++count).toString(16).padStart(8, '0') })),
      method: 'REGISTER',
      password: 'pw',
      realm: REALM,
      nonces,
      ...over,
    });
  t.same(ok({ realm: 'other.test' }), { ok: false, stale: false, reason: 'realm' });
  t.same(
    ok({ header: sippAuthorization({ user: 'dave', password: 'pw', nonce, uri: 'sip:sipd.test', method: 'REGISTER', realm: 'SIPD.TEST' }) }),
    { ok: false, stale: false, reason: 'realm' },
    'realm is compared exactly',
  );
  t.same(ok({ algorithms: ['SHA-256'] }), { ok: false, stale: false, reason: 'algorithm' }, 'MD5 answer when only SHA-256 is offered: no downgrade');
  t.same(
    ok({ header: sippAuthorization({ user: 'dave', password: 'pw', nonce, uri: 'sip:sipd.test', method: 'REGISTER', algorithm: 'SHA-512-256', nc: '00abcdef' }), algorithms: ['MD5', 'SHA-256'] }),
    { ok: false, stale: false, reason: 'algorithm' },
    'SHA-512-256 not configured',
  );
  const resp = '0'.repeat(32);
  t.same(ok({ header: `Digest username="dave", realm="${REALM}", nonce="${nonce}", uri="sip:x", response="${resp}", algorithm=SHA-1` }), { ok: false, stale: false, reason: 'algorithm' });
  t.same(ok({ header: `Digest username="dave", realm="${REALM}", nonce="${nonce}", uri="sip:x", response="${resp}", algorithm=MD5, qop=auth-int, nc=00000001, cnonce="x"` }), { ok: false, stale: false, reason: 'malformed' });
  t.same(ok({ header: `Digest username="dave", realm="${REALM}", nonce="${nonce}", uri="sip:x", response="${resp}", algorithm=MD5-sess` }), { ok: false, stale: false, reason: 'malformed' }, '-sess without cnonce');
  t.same(ok({ opaque: 'expected-opaque' }), { ok: false, stale: false, reason: 'malformed' }, 'opaque not echoed');
  // hand-built credentials with qop but no nc (parse would refuse them)
  const hand: DigestCredentials = { ...creds(sippAuthorization({ user: 'dave', password: 'pw', nonce, uri: 'sip:x', method: 'REGISTER' })), nc: undefined };
  t.same(verifyDigest({ credentials: hand, method: 'REGISTER', password: 'pw', realm: REALM, nonces }), { ok: false, stale: false, reason: 'malformed' });
  // a response of the wrong length never matches, and does not throw
  t.same(ok({ header: `Digest username="dave", realm="${REALM}", nonce="${nonce}", uri="sip:x", response="abcd", algorithm=MD5, qop=auth, nc=00000001, cnonce="x"` }), { ok: false, stale: false, reason: 'bad-password' });
  t.same(ok({ header: `Digest username="dave", realm="${REALM}", nonce="${nonce}", uri="sip:x", response="${'a'.repeat(32)}", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="x"` }), { ok: false, stale: false, reason: 'bad-password' }, 'MD5-length response for SHA-256');
});

t.test('unknown user and wrong password: same outcome except reason; same challenge', async (t) => {
  const { nonces } = setup();
  const nonce = nonces.issue();
  const c = creds(sippAuthorization({ user: 'mallory', password: 'guess', nonce, uri: 'sip:sipd.test', method: 'REGISTER' }));
  const unknown = verifyDigest({ credentials: c, method: 'REGISTER', password: undefined, realm: REALM, nonces });
  const wrong = verifyDigest({ credentials: c, method: 'REGISTER', password: 'the-real-one', realm: REALM, nonces });
  t.same(unknown, { ok: false, stale: false, reason: 'unknown-user' });
  t.same(wrong, { ok: false, stale: false, reason: 'bad-password' });
  const { reason: _a, ...u } = unknown as Extract<DigestOutcome, { ok: false }>;
  const { reason: _b, ...w } = wrong as Extract<DigestOutcome, { ok: false }>;
  t.same(u, w, 'what the caller puts on the wire is the same');
  // an unknown user who happens to send the dummy's digest still fails
  t.same(verifyDigest({ credentials: c, method: 'REGISTER', password: undefined, realm: REALM, nonces }), unknown);

  // the challenge does not depend on who asks: same shape, only the nonce differs
  const a = challengeHeaders({ realm: REALM, nonces }).map((h) => h.replace(/nonce="[^"]+"/, 'nonce=""'));
  const b = challengeHeaders({ realm: REALM, nonces }).map((h) => h.replace(/nonce="[^"]+"/, 'nonce=""'));
  t.same(a, b);
});

t.test('unknown user costs the same order of work as a wrong password', async (t) => {
  const { nonces } = setup();
  const nonce = nonces.issue();
  const c = creds(sippAuthorization({ user: 'u', password: 'x', nonce, uri: 'sip:sipd.test', method: 'REGISTER', algorithm: 'SHA-256' }));
  const run = (password: string | undefined, n: number) => {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) verifyDigest({ credentials: c, method: 'REGISTER', password, realm: REALM, nonces, algorithms: ['SHA-256'] });
    return Number(process.hrtime.bigint() - t0);
  };
  run(undefined, 300);
  run('pw', 300);
  // interleaved rounds; the fastest round of each side filters out scheduler noise on shared cores
  let unknown = Infinity;
  let wrong = Infinity;
  for (let round = 0; round < 30; round++) {
    unknown = Math.min(unknown, run(undefined, 50));
    wrong = Math.min(wrong, run('wrong-password', 50));
  }
  const ratio = unknown / wrong;
  t.ok(ratio > 0.2 && ratio < 5, `time ratio unknown/wrong = ${ratio.toFixed(2)} (same order of magnitude)`);
});

t.test('outcomes never carry the password and are frozen', async (t) => {
  const { nonces } = setup();
  const nonce = nonces.issue();
  const password = 'Sup3r-Secret-Pa55';
  for (const header of [
    sippAuthorization({ user: 'erin', password, nonce, uri: 'sip:sipd.test', method: 'REGISTER' }),
    sippAuthorization({ user: 'erin', password: 'nope', nonce, uri: 'sip:sipd.test', method: 'REGISTER', nc: '00000002' }),
  ]) {
    const out = verifyDigest({ credentials: creds(header), method: 'REGISTER', password, realm: REALM, nonces });
    t.notMatch(JSON.stringify(out), /Sup3r/);
    t.ok(Object.isFrozen(out));
  }
});

t.test('non-ASCII: latin1 wire strings hashed as bytes, the password as UTF-8', async (t) => {
  const { nonces } = setup();
  const nonce = nonces.issue();
  const userUtf8 = Buffer.from('josé', 'utf8');
  const wireUser = userUtf8.toString('latin1'); // how sipd's message model holds it
  const H = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
  const ha1 = H(Buffer.concat([userUtf8, Buffer.from(`:${REALM}:`), Buffer.from('pässwörd', 'utf8')]));
  const ha2 = H('REGISTER:sip:sipd.test');
  const response = H(`${ha1}:${nonce}:00000001:c:auth:${ha2}`);
  const c = creds(`Digest username="${wireUser}", realm="${REALM}", nonce="${nonce}", uri="sip:sipd.test", response="${response}", qop=auth, nc=00000001, cnonce="c"`);
  t.same(verifyDigest({ credentials: c, method: 'REGISTER', password: 'pässwörd', realm: REALM, nonces }), { ok: true });
});

t.test('challenge headers', async (t) => {
  const { nonces } = setup();
  const def = challengeHeaders({ realm: REALM, nonces });
  t.equal(def.length, 2);
  t.same(DEFAULT_CHALLENGE_ALGORITHMS, ['MD5', 'SHA-256']);
  const re = /^Digest realm="sipd\.test", nonce="([A-Za-z0-9_-]{36})", algorithm=(MD5|SHA-256|SHA-512-256), qop="auth"$/;
  const m0 = re.exec(def[0]!);
  const m1 = re.exec(def[1]!);
  t.ok(m0 && m1, def.join(' | '));
  t.equal(m0![2], 'MD5', 'MD5 first for clients that read only the first challenge');
  t.equal(m1![2], 'SHA-256');
  t.equal(m0![1], m1![1], 'one nonce per response');
  t.equal(nonces.check(m0![1]!), 'valid');

  const custom = challengeHeaders({ realm: REALM, nonces, algorithms: ['SHA-512-256', 'SHA-256', 'MD5', 'SHA-256'] });
  t.same(custom.map((h) => /algorithm=([^,]+)/.exec(h)![1]), ['SHA-512-256', 'SHA-256', 'MD5'], 'configured order, duplicates dropped');
  t.same(challengeHeaders({ realm: REALM, nonces, algorithms: [] }).length, 2, 'empty list means the default');

  const stale = challengeHeaders({ realm: REALM, nonces, stale: true, opaque: 'op"q' });
  for (const h of stale) t.match(h, /^Digest realm="sipd\.test", nonce="[^"]+", opaque="op\\"q", algorithm=[A-Z0-9-]+, qop="auth", stale=true$/);
  t.notMatch(challengeHeaders({ realm: REALM, nonces, stale: false })[0]!, /stale/);
  t.match(challengeHeaders({ realm: 'a"b\\c', nonces })[0]!, /^Digest realm="a\\"b\\\\c", /, 'realm is quoted');

  // a client reading the first challenge can answer it
  const [first] = challengeHeaders({ realm: REALM, nonces });
  const nonce = /nonce="([^"]+)"/.exec(first!)![1]!;
  const alg = /algorithm=([^,]+)/.exec(first!)![1] as DigestAlgorithm;
  const c = creds(sippAuthorization({ user: 'frank', password: 'pw', nonce, uri: 'sip:sipd.test', method: 'REGISTER', algorithm: alg }));
  t.same(verifyDigest({ credentials: c, method: 'REGISTER', password: 'pw', realm: REALM, nonces, algorithms: DEFAULT_CHALLENGE_ALGORITHMS }), { ok: true });
});

t.test('parseDigestAlgorithm', async (t) => {
  t.equal(parseDigestAlgorithm('md5'), 'MD5');
  t.equal(parseDigestAlgorithm('Md5-SeSs'), 'MD5-sess');
  t.equal(parseDigestAlgorithm('sha-256'), 'SHA-256');
  t.equal(parseDigestAlgorithm('SHA-512-256-SESS'), 'SHA-512-256-sess');
  t.equal(parseDigestAlgorithm('SHA256'), undefined);
  t.equal(parseDigestAlgorithm('SHA-512'), undefined);
  t.equal(parseDigestAlgorithm(''), undefined);
});
