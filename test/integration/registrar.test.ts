// The registrar on real UDP sockets (in-process server, real SQLite file in a
// temporary working directory): digest challenges and responses, expiry
// rules, Contact handling as phones need it, no user enumeration.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { SipdServer } from '../../lib/server.js';
import { silentLogger } from '../../lib/util/log.js';
import { workDir } from '../helpers/sipd-process.js';
import { SipClient, authorization, parseChallenge } from '../helpers/sip-client.js';
import type { TapTest } from '../helpers/tap.js';

export const CONF = `[general]
realm=sipd.test
minexpires=60
maxexpires=3600
defaultexpires=1800

[alice]
accountcode=OFFICE
secret=alice-pw
exten=4955550101#101

[bob]
accountcode=OFFICE
secret=bob-pw
; loopback is outside bob's permit
permit=10.0.0.0/8
exten=#102

[carol]
accountcode=OFFICE
secret=carol-pw
exten=4955550103#103

[static]
accountcode=OFFICE
host=127.0.0.1:5999
exten=#109
`;

async function setup(t: TapTest, conf = CONF): Promise<{ server: SipdServer; client: SipClient; dir: string }> {
  const dir = workDir(conf);
  const server = await SipdServer.start({ bind: { address: '127.0.0.1', port: 0 }, log: silentLogger, workDir: dir, numbering: { countryCode: '7', cityCode: '495' } });
  t.teardown(() => server.close());
  const client = await SipClient.open(server.address.port);
  t.teardown(() => client.close());
  return { server, client, dir };
}

t.test('401 with MD5 first, then SHA-256, qop="auth", the configured realm', async (t) => {
  const { client } = await setup(t);
  const res = await client.send(client.register({ user: 'alice', callId: client.newCallId(), cseq: 1 }));
  t.equal(res.status, 401);
  const chs = res.getAll('www-authenticate');
  t.equal(chs.length, 2);
  t.match(chs[0], /^Digest /);
  t.same(chs.map((c) => parseChallenge(c).algorithm), ['MD5', 'SHA-256']);
  for (const c of chs.map(parseChallenge)) {
    t.equal(c.realm, 'sipd.test');
    t.equal(c.qop, 'auth');
    t.ok(c.nonce.length >= 16);
  }
});

t.test('REGISTER with MD5 and with SHA-256 credentials: 200 echoing the Contact exactly, with expires', async (t) => {
  const { client, server } = await setup(t);
  const contact = `<sip:alice@127.0.0.1:${client.peer.port};transport=udp;rinstance=6f8e2c1a>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-0004f2a1b2c3>";reg-id=1;X-Odd=Yes`;
  const { res } = await client.registerWithAuth({ user: 'alice', password: 'alice-pw', contacts: [contact], expires: 600 });
  t.equal(res.status, 200, res.reason);
  t.same(res.getAll('contact'), [`${contact};expires=600`], 'echoed byte for byte, expires added');
  t.ok(res.has('date'));
  t.equal(server.location.lookup('alice').length, 1);
  t.equal(server.location.lookup('alice')[0]!.source.port, client.peer.port, 'source address stored beside the contact');
  const sha = await client.registerWithAuth({ user: 'carol', password: 'carol-pw', algorithm: 'SHA-256' });
  t.equal(sha.res.status, 200, 'SHA-256 digest accepted');
});

t.test('the long number works as the AOR user; the AOR host must be sipd', async (t) => {
  const { client, server } = await setup(t);
  // The digest username is still the section name.
  const callId = client.newCallId();
  const ch = await client.send(client.register({ user: '4955550101', callId, cseq: 1 }));
  t.equal(ch.status, 401);
  const authz = authorization(parseChallenge(ch.getAll('www-authenticate')[0]!), { username: 'alice', password: 'alice-pw', method: 'REGISTER', uri: 'sip:127.0.0.1' });
  const ok = await client.send(client.register({ user: '4955550101', callId, cseq: 2, authz }));
  t.equal(ok.status, 200, ok.reason);
  t.equal(server.location.lookup('alice').length, 1);
  const other = await client.send(client.register({ user: 'alice', domain: 'elsewhere.example', callId: client.newCallId(), cseq: 1 }));
  t.equal(other.status, 404);
  const realm = await client.registerWithAuth({ user: 'alice', password: 'alice-pw', domain: 'sipd.test' });
  t.equal(realm.res.status, 200, 'the realm is one of sipd\'s names');
});

