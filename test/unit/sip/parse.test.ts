/**
 * Parser table tests (RFC 3261 §7, §18.3, §20): header names, compact forms,
 * folding, lists, framing of datagrams and streams, start lines and the typed
 * errors (with `partial`) the server answers malformed requests from.
 */
import t from 'tap';
import { SipParseError } from '../../../lib/sip/errors.js';
import { SipRequest, SipResponse } from '../../../lib/sip/message.js';
import { parseMessage } from '../../../lib/sip/parse.js';
import { msg, request, requestLines, responseLines, throwsParse } from './support.js';

t.test('header names are case-insensitive', async (t) => {
  const m = parseMessage(request({ extra: ['X-CuStOm-HeAdEr: one', 'x-custom-header: two', 'SUBJECT: hi'] }));
  t.equal(m.get('x-custom-header'), 'one');
  t.equal(m.get('X-CUSTOM-HEADER'), 'one');
  t.same(m.getAll('X-Custom-Header'), ['one', 'two']);
  t.equal(m.get('Subject'), 'hi');
  t.equal(m.get('s'), 'hi', 'a compact name works as a lookup key too');
  t.ok(m.has('CALL-id'));
  t.equal(m.headers.find((h) => h.name === 'x-custom-header')?.raw, 'X-CuStOm-HeAdEr: one', 'raw keeps the spelling');
  const r = parseMessage(msg(['INVITE sip:b@example.com SIP/2.0', 'vIA: SIP/2.0/UDP h;branch=z9hG4bKx', 'FROM: <sip:a@example.com>;TAG=abc',
    'tO: <sip:b@example.com>', 'CALL-ID: ci', 'cSeQ: 1 INVITE', 'max-FORWARDS: 9', 'CONTENT-LENGTH: 0']));
  t.equal(r.via.branch, 'z9hG4bKx');
  t.equal(r.fromTag, 'abc', 'tag parameter name is case-insensitive');
  t.equal(r.callId, 'ci');
  t.same(r.cseq, { seq: 1, method: 'INVITE' });
  t.equal(r.maxForwards, 9);
});

t.test('compact forms map to their long names', async (t) => {
  const table: Array<[string, string, string]> = [
    ['i', 'call-id', 'compact-ci@example.com'],
    ['m', 'contact', '<sip:alice@192.0.2.10>'],
    ['f', 'from', '<sip:alice@example.com>;tag=ff'],
    ['t', 'to', '<sip:bob@example.com>'],
    ['v', 'via', 'SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKcompact'],
    ['l', 'content-length', '0'],
    ['c', 'content-type', 'application/sdp'],
    ['k', 'supported', '100rel'],
    ['s', 'subject', 'lunch'],
    ['e', 'content-encoding', 'gzip'],
    ['o', 'event', 'presence'],
    ['u', 'allow-events', 'dialog'],
    ['r', 'refer-to', '<sip:carol@example.com>'],
    ['b', 'referred-by', '<sip:alice@example.com>'],
    ['x', 'session-expires', '1800'],
    ['y', 'identity', '"abc"'],
  ];
  for (const [short, long, value] of table) {
    for (const spelled of [short, short.toUpperCase()]) {
      const lines = requestLines({ omit: [long], contentLength: long === 'content-length' ? null : undefined });
      lines.push(`${spelled}: ${value}`);
      const m = parseMessage(msg(lines));
      const field = m.headers.find((h) => h.raw === `${spelled}: ${value}`);
      t.equal(field?.name, long, `${spelled} → ${long}`);
      t.equal(m.get(long), value, `get('${long}') finds the ${spelled} field`);
      t.equal(m.get(short), value, `get('${short}') finds it too`);
      t.equal(m.serialize().toString('latin1'), msg(lines).toString('latin1'), `${spelled}: serialized as received`);
    }
  }
  const m = parseMessage(msg(['OPTIONS sip:b@example.com SIP/2.0', 'v: SIP/2.0/TCP h:5070;branch=z9hG4bKc', 'f: <sip:a@example.com>;tag=1',
    't: <sip:b@example.com>;tag=2', 'i: all-compact', 'CSeq: 3 OPTIONS', 'l: 0']));
  t.equal(m.via.transport, 'TCP');
  t.equal(m.via.port, 5070);
  t.equal(m.fromTag, '1');
  t.equal(m.toTag, '2');
  t.equal(m.callId, 'all-compact', 'eager fields come from compact headers');
});

