// Route processing inside a dialog (RFC 3261 §16.4, §16.12) with sipd's
// Record-Route flow tokens, and the stateless paths: the stray 2xx after
// Timer M and 2xx retransmissions while the server transaction is Accepted.
import t from 'tap';
import { FlowTokens } from '../../../lib/proxy/flow-token.js';
import { parseNameAddr } from '../../../lib/sip/name-addr.js';
import { createResponse } from '../../../lib/sip/build.js';
import { A, CALLER, harness, invite, SECRET, target, wire, type Harness } from './support.js';

/** An answered call through the harness: the Record-Route values the callee and caller see. */
function dialog(h: Harness) {
  const inv = invite();
  h.send(inv);
  const fwd = h.sentTo(h.group(inv).targets[0]!.dest, 'INVITE')[0]!;
  const rr = fwd.getAll('record-route');
  return { inv, rr, token: parseNameAddr(rr[0]!).uri.user! };
}

t.test('loose routing: our Route popped; caller→callee goes to the callee flow, callee→caller to the caller flow', async (t) => {
  const h = harness();
  const { inv, rr } = dialog(h);
  t.equal(rr.length, 1);
  const bye = invite({ method: 'BYE', uri: 'sip:bob@10.9.9.9:5060', callId: inv.callId, fromTag: inv.fromTag!, toTag: 'bobtag', cseq: 2, routes: rr });
  t.same(h.proxy.routeInDialog(bye), { kind: 'dialog', dest: { proto: 'udp', address: A.address, port: A.port } }, 'to where the callee was reached, not the Request-URI');
  t.same(bye.getAll('route'), [], 'our Route removed');
  t.equal(bye.uri, 'sip:bob@10.9.9.9:5060', 'Request-URI kept');

  // The callee's BYE: From is the callee (its tag), To the caller.
  const back = invite({ method: 'BYE', uri: 'sip:alice@10.0.0.5:5060', callId: inv.callId, fromTag: 'bobtag', toTag: inv.fromTag!, routes: rr });
  t.same(h.proxy.routeInDialog(back), { kind: 'dialog', dest: { proto: 'udp', address: CALLER.address, port: CALLER.port } }, 'to the caller’s NAT binding');
  t.same(back.getAll('route'), []);
});

t.test('double Record-Route (UDP caller, TCP callee): both popped, the TCP connection kept', async (t) => {
  const h = harness();
  const tcp = { proto: 'tcp' as const, address: '203.0.113.9', port: 5080, connId: 42 };
  h.group = () => ({ targets: [target(tcp)] });
  const { inv, rr } = dialog(h);
  t.equal(rr.length, 2);
  // The caller's route set is the Record-Route reversed.
  const bye = invite({ method: 'BYE', uri: 'sip:bob@10.9.9.9', callId: inv.callId, fromTag: inv.fromTag!, toTag: 'b', routes: [...rr].reverse() });
  t.same(h.proxy.routeInDialog(bye), { kind: 'dialog', dest: tcp });
  t.same(bye.getAll('route'), []);
  const back = invite({ method: 'BYE', uri: 'sip:alice@10.0.0.5', callId: inv.callId, fromTag: 'b', toTag: inv.fromTag!, routes: rr });
  t.same(h.proxy.routeInDialog(back), { kind: 'dialog', dest: { proto: 'udp', address: CALLER.address, port: CALLER.port } });
  // Both Route values in one header field.
  const one = invite({ method: 'BYE', uri: 'sip:bob@10.9.9.9', callId: inv.callId, fromTag: inv.fromTag!, toTag: 'b', routes: [[...rr].reverse().join(', ')] });
  t.same(h.proxy.routeInDialog(one), { kind: 'dialog', dest: tcp });
});

t.test('a forged token or one of another call → 403', async (t) => {
  const h = harness();
  const { inv, rr, token } = dialog(h);
  const [payload, mac] = token.split('.') as [string, string];
  const forgedPayload = Buffer.from(
    Buffer.from(payload, 'base64url').toString('latin1').replace('203.0.113.5', '198.51.100.66'),
    'latin1',
  ).toString('base64url');
  const cases: Array<[string, string, string]> = [
    ['payload changed', `<sip:${forgedPayload}.${mac}@192.0.2.1:5060;lr>`, inv.callId],
    ['mac changed', `<sip:${payload}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}@192.0.2.1:5060;lr>`, inv.callId],
    ['no mac', `<sip:${payload}@192.0.2.1:5060;lr>`, inv.callId],
    ['another Call-ID', rr[0]!, 'other-call@test'],
    ['a phone number', '<sip:109@192.0.2.1;lr>', inv.callId],
  ];
  for (const [name, route, callId] of cases) {
    const bye = invite({ method: 'BYE', uri: 'sip:bob@10.9.9.9', callId, fromTag: inv.fromTag!, toTag: 'b', routes: [route] });
    const r = h.proxy.routeInDialog(bye);
    t.equal(r.kind, 'reject', name);
    if (r.kind === 'reject') t.equal(r.status, 403, name);
  }
  // A token made with another secret.
  const other = new FlowTokens(Buffer.alloc(32, 9)).encode(inv.callId, { ftag: inv.fromTag!, caller: { proto: 'udp', address: '198.51.100.66', port: 5060 }, callee: { proto: 'udp', address: '198.51.100.66', port: 5060 } });
  const bye = invite({ method: 'BYE', uri: 'sip:bob@10.9.9.9', callId: inv.callId, fromTag: inv.fromTag!, toTag: 'b', routes: [`<sip:${other}@192.0.2.1:5060;lr>`] });
  t.match(h.proxy.routeInDialog(bye), { kind: 'reject', status: 403 }, 'another secret');
});

