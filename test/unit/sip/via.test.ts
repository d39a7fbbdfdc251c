/**
 * Via (RFC 3261 §20.42, §18.2.1; RFC 3581 rport): sent-protocol with LWS,
 * sent-by with IPv6, branch/received/rport/maddr, lists, errors.
 */
import t from 'tap';
import { SipParseError } from '../../../lib/sip/errors.js';
import { parseMessage } from '../../../lib/sip/parse.js';
import { formatVia, MAGIC_COOKIE, parseVia } from '../../../lib/sip/via.js';
import { request } from './support.js';

t.test('sent-protocol and sent-by', async (t) => {
  const table: Array<[string, Record<string, unknown>]> = [
    ['SIP/2.0/UDP pc33.atlanta.com;branch=z9hG4bK776asdhds', { transport: 'UDP', host: 'pc33.atlanta.com', port: undefined, branch: 'z9hG4bK776asdhds' }],
    ['SIP/2.0/TCP client.atlanta.example.com:5060;branch=z9hG4bK74b43', { transport: 'TCP', host: 'client.atlanta.example.com', port: 5060 }],
    ['SIP/2.0/tls 192.0.2.1:5061;branch=z9hG4bKx', { transport: 'TLS', host: '192.0.2.1', port: 5061 }],
    ['sip/2.0/udp h;branch=b', { transport: 'UDP', host: 'h' }],
    ['SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKasudf', { transport: 'WSS', host: 'df7jal23ls0d.invalid' }],
    ['SIP/2.0/SCTP h', { transport: 'SCTP', branch: undefined }],
    ['SIP/2.0/UDP [2001:db8::9:1];branch=z9hG4bKas3-111', { host: '[2001:db8::9:1]', port: undefined }],
    ['SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKas3-111', { host: '[2001:db8::9:1]', port: 6050 }],
    ['SIP/2.0/UDP [::1]:5060', { host: '[::1]', port: 5060 }],
    ['SIP/2.0/UDP [::ffff:192.0.2.1]:5060', { host: '[::ffff:192.0.2.1]', port: 5060 }],
    ['SIP / 2.0 / UDP h;branch=z9hG4bK1', { transport: 'UDP', host: 'h' }],
    ['SIP  /   2.0 /UDP    192.0.2.2;branch=390skdjuw', { transport: 'UDP', host: '192.0.2.2', branch: '390skdjuw' }],
    ['SIP/2.0/UDP\t192.0.2.2 : 5070 ;branch=z9hG4bKsp', { host: '192.0.2.2', port: 5070, branch: 'z9hG4bKsp' }],
    ['  SIP/2.0/UDP h:1  ', { host: 'h', port: 1 }],
    ['SIP/2.0/UDP h:65535', { port: 65535 }],
  ];
  for (const [value, want] of table) t.match(parseVia(value), want, value);
});

t.test('parameters: branch, received, rport, maddr, ttl', async (t) => {
  const v = parseVia('SIP/2.0/UDP 192.0.2.1:5060;received=192.0.2.207;rport=5061;branch=z9hG4bK87asdks7;maddr=224.2.0.1;ttl=16;X-Ext');
  t.equal(v.branch, 'z9hG4bK87asdks7');
  t.equal(v.received, '192.0.2.207');
  t.equal(v.rport, 5061);
  t.equal(v.maddr, '224.2.0.1');
  t.equal(v.params.get('ttl'), '16');
  t.equal(v.params.get('x-ext'), null, 'unknown flag, name lower-cased');
  t.same([...v.params.keys()], ['received', 'rport', 'branch', 'maddr', 'ttl', 'x-ext'], 'order kept');

  t.equal(parseVia('SIP/2.0/UDP h;rport;branch=z9hG4bK1').rport, null, 'rport without value → null');
  t.equal(parseVia('SIP/2.0/UDP h;rport=;branch=z9hG4bK1').rport, null, 'rport= (empty) → null');
  t.equal(parseVia('SIP/2.0/UDP h;branch=z9hG4bK1').rport, undefined, 'no rport → undefined');
  t.equal(parseVia('SIP/2.0/UDP h;RPORT=7;BRANCH=Z9hG4bKUP').rport, 7, 'param names are case-insensitive');
  t.equal(parseVia('SIP/2.0/UDP h;RPORT=7;BRANCH=Z9hG4bKUP').branch, 'Z9hG4bKUP', 'branch value case kept');
  t.equal(parseVia('SIP/2.0/UDP h;received=2001:db8::1;branch=z9hG4bK1').received, '2001:db8::1', 'IPv6 received');
  t.equal(parseVia('SIP/2.0/UDP h;maddr=[2001:db8::1]').maddr, '[2001:db8::1]');
  t.equal(parseVia('SIP/2.0/UDP h;branch').branch, undefined, 'branch flag without value');
  t.equal(parseVia('SIP/2.0/UDP h ; branch = z9hG4bKlws ; rport').branch, 'z9hG4bKlws', 'LWS around ; and =');
  t.equal(parseVia('SIP/2.0/UDP h;received').received, undefined);
  t.equal(parseVia('SIP/2.0/UDP h;x="quoted;value";branch=z9hG4bKq').branch, 'z9hG4bKq', 'quoted value with ;');
  t.equal(MAGIC_COOKIE, 'z9hG4bK');
});