t.test('unknown user, wrong password, outside permit and static client: indistinguishable 401s', async (t) => {
  const { client } = await setup(t);
  const shapes: string[] = [];
  for (const [user, password] of [['nobody', 'x'], ['alice', 'wrong'], ['bob', 'bob-pw'], ['static', 'x']] as const) {
    const { res } = await client.registerWithAuth({ user, password });
    t.equal(res.status, 401, `${user}: 401`);
    // Everything but the nonce values and tags is the same.
    shapes.push(
      [res.status, res.reason, ...res.headers.map((h) => `${h.name}: ${h.name === 'www-authenticate' ? h.value.replace(/nonce="[^"]*"/, 'nonce=N') : h.name}`)].join('\n'),
    );
  }
  t.equal(new Set(shapes).size, 1, 'same status, reason, headers and challenges');
});

t.test('expiry: 423 below the minimum, clamped to the maximum, default from [general], removal with 0', async (t) => {
  const { client, server } = await setup(t);
  const brief = await client.registerWithAuth({ user: 'alice', password: 'alice-pw', expires: 10 });
  t.equal(brief.res.status, 423);
  t.equal(brief.res.get('min-expires'), '60');
  const long = await client.registerWithAuth({ user: 'alice', password: 'alice-pw', expires: 99999 });
  t.equal(long.res.status, 200);
  t.match(long.res.get('contact'), /;expires=3600$/, 'clamped, and the 200 OK says so');
  const def = await client.registerWithAuth({ user: 'carol', password: 'carol-pw' });
  t.match(def.res.get('contact'), /;expires=1800$/, 'defaultexpires when the phone says nothing');
  // A Contact's expires parameter wins over the Expires header
  const param = await client.registerWithAuth({ user: 'carol', password: 'carol-pw', contacts: [`<sip:carol@127.0.0.1:${client.peer.port}>;expires=120`], expires: 3000 });
  t.match(param.res.get('contact'), /;expires=120$/);
  const gone = await client.registerWithAuth({ user: 'alice', password: 'alice-pw', expires: 0, callId: long.callId, cseq: long.cseq + 1 });
  t.equal(gone.res.status, 200);
  t.equal(gone.res.get('contact'), undefined, 'no bindings left');
  t.equal(server.location.lookup('alice').length, 0);
});

t.test('several contacts with q; Contact: * with Expires: 0; out-of-order CSeq refused', async (t) => {
  const { client, server } = await setup(t);
  const p = client.peer.port;
  const first = await client.registerWithAuth({
    user: 'alice',
    password: 'alice-pw',
    contacts: [`<sip:alice@127.0.0.1:${p};line=1>;q=0.5`, `<sip:alice@127.0.0.1:${p};line=2>;q=1.0`],
  });
  t.equal(first.res.status, 200);
  t.equal(first.res.getAll('contact').length, 2);
  t.same(server.location.lookup('alice').map((b) => b.q), [1, 0.5], 'q kept, highest first');
  // the same Call-ID with a lower CSeq is refused (RFC 3261 §10.3 step 7)
  const chs = first.challenge.getAll('www-authenticate').map(parseChallenge);
  const stale = await client.send(
    client.register({ user: 'alice', callId: first.callId, cseq: 1, authz: authorization(chs[0]!, { username: 'alice', password: 'alice-pw', method: 'REGISTER', uri: 'sip:127.0.0.1', nc: 2 }) }),
  );
  t.equal(stale.status, 400);
  t.match(stale.reason, /CSeq/);
  const bad = await client.registerWithAuth({ user: 'alice', password: 'alice-pw', contacts: ['*'], expires: 60 });
  t.equal(bad.res.status, 400, 'Contact: * needs Expires: 0');
  const all = await client.registerWithAuth({ user: 'alice', password: 'alice-pw', contacts: ['*'], expires: 0, callId: first.callId, cseq: first.cseq + 1 });
  t.equal(all.res.status, 200);
  t.equal(server.location.lookup('alice').length, 0, 'every binding removed');
});