t.test('strict-router compatibility (§16.4): our URI in the Request-URI, the last Route becomes the Request-URI', async (t) => {
  const h = harness();
  const { inv, rr, token } = dialog(h);
  const ours = parseNameAddr(rr[0]!).uriText;
  for (const ruri of [ours, `sip:${token}@192.0.2.1:5060`]) {
    const bye = invite({ method: 'BYE', uri: ruri, callId: inv.callId, fromTag: inv.fromTag!, toTag: 'b', routes: ['<sip:bob@10.9.9.9:5060>'] });
    t.same(h.proxy.routeInDialog(bye), { kind: 'dialog', dest: { proto: 'udp', address: A.address, port: A.port } }, ruri);
    t.equal(bye.uri, 'sip:bob@10.9.9.9:5060', 'the remote target is the Request-URI again');
    t.same(bye.getAll('route'), [], 'and no longer a Route');
  }
  // With a route set left after the remote target is restored: the next Route.
  const bye = invite({ method: 'BYE', uri: ours, callId: inv.callId, fromTag: inv.fromTag!, toTag: 'b', routes: ['<sip:198.51.100.20;lr>', '<sip:bob@10.9.9.9:5060>'] });
  t.same(h.proxy.routeInDialog(bye), { kind: 'next-hop', dest: { proto: 'udp', address: '198.51.100.20', port: 5060 }, recorded: true });
  t.equal(bye.uri, 'sip:bob@10.9.9.9:5060');
  t.same(bye.getAll('route'), ['<sip:198.51.100.20;lr>']);
});

t.test('no route → none; a phone number to sipd with a Route → not strict routing', async (t) => {
  const h = harness();
  t.same(h.proxy.routeInDialog(invite({ method: 'BYE', toTag: 'x' })), { kind: 'none' });
  const self = invite({ uri: 'sip:109@192.0.2.1', routes: ['<sip:192.0.2.1;lr>'] });
  t.same(h.proxy.routeInDialog(self), { kind: 'none' }, 'a pre-loaded Route to sipd only');
  t.equal(self.uri, 'sip:109@192.0.2.1', 'the dialled number stays');
  t.same(self.getAll('route'), []);
});

t.test('a foreign next Route → next-hop destination', async (t) => {
  const h = harness();
  const { inv, rr } = dialog(h);
  const cases: Array<[string[], unknown]> = [
    [['<sip:198.51.100.20:5070;lr>'], { kind: 'next-hop', dest: { proto: 'udp', address: '198.51.100.20', port: 5070 }, recorded: false }],
    [['<sip:198.51.100.20;transport=tcp;lr>'], { kind: 'next-hop', dest: { proto: 'tcp', address: '198.51.100.20', port: 5060 }, recorded: false }],
    [['<sip:[2001:db8::7]:5062;lr>'], { kind: 'next-hop', dest: { proto: 'udp', address: '2001:db8::7', port: 5062 }, recorded: false }],
    [[rr[0]!, '<sip:198.51.100.20;lr>'], { kind: 'next-hop', dest: { proto: 'udp', address: '198.51.100.20', port: 5060 }, recorded: true }],
    [['<sip:proxy.example.com;lr>'], { kind: 'reject', status: 502 }],
    [['<sip:192.0.2.1:5061;lr>'], { kind: 'next-hop', dest: { proto: 'udp', address: '192.0.2.1', port: 5061 }, recorded: false }],
  ];
  for (const [routes, want] of cases) {
    const bye = invite({ method: 'BYE', uri: 'sip:bob@10.9.9.9', callId: inv.callId, fromTag: inv.fromTag!, toTag: 'b', routes });
    t.match(h.proxy.routeInDialog(bye), want as object, routes.join(' '));
  }
});