t.test('several Vias in one field (message level)', async (t) => {
  const m = parseMessage(request({
    extra: [
      'Via: SIP/2.0/UDP first.example.com:4000;branch=z9hG4bKa;received=192.0.2.1 , SIP/2.0/TCP [2001:db8::2];branch=z9hG4bKb,SIP/2.0/UDP third;x="a,b"',
      'v: SIP/2.0/UDP fourth;branch=z9hG4bKd',
    ],
  }));
  t.equal(m.via.host, 'first.example.com', 'top Via');
  t.equal(m.via.port, 4000);
  t.equal(m.via.received, '192.0.2.1');
  const all = m.vias();
  t.same(all.map((v) => v.host), ['first.example.com', '[2001:db8::2]', 'third', 'fourth']);
  t.same(all.map((v) => v.transport), ['UDP', 'TCP', 'UDP', 'UDP']);
  t.equal(all[2]!.params.get('x'), '"a,b"', 'comma inside a quoted parameter');
  const folded = parseMessage(request({
    omit: ['via'],
    extra: ['v:  SIP  / 2.0  / TCP     spindle.example.com   ;\r\n  branch  =   z9hG4bK9ikj8  ,\r\n SIP  /    2.0   / UDP  192.168.255.111   ; branch=\r\n z9hG4bK30239'],
  }));
  t.same(folded.vias().map((v) => [v.transport, v.host, v.branch]), [['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'], ['UDP', '192.168.255.111', 'z9hG4bK30239']],
    'RFC 4475 wsinv Via');
});

t.test('malformed Via', async (t) => {
  const table: Array<[string, string]> = [
    ['', 'empty'],
    ['SIP/2.0/UDP', 'no sent-by'],
    ['SIP/2.0 h', 'no transport'],
    ['SIP/3.0/UDP h', 'wrong version'],
    ['HTTP/1.1/TCP h', 'not SIP'],
    ['SIP/2.0/UDP h:0', 'port 0'],
    ['SIP/2.0/UDP h:65536', 'port out of range'],
    ['SIP/2.0/UDP h:123456', 'port too long'],
    ['SIP/2.0/UDP h:', 'empty port'],
    ['SIP/2.0/UDP h:port', 'named port'],
    ['SIP/2.0/UDP [2001:db8::1', 'unterminated IPv6 reference'],
    ['SIP/2.0/UDP 2001:db8::1', 'IPv6 without brackets'],
    ['SIP/2.0/UDP h x', 'garbage after sent-by'],
    ['SIP/2.0/UDP h;rport=abc', 'rport not a number'],
    ['SIP/2.0/UDP h;rport=123456', 'rport too long'],
    ['SIP/2.0/UDP h_x', 'bad host character'],
    ['SIP/2.0/U<P h', 'bad transport'],
    ['SIP/2.0/UDP 192.0.2.15;;', 'empty parameters (RFC 4475 badinv01)'],
    ['SIP/2.0/UDP h;branch=z9hG4bK1;', 'trailing ;'],
    ['SIP/2.0/UDP h ; ; branch=z9hG4bK1', 'empty parameter between blanks'],
  ];
  for (const [value, why] of table) {
    try {
      parseVia(value);
      t.fail(`${why}: ${JSON.stringify(value)} parsed`);
    } catch (err) {
      t.ok(err instanceof SipParseError, `${why}: SipParseError`);
      t.match(err, { code: 'SIPD_ERR_PARSE_VIA', header: 'Via', status: 400 }, `${why}: code`);
    }
  }
  const m = parseMessage(request({ extra: ['Via: SIP/2.0/UDP good;branch=z9hG4bKg, SIP/2.0/UDP h:bad'] }));
  t.equal(m.via.host, 'good', 'only the top Via is parsed eagerly');
  t.throws(() => m.vias(), SipParseError, 'the rest on demand');
});

t.test('formatVia', async (t) => {
  const v = parseVia('SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKf;rport');
  t.equal(formatVia(v), 'SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKf;rport');
  v.params.set('rport', '5062');
  v.params.set('received', '2001:db8::99');
  t.equal(formatVia(v), 'SIP/2.0/UDP [2001:db8::1]:5060;branch=z9hG4bKf;rport=5062;received=2001:db8::99');
  t.equal(formatVia({ transport: 'TCP', host: 'h', port: undefined, params: new Map() }), 'SIP/2.0/TCP h');
  const back = parseVia(formatVia(v));
  t.equal(back.rport, 5062);
  t.equal(back.received, '2001:db8::99');
});
