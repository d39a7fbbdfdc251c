/**
 * The message model: mutation API, eager fields kept in step with changes,
 * serialize() writing untouched fields byte for byte, lazy getters caching
 * their result or their error, and building responses (RFC 3261 §8.2.6).
 */
import t from 'tap';
import { createResponse, createResponseFromPartial } from '../../../lib/sip/build.js';
import { SipParseError } from '../../../lib/sip/errors.js';
import { latin1ToUtf8, parseCSeq, SipRequest, SipResponse } from '../../../lib/sip/message.js';
import { parseMessage } from '../../../lib/sip/parse.js';
import { msg, request, requestLines } from './support.js';

function invite(extra: string[] = [], body = ''): { m: SipRequest; lines: string[]; input: Buffer } {
  const lines = requestLines({
    method: 'INVITE',
    uri: 'sip:bob@biloxi.example.com',
    extra: [
      'Via: SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds ,SIP/2.0/UDP p2.example.com;branch=z9hG4bKp2',
      'Via: SIP/2.0/TCP p3.example.com;branch=z9hG4bKp3',
      'Record-Route: <sip:rr.example.com;lr>',
      'contact:   <sip:alice@pc33.atlanta.example.com>',
      'x-custom-thing: kept as is',
      ...extra,
    ],
    body,
  });
  const input = msg(lines, body);
  return { m: parseMessage(input) as SipRequest, lines, input };
}

const text = (b: Buffer): string => b.toString('latin1');

t.test('an untouched message serializes byte for byte', async (t) => {
  const { m, input } = invite([], 'v=0\r\n');
  t.equal(text(m.serialize()), text(input));
  t.equal(m.toString(), text(input));
  t.equal(text(m.serialize()), text(input), 'twice');
});

t.test('set() replaces every field of the name at the first one\'s place', async (t) => {
  const { m, lines, input } = invite(['X-Multi: 1', 'Subject: s', 'x-multi: 2']);
  m.set('X-MULTI', 'only');
  t.same(m.getAll('x-multi'), ['only']);
  const out = text(m.serialize());
  const expected = text(input).replace('X-Multi: 1\r\n', 'X-Multi: only\r\n').replace('x-multi: 2\r\n', '');
  t.equal(out, expected, 'changed field re-encoded with the canonical name, the rest byte for byte');
  t.equal(lines.length > 0, true);
  m.set('x-new-header', 'appended');
  t.match(text(m.serialize()), /\r\nContent-Length: 0\r\nX-New-Header: appended\r\n\r\n$/, 'a new field goes to the end');
  m.set('i', 'new-call-id@example.com');
  t.equal(m.callId, 'new-call-id@example.com', 'compact name in set(), eager Call-ID updated');
  t.match(text(m.serialize()), /\r\nCall-ID: new-call-id@example.com\r\n/, 'written with the canonical name');
});

t.test('canonical names of re-encoded fields', async (t) => {
  const { m } = invite();
  const table: Array<[string, string]> = [
    ['call-id', 'Call-ID'], ['cseq', 'CSeq'], ['www-authenticate', 'WWW-Authenticate'], ['proxy-authenticate', 'Proxy-Authenticate'],
    ['max-forwards', 'Max-Forwards'], ['x-some-header', 'X-Some-Header'], ['mime-version', 'MIME-Version'], ['rack', 'RAck'],
    ['p-asserted-identity', 'P-Asserted-Identity'], ['sip-etag', 'SIP-ETag'], ['m', 'Contact'], ['k', 'Supported'],
  ];
  for (const [name, canonical] of table) {
    const value = name === 'cseq' ? `${m.cseq.seq} INVITE` : name === 'max-forwards' ? '10' : name === 'call-id' ? m.callId : 'x';
    m.set(name, value);
    t.match(text(m.serialize()), new RegExp(`\\r\\n${canonical}: ${value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\r\\n`), `${name} → ${canonical}`);
  }
});