t.test('line folding: value unfolded, raw kept, serialize byte-identical', async (t) => {
  const lines = requestLines({
    extra: [
      'Subject: I know you\'re there,\r\n      pick up the phone\r\n   and talk to me!',
      'X-Tab:\tfirst\r\n\tsecond',
      'Route:\r\n <sip:p1.example.com;lr>,\r\n <sip:p2.example.com;lr>',
    ],
  });
  const input = msg(lines);
  const m = parseMessage(input);
  t.equal(m.get('subject'), 'I know you\'re there, pick up the phone and talk to me!', 'each fold becomes one SP');
  t.equal(m.headers.find((h) => h.name === 'subject')?.raw, 'Subject: I know you\'re there,\r\n      pick up the phone\r\n   and talk to me!');
  t.equal(m.get('x-tab'), 'first second');
  t.same(m.getAll('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'], 'a value starting on a continuation line');
  t.equal(m.serialize().toString('latin1'), input.toString('latin1'));

  const folded = msg(['INVITE sip:b@example.com SIP/2.0', 'Via: SIP/2.0/UDP\r\n 192.0.2.1\r\n ;branch=z9hG4bKfold',
    'From: <sip:a@example.com>\r\n ;tag=ftag', 'To: <sip:b@example.com>', 'Call-ID: fold', 'CSeq: 0009\r\n  INVITE', 'Max-Forwards:\r\n 70', 'Content-Length: 0']);
  const f = parseMessage(folded);
  t.equal(f.via.host, '192.0.2.1');
  t.equal(f.via.branch, 'z9hG4bKfold');
  t.equal(f.fromTag, 'ftag');
  t.same(f.cseq, { seq: 9, method: 'INVITE' });
  t.equal(f.maxForwards, 70);
  t.equal(f.serialize().toString('latin1'), folded.toString('latin1'));

  const edge = parseMessage(request({ extra: ['X-Trail: a\r\n   ', 'X-Lead:\r\n\t\r\n b', 'X-Next: n'] }));
  t.equal(edge.get('x-trail'), 'a', 'a blank continuation line at the end');
  t.equal(edge.get('x-lead'), 'b', 'blank continuation lines at the start');
  t.equal(edge.get('x-next'), 'n');
});

t.test('list headers split outside quoted strings and <...>', async (t) => {
  const m = parseMessage(request({
    method: 'REGISTER',
    extra: [
      'Contact: "Doe, John" <sip:jd@192.0.2.4;transport=tcp>;q=0.7, <sip:a@192.0.2.5?subject=x,y>, sip:c@192.0.2.6;expires=60',
      'Contact: "quote \\" , inside" <sip:q@192.0.2.7>',
      'Route: <sip:p1.example.com;lr>,<sip:p2.example.com;lr> , ,<sip:p3.example.com;lr>',
      'Allow: INVITE, ACK,CANCEL ,BYE',
      'Authorization: Digest username="alice", realm="example.com", nonce="a,b", uri="sip:example.com", response="00"',
      'Via: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKtop, SIP/2.0/TCP 192.0.2.11;branch=z9hG4bKsecond',
      'Via: SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bKthird',
    ],
  }));
  t.same(m.getAll('contact'), [
    '"Doe, John" <sip:jd@192.0.2.4;transport=tcp>;q=0.7',
    '<sip:a@192.0.2.5?subject=x,y>',
    'sip:c@192.0.2.6;expires=60',
    '"quote \\" , inside" <sip:q@192.0.2.7>',
  ], 'Contact elements over two header lines');
  t.same(m.getAll('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>', '<sip:p3.example.com;lr>'], 'empty elements dropped');
  t.same(m.getAll('allow'), ['INVITE', 'ACK', 'CANCEL', 'BYE']);
  t.equal(m.getAll('authorization').length, 1, 'Authorization is not a list: its commas separate parameters');
  t.same(m.getAll('via'), [
    'SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKtop',
    'SIP/2.0/TCP 192.0.2.11;branch=z9hG4bKsecond',
    'SIP/2.0/UDP [2001:db8::1]:5062;branch=z9hG4bKthird',
  ], 'several Vias in one field and over two fields');
  t.equal(m.via.branch, 'z9hG4bKtop', 'top Via = first element of the first Via field');
  t.same(m.vias().map((v) => v.branch), ['z9hG4bKtop', 'z9hG4bKsecond', 'z9hG4bKthird']);
  t.same(m.getAll('x-absent'), []);
});

