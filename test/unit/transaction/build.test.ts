import t from 'tap';
import { createResponse } from '../../../lib/sip/build.js';
import { parseMessage } from '../../../lib/sip/parse.js';
import type { SipRequest } from '../../../lib/sip/message.js';
import { buildAckForNon2xx, buildCancel } from '../../../lib/transaction/build.js';
import { request } from './support.js';

t.test('buildCancel (§9.1)', async (t) => {
  const inv = request({ routes: ['<sip:a.example.com;lr>, <sip:b.example.com;lr>'], maxForwards: 42 });
  inv.setBody(Buffer.from('v=0\r\n'), 'application/sdp');
  const c = buildCancel(inv, [['Reason', 'SIP;cause=487']]);
  t.equal(c.method, 'CANCEL');
  t.equal(c.uri, inv.uri);
  t.equal(c.callId, inv.callId);
  t.equal(c.get('from'), inv.get('from'));
  t.equal(c.get('to'), inv.get('to'));
  t.same(c.cseq, { seq: inv.cseq.seq, method: 'CANCEL' });
  t.same(c.getAll('via'), [inv.getAll('via')[0]], 'only the top Via');
  t.equal(c.via.branch, inv.via.branch);
  t.same(c.getAll('route'), ['<sip:a.example.com;lr>', '<sip:b.example.com;lr>']);
  t.equal(c.maxForwards, 42);
  t.equal(c.get('reason'), 'SIP;cause=487');
  t.equal(c.body.length, 0);
  t.notOk(c.has('contact'));
  t.notOk(c.has('content-type'));
  const reparsed = parseMessage(c.serialize()) as SipRequest;
  t.same(reparsed.cseq, c.cseq, 'serializes to a valid request');
  t.equal(reparsed.get('content-length'), '0');
});

t.test('buildCancel keeps the raw bytes of copied fields and defaults Max-Forwards', async (t) => {
  const text =
    'INVITE sip:bob@example.com SIP/2.0\r\n' +
    'v: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKabc, SIP/2.0/UDP 192.0.2.20;branch=z9hG4bKdef\r\n' +
    'f:   <sip:alice@example.com>;tag=1\r\n' +
    't: <sip:bob@example.com>\r\n' +
    'i: raw@test\r\n' +
    'CSeq: 9 INVITE\r\n' +
    'l: 0\r\n\r\n';
  const inv = parseMessage(Buffer.from(text, 'latin1')) as SipRequest;
  const c = buildCancel(inv);
  const out = c.serialize().toString('latin1');
  t.match(out, /\r\nf: {3}<sip:alice@example\.com>;tag=1\r\n/, 'From written as received');
  t.match(out, /\r\nt: <sip:bob@example\.com>\r\n/);
  t.match(out, /^Via: SIP\/2\.0\/UDP 192\.0\.2\.10;branch=z9hG4bKabc\r\n/m);
  t.notMatch(out, /z9hG4bKdef/);
  t.equal(c.maxForwards, 70);
});

t.test('buildAckForNon2xx (§17.1.1.3)', async (t) => {
  const inv = request({ routes: ['<sip:p.example.com;lr>'] });
  const res = createResponse(inv, 486, { toTag: 'busy' });
  const ack = buildAckForNon2xx(inv, res);
  t.equal(ack.method, 'ACK');
  t.equal(ack.uri, inv.uri);
  t.equal(ack.callId, inv.callId);
  t.equal(ack.fromTag, inv.fromTag);
  t.equal(ack.toTag, 'busy', 'To from the response');
  t.same(ack.cseq, { seq: inv.cseq.seq, method: 'ACK' });
  t.same(ack.getAll('via'), [inv.getAll('via')[0]]);
  t.same(ack.getAll('route'), ['<sip:p.example.com;lr>']);
  t.equal(ack.maxForwards, 70);
});