t.test('prepend, append, remove', async (t) => {
  const { m, input } = invite();
  m.prepend('Record-Route', '<sip:new-rr.example.com;lr>');
  t.same(m.getAll('record-route'), ['<sip:new-rr.example.com;lr>', '<sip:rr.example.com;lr>'], 'before the first field of the name');
  m.prepend('Route', '<sip:first.example.com;lr>');
  t.same(m.getAll('route'), ['<sip:first.example.com;lr>'], 'no field of that name: at the end');
  t.equal(m.headers[m.headers.length - 1]!.name, 'route');
  m.append('Route', '<sip:second.example.com;lr>');
  t.same(m.getAll('route'), ['<sip:first.example.com;lr>', '<sip:second.example.com;lr>']);
  m.remove('route');
  t.same(m.getAll('route'), []);
  t.equal(m.has('route'), false);
  m.remove('record-route');
  m.append('Record-Route', '<sip:rr.example.com;lr>');
  t.not(text(m.serialize()), text(input), 'order changed');
  m.remove('x-custom-thing');
  t.notMatch(text(m.serialize()), /x-custom-thing/i);
  m.remove('x-not-there');
  t.pass('removing an absent header is a no-op');
});

t.test('Via changes update the eager top Via', async (t) => {
  const { m } = invite();
  t.equal(m.via.branch, 'z9hG4bK776asdhds');
  m.prepend('v', 'SIP/2.0/UDP proxy.example.com:5070;branch=z9hG4bKproxy');
  t.equal(m.via.branch, 'z9hG4bKproxy', 'prepend');
  t.equal(m.via.port, 5070);
  t.equal(m.vias().length, 4, 'vias() recomputed');
  t.equal(m.shift('via'), 'SIP/2.0/UDP proxy.example.com:5070;branch=z9hG4bKproxy', 'shift returns the removed element');
  t.equal(m.via.branch, 'z9hG4bK776asdhds');
  t.equal(m.shift('via'), 'SIP/2.0/UDP pc33.atlanta.example.com;branch=z9hG4bK776asdhds', 'shift takes one element of a list field');
  t.equal(m.via.branch, 'z9hG4bKp2', 'the rest of that field stays');
  t.match(text(m.serialize()), /\r\nVia: SIP\/2.0\/UDP p2.example.com;branch=z9hG4bKp2\r\nVia: SIP\/2.0\/TCP p3.example.com;branch=z9hG4bKp3\r\n/);
  t.same(m.vias().map((v) => v.branch), ['z9hG4bKp2', 'z9hG4bKp3']);
  m.shift('via');
  t.equal(m.via.branch, 'z9hG4bKp3');
  t.equal(m.via.transport, 'TCP');
  t.equal(m.shift('route'), undefined, 'shift of an absent header');
  m.set('Via', 'SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bKset;rport');
  t.equal(m.via.host, '[2001:db8::1]');
  t.equal(m.via.rport, null);
  t.throws(() => m.set('via', 'not a via'), SipParseError, 'setting a malformed top Via throws');
});

t.test('CSeq, tags and Max-Forwards follow changes', async (t) => {
  const { m } = invite();
  m.set('CSeq', '4711 INVITE');
  t.same(m.cseq, { seq: 4711, method: 'INVITE' });
  t.throws(() => m.set('cseq', 'garbage'), SipParseError);
  m.set('From', '"Alice" <sip:alice@atlanta.example.com>;tag=newfrom');
  t.equal(m.fromTag, 'newfrom');
  t.equal(m.toTag, undefined);
  m.set('t', '<sip:bob@biloxi.example.com>;tag=newto');
  t.equal(m.toTag, 'newto', 'compact t');
  m.set('to', '<sip:bob@biloxi.example.com>');
  t.equal(m.toTag, undefined, 'tag removed');
  m.remove('from');
  t.equal(m.fromTag, undefined, 'From removed');
  m.set('Max-Forwards', '69');
  t.equal(m.maxForwards, 69);
  m.remove('max-forwards');
  t.equal(m.maxForwards, undefined);
  m.append('Max-Forwards', '5');
  t.equal(m.maxForwards, 5);
  t.throws(() => m.set('max-forwards', '300'), SipParseError);
});

