// The stateful proxy core (lib/proxy/proxy.ts) over a real TransactionLayer,
// the MemoryTransport and the FakeClock: what goes out when a request is
// forwarded to one target and to several at once (RFC 3261 §16.6, §16.7).
import t from 'tap';
import { FlowTokens } from '../../../lib/proxy/flow-token.js';
import { parseNameAddr } from '../../../lib/sip/name-addr.js';
import { parseVia } from '../../../lib/sip/via.js';
import { A, B, CALLER, harness, invite, SDP, SDP_ANSWER, SECRET, SELF, target } from './support.js';

t.test('one target: Via, Max-Forwards, Record-Route, provisional and 2xx forwarding, body untouched', async (t) => {
  const h = harness();
  const inv = invite({ body: SDP, maxForwards: 17 });
  h.send(inv);
  t.same(h.statusesTo(), [100], 'the layer answers 100 Trying at once');
  const out = h.sentTo(A, 'INVITE');
  t.equal(out.length, 1, 'one INVITE to the target');
  const fwd = out[0]!;
  t.equal(fwd.uri, 'sip:bob@203.0.113.5:5060', 'the Request-URI is the target');
  const vias = fwd.vias();
  t.equal(vias.length, 3, 'our Via on top of the two received');
  t.equal(vias[0]!.host, SELF.host);
  t.equal(vias[0]!.port, SELF.port);
  t.equal(vias[0]!.transport, 'UDP');
  t.match(vias[0]!.branch, /^z9hG4bKsd/, 'branch with the magic cookie and sipd prefix');
  t.equal(vias[0]!.rport, null, 'rport asked for');
  t.same(fwd.getAll('via').slice(1), inv.getAll('via'), 'the received Vias follow unchanged');
  t.equal(fwd.maxForwards, 16, 'Max-Forwards decremented');
  t.equal(inv.maxForwards, 17, 'the received request is not changed');

  const rr = fwd.getAll('record-route');
  t.equal(rr.length, 1, 'one Record-Route (same transport and family on both sides)');
  const na = parseNameAddr(rr[0]!);
  t.equal(na.uri.host, SELF.host);
  t.equal(na.uri.port, SELF.port);
  t.ok(na.uri.params.has('lr'), 'lr');
  t.ok(na.uri.user !== undefined && na.uri.user.length > 10, 'a token in the user part');
  const dr = new FlowTokens(SECRET).decode(inv.callId, na.uri.user!);
  t.same(
    dr,
    { ftag: inv.fromTag, caller: { proto: 'udp', address: CALLER.address, port: CALLER.port }, callee: { proto: 'udp', address: A.address, port: A.port } },
    'the token names both flows and the From tag',
  );
  t.ok(fwd.body.equals(SDP), 'the body goes byte for byte');
  t.ok(fwd.serialize().subarray(fwd.serialize().length - SDP.length).equals(SDP), 'and so on the wire');
  t.equal(fwd.get('content-type'), 'application/sdp');

  h.reply(A, 100);
  t.same(h.statusesTo(), [100], "the callee's 100 is not forwarded");
  const ringing = h.reply(A, 180);
  t.same(h.statusesTo(), [100, 180], '180 forwarded');
  const r180 = h.responsesTo()[1]!;
  t.same(r180.getAll('via'), inv.getAll('via'), 'our Via removed from the 180');
  t.equal(r180.toTag, ringing.toTag);
  t.same(r180.getAll('record-route'), rr, 'Record-Route of the 180 passes');

  const ok = h.reply(A, 200, { body: SDP_ANSWER });
  t.same(h.statusesTo(), [100, 180, 200]);
  const r200 = h.responsesTo()[2]!;
  t.same(r200.getAll('via'), inv.getAll('via'), 'our Via removed from the 200');
  t.equal(r200.toTag, ok.toTag);
  t.ok(r200.body.equals(SDP_ANSWER), "the callee's body byte for byte");
  t.equal(h.stx.get(inv.callId)!.state, 'Accepted');
  t.equal(h.proxy.size, 1, 'the call holds state until its client transaction ends');

  h.clock.advance(64 * 500 + 1);
  t.equal(h.proxy.size, 0, 'released after Timer M');
  t.same(h.layer.size, { client: 0, server: 0 });
  t.equal(h.clock.pending(), 0, 'no timer left');
});

t.test('Via of the forwarded request follows the destination transport; Max-Forwards absent → 70', async (t) => {
  const h = harness();
  const tcp = { proto: 'tcp' as const, address: '203.0.113.9', port: 5080, connId: 4 };
  h.group = () => ({ targets: [target(tcp)] });
  const inv = invite();
  inv.remove('max-forwards');
  h.send(inv);
  const fwd = h.sentTo(tcp, 'INVITE')[0]!;
  t.equal(parseVia(fwd.getAll('via')[0]!).transport, 'TCP');
  t.equal(fwd.maxForwards, 70);
  const rr = fwd.getAll('record-route');
  t.equal(rr.length, 2, 'double Record-Route when the transport changes');
  t.match(rr[0]!, /;transport=tcp;lr>$/, 'the callee side first: TCP');
  t.notMatch(rr[1]!, /transport=/, 'the caller side: UDP');
  t.equal(parseNameAddr(rr[0]!).uri.user, parseNameAddr(rr[1]!).uri.user, 'the same token in both');
});