t.test('forwardStateless: the ACK for a 2xx goes with our Via and one hop less, the same branch on retransmission', async (t) => {
  const h = harness();
  const { inv, rr } = dialog(h);
  const ack = invite({ method: 'ACK', uri: 'sip:bob@10.9.9.9', callId: inv.callId, fromTag: inv.fromTag!, toTag: 'b', routes: rr, body: Buffer.from('v=0\r\n') });
  const r = h.proxy.routeInDialog(ack);
  t.equal(r.kind, 'dialog');
  if (r.kind !== 'dialog') return;
  h.proxy.forwardStateless(ack, r.dest);
  h.proxy.forwardStateless(ack, r.dest);
  const acks = h.sentTo(A, 'ACK');
  t.equal(acks.length, 2);
  t.equal(acks[0]!.maxForwards, 69);
  t.match(acks[0]!.via.branch, /^z9hG4bK/);
  t.equal(acks[0]!.via.branch, acks[1]!.via.branch, 'deterministic branch');
  t.same(acks[0]!.getAll('via').slice(1), ack.getAll('via'));
  t.equal(acks[0]!.body.toString(), 'v=0\r\n');
  t.same(acks[0]!.getAll('route'), []);
  t.equal(h.layer.size.client, 1, 'no transaction for the ACK (the one is the INVITE)');
});

t.test('2xx retransmissions: forwarded while Accepted, after Timer M by forwardStrayResponse', async (t) => {
  const h = harness();
  const inv = invite();
  h.send(inv);
  h.reply(A, 180);
  const ok = h.reply(A, 200, { toTag: 'bob' });
  h.clock.advance(2_000);
  h.layer.receive(wire(ok), { proto: 'udp', local: { address: '192.0.2.1', port: 5060, family: 4 }, remote: { address: A.address, port: A.port, family: 4 }, connId: undefined });
  t.same(h.statusesTo(), [100, 180, 200, 200], 'the retransmission goes upstream (§16.7 step 5)');
  t.equal(h.stx.get(inv.callId)!.state, 'Accepted');
  t.equal(h.strays.length, 0);

  h.clock.advance(64 * 500);
  t.equal(h.proxy.size, 0, 'the call is gone after Timer M');
  t.same(h.layer.size, { client: 0, server: 0 });
  const fwd = h.sentTo(A, 'INVITE')[0]!;
  h.transport.clear();
  h.answer(fwd, 200, { toTag: 'bob', from: A });
  t.equal(h.strays.length, 1, 'a stray response');
  t.equal(h.strays[0]!.forwarded, true);
  t.equal(h.transport.sent.length, 1);
  const sent = h.transport.sent[0]!;
  t.same(sent.dest, { proto: 'udp', address: CALLER.address, port: CALLER.port }, 'to the next Via’s received/rport');
  t.same((sent.msg as typeof ok).getAll('via'), inv.getAll('via'), 'without our Via');
});

t.test('forwardStrayResponse: only 2xx to INVITE whose top Via is ours', async (t) => {
  const h = harness();
  const inv = invite();
  h.send(inv);
  const fwd = wire(h.sentTo(A, 'INVITE')[0]!);
  h.transport.clear();
  const stray = (status: number, mutate?: (r: ReturnType<typeof createResponse>) => void) => {
    const r = createResponse(fwd, status, { toTag: 'x' });
    mutate?.(r);
    return h.proxy.forwardStrayResponse(wire(r));
  };
  t.equal(stray(180), false, 'provisional');
  t.equal(stray(486), false, 'non-2xx');
  t.equal(stray(200, (r) => r.shift('via')), false, 'top Via not ours (the caller’s)');
  t.equal(stray(200, (r) => r.prepend('via', 'SIP/2.0/UDP 198.51.100.9:5060;branch=z9hG4bKsdAAAAAAAAAA.x')), false, 'top Via of another host with our prefix');
  t.equal(stray(200, (r) => r.prepend('via', 'SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKforeign')), false, 'our address but not our branch');
  t.equal(h.transport.sent.length, 0, 'nothing sent');
  // Next Via without received/rport: its sent-by.
  const plain = invite({ via: 'Via: SIP/2.0/TCP 198.51.100.30:5090;branch=z9hG4bKplain' });
  h.send(plain, { proto: 'tcp', address: '198.51.100.30', port: 5090 });
  const pf = wire(h.sentTo(A, 'INVITE').at(-1)!);
  t.equal(h.proxy.forwardStrayResponse(wire(createResponse(pf, 200, { toTag: 'y' }))), true);
  t.same(h.transport.sent.at(-1)!.dest, { proto: 'tcp', address: '198.51.100.30', port: 5090 });
  // A response with our Via only (nothing to forward it to).
  const lone = createResponse(fwd, 200, { toTag: 'z' });
  lone.remove('via');
  lone.append('via', fwd.getAll('via')[0]!);
  t.equal(h.proxy.forwardStrayResponse(wire(lone)), false);
});