t.test('setBody recomputes Content-Length (and Content-Type)', async (t) => {
  const { m, input } = invite();
  const sdp = Buffer.from('v=0\r\no=alice 2890844526 2890844526 IN IP4 192.0.2.101\r\ns=-\r\n');
  m.setBody(sdp, 'application/sdp');
  t.equal(m.get('content-length'), String(sdp.length));
  t.equal(m.get('content-type'), 'application/sdp');
  const out = m.serialize();
  t.ok(text(out).endsWith(`Content-Length: ${sdp.length}\r\nContent-Type: application/sdp\r\n\r\n${text(sdp)}`), 'Content-Length in place, Content-Type added');
  const back = parseMessage(out);
  t.ok(back.body.equals(sdp));
  t.equal(text(out).split('\r\n').filter((l) => /^content-length/i.test(l)).length, 1, 'one Content-Length');
  m.setBody(Buffer.alloc(0));
  t.equal(m.get('content-length'), '0');
  t.equal(m.get('content-type'), 'application/sdp', 'Content-Type untouched without the argument');
  t.not(text(m.serialize()), text(input));
});

t.test('Content-Length always matches the body', async (t) => {
  const { m } = invite([], 'hello');
  m.body = Buffer.from('longer body');
  t.ok(text(m.serialize()).endsWith('Content-Length: 11\r\n\r\nlonger body'), 'direct body change: Content-Length rewritten');
  const compact = parseMessage(msg([...requestLines({ contentLength: null }), 'l: 3'], 'abc'));
  t.ok(text(compact.serialize()).endsWith('\r\nl: 3\r\n\r\nabc'), 'untouched compact Content-Length kept');
  compact.body = Buffer.from('abcd');
  t.ok(text(compact.serialize()).endsWith('\r\nContent-Length: 4\r\n\r\nabcd'));
});

t.test('direct changes to start line and header list are serialized', async (t) => {
  const { m } = invite();
  m.uri = 'sip:bob@192.0.2.200:5060';
  t.match(text(m.serialize()), /^INVITE sip:bob@192\.0\.2\.200:5060 SIP\/2\.0\r\n/);
  m.method = 'OPTIONS';
  t.match(text(m.serialize()), /^OPTIONS /);
  const r = parseMessage(msg(['SIP/2.0 180 Ringing', ...requestLines().slice(1)])) as SipResponse;
  r.status = 183;
  r.reason = 'Session Progress';
  t.match(text(r.serialize()), /^SIP\/2\.0 183 Session Progress\r\n/);
  const { m: m2 } = invite();
  m2.headers.push({ name: 'x-pushed', value: 'yes', raw: undefined });
  t.match(text(m2.serialize()), /\r\nX-Pushed: yes\r\n/, 'a field pushed onto headers');
  const { m: m3 } = invite();
  m3.headers.splice(m3.headers.findIndex((h) => h.name === 'x-custom-thing'), 1);
  t.notMatch(text(m3.serialize()), /x-custom-thing/i, 'a field spliced out');
  const { m: m4 } = invite();
  m4.headers = m4.headers.map((h) => (h.name === 'x-custom-thing' ? { name: h.name, value: 'replaced', raw: undefined } : h));
  t.match(text(m4.serialize()), /\r\nX-Custom-Thing: replaced\r\n/, 'a new header list');
});

