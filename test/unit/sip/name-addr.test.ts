/**
 * name-addr and addr-spec (RFC 3261 §20.10, §25.1) and the fast tag extractor
 * used on every message.
 */
import t from 'tap';
import { SipParseError } from '../../../lib/sip/errors.js';
import { displayName, extractTag, formatNameAddr, parseNameAddr } from '../../../lib/sip/name-addr.js';
import { formatUri } from '../../../lib/sip/uri.js';

t.test('quoted display names', async (t) => {
  const table: Array<[string, string, string, string]> = [
    // input, display as written, display unquoted, uri
    ['"Alice" <sip:alice@atlanta.com>', '"Alice"', 'Alice', 'sip:alice@atlanta.com'],
    ['"Lee, Alice" <sip:alice@atlanta.com>', '"Lee, Alice"', 'Lee, Alice', 'sip:alice@atlanta.com'],
    ['"a <b> c" <sip:abc@example.com>', '"a <b> c"', 'a <b> c', 'sip:abc@example.com'],
    ['"semi;colon" <sip:s@example.com>', '"semi;colon"', 'semi;colon', 'sip:s@example.com'],
    ['"J Rosenberg \\\\\\"" <sip:jdrosen@example.com>', '"J Rosenberg \\\\\\""', 'J Rosenberg \\"', 'sip:jdrosen@example.com'],
    ['"Quoted string \\"\\"" <sip:jdrosen@example.com>', '"Quoted string \\"\\""', 'Quoted string ""', 'sip:jdrosen@example.com'],
    ['""<sip:empty@example.com>', '""', '', 'sip:empty@example.com'],
    ['"Bob"<sip:bob@biloxi.com>', '"Bob"', 'Bob', 'sip:bob@biloxi.com'],
    ['  "Spaced"   <  sip:sp@example.com  >  ', '"Spaced"', 'Spaced', 'sip:sp@example.com'],
    ['"tag=x;tag=y" <sip:t@example.com>', '"tag=x;tag=y"', 'tag=x;tag=y', 'sip:t@example.com'],
  ];
  for (const [input, display, plain, uri] of table) {
    const na = parseNameAddr(input);
    t.equal(na.display, display, `${input}: display as written`);
    t.equal(displayName(na), plain, `${input}: display unquoted`);
    t.equal(na.uriText, uri);
    t.equal(formatUri(na.uri), uri);
    t.equal(na.angle, true);
  }
});

t.test('unquoted display names', async (t) => {
  const table: Array<[string, string]> = [
    ['Bob <sips:bob@biloxi.com>', 'Bob'],
    ['Anonymous <sip:c8oqz84zk7z@privacy.org>', 'Anonymous'],
    ['The Operator <sip:operator@cs.columbia.edu>', 'The Operator'],
    ['caller  with   spaces <sip:x@example.com>', 'caller  with   spaces'],
    ['<sip:nodisplay@example.com>', ''],
  ];
  for (const [input, display] of table) {
    const na = parseNameAddr(input);
    t.equal(displayName(na) ?? '', display, input);
  }
  t.equal(parseNameAddr('<sip:x@example.com>').display, undefined, 'no display name → undefined');
});

t.test('header parameters after the name-addr', async (t) => {
  const na = parseNameAddr('"Alice" <sip:alice@atlanta.com;transport=tcp;lr>;tag=1928301774;Expires=3600;q=0.7;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1;flag');
  t.same([...na.uri.params], [['transport', 'tcp'], ['lr', null]], 'URI parameters stay in the URI');
  t.same([...na.params], [
    ['tag', '1928301774'],
    ['expires', '3600'],
    ['q', '0.7'],
    ['+sip.instance', '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'],
    ['reg-id', '1'],
    ['flag', null],
  ], 'header parameters: names lower-cased, quotes kept, flags null');
  const spaced = parseNameAddr('<sip:a@example.com> ; tag = abc ; q=1');
  t.same([...spaced.params], [['tag', 'abc'], ['q', '1']], 'LWS around ; and =');
  const quoted = parseNameAddr('<sip:a@example.com>;x="a;b,c";tag=t');
  t.equal(quoted.params.get('x'), '"a;b,c"', 'a quoted value may hold ; and ,');
  t.equal(quoted.params.get('tag'), 't');
});

t.test('addr-spec: parameters belong to the header, not the URI', async (t) => {
  const na = parseNameAddr('sip:alice@atlanta.com;tag=88sja8x;expires=60');
  t.equal(na.angle, false);
  t.equal(na.display, undefined);
  t.equal(na.uriText, 'sip:alice@atlanta.com');
  t.equal(na.uri.params.size, 0);
  t.same([...na.params], [['tag', '88sja8x'], ['expires', '60']]);
  const tel = parseNameAddr('tel:+1-201-555-0123;tag=x');
  t.equal(tel.uri.scheme, 'tel');
  t.equal(tel.uri.user, '+1-201-555-0123');
  t.equal(tel.params.get('tag'), 'x');
  const plain = parseNameAddr('  sip:bob@[2001:db8::1]:5060  ');
  t.equal(plain.uri.host, '[2001:db8::1]');
  t.equal(plain.uri.port, 5060);
  t.equal(plain.params.size, 0);
  const withHeaders = parseNameAddr('<sip:b@example.com?Subject=hi%20there;x=y>');
  t.equal(withHeaders.uri.headers, 'Subject=hi%20there;x=y', 'a URI with headers needs <>');
  const lws = parseNameAddr('sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n');
  t.equal(lws.uriText, 'sip:vivekg@chair-dnrc.example.com', 'LWS before the ; of a header parameter (RFC 4475 wsinv)');
  t.equal(lws.params.get('tag'), '1918181833n');
});