t.test('several header lines of the same name keep their order', async (t) => {
  const m = parseMessage(request({ extra: ['Record-Route: <sip:rr1.example.com;lr>', 'X-A: 1', 'Record-Route: <sip:rr2.example.com;lr>', 'record-route: <sip:rr3.example.com;lr>'] }));
  t.same(m.getAll('record-route'), ['<sip:rr1.example.com;lr>', '<sip:rr2.example.com;lr>', '<sip:rr3.example.com;lr>']);
  t.equal(m.get('record-route'), '<sip:rr1.example.com;lr>', 'get() returns the first field');
  t.same(m.headers.filter((h) => h.name === 'record-route').length, 3);
});

t.test('header values: blanks around the colon, empty values', async (t) => {
  const m = parseMessage(request({ extra: ['Subject   :   spaced  ', 'X-Empty:', 'X-Blank:   ', 'X-Tabbed\t:\tv'] }));
  t.equal(m.get('subject'), 'spaced');
  t.equal(m.get('x-empty'), '');
  t.equal(m.get('x-blank'), '');
  t.equal(m.get('x-tabbed'), 'v');
  t.equal(m.headers.find((h) => h.name === 'subject')?.raw, 'Subject   :   spaced  ', 'raw keeps the blanks');
  t.match(m.serialize().toString('latin1'), /\r\nSubject   :   spaced  \r\n/, 'serialized as received');
});

t.test('datagram framing by Content-Length (RFC 3261 §18.3)', async (t) => {
  const body = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\n';
  const exact = parseMessage(request({ method: 'INVITE', body }));
  t.equal(exact.body.toString('latin1'), body, 'exact length');

  const cut = parseMessage(msg(requestLines({ method: 'INVITE', contentLength: 5 }), body));
  t.equal(cut.body.toString('latin1'), 'v=0\r\n', 'bytes past Content-Length are dropped');
  t.equal(cut.serialize().toString('latin1').endsWith('Content-Length: 5\r\n\r\nv=0\r\n'), true, 'serialize writes the cut body');

  const err = throwsParse(t, () => parseMessage(msg(requestLines({ method: 'INVITE', contentLength: body.length + 1 }), body)),
    { code: 'SIPD_ERR_PARSE_CONTENT_LENGTH', status: 400, header: 'Content-Length' }, 'Content-Length larger than the datagram');
  t.equal(err?.partial?.kind, 'request');
  t.equal(err?.partial?.method, 'INVITE');
  t.ok(err?.partial?.headers.some((h) => h.name === 'via'), 'partial carries the Via');

  const absent = parseMessage(msg(requestLines({ method: 'INVITE', contentLength: null }), body));
  t.equal(absent.body.toString('latin1'), body, 'no Content-Length: the rest of the datagram');
  t.equal(absent.get('content-length'), undefined);
  t.ok(absent.serialize().toString('latin1').endsWith(`\r\nContent-Length: ${body.length}\r\n\r\n${body}`), 'serialize adds Content-Length');

  const none = parseMessage(msg(requestLines({ contentLength: null })));
  t.equal(none.body.length, 0);

  const compact = parseMessage(msg([...requestLines({ method: 'INVITE', contentLength: null }), 'l: 3'], body));
  t.equal(compact.body.toString('latin1'), 'v=0', 'compact l:');

  for (const bad of ['-1', 'abc', '1 2', '0x10', '12345678901', '']) {
    throwsParse(t, () => parseMessage(msg(requestLines({ extra: [`Content-Length: ${bad}`] }))),
      { code: 'SIPD_ERR_PARSE_CONTENT_LENGTH', status: 400 }, `Content-Length: ${JSON.stringify(bad)}`);
  }
  throwsParse(t, () => parseMessage(msg([...requestLines({ contentLength: 0 }), 'Content-Length: 2'], 'ab')),
    { code: 'SIPD_ERR_PARSE_CONTENT_LENGTH' }, 'conflicting Content-Length fields');
  const same = parseMessage(msg([...requestLines({ contentLength: 2 }), 'l: 2'], 'ab'));
  t.equal(same.body.toString(), 'ab', 'repeated equal Content-Length is accepted');
});