/**
 * A REGISTER of alice with credentials for a fresh challenge (got with CSeq `cseq - 1`): one
 * text, to send as often as a test needs — the same branch, nonce and nonce count each time.
 */
async function authorizedRegister(client: SipClient, o: { callId: string; cseq: number; expires: number }): Promise<string> {
  const challenge = await client.send(client.register({ user: 'alice', callId: o.callId, cseq: o.cseq - 1 }));
  const ch = challenge.getAll('www-authenticate').map(parseChallenge)[0]!;
  const authz = authorization(ch, { username: 'alice', password: 'alice-pw', method: 'REGISTER', uri: 'sip:127.0.0.1' });
  return client.register({ user: 'alice', callId: o.callId, cseq: o.cseq, expires: o.expires, authz });
}

t.test('a retransmitted REGISTER within timer J gets the 200 OK again, with the bindings as they are then', async (t) => {
  const { client, server } = await setup(t);
  const callId = client.newCallId();
  // One text, sent several times: a replay for the digest check.
  const text = await authorizedRegister(client, { callId, cseq: 2, expires: 600 });
  const first = await client.send(text);
  t.equal(first.status, 200, first.reason);
  t.equal(first.getAll('contact').length, 1);
  const again = await client.send(text);
  t.equal(again.status, 200, 'the retransmission is answered like the request, not refused as a nonce-count replay');
  t.equal(again.callId, callId);
  t.equal(again.cseq.seq, 2);
  t.same(again.getAll('contact'), first.getAll('contact'), 'the same binding');
  t.equal(server.location.lookup('alice').length, 1, 'nothing registered twice');
  t.same(server.transactionCount, { client: 0, server: 0 }, 'the registrar recognises retransmissions: no transaction state kept');
  // Another REGISTER removes every binding of alice; the old request's retransmission is then a replay.
  const gone = await client.registerWithAuth({ user: 'alice', password: 'alice-pw', contacts: ['*'], expires: 0 });
  t.equal(gone.res.status, 200);
  const late = await client.send(text);
  t.equal(late.status, 401, 'no binding of that request is left: a nonce-count replay');
  t.equal(server.location.lookup('alice').length, 0, 'the retransmission did not register again');
});

t.test('a copy of a REGISTER from another address is no retransmission: a nonce-count replay', async (t) => {
  const { client, server } = await setup(t);
  const text = await authorizedRegister(client, { callId: client.newCallId(), cseq: 2, expires: 600 });
  t.equal((await client.send(text)).status, 200);
  const other = await SipClient.open(server.address.port);
  t.teardown(() => other.close());
  const spoofed = await other.send(text);
  t.equal(spoofed.status, 401, 'refused');
  t.match(spoofed.get('www-authenticate'), /stale=true/);
  t.equal(other.peer.received.length, 1, 'and nothing else: no 200 OK with the bindings');
  t.equal(client.peer.received.length, 2, 'the phone gets nothing either');
  t.equal(server.location.lookup('alice')[0]!.source.port, client.peer.port, 'the binding is unchanged');
});

t.test('a retransmitted unREGISTER within timer J gets the 200 OK again from the transaction layer', async (t) => {
  const { client, server } = await setup(t);
  const made = await client.registerWithAuth({ user: 'alice', password: 'alice-pw' });
  t.equal(made.res.status, 200);
  const text = await authorizedRegister(client, { callId: made.callId, cseq: made.cseq + 2, expires: 0 });
  const first = await client.send(text);
  t.equal(first.status, 200, first.reason);
  t.equal(server.location.lookup('alice').length, 0);
  t.equal(server.transactionCount.server, 1, 'no binding carries the request: the layer keeps its key');
  const again = await client.send(text);
  t.equal(again.status, 200, 'the retransmission is answered like the request');
  t.same(again.getAll('contact'), [], 'no bindings');
});

t.test('a re-REGISTER from a new source port with the same Call-ID replaces the binding', async (t) => {
  const { client, server } = await setup(t);
  const first = await client.registerWithAuth({ user: 'alice', password: 'alice-pw' });
  t.equal(first.res.status, 200);
  const moved = await SipClient.open(server.address.port);
  t.teardown(() => moved.close());
  const again = await moved.registerWithAuth({ user: 'alice', password: 'alice-pw', callId: first.callId, cseq: first.cseq + 1 });
  t.equal(again.res.status, 200);
  const b = server.location.lookup('alice');
  t.equal(b.length, 1, 'no stale binding piles up');
  t.equal(b[0]!.source.port, moved.peer.port);
});

