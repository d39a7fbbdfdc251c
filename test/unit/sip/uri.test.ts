/**
 * SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966) and other
 * absoluteURI schemes: parts, parameters, headers, escapes, round trip, errors.
 */
import t from 'tap';
import { SipParseError } from '../../../lib/sip/errors.js';
import fc from 'fast-check';
import { bareHost, formatUri, hostForUri, parseUri, unescapeUser } from '../../../lib/sip/uri.js';

t.test('parts of SIP and SIPS URIs', async (t) => {
  const table: Array<[string, Record<string, unknown>]> = [
    ['sip:alice@atlanta.com', { scheme: 'sip', user: 'alice', password: undefined, host: 'atlanta.com', port: undefined, headers: undefined }],
    ['sip:alice:secretword@atlanta.com;transport=tcp', { user: 'alice', password: 'secretword', host: 'atlanta.com' }],
    ['sips:alice@atlanta.com?subject=project%20x&priority=urgent', { scheme: 'sips', host: 'atlanta.com', headers: 'subject=project%20x&priority=urgent' }],
    ['sip:+1-212-555-1212:1234@gateway.com;user=phone', { user: '+1-212-555-1212', password: '1234', host: 'gateway.com' }],
    ['sips:1212@gateway.com', { scheme: 'sips', user: '1212' }],
    ['sip:alice@192.0.2.4', { host: '192.0.2.4', port: undefined }],
    ['sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com', { user: undefined, host: 'atlanta.com', headers: 'to=alice%40atlanta.com' }],
    ['sip:alice;day=tuesday@atlanta.com', { user: 'alice;day=tuesday', host: 'atlanta.com' }],
    ['sip:registrar.biloxi.com', { user: undefined, host: 'registrar.biloxi.com' }],
    ['sip:bob@[2001:db8::10]', { host: '[2001:db8::10]', port: undefined }],
    ['sip:bob@[2001:db8::10]:5070', { host: '[2001:db8::10]', port: 5070 }],
    ['sip:[::1]:5060;transport=tcp', { user: undefined, host: '[::1]', port: 5060 }],
    ['sip:[2001:db8::9:255]', { host: '[2001:db8::9:255]' }],
    ['sip:[::ffff:192.0.2.1]:5061', { host: '[::ffff:192.0.2.1]', port: 5061 }],
    ['sip:bob@biloxi.example.com:5060', { host: 'biloxi.example.com', port: 5060 }],
    ['sip:bob@host:0', { port: 0 }],
    ['sip:bob@host:65535', { port: 65535 }],
    ['sip:bob@a-b.c-d.example.', { host: 'a-b.c-d.example.' }],
    ['SIP:Bob@Example.COM', { scheme: 'sip', user: 'Bob', host: 'Example.COM' }],
    ['sip:%61lice@atlanta.com', { user: '%61lice' }],
    ['sip:user:@host', { user: 'user', password: '' }],
    // RFC 4475 intmeth: `?`, `;`, `/` and `,` are allowed in the user part, `:` starts the password.
    ["sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com",
      { user: "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", password: "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)", host: 'example.com', headers: undefined }],
    ['sip:user;par=u%40example.net@example.com', { user: 'user;par=u%40example.net', host: 'example.com' }],
  ];
  for (const [s, want] of table) {
    t.match(parseUri(s), want, s);
  }
});

t.test('parameters: flags, values, case of names', async (t) => {
  const u = parseUri('sip:bob@example.com;transport=TCP;lr;Maddr=239.255.255.1;TTL=15;user=phone;x-empty=;method=INVITE');
  t.same([...u.params], [
    ['transport', 'TCP'],
    ['lr', null],
    ['maddr', '239.255.255.1'],
    ['ttl', '15'],
    ['user', 'phone'],
    ['x-empty', ''],
    ['method', 'INVITE'],
  ], 'names lower-cased, values as written, flags are null, empty value is ""');
  t.equal(u.params.get('lr'), null);
  t.equal(u.params.has('nothere'), false);
  const ob = parseUri('sip:192.0.2.5:5060;transport=udp;ob;rinstance=8c2d5d4a0b0f1e2a');
  t.equal(ob.params.get('ob'), null);
  t.equal(ob.params.get('rinstance'), '8c2d5d4a0b0f1e2a');
  const esc = parseUri('sip:h;x-param=a%20b');
  t.equal(esc.params.get('x-param'), 'a%20b', 'escaped parameter values stay escaped');
  const brackets = parseUri('sip:h;maddr=[2001:db8::1]');
  t.equal(brackets.params.get('maddr'), '[2001:db8::1]', 'IPv6 reference in a parameter');
});

t.test('headers part', async (t) => {
  const u = parseUri('sip:bob@example.com;transport=udp?Subject=hello%20there&Call-Info=%3Chttp://x%3E&a=b&c=d');
  t.equal(u.headers, 'Subject=hello%20there&Call-Info=%3Chttp://x%3E&a=b&c=d');
  t.equal(u.params.get('transport'), 'udp', 'parameters before ?');
  t.equal(parseUri('sip:b@h?').headers, '', 'empty headers part');
  t.equal(parseUri('sip:b@h?a=b@c').host, 'h', 'an @ in the headers does not start a host');
});