t.test('lazy getters cache their result', async (t) => {
  const { m } = invite(['Contact: "Bob" <sip:bob@192.0.2.4>;expires=60, sip:carol@192.0.2.5;q=0.5']);
  const f1 = m.from();
  t.equal(m.from(), f1, 'from() cached');
  t.equal(f1.params.get('tag'), m.fromTag);
  t.equal(m.to(), m.to(), 'to() cached');
  const c = m.contacts();
  t.equal(m.contacts(), c, 'contacts() cached');
  t.equal(c.length, 3);
  const [c0, c1, c2] = c;
  t.equal(c0 !== '*' && c0?.uriText, 'sip:alice@pc33.atlanta.example.com');
  t.equal(c1 !== '*' && c1?.params.get('expires'), '60');
  t.equal(c2 !== '*' && c2?.params.get('q'), '0.5');
  const v = m.vias();
  t.equal(m.vias(), v, 'vias() cached');
  const u = m.requestUri();
  t.equal(m.requestUri(), u, 'requestUri() cached');
  t.equal(u.host, 'biloxi.example.com');
  m.set('from', '<sip:zed@example.com>;tag=z');
  t.not(m.from(), f1, 'invalidated by a change');
  t.equal(m.from().uri.user, 'zed');
  m.append('contact', '<sip:dave@192.0.2.6>');
  t.equal(m.contacts().length, 4, 'contacts() invalidated by append');
  m.uri = 'sip:carol@chicago.example.com';
  t.equal(m.requestUri().user, 'carol', 'requestUri() follows uri');
});

t.test('lazy getters cache their error (same object)', async (t) => {
  const m = parseMessage(request({ extra: ['From: <sip:alice@exa mple.com>;tag=ok', 'To: <sip:bob@example.com', 'Contact: <sip:ok@example.com>, <bad uri>'], uri: 'sip:bob@example.com' }));
  t.equal(m.fromTag, 'ok', 'the eager tag does not need the whole From to parse');
  for (const [name, get] of [['from', () => m.from()], ['to', () => m.to()], ['contacts', () => m.contacts()]] as const) {
    let first: unknown;
    let second: unknown;
    try { get(); } catch (e) { first = e; }
    try { get(); } catch (e) { second = e; }
    t.ok(first instanceof SipParseError, `${name}() throws SipParseError`);
    t.equal(second, first, `${name}() throws the same error object the second time`);
  }
  const bad = parseMessage(msg(['OPTIONS bad:<uri> SIP/2.0', ...requestLines().slice(1)])) as SipRequest;
  let e1: unknown;
  let e2: unknown;
  try { bad.requestUri(); } catch (e) { e1 = e; }
  try { bad.requestUri(); } catch (e) { e2 = e; }
  t.ok(e1 instanceof SipParseError);
  t.equal(e2, e1, 'requestUri() error cached');
  m.set('to', '<sip:bob@example.com>');
  t.equal(m.to().uri.user, 'bob', 'the cached error goes away when the header changes');
  const vm = parseMessage(request({ extra: ['Via: SIP/2.0/UDP ok;branch=z9hG4bK1, bad via'] }));
  let v1: unknown;
  let v2: unknown;
  try { vm.vias(); } catch (e) { v1 = e; }
  try { vm.vias(); } catch (e) { v2 = e; }
  t.ok(v1 instanceof SipParseError);
  t.equal(v2, v1, 'vias() error cached');
});

t.test('Contact: *', async (t) => {
  const m = parseMessage(request({ method: 'REGISTER', uri: 'sip:example.com', extra: ['Contact: *', 'Expires: 0'] }));
  t.same(m.contacts(), ['*']);
  const spaced = parseMessage(request({ method: 'REGISTER', extra: ['m:  * '] }));
  t.same(spaced.contacts(), ['*']);
  const none = parseMessage(request());
  t.same(none.contacts(), [], 'no Contact → empty list');
});

t.test('summary and helpers', async (t) => {
  const { m } = invite();
  t.match(m.summary(), /^INVITE cseq=\d+ INVITE call-id=\S+ branch=z9hG4bK776asdhds$/);
  t.same(parseCSeq('1 ACK'), { seq: 1, method: 'ACK' });
  t.equal(latin1ToUtf8(Buffer.from('Jürgen', 'utf8').toString('latin1')), 'Jürgen');
  const utf8From = parseMessage(request({ extra: [`From: ${Buffer.from('"Jürgen Müller"', 'utf8').toString('latin1')} <sip:j@example.com>;tag=u`] }));
  t.equal(latin1ToUtf8(utf8From.from().display!), '"Jürgen Müller"', 'UTF-8 display name');
});

