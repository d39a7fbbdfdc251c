// Request validation before proxying (RFC 3261 §16.3): Max-Forwards, loops
// (and spirals, which are fine), Proxy-Require, URI schemes.
import t from 'tap';
import { A, harness, invite, target } from './support.js';

t.test('Max-Forwards 0 → 483; 1 is still forwarded (with 0)', async (t) => {
  const h = harness();
  h.send(invite({ maxForwards: 0 }));
  t.same(h.statusesTo(), [100, 483]);
  t.equal(h.sentTo(A).length, 0);
  h.send(invite({ maxForwards: 1 }));
  t.equal(h.sentTo(A, 'INVITE')[0]!.maxForwards, 0);
  t.equal(h.proxy.validate(invite({ method: 'OPTIONS', maxForwards: 0 }))?.status, 483, 'any method');
});

t.test('Proxy-Require → 420 with Unsupported naming the options', async (t) => {
  const h = harness();
  h.send(invite({ extra: ['Proxy-Require: foo, bar', 'Proxy-Require: baz'] }));
  t.same(h.statusesTo(), [100, 420]);
  const res = h.responsesTo()[1]!;
  t.same(res.getAll('unsupported'), ['foo', 'bar', 'baz']);
  t.equal(h.sentTo(A).length, 0);
  t.equal(h.proxy.validate(invite({ extra: ['Require: 100rel'] })), undefined, 'Require is the UAS’s business');
});

t.test('Request-URI scheme: 416 for what sipd cannot route; sip, sips, tel pass', async (t) => {
  const h = harness();
  for (const uri of ['mailto:bob@example.com', 'http://example.com/', 'im:bob@example.com']) {
    const res = h.proxy.validate(invite({ uri }));
    t.equal(res?.status, 416, uri);
  }
  for (const uri of ['sip:109@192.0.2.1', 'sips:109@192.0.2.1', 'tel:+4955550109', 'SIP:109@192.0.2.1']) {
    t.equal(h.proxy.validate(invite({ uri })), undefined, uri);
  }
  h.send(invite({ uri: 'mailto:bob@example.com' }));
  t.same(h.statusesTo(), [100, 416]);
});

t.test('the forwarded request coming straight back is a loop → 482', async (t) => {
  const h = harness();
  // A target whose Request-URI is the received one (a static route back to sipd).
  h.group = (req) => ({ targets: [target(A, 'back', req.uri)] });
  const inv = invite();
  h.send(inv);
  const fwd = h.sentTo(A, 'INVITE')[0]!;
  t.equal(fwd.uri, inv.uri);
  h.transport.clear();
  h.send(fwd, A); // A is sipd itself, say
  t.same(h.transport.log(), ['100', '482'], 'loop detected');
  t.equal(h.refused[0]?.status, 482);
  t.equal(h.sentTo(A, 'INVITE').length, 0, 'not forwarded again');
});

t.test('the forwarded request coming back through another proxy is a loop → 482', async (t) => {
  const h = harness();
  h.group = (req) => ({ targets: [target(A, 'back', req.uri)] });
  const inv = invite();
  h.send(inv);
  const fwd = h.sentTo(A, 'INVITE')[0]!;
  // The proxy at A forwards it back to sipd: its Via on top, Max-Forwards down again.
  fwd.prepend('via', 'SIP/2.0/UDP 203.0.113.5:5060;branch=z9hG4bKotherproxy1');
  fwd.set('max-forwards', String(fwd.maxForwards! - 1));
  h.transport.clear();
  h.send(fwd, A);
  t.same(h.statusesTo(A), [100, 482], 'loop detected');
  t.equal(h.sentTo(A, 'INVITE').length, 0);
});

t.test('a spiral (the request comes back with another Request-URI) is no loop', async (t) => {
  const h = harness();
  const inv = invite({ uri: 'sip:109@192.0.2.1' });
  h.send(inv);
  const fwd = h.sentTo(A, 'INVITE')[0]!;
  t.not(fwd.uri, inv.uri, 'retargeted');
  h.transport.clear();
  h.send(fwd, A);
  t.same(h.refused, [], 'validate lets it through');
  t.equal(h.sentTo(A, 'INVITE').length, 1, 'forwarded again');
  t.equal(h.sentTo(A, 'INVITE')[0]!.vias().length, 4, 'with a second Via of ours');

  // The same request with another Max-Forwards or an added Via param is still the same request: a loop.
  const h2 = harness();
  h2.group = (req) => ({ targets: [target(A, 'back', req.uri)] });
  h2.send(invite({ uri: 'sip:110@192.0.2.1' }));
  const again = h2.sentTo(A, 'INVITE')[0]!;
  again.set('max-forwards', '12');
  t.equal(h2.proxy.validate(again)?.status, 482, 'Max-Forwards is not part of the loop hash');
  const other = h2.sentTo(A, 'INVITE')[0]!;
  other.set('cseq', '2 INVITE');
  t.equal(h2.proxy.validate(other), undefined, 'another CSeq is another request');
});
