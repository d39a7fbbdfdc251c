// The minimal server on real sockets: OPTIONS, 501 for what is not handled
// yet, 400 for malformed requests with a usable Via, silence for garbage,
// absorption of retransmissions, an empty transaction table after a burst.
import t from 'tap';
import type { TapTest } from '../helpers/tap.js';
import { SipdServer } from '../../lib/server.js';
import { silentLogger } from '../../lib/util/log.js';
import { parseMessage } from '../../lib/sip/parse.js';
import type { SipResponse } from '../../lib/sip/message.js';
import { TcpPeer, UdpPeer, request } from '../helpers/udp-peer.js';
import { workDir } from '../helpers/sipd-process.js';

async function server(t: TapTest, host = '127.0.0.1'): Promise<SipdServer> {
  const s = await SipdServer.start({
    bind: { address: host, port: 0 },
    log: silentLogger,
    workDir: workDir(),
    numbering: { countryCode: '7', cityCode: '495' },
    timers: { t1: 10, t2: 40, t4: 50 },
  });
  t.teardown(() => s.close());
  return s;
}

async function peer(t: TapTest, family: 4 | 6 = 4): Promise<UdpPeer> {
  const p = await UdpPeer.open(family);
  t.teardown(() => p.close());
  return p;
}


const res = (s: string) => parseMessage(Buffer.from(s, 'latin1')) as SipResponse;

t.test('OPTIONS to sipd itself gets 200 with Allow, Accept and Supported', async (t) => {
  const s = await server(t);
  const p = await peer(t);
  const req = request({ port: p.port });
  p.send(req, s.address.port);
  const r = res(await p.nth(1));
  t.equal(r.status, 200);
  t.match(r.get('allow'), /OPTIONS/);
  t.equal(r.get('accept'), 'application/sdp');
  t.ok(r.has('supported'));
  t.ok(r.toTag, 'To tag added');
  t.equal(r.callId, parseMessage(Buffer.from(req, 'latin1')).callId);
  t.match(r.get('via'), /;received=127\.0\.0\.1;rport=\d+|;rport=\d+;received=127\.0\.0\.1/);
});

t.test('OPTIONS to sipd is answered statelessly (RFC 3261 §8.2.7), a retransmission gets the same answer', async (t) => {
  const s = await server(t);
  const p = await peer(t);
  const req = request({ port: p.port });
  p.send(req, s.address.port);
  const first = await p.nth(1);
  p.send(req, s.address.port);
  t.equal(await p.nth(2), first, 'same bytes, same To tag');
  t.same(s.transactionCount, { client: 0, server: 0 }, 'no transaction state');
});

t.test('a retransmitted request is absorbed: the same response again, not a new transaction', async (t) => {
  const s = await server(t);
  const p = await peer(t);
  const req = request({ port: p.port, method: 'INFO' });
  p.send(req, s.address.port);
  const first = await p.nth(1);
  p.send(req, s.address.port);
  const second = await p.nth(2);
  t.equal(second, first, 'byte-identical response (same To tag)');
});

t.test('unknown methods get a final 501 with Allow; BYE outside a dialog 481', async (t) => {
  const s = await server(t);
  const p = await peer(t);
  p.send(request({ port: p.port, method: 'FOO' }), s.address.port);
  const r = res(await p.nth(1));
  t.equal(r.status, 501);
  t.match(r.get('allow'), /OPTIONS/);
  t.match(r.get('allow'), /INVITE/);
  p.send(request({ port: p.port, method: 'BYE' }), s.address.port);
  t.equal(res(await p.nth(2)).status, 481, 'BYE without a To tag matches no call');
});