t.test('stream framing (datagram: false)', async (t) => {
  const body = 'hello';
  throwsParse(t, () => parseMessage(msg(requestLines({ contentLength: null }), body), { datagram: false }),
    { code: 'SIPD_ERR_PARSE_CONTENT_LENGTH', status: 400 }, 'a body without Content-Length on a stream');
  const ok = parseMessage(msg(requestLines({ contentLength: null })), { datagram: false });
  t.equal(ok.body.length, 0, 'no body and no Content-Length is fine');
  const withLen = parseMessage(request({ body }), { datagram: false });
  t.equal(withLen.body.toString(), body);
});

t.test('start lines', async (t) => {
  const req = parseMessage(request({ method: 'INVITE', uri: 'sips:+1-212-555-1212:1234@gateway.com;user=phone' }));
  t.ok(req instanceof SipRequest);
  t.equal(req.isRequest, true);
  const r = req as SipRequest;
  t.equal(r.method, 'INVITE');
  t.equal(r.uri, 'sips:+1-212-555-1212:1234@gateway.com;user=phone');
  t.equal(r.startLine(), 'INVITE sips:+1-212-555-1212:1234@gateway.com;user=phone SIP/2.0');

  const ext = parseMessage(request({ method: 'NEWMETHOD.x-1!' })) as SipRequest;
  t.equal(ext.method, 'NEWMETHOD.x-1!', 'an extension method (token) is accepted');

  const lower = parseMessage(msg(['OPTIONS sip:b@example.com sip/2.0', ...requestLines().slice(1)])) as SipRequest;
  t.equal(lower.method, 'OPTIONS', 'the version is case-insensitive');

  const res = parseMessage(msg(responseLines(180, 'Ringing')));
  t.ok(res instanceof SipResponse);
  const s = res as SipResponse;
  t.equal(s.status, 180);
  t.equal(s.reason, 'Ringing');
  t.equal(s.isRequest, false);

  const spaced = parseMessage(msg(responseLines(603, 'Decline: I am busy, very  busy'))) as SipResponse;
  t.equal(spaced.reason, 'Decline: I am busy, very  busy', 'reason phrase kept verbatim');
  const empty = parseMessage(msg(['SIP/2.0 200', ...responseLines().slice(1)])) as SipResponse;
  t.equal(empty.status, 200);
  t.equal(empty.reason, '', 'empty reason phrase without the space');
  const empty2 = parseMessage(msg(['SIP/2.0 200 ', ...responseLines().slice(1)])) as SipResponse;
  t.equal(empty2.reason, '', 'empty reason phrase after the space');
  const utf8Input = Buffer.concat([Buffer.from('SIP/2.0 486 Занято\r\n', 'utf8'), msg(responseLines().slice(1))]);
  const utf8 = parseMessage(utf8Input) as SipResponse;
  t.equal(Buffer.from(utf8.reason, 'latin1').toString('utf8'), 'Занято', 'UTF-8 reason phrase kept as bytes');
  t.ok(utf8.serialize().equals(utf8Input), 'and written back byte for byte');
});