t.test('createResponse (RFC 3261 §8.2.6)', async (t) => {
  const { m } = invite(['Timestamp: 54.12 0.5', 'Subject: not copied']);
  const r = createResponse(m, 180, { toTag: 'fixed-tag' });
  t.equal(r.status, 180);
  t.equal(r.reason, 'Ringing');
  t.same(r.headers.map((h) => h.name), m.headers.map((h) => h.name).filter((n) => ['via', 'from', 'to', 'call-id', 'cseq'].includes(n)).concat('content-length'),
    'Via/From/To/Call-ID/CSeq copied in the request\'s order, nothing else');
  t.same(r.getAll('via'), m.getAll('via'), 'every Via, in order');
  t.equal(r.get('from'), m.get('from'));
  t.equal(r.get('to'), `${m.get('to')};tag=fixed-tag`, 'To tag added');
  t.equal(r.toTag, 'fixed-tag');
  t.equal(r.callId, m.callId);
  t.same(r.cseq, m.cseq);
  t.equal(r.via.branch, m.via.branch);
  t.equal(r.get('timestamp'), undefined, 'Timestamp only on 100');
  const wire = text(r.serialize());
  const reqWire = text(m.serialize());
  for (const line of reqWire.split('\r\n').filter((l) => /^(via|from|call-id|cseq):/i.test(l))) {
    t.ok(wire.includes(`\r\n${line}\r\n`), `copied byte for byte: ${line.slice(0, 30)}`);
  }
  const back = parseMessage(r.serialize()) as SipResponse;
  t.equal(back.status, 180);
  t.equal(back.toTag, 'fixed-tag');

  const trying = createResponse(m, 100);
  t.equal(trying.toTag, undefined, 'no To tag on 100');
  t.equal(trying.get('to'), m.get('to'));
  t.equal(trying.get('timestamp'), '54.12 0.5', 'Timestamp copied on 100 (§8.2.6.1)');

  const random = createResponse(m, 486);
  t.match(random.toTag, /^[A-Za-z0-9_-]{4,}$/, 'a generated To tag');
  t.not(createResponse(m, 486).toTag, random.toTag, 'a new one each time');

  const inDialog = parseMessage(request({ method: 'BYE', extra: ['To: <sip:bob@example.com>;tag=existing'] })) as SipRequest;
  t.equal(createResponse(inDialog, 200).toTag, 'existing', 'an existing To tag is kept');
  t.equal(createResponse(inDialog, 200).get('to'), '<sip:bob@example.com>;tag=existing');

  const withBody = createResponse(m, 200, { body: Buffer.from('v=0\r\n'), contentType: 'application/sdp', headers: [['Contact', '<sip:bob@192.0.2.4>'], ['Allow', 'INVITE, ACK']] });
  t.equal(withBody.get('content-type'), 'application/sdp');
  t.equal(withBody.get('content-length'), '5');
  t.same(withBody.getAll('allow'), ['INVITE', 'ACK']);
  t.match(text(withBody.serialize()), /\r\nContact: <sip:bob@192.0.2.4>\r\nAllow: INVITE, ACK\r\nContent-Type: application\/sdp\r\nContent-Length: 5\r\n\r\nv=0\r\n$/);
  const compactExtra = createResponse(m, 200, { headers: [['m', '<sip:bob@192.0.2.4>']] });
  t.equal(compactExtra.get('contact'), '<sip:bob@192.0.2.4>', 'extra headers given by compact name are found by long name');
});