t.test('Record-Route only for INVITE; the target edit hook changes only its branch', async (t) => {
  const h = harness();
  h.group = () => ({
    targets: [
      { ...target(A), edit: (r) => r.set('p-asserted-identity', '<sip:4955550109@192.0.2.1>') },
      target(B),
    ],
  });
  h.send(invite({ method: 'MESSAGE', body: Buffer.from('hello') }));
  const a = h.sentTo(A, 'MESSAGE')[0]!;
  const b = h.sentTo(B, 'MESSAGE')[0]!;
  t.same(a.getAll('record-route'), []);
  t.equal(a.get('p-asserted-identity'), '<sip:4955550109@192.0.2.1>');
  t.equal(b.get('p-asserted-identity'), undefined);
  t.equal(a.body.toString(), 'hello');
  h.answer(a, 200, { from: A });
  t.same(h.statusesTo(), [200], 'no 100 for non-INVITE; the 200 forwarded');
  h.clock.advance(64 * 500 + 1);
  t.equal(h.proxy.size, 0);
  t.same(h.layer.size, { client: 0, server: 0 });
});

t.test('parallel forking: the second answers, the first gets CANCEL with Reason; one 200 upstream; a racing 200 is forwarded too', async (t) => {
  const h = harness();
  const answers: Array<[string, boolean]> = [];
  let done = 0;
  h.group = () => ({ targets: [target(A, 'a'), target(B, 'b')] });
  h.hooks = {
    onAnswer: (tg, _res, first) => answers.push([tg.label, first]),
    onFailure: () => t.fail('no failure'),
    onDone: () => done++,
  };
  const inv = invite({ body: SDP });
  h.send(inv);
  t.equal(h.sentTo(A, 'INVITE').length, 1);
  t.equal(h.sentTo(B, 'INVITE').length, 1);
  const brA = h.sentTo(A, 'INVITE')[0]!.via.branch;
  const brB = h.sentTo(B, 'INVITE')[0]!.via.branch;
  t.not(brA, brB, 'a branch per client transaction');
  t.ok(h.sentTo(B, 'INVITE')[0]!.body.equals(SDP), 'both get the body');
  h.reply(A, 180);
  h.reply(B, 180);
  t.same(h.statusesTo(), [100, 180, 180], 'both 180s go upstream');
  h.reply(B, 200, { toTag: 'bob-b' });
  t.same(h.statusesTo(), [100, 180, 180, 200]);
  const cancels = h.sentTo(A, 'CANCEL');
  t.equal(cancels.length, 1, 'the other branch is cancelled');
  t.match(cancels[0]!.get('reason'), /^SIP;cause=200\b/, 'Reason: SIP;cause=200');
  t.equal(cancels[0]!.via.branch, brA, 'the CANCEL has the INVITE branch');
  t.equal(h.sentTo(B, 'CANCEL').length, 0, 'the winner is not cancelled');
  t.same(answers, [['b', true]]);

  // The first branch answers 200 anyway (crossed the CANCEL): forwarded as well (§16.7 step 5).
  h.reply(A, 200, { toTag: 'bob-a' });
  const oks = h.responsesTo().filter((r) => r.status === 200);
  t.equal(oks.length, 2, 'the racing 200 goes upstream too');
  t.same(oks.map((r) => r.toTag), ['bob-b', 'bob-a']);
  t.same(answers, [['b', true], ['a', false]], 'onAnswer tells the later fork apart');
  t.same(oks[1]!.getAll('via'), inv.getAll('via'), 'without our Via');
  // A 487 from A after all that changes nothing upstream.
  h.reply(A, 487, { toTag: 'bob-a' });
  t.equal(h.responsesTo().length, 5);

  h.clock.advance(64 * 500 + 1);
  t.equal(done, 1, 'onDone once');
  t.equal(h.proxy.size, 0);
  t.same(h.layer.size, { client: 0, server: 0 });
});

t.test('parallel forking: the loser’s 487 is absorbed and ACKed, the caller sees one final response', async (t) => {
  const h = harness();
  h.group = () => ({ targets: [target(A), target(B)] });
  h.send(invite());
  h.reply(A, 180);
  h.reply(B, 100);
  h.reply(A, 200, { toTag: 'win' });
  t.same(h.statusesTo(), [100, 180, 200]);
  t.equal(h.sentTo(B, 'CANCEL').length, 1);
  h.reply(B, 487, { toTag: 'lose' });
  t.same(h.statusesTo(), [100, 180, 200], 'the loser’s 487 is absorbed');
  t.equal(h.sentTo(B, 'ACK').length, 1, 'and ACKed by its transaction');
});