t.test('escaped user part', async (t) => {
  const table: Array<[string, string, string]> = [
    ['sip:alice%40home@example.com', 'alice%40home', 'alice@home'],
    ['sip:%61lice@example.com', '%61lice', 'alice'],
    ['sip:sips%3Auser%40example.com@example.net', 'sips%3Auser%40example.com', 'sips:user@example.com'],
    ['sip:name%20with%20space@example.com', 'name%20with%20space', 'name with space'],
    ['sip:plain@example.com', 'plain', 'plain'],
    ['sip:%2a%2A@example.com', '%2a%2A', '**'],
  ];
  for (const [s, user, plain] of table) {
    const u = parseUri(s);
    t.equal(u.user, user, `${s}: user stays escaped`);
    t.equal(unescapeUser(u.user!), plain, `${s}: unescapeUser`);
  }
  t.equal(unescapeUser('50%'), '50%', 'a lone % is left alone');
  t.equal(unescapeUser('%zz'), '%zz', 'a bad escape is left alone');
});

t.test('tel URIs (RFC 3966)', async (t) => {
  const table: Array<[string, string, Array<[string, string | null]>]> = [
    ['tel:+1-201-555-0123', '+1-201-555-0123', []],
    ['tel:7042;phone-context=example.com', '7042', [['phone-context', 'example.com']]],
    ['tel:+358-555-1234567;postd=pp22', '+358-555-1234567', [['postd', 'pp22']]],
    ['tel:863-1234;phone-context=+1-914-555', '863-1234', [['phone-context', '+1-914-555']]],
    ['tel:*21#', '*21#', []],
    ['tel:+1(800)555.1234;isub=12;ext=3;X-Flag', '+1(800)555.1234', [['isub', '12'], ['ext', '3'], ['x-flag', null]]],
  ];
  for (const [s, number, params] of table) {
    const u = parseUri(s);
    t.equal(u.scheme, 'tel', s);
    t.equal(u.user, number);
    t.equal(u.host, '');
    t.same([...u.params], params);
  }
  t.equal(parseUri('TEL:+1234').scheme, 'tel');
});

t.test('other absoluteURI schemes are kept opaque', async (t) => {
  const table: Array<[string, string, string]> = [
    ['http://www.example.com/alice/photo.jpg', 'http', '//www.example.com/alice/photo.jpg'],
    ['mailto:alice@example.com', 'mailto', 'alice@example.com'],
    ['urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF', 'urn', 'uuid:00000000-0000-1000-8000-AABBCCDDEEFF'],
    ['im:alice@example.com', 'im', 'alice@example.com'],
    ['pres:bob@example.com', 'pres', 'bob@example.com'],
    ['Https://x.example.com/?a=b', 'https', '//x.example.com/?a=b'],
  ];
  for (const [s, scheme, opaque] of table) {
    const u = parseUri(s);
    t.equal(u.scheme, scheme, s);
    t.equal(u.opaque, opaque);
    t.equal(u.host, '');
    t.equal(u.user, undefined);
  }
});

t.test('formatUri(parseUri(s)) === s', async (t) => {
  const table = [
    'sip:alice@atlanta.com',
    'sip:alice:secretword@atlanta.com;transport=tcp',
    'sips:alice@atlanta.com?subject=project%20x&priority=urgent',
    'sip:+1-212-555-1212:1234@gateway.com;user=phone',
    'sip:alice@192.0.2.4:5060',
    'sip:atlanta.com;method=REGISTER?to=alice%40atlanta.com',
    'sip:alice;day=tuesday@atlanta.com',
    'sip:bob@[2001:db8::10]:5070;maddr=[2001:db8::20];lr',
    'sip:[::1]',
    'sip:bob@example.com;lr;x-empty=;ttl=1',
    'sip:%61lice@example.com',
    'sip:user:@host',
    'sip:b@h?',
    'tel:+1-201-555-0123;phone-context=example.com',
    'tel:*21#',
    'http://www.example.com/alice/photo.jpg',
    'urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6',
    // Case of the scheme and of parameter names survives an untouched round trip.
    'SIP:Bob@Example.COM;Transport=TCP;LR',
    'sips:bob@example.com;MADDR=x.example.com',
    'Tel:+1234;Phone-Context=example.com',
    'sip:bob@example.com:05060',
    'sip:bob@example.com:00',
    // Repeated parameter names (the parsed URI keeps the last value).
    'sip:bob@example.com;lr;LR',
    'sip:bob@example.com;a=1;a=2',
  ];
  for (const s of table) t.equal(formatUri(parseUri(s)), s, s);
});