t.test('formatNameAddr', async (t) => {
  t.equal(formatNameAddr({ uriText: 'sip:a@example.com' }), '<sip:a@example.com>');
  t.equal(formatNameAddr({ display: '"Alice"', uriText: 'sip:a@example.com', params: new Map([['tag', 'x'], ['lr', null]]) }), '"Alice" <sip:a@example.com>;tag=x;lr');
  const na = parseNameAddr('Bob <sip:bob@example.com;lr>;tag=1');
  t.equal(formatNameAddr(na), 'Bob <sip:bob@example.com;lr>;tag=1', 'round trip');
  const spec = parseNameAddr('sip:bob@example.com;tag=1');
  t.equal(formatNameAddr(spec), '<sip:bob@example.com>;tag=1', 'addr-spec written as name-addr keeps the meaning');
});

t.test('malformed name-addr', async (t) => {
  const table: Array<[string, string]> = [
    ['', 'empty'],
    ['<sip:a@example.com', 'missing >'],
    ['"Alice <sip:a@example.com>', 'unterminated quote'],
    ['"Alice" x <sip:a@example.com>', 'text after the quoted display name'],
    ['<sip:a@example.com> junk', 'text after >'],
    ['<not a uri>', 'bad URI in <>'],
    ['<>', 'empty URI'],
    ['Bob sip:bob@example.com', 'display name without <>'],
    ['sip:a@example.com junk', 'space in addr-spec'],
    ['alice@example.com', 'no scheme'],
    [';tag=1', 'parameters only'],
    ['sip:user@example.com?Route=%3Csip:sip.example.com%3E', 'addr-spec with headers (RFC 4475 regbadct)'],
  ];
  for (const [input, why] of table) {
    try {
      parseNameAddr(input);
      t.fail(`${why}: ${JSON.stringify(input)} parsed`);
    } catch (err) {
      t.ok(err instanceof SipParseError, `${why}: SipParseError`);
      t.match((err as SipParseError).code, /^SIPD_ERR_PARSE_(NAME_ADDR|URI)$/, `${why}: code`);
    }
  }
});

t.test('extractTag in every form', async (t) => {
  const table: Array<[string, string | undefined, string]> = [
    ['<sip:a@example.com>;tag=abc', 'abc', 'name-addr'],
    ['"Alice" <sip:a@example.com>;tag=1928301774', '1928301774', 'with display name'],
    ['sip:a@example.com;tag=spec', 'spec', 'addr-spec'],
    ['<sip:a@example.com>;TAG=Upper', 'Upper', 'name case-insensitive, value case kept'],
    ['<sip:a@example.com>;Tag=x', 'x', 'mixed case'],
    ['<sip:a@example.com> ; tag = spaced ', 'spaced', 'LWS around ; and ='],
    ['<sip:a@example.com>;\ttag\t=\ttabbed', 'tabbed', 'tabs'],
    ['<sip:a@example.com>;x=1;tag=mid;y=2', 'mid', 'in the middle'],
    ['<sip:a@example.com>;tag=end,', 'end', 'ends at a comma'],
    ['<sip:a@example.com;tag=inuri>', undefined, 'a URI parameter is not the tag'],
    ['<sip:a@example.com;tag=inuri>;tag=hdr', 'hdr', 'header tag next to a URI tag'],
    ['<sip:tag@example.com>', undefined, '"tag" in the user part'],
    ['<sip:a@example.com>;xtag=1', undefined, 'xtag'],
    ['<sip:a@example.com>;tagx=1', undefined, 'tagx'],
    ['<sip:a@example.com>;x=tag;tag=real', 'real', '"tag" as a value first'],
    ['<sip:a@example.com>;tag', undefined, 'flag without value'],
    ['<sip:a@example.com>;tag=', undefined, 'empty value'],
    ['<sip:a@example.com>', undefined, 'none'],
    ['sip:a@example.com', undefined, 'addr-spec without tag'],
    ['"tag=no;tag=no" <sip:a@example.com>;tag=yes', 'yes', 'tag-like text in the display name'],
    ['"a>b" <sip:a@example.com>;tag=q', 'q', '> inside the display name'],
    ['<sip:a@example.com>;tag=1;x="a>b"', '1', '> inside a later quoted parameter'],
    ['sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n', '1918181833n', 'RFC 4475 wsinv To'],
    ['<sip:a@example.com>;tag=a-b.c!d%e*f_g+h`i\'j~k', 'a-b.c!d%e*f_g+h`i\'j~k', 'every token character'],
  ];
  for (const [value, tag, why] of table) t.equal(extractTag(value), tag, `${why}: ${value}`);
});

t.test('extractTag agrees with parseNameAddr', async (t) => {
  for (const v of [
    '"Alice" <sip:a@example.com;tag=u>;tag=h;x=y',
    'sip:a@example.com;foo;tag=Z9',
    'Bob <tel:+1234>;Tag=T',
    '<sip:a@example.com>',
  ]) {
    t.equal(extractTag(v), parseNameAddr(v).params.get('tag') ?? undefined, v);
  }
});