t.test('createResponse: reason phrases are safe', async (t) => {
  const { m } = invite();
  const table: Array<[string, string]> = [
    ['Bad\r\nX-Injected: yes', 'Bad X-Injected: yes'],
    ['tab\there', 'tab here'],
    ['nul\x00byte', 'nul byte'],
    ['\r\n', 'Unknown'],
    ['x'.repeat(500), 'x'.repeat(200)],
  ];
  for (const [reason, want] of table) {
    const r = createResponse(m, 400, { reason });
    t.equal(r.reason, want, JSON.stringify(reason).slice(0, 30));
    const wire = text(r.serialize());
    t.equal(wire.slice(0, wire.indexOf('\r\n')), `SIP/2.0 400 ${want}`, 'the status line is one line');
    t.notOk(wire.split('\r\n').some((l) => l.startsWith('X-Injected')), 'nothing injected');
  }
  t.equal(createResponse(m, 299).reason, 'OK', 'unknown 2xx gets a generic phrase');
  t.equal(createResponse(m, 404).reason, 'Not Found');
});

t.test('createResponseFromPartial', async (t) => {
  const lines = requestLines({ method: 'INVITE', extra: ['Via: SIP/2.0/UDP 192.0.2.9:5062;branch=z9hG4bKpartial;rport', 'Max-Forwards: many'] });
  let err: SipParseError | undefined;
  try { parseMessage(msg(lines)); } catch (e) { err = e as SipParseError; }
  t.ok(err?.partial, 'bad Max-Forwards leaves a partial message');
  const built = createResponseFromPartial(err!.partial!, 400, `Bad Request (${err!.reason})`);
  t.ok(built);
  const { response, via } = built!;
  t.equal(via.branch, 'z9hG4bKpartial');
  t.equal(via.rport, null);
  t.equal(response.status, 400);
  t.equal(response.reason, 'Bad Request (bad Max-Forwards)');
  t.same(response.headers.map((h) => h.name), ['from', 'to', 'call-id', 'cseq', 'via', 'content-length'], 'the request\'s order');
  t.ok(response.toTag === undefined || typeof response.toTag === 'string');
  const back = parseMessage(response.serialize()) as SipResponse;
  t.equal(back.status, 400);
  t.match(back.toTag, /\S+/, 'a To tag was added');
  t.equal(back.via.branch, 'z9hG4bKpartial');
  t.equal(back.get('from'), lines.find((l) => l.startsWith('From:'))!.slice(6));

  const withTag = createResponseFromPartial({ kind: 'request', method: 'BYE', headers: [
    { name: 'via', value: 'SIP/2.0/UDP h;branch=z9hG4bK1', raw: 'Via: SIP/2.0/UDP h;branch=z9hG4bK1' },
    { name: 'to', value: '<sip:b@h>;tag=keep', raw: 'To: <sip:b@h>;tag=keep' },
  ] }, 400, 'Bad\r\nRequest');
  t.equal(withTag?.response.get('to'), '<sip:b@h>;tag=keep', 'an existing To tag is kept');
  t.equal(withTag?.response.reason, 'Bad Request', 'reason made safe');

  t.equal(createResponseFromPartial({ kind: 'request', method: 'ACK', headers: [{ name: 'via', value: 'SIP/2.0/UDP h', raw: undefined }] }, 400, 'x'), undefined, 'never answer an ACK');
  t.equal(createResponseFromPartial({ kind: 'response', headers: [{ name: 'via', value: 'SIP/2.0/UDP h', raw: undefined }] }, 400, 'x'), undefined, 'never answer a response');
  t.equal(createResponseFromPartial({ kind: 'request', method: 'INVITE', headers: [] }, 400, 'x'), undefined, 'no Via: nothing to answer');
  t.equal(createResponseFromPartial({ kind: 'request', method: 'INVITE', headers: [{ name: 'via', value: 'garbage', raw: undefined }] }, 400, 'x'), undefined, 'unusable Via');

  const v505 = requestLines();
  v505[0] = 'OPTIONS sip:b@example.com SIP/3.0';
  let e505: SipParseError | undefined;
  try { parseMessage(msg(v505)); } catch (e) { e505 = e as SipParseError; }
  const r505 = createResponseFromPartial(e505!.partial!, 505, 'Version Not Supported');
  t.equal(r505?.response.status, 505);
  t.equal(parseMessage(r505!.response.serialize()).callId, v505.find((l) => l.startsWith('Call-ID'))!.slice(9));
});