t.test('bad start lines', async (t) => {
  const rest = requestLines().slice(1);
  const table: Array<[string, string]> = [
    ['INVITE sip:b@example.com', 'no version'],
    ['INVITE  sip:b@example.com SIP/2.0', 'two spaces after the method'],
    ['INVITE sip:b@example.com  SIP/2.0', 'two spaces before the version'],
    ['INVITE sip:b@ example.com SIP/2.0', 'space inside the Request-URI'],
    ['INV ITE sip:b@example.com SIP/2.0', 'space in method'],
    ['IN<VITE sip:b@example.com SIP/2.0', 'bad character in method'],
    ['INVITE sip:b@example.com HTTP/1.1', 'not SIP'],
    ['INVITE sip:b@example.com SIP/2.0 ', 'trailing space'],
    ['INVITE', 'method only'],
    ['INVITE sip:b@example.com SIP/two', 'garbage version'],
    ['GET / HTTP/1.1', 'HTTP request'],
  ];
  for (const [line, why] of table) {
    throwsParse(t, () => parseMessage(msg([line, ...rest])), { code: 'SIPD_ERR_PARSE_START_LINE', status: 400 }, why);
  }
  const statusTable: Array<[string, string]> = [
    ['SIP/2.0 20 OK', 'two digits'],
    ['SIP/2.0 2000 OK', 'four digits'],
    ['SIP/2.0 OK', 'no code'],
    ['SIP/2.0 099 Odd', 'below 100'],
    ['SIP/2.0 700 Odd', 'above 699'],
    ['SIP/2.0 2x0 OK', 'not digits'],
    ['SIP/2.0', 'version only'],
    ['SIP/2.0\t200 OK', 'tab instead of SP'],
  ];
  const rrest = responseLines().slice(1);
  for (const [line, why] of statusTable) {
    throwsParse(t, () => parseMessage(msg([line, ...rrest])), { code: 'SIPD_ERR_PARSE_START_LINE', status: 400 }, why);
  }
  const resVersion = throwsParse(t, () => parseMessage(msg(['SIP/3.0 200 OK', ...rrest])), { code: 'SIPD_ERR_PARSE_VERSION', status: 505 }, 'response with SIP/3.0');
  t.ok(resVersion);
});

t.test('unsupported version: 505 with the header fields read (RFC 3261 §8.2.2.1 / §21.5.6)', async (t) => {
  const lines = requestLines({ method: 'OPTIONS', extra: ['Timestamp: 54'] });
  lines[0] = 'OPTIONS sip:t.watson@example.org SIP/7.0';
  const err = throwsParse(t, () => parseMessage(msg(lines)), { code: 'SIPD_ERR_PARSE_VERSION', status: 505, reason: /version/i });
  t.equal(err?.partial?.kind, 'request');
  t.equal(err?.partial?.method, 'OPTIONS');
  t.same(err?.partial?.headers.map((h) => h.name), ['via', 'max-forwards', 'from', 'to', 'call-id', 'cseq', 'timestamp', 'content-length'],
    'every header field, not just those before an error');
});