t.test('an INVITE without credentials gets a stateless 407 and its ACK is absorbed; with credentials it gets a transaction', async (t) => {
  const s = await server(t);
  const p = await peer(t);
  const inv = request({ port: p.port, method: 'INVITE', uri: 'sip:1001@127.0.0.1' });
  p.send(inv, s.address.port);
  const fin = res(await p.nth(1));
  t.equal(fin.status, 407, 'an unknown caller is challenged at once: no 100 Trying (RFC 3261 §17.2.1)');
  t.match(fin.get('proxy-authenticate'), /^Digest /);
  t.same(s.transactionCount, { client: 0, server: 0 }, 'statelessly (RFC 3261 §8.2.7): no transaction');
  p.send(inv, s.address.port);
  const again = res(await p.nth(2));
  t.equal(again.status, 407, 'a retransmitted INVITE is challenged again');
  t.equal(again.toTag, fin.toTag, 'with the same To tag');
  const m = parseMessage(Buffer.from(inv, 'latin1'));
  const ack = [
    'ACK sip:1001@127.0.0.1 SIP/2.0',
    `Via: ${m.get('via')}`,
    'Max-Forwards: 70',
    `From: ${m.get('from')}`,
    `To: ${fin.get('to')}`,
    `Call-ID: ${m.callId}`,
    `CSeq: ${m.cseq.seq} ACK`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  p.send(ack, s.address.port);
  t.equal(await p.quiet(300), 0, 'the ACK is absorbed: nothing comes back, nothing is relayed, no 407 retransmission');
  t.same(s.transactionCount, { client: 0, server: 0 });
  // With credentials (here wrong ones) the INVITE gets a transaction: 100 Trying, then the 407, retransmitted until the ACK.
  const withCreds = request({ port: p.port, method: 'INVITE', uri: 'sip:1001@127.0.0.1' }).replace(
    'Content-Length: 0',
    'Proxy-Authorization: Digest username="nobody", realm="x", nonce="AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", uri="sip:1001@127.0.0.1", response="00000000000000000000000000000000"\r\nContent-Length: 0',
  );
  p.send(withCreds, s.address.port);
  t.equal(res(await p.nth(3)).status, 100);
  const challenged = res(await p.nth(4));
  t.equal(challenged.status, 407, 'wrong credentials: challenged again');
  t.equal(res(await p.nth(5)).status, 407, 'retransmitted by timer G until the ACK (a transaction holds it)');
});

t.test('malformed requests with a usable Via get 400 naming the problem; garbage is dropped', async (t) => {
  const s = await server(t);
  const p = await peer(t);
  const cases: Array<[string, RegExp]> = [
    [request({ port: p.port }).replace(/CSeq: 1 OPTIONS/, 'CSeq: one OPTIONS'), /^SIP\/2\.0 400 Bad Request \(malformed CSeq\)\r\n/],
    [request({ port: p.port }).replace(/Call-ID: [^\r]+\r\n/, ''), /^SIP\/2\.0 400 Bad Request \(missing Call-ID header\)\r\n/],
    [request({ port: p.port }).replace(/Content-Length: 0/, 'Content-Length: 50'), /^SIP\/2\.0 400 Bad Request \(Content-Length larger than the message body\)\r\n/],
    [request({ port: p.port }).replace(/Max-Forwards: 70/, 'Max-Forwards: lots'), /^SIP\/2\.0 400 Bad Request \(bad Max-Forwards\)\r\n/],
    [request({ port: p.port }).replace('SIP/2.0\r\n', 'SIP/3.0\r\n'), /^SIP\/2\.0 505 Version Not Supported\r\n/],
  ];
  let n = 0;
  for (const [msg, expect] of cases) {
    p.send(msg, s.address.port);
    const got = await p.nth(++n);
    t.match(got, expect);
    t.notMatch(got, /\n\s+at |Error|\.ts:/, 'no stack trace or error text on the wire');
  }
  // Garbage and a request whose Via is unusable get no answer at all.
  p.send('\x00\x01\x02 hello there\r\n\r\n', s.address.port);
  p.send(request({ port: p.port }).replace(/Via: [^\r]+/, 'Via: nonsense'), s.address.port);
  p.send('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKstray\r\n\r\n', s.address.port);
  t.equal(await p.quiet(200), 0, 'nothing sent back');
  // and the server is still fine
  p.send(request({ port: p.port }), s.address.port);
  t.match(await p.nth(n + 1), /^SIP\/2\.0 200 OK/);
});

t.test('random and mutated input never crashes the server', async (t) => {
  const s = await server(t);
  const p = await peer(t);
  const base = Buffer.from(request({ port: p.port, method: 'INVITE', uri: 'sip:x@127.0.0.1', body: 'v=0\r\n' }), 'latin1');
  let seed = 42;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  for (let i = 0; i < 400; i++) {
    const b = Buffer.from(base);
    const flips = 1 + Math.floor(rnd() * 8);
    for (let j = 0; j < flips; j++) b[Math.floor(rnd() * b.length)] = Math.floor(rnd() * 256);
    p.send(i % 4 === 0 ? b.subarray(0, Math.floor(rnd() * b.length)) : b, s.address.port);
  }
  await p.quiet(300);
  // Mutated INVITEs that still parse get 501s, retransmitted until timer H: look for our answer among them.
  const probe = request({ port: p.port });
  const callId = /Call-ID: ([^\r]+)/.exec(probe)![1]!;
  p.send(probe, s.address.port);
  const deadline = Date.now() + 3000;
  let answered = false;
  while (!answered && Date.now() < deadline) {
    answered = p.received.some((r) => r.toString('latin1').startsWith('SIP/2.0 200 OK') && r.toString('latin1').includes(callId));
    if (!answered) await p.quiet(20);
  }
  t.ok(answered, 'still answering');
  for (const r of p.received) t.notMatch(r.toString('latin1'), /\n\s+at |TypeError|RangeError/, 'no stack trace on the wire');
});

t.test('the transaction table is empty after a burst', async (t) => {
  const s = await server(t);
  const p = await peer(t);
  // INFO is answered (501) through a server transaction; OPTIONS to sipd is answered statelessly.
  for (let i = 0; i < 300; i++) p.send(request({ port: p.port, method: 'INFO' }), s.address.port);
  await p.nth(300);
  t.ok(s.transactionCount.server > 0, 'transactions wait in Completed (timer J)');
  // T1 = 10 ms: timer J = 64*T1 = 640 ms
  const deadline = Date.now() + 3000;
  while (s.transactionCount.server > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  t.same(s.transactionCount, { client: 0, server: 0 });
});

t.test('OPTIONS over TCP is answered on the same connection', async (t) => {
  const s = await server(t);
  const c = await TcpPeer.connect(s.address.port);
  t.teardown(() => c.close());
  c.write(request({ port: 5060, transport: 'TCP' }));
  await c.until((d) => /\r\n\r\n/.test(d));
  t.match(c.data, /^SIP\/2\.0 200 OK\r\n/);
  c.write('\r\n\r\n');
  await c.until((d) => d.endsWith('\r\n\r\n\r\n') || d.endsWith('\r\n\r\n' + '\r\n'));
  t.pass('keep-alive pong on the same connection');
});

t.test('IPv6: -b [::1]:PORT answers OPTIONS over UDP', async (t) => {
  const s = await server(t, '::1');
  const p = await peer(t, 6);
  p.send(request({ port: p.port, host: '::1', uri: 'sip:[::1]' }), s.address.port, '::1');
  t.match(await p.nth(1), /^SIP\/2\.0 200 OK/);
});