t.test('formatUri(parseUri(s)) === s for generated sip URIs (case, ports, repeated parameters)', async (t) => {
  const word = fc.stringMatching(/^[a-zA-Z][a-zA-Z0-9-]{0,6}$/);
  const uri = fc
    .record({
      scheme: fc.constantFrom('sip', 'sips', 'SIP', 'Sip'),
      user: fc.option(word, { nil: undefined }),
      host: fc.constantFrom('example.com', 'Example.COM', '192.0.2.1', '[2001:db8::1]'),
      port: fc.option(fc.stringMatching(/^[0-9]{1,5}$/).filter((p) => Number(p) <= 65535), { nil: undefined }),
      params: fc.array(fc.tuple(word, fc.option(word, { nil: null })), { maxLength: 4 }),
    })
    .map((r) => `${r.scheme}:${r.user !== undefined ? `${r.user}@` : ''}${r.host}${r.port !== undefined ? `:${r.port}` : ''}${r.params.map(([k, v]) => (v === null ? `;${k}` : `;${k}=${v}`)).join('')}`);
  fc.assert(fc.property(uri, (s) => formatUri(parseUri(s)) === s));
  t.pass('round trip holds');
});

t.test('formatUri after changes', async (t) => {
  const u = parseUri('sip:bob@example.com;transport=udp');
  u.params.set('lr', null);
  u.port = 5070;
  t.equal(formatUri(u), 'sip:bob@example.com:5070;transport=udp;lr');
  const v = parseUri('SIP:bob@example.com;Transport=UDP');
  v.params.delete('transport');
  t.equal(formatUri(v), 'sip:bob@example.com', 'a changed URI is written in canonical form');
  const w = parseUri('sip:alice@atlanta.com');
  w.user = 'bob';
  w.password = 'pw';
  w.headers = 'a=b';
  t.equal(formatUri(w), 'sip:bob:pw@atlanta.com?a=b');
  const tel = parseUri('tel:+1234');
  tel.params.set('ext', '5');
  t.equal(formatUri(tel), 'tel:+1234;ext=5');
  t.equal(formatUri({ scheme: 'sip', user: undefined, password: undefined, host: '[::1]', port: 5060, params: new Map(), headers: undefined }), 'sip:[::1]:5060', 'a URI built by hand');
});

t.test('malformed URIs', async (t) => {
  const table: Array<[string, string]> = [
    ['', 'empty'],
    ['alice@example.com', 'no scheme'],
    [':alice@example.com', 'empty scheme'],
    ['1sip:alice@example.com', 'scheme starting with a digit'],
    ['s_p:alice@example.com', 'bad scheme character'],
    ['sip:', 'nothing after the scheme'],
    ['sip:@example.com', 'empty user'],
    ['sip:al ice@example.com', 'space in user'],
    ['sip:al<ice@example.com', '< in user'],
    ['sip:alice:pa ss@example.com', 'space in password'],
    ['sip:alice@', 'empty host'],
    ['sip:alice@exa mple.com', 'space in host'],
    ['sip:alice@-example.com', 'host starting with -'],
    ['sip:alice@exa_mple.com', '_ in host'],
    ['sip:alice@[2001:db8::1', 'unterminated IPv6 reference'],
    ['sip:alice@[2001:db8::g]', 'bad IPv6 reference'],
    ['sip:alice@[]', 'empty IPv6 reference'],
    ['sip:alice@2001:db8::1', 'IPv6 address without brackets'],
    ['sip:alice@example.com:', 'empty port'],
    ['sip:alice@example.com:65536', 'port out of range'],
    ['sip:alice@example.com:123456', 'port too long'],
    ['sip:alice@example.com:50x0', 'port with a letter'],
    ['sip:alice@example.com;', 'empty parameter'],
    ['sip:alice@example.com;a b=c', 'space in a parameter name'],
    ['sip:alice@example.com;a=b c', 'space in a parameter value'],
    ['sip:alice@example.com;a="b"', 'quoted parameter value'],
    ['sip:alice@example.com?a=<b>', '<> in headers'],
    ['sip:alice@example.com?a= b', 'space in headers'],
    ['sip:alice@example.com>', 'stray >'],
    ['sip:alice@example.com x', 'trailing garbage'],
    ['tel:', 'empty tel number'],
    ['tel:+12 34', 'space in tel number'],
    ['tel:alice', 'letters in tel number'],
    ['http:', 'empty absoluteURI'],
    ['http://a b', 'space in absoluteURI'],
    ['mailto:<a@b>', '<> in absoluteURI'],
  ];
  for (const [s, why] of table) {
    try {
      parseUri(s);
      t.fail(`${why}: ${JSON.stringify(s)} parsed`);
    } catch (err) {
      t.ok(err instanceof SipParseError, `${why}: SipParseError`);
      t.match(err, { code: 'SIPD_ERR_PARSE_URI', status: 400 }, `${why}: code and status`);
    }
  }
});

t.test('bareHost and hostForUri', async (t) => {
  t.equal(bareHost('[2001:DB8::1]'), '2001:db8::1');
  t.equal(bareHost('Example.COM'), 'example.com');
  t.equal(bareHost('192.0.2.1'), '192.0.2.1');
  t.equal(hostForUri('2001:db8::1'), '[2001:db8::1]');
  t.equal(hostForUri('[2001:db8::1]'), '[2001:db8::1]');
  t.equal(hostForUri('192.0.2.1'), '192.0.2.1');
  t.equal(hostForUri('example.com'), 'example.com');
});