t.test('missing or empty mandatory headers', async (t) => {
  for (const [name, label] of [['via', 'Via'], ['from', 'From'], ['to', 'To'], ['call-id', 'Call-ID'], ['cseq', 'CSeq']] as const) {
    const err = throwsParse(t, () => parseMessage(request({ method: 'INVITE', omit: [name] })),
      { code: 'SIPD_ERR_PARSE_MISSING_HEADER', status: 400, header: label, reason: new RegExp(label) }, `missing ${label}`);
    t.equal(err?.partial?.kind, 'request');
    t.equal(err?.partial?.method, 'INVITE');
    t.equal(err?.partial?.headers.length, 6, `partial has the ${6} fields read`);
    const rlines = responseLines().filter((l) => !l.toLowerCase().startsWith(`${name}:`));
    const rerr = throwsParse(t, () => parseMessage(msg(rlines)), { code: 'SIPD_ERR_PARSE_MISSING_HEADER', header: label }, `response missing ${label}`);
    t.equal(rerr?.partial?.kind, 'response');
  }
  throwsParse(t, () => parseMessage(request({ extra: ['Call-ID:'] })), { code: 'SIPD_ERR_PARSE_MISSING_HEADER', header: 'Call-ID' }, 'empty Call-ID');
  throwsParse(t, () => parseMessage(request({ extra: ['Call-ID:    '] })), { code: 'SIPD_ERR_PARSE_MISSING_HEADER', header: 'Call-ID' }, 'blank Call-ID');
  const noMf = parseMessage(request({ omit: ['max-forwards'] }));
  t.equal(noMf.maxForwards, undefined, 'Max-Forwards is optional for the parser (the proxy adds it)');
});

t.test('CSeq', async (t) => {
  const err = throwsParse(t, () => parseMessage(request({ method: 'INVITE', extra: ['CSeq: 1 ACK'] })),
    { code: 'SIPD_ERR_PARSE_CSEQ', status: 400, header: 'CSeq', reason: /method/ }, 'method mismatch');
  t.equal(err?.partial?.method, 'INVITE');
  const table = ['INVITE', '1', 'x INVITE', '-1 INVITE', '1.5 INVITE', '2147483648 INVITE', '12345678901 INVITE', '1 IN<VITE', '1 INVITE extra', ''];
  for (const v of table) {
    throwsParse(t, () => parseMessage(request({ method: 'INVITE', extra: [`CSeq: ${v}`] })), { code: v === '' ? 'SIPD_ERR_PARSE_CSEQ' : 'SIPD_ERR_PARSE_CSEQ', header: 'CSeq' }, `CSeq: ${JSON.stringify(v)}`);
  }
  t.same(parseMessage(request({ method: 'INVITE', extra: ['CSeq: 2147483647 INVITE'] })).cseq, { seq: 2 ** 31 - 1, method: 'INVITE' }, 'largest CSeq');
  t.same(parseMessage(request({ method: 'INVITE', extra: ['CSeq: 0 INVITE'] })).cseq, { seq: 0, method: 'INVITE' }, 'zero');
  t.same(parseMessage(request({ method: 'INVITE', extra: ['CSeq:  7 \t INVITE '] })).cseq, { seq: 7, method: 'INVITE' }, 'LWS');
  const res = parseMessage(msg(responseLines(200, 'OK').map((l) => (l.startsWith('CSeq') ? 'CSeq: 5 BYE' : l))));
  t.same(res.cseq, { seq: 5, method: 'BYE' }, 'responses have no request method to compare with');
});

t.test('Max-Forwards', async (t) => {
  for (const [v, want] of [['0', 0], ['70', 70], ['255', 255], ['0068', 68], ['  9 ', 9]] as const) {
    t.equal(parseMessage(request({ extra: [`Max-Forwards: ${v}`] })).maxForwards, want, `Max-Forwards: ${JSON.stringify(v)}`);
  }
  for (const v of ['256', '-1', 'seventy', '7 0', '1e2', '0x10', '', '99999999999']) {
    const err = throwsParse(t, () => parseMessage(request({ method: 'INVITE', extra: [`Max-Forwards: ${v}`] })),
      { code: 'SIPD_ERR_PARSE_MAX_FORWARDS', status: 400, header: 'Max-Forwards' }, `Max-Forwards: ${JSON.stringify(v)}`);
    t.equal(err?.partial?.method, 'INVITE');
  }
});