t.test('several accounts registering from one IP:port are told apart by their credentials', async (t) => {
  const { client, server } = await setup(t);
  const a = await client.registerWithAuth({ user: 'alice', password: 'alice-pw', contacts: [`<sip:alice@127.0.0.1:${client.peer.port}>`] });
  const c = await client.registerWithAuth({ user: 'carol', password: 'carol-pw', contacts: [`<sip:carol@127.0.0.1:${client.peer.port}>`] });
  t.equal(a.res.status, 200);
  t.equal(c.res.status, 200);
  t.equal(server.location.lookup('alice')[0]!.contactUri, `sip:alice@127.0.0.1:${client.peer.port}`);
  t.equal(server.location.lookup('carol')[0]!.contactUri, `sip:carol@127.0.0.1:${client.peer.port}`);
  t.equal(server.location.lookup('alice')[0]!.source.port, server.location.lookup('carol')[0]!.source.port, 'same source');
});

t.test('credentials of one account cannot register another', async (t) => {
  const { client } = await setup(t);
  const callId = client.newCallId();
  const ch = await client.send(client.register({ user: 'carol', callId, cseq: 1 }));
  const authz = authorization(parseChallenge(ch.getAll('www-authenticate')[0]!), { username: 'alice', password: 'alice-pw', method: 'REGISTER', uri: 'sip:127.0.0.1' });
  const res = await client.send(client.register({ user: 'carol', callId, cseq: 2, authz }));
  t.equal(res.status, 403);
});

t.test('SUBSCRIBE gets 489 and PUBLISH 405 at once', async (t) => {
  const { client } = await setup(t);
  const sub = client.register({ user: 'alice', callId: client.newCallId(), cseq: 1 }).replace(/REGISTER/g, 'SUBSCRIBE').replace('Content-Length: 0', 'Event: message-summary\r\nContent-Length: 0');
  t.equal((await client.send(sub)).status, 489);
  const pub = client.register({ user: 'alice', callId: client.newCallId(), cseq: 1 }).replace(/REGISTER/g, 'PUBLISH').replace('Content-Length: 0', 'Event: presence\r\nContent-Length: 0');
  const r = await client.send(pub);
  t.equal(r.status, 405);
  t.match(r.get('allow'), /REGISTER/);
});

t.test('bindings survive a restart; a reload that removes a client drops its bindings', async (t) => {
  const dir = workDir(CONF);
  const start = () => SipdServer.start({ bind: { address: '127.0.0.1', port: 0 }, log: silentLogger, workDir: dir, numbering: { countryCode: '7', cityCode: '495' } });
  let server = await start();
  const client = await SipClient.open(server.address.port);
  t.teardown(() => client.close());
  t.equal((await client.registerWithAuth({ user: 'alice', password: 'alice-pw' })).res.status, 200);
  t.equal((await client.registerWithAuth({ user: 'carol', password: 'carol-pw' })).res.status, 200);
  await server.close();
  server = await start();
  t.teardown(() => server.close());
  t.equal(server.location.lookup('alice').length, 1, 'alice restored');
  t.equal(server.location.lookup('carol').length, 1, 'carol restored');
  const dave = '\n[dave]\naccountcode=OFFICE\nsecret=dave-pw\nexten=#104\n';
  const client2 = await SipClient.open(server.address.port);
  t.teardown(() => client2.close());
  t.equal((await client2.registerWithAuth({ user: 'dave', password: 'dave-pw' })).res.status, 401, 'dave is not in sip.conf yet');
  fs.writeFileSync(path.join(dir, 'sip.conf'), CONF.replace(/\[carol\][^[]*/, '') + dave);
  const st = server.reload('test');
  t.ok(st.ok);
  t.equal(server.location.lookup('carol').length, 0, 'carol dropped');
  t.equal(server.location.lookup('alice').length, 1, 'alice kept');
  t.equal((await client2.registerWithAuth({ user: 'dave', password: 'dave-pw' })).res.status, 200, 'a client added by the reload can register');
});