t.test('malformed header lines and names', async (t) => {
  const table: Array<[string, string]> = [
    ['NoColonHere', 'no colon'],
    [': value', 'empty name'],
    ['Bad Name: x', 'space in the name'],
    ['Bad<Name: x', 'separator in the name'],
  ];
  for (const [line, why] of table) {
    const lines = requestLines({ method: 'INVITE' });
    lines.splice(2, 0, line); // after the Via
    const err = throwsParse(t, () => parseMessage(msg(lines)), { code: 'SIPD_ERR_PARSE_HEADER', status: 400 }, why);
    t.same(err?.partial?.headers.map((h) => h.name), ['via'], `${why}: partial holds the fields before the bad one`);
    t.equal(err?.partial?.method, 'INVITE');
  }
  throwsParse(t, () => parseMessage(Buffer.from('OPTIONS sip:b@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1')),
    { code: 'SIPD_ERR_PARSE_HEADER' }, 'no line end at all');
  throwsParse(t, () => parseMessage(Buffer.alloc(0)), { code: 'SIPD_ERR_PARSE_EMPTY' }, 'empty buffer');
  throwsParse(t, () => parseMessage(Buffer.from('\r\n\r\n\r\n')), { code: 'SIPD_ERR_PARSE_EMPTY' }, 'only CRLFs');
  const bad = throwsParse(t, () => parseMessage(request({ extra: ['Via: SIP/2.0/UDP'] })), { code: 'SIPD_ERR_PARSE_VIA', header: 'Via' }, 'bad top Via');
  t.ok(bad?.partial);
});

t.test('header section without the final blank line', async (t) => {
  const lines = requestLines();
  const m = parseMessage(Buffer.from(lines.join('\r\n') + '\r\n'));
  t.equal(m.body.length, 0, 'a datagram may end right after the last header line');
  t.equal(m.callId, lines.find((l) => l.startsWith('Call-ID'))!.slice(9));
});

t.test('bare LF line ends are tolerated', async (t) => {
  const body = 'v=0\no=- 1 1 IN IP4 192.0.2.1\n';
  const lines = requestLines({ method: 'INVITE', body, extra: ['Subject: folded\n  value'] });
  const m = parseMessage(msg(lines, body, '\n'));
  t.equal(m.get('subject'), 'folded value');
  t.equal(m.body.toString('latin1'), body);
  t.equal((m as SipRequest).method, 'INVITE');
  t.equal(m.via.branch?.startsWith('z9hG4bK'), true);
  const out = m.serialize().toString('latin1');
  t.match(out, /^INVITE sip:bob@example.com SIP\/2.0\r\nVia: /, 'written back with CRLF');
  t.equal(parseMessage(m.serialize()).get('subject'), 'folded value', 'and parses again');
  const res = parseMessage(msg(responseLines(), '', '\n'));
  t.equal((res as SipResponse).status, 200);
});

t.test('leading CRLFs are ignored (RFC 3261 §7.5)', async (t) => {
  const plain = request();
  for (const prefix of ['\r\n', '\r\n\r\n\r\n', '\n', '\n\r\n']) {
    const m = parseMessage(Buffer.concat([Buffer.from(prefix), plain]));
    t.equal((m as SipRequest).method, 'OPTIONS', JSON.stringify(prefix));
    t.equal(m.serialize().toString('latin1'), plain.toString('latin1'), 'serialize starts at the start line');
  }
});

t.test('errors carry no stack text in their reason and are SipParseError', async (t) => {
  try {
    parseMessage(Buffer.from('garbage\r\n\r\n'));
    t.fail('should throw');
  } catch (err) {
    t.ok(err instanceof SipParseError);
    const e = err as SipParseError;
    t.equal(e.name, 'SipParseError');
    t.equal(typeof e.code, 'string');
    t.notMatch(e.reason, /\n|at /);
  }
});
