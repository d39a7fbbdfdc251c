/**
 * Corpus (STYLE §4.8): real phone messages and RFC 4475 torture tests in
 * test/fixtures/messages. Valid files parse, keep their key fields and
 * serialize byte for byte; invalid files throw SipParseError, or the table
 * below says why sipd accepts them and where the problem surfaces instead.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';
import { SipParseError } from '../../../lib/sip/errors.js';
import { StreamFramer } from '../../../lib/sip/frame.js';
import { SipRequest, SipResponse, type AnyMessage } from '../../../lib/sip/message.js';
import { displayName } from '../../../lib/sip/name-addr.js';
import { parseMessage } from '../../../lib/sip/parse.js';
import { unescapeUser } from '../../../lib/sip/uri.js';

const dir = fileURLToPath(new URL('../../fixtures/messages/', import.meta.url));
const load = (rel: string): Buffer => readFileSync(dir + rel);
const files = (sub: string): string[] => readdirSync(dir + sub).filter((f) => f.endsWith('.sip')).sort();

interface Expect {
  start: string;
  callId: string;
  cseq: [number, string];
  branch: string | undefined;
  fromTag: string | undefined;
  toTag: string | undefined;
  maxForwards?: number | undefined;
  body: number;
  check?: (t: Test, m: AnyMessage) => void;
  /** What serialize() writes when it is not the input (default: the input). */
  serialized?: (input: Buffer) => Buffer;
}

const contactUris = (m: AnyMessage): string[] => m.contacts().map((c) => (c === '*' ? '*' : c.uriText));

const VALID: Record<string, Expect> = {
  // ------------------------------------------------------------ Yealink
  'yealink-register.sip': {
    start: 'REGISTER sip:pbx.example.com:5060 SIP/2.0', callId: '0_2386521318@192.168.1.50', cseq: [1, 'REGISTER'],
    branch: 'z9hG4bK1731954405', fromTag: '3527465096', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      const [c] = m.contacts();
      t.ok(c !== '*' && c !== undefined);
      if (c === '*' || c === undefined) return;
      t.equal(c.params.get('reg-id'), '1');
      t.equal(c.params.get('+sip.instance'), '"<urn:uuid:00000000-0000-1000-8000-805EC0A1B2C3>"');
      t.equal(displayName(m.from()), 'Alice');
      t.equal(m.get('expires'), '3600');
      t.notOk(m.has('authorization'));
      t.equal(m.getAll('allow').length, 14);
    },
  },
  'yealink-register-auth.sip': {
    start: 'REGISTER sip:pbx.example.com:5060 SIP/2.0', callId: '0_2386521318@192.168.1.50', cseq: [2, 'REGISTER'],
    branch: 'z9hG4bK2147180893', fromTag: '3527465096', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      t.match(m.get('authorization'), /^Digest username="1001", realm="asterisk", nonce="[^"]+", uri="sip:pbx.example.com:5060", response="[0-9a-f]{32}", algorithm=MD5$/);
      t.equal(m.getAll('authorization').length, 1, 'digest parameters are not list elements');
    },
  },
  'yealink-invite-sdp.sip': {
    start: 'INVITE sip:1002@pbx.example.com:5060 SIP/2.0', callId: '1_3217785503@192.168.1.50', cseq: [1, 'INVITE'],
    branch: 'z9hG4bK3690513612', fromTag: '1450938167', toTag: undefined, maxForwards: 70, body: 306,
    check: (t, m) => {
      t.equal(m.get('content-type'), 'application/sdp');
      t.match(m.body.toString('latin1'), /\r\na=rtpmap:101 telephone-event\/8000\r\n/);
      t.same(m.getAll('allow-events'), ['talk', 'hold', 'conference', 'refer', 'check-sync']);
      t.equal((m as SipRequest).requestUri().port, 5060);
    },
  },
  'yealink-ack.sip': {
    start: 'ACK sip:1002@192.168.1.60:5060 SIP/2.0', callId: '1_3217785503@192.168.1.50', cseq: [1, 'ACK'],
    branch: 'z9hG4bK1893429851', fromTag: '1450938167', toTag: '8kYqQ3a1Cz', maxForwards: 70, body: 0,
  },
  'yealink-bye.sip': {
    start: 'BYE sip:1002@192.168.1.60:5060 SIP/2.0', callId: '1_3217785503@192.168.1.50', cseq: [2, 'BYE'],
    branch: 'z9hG4bK2851032107', fromTag: '1450938167', toTag: '8kYqQ3a1Cz', maxForwards: 70, body: 0,
  },
  'yealink-cancel.sip': {
    start: 'CANCEL sip:1002@pbx.example.com:5060 SIP/2.0', callId: '1_3217785503@192.168.1.50', cseq: [1, 'CANCEL'],
    branch: 'z9hG4bK3690513612', fromTag: '1450938167', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => t.equal(m.via.branch, VALID['yealink-invite-sdp.sip']!.branch, 'CANCEL carries the INVITE branch'),
  },
  // ------------------------------------------------------------ Linphone
  'linphone-register.sip': {
    start: 'REGISTER sip:pbx.example.com SIP/2.0', callId: 'Q~kHdGp0sX', cseq: [20, 'REGISTER'],
    branch: 'z9hG4bK.Dq1wv3ofA', fromTag: '3VVxTjfxh', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      t.equal(m.via.rport, null, 'rport without value');
      t.same(m.getAll('accept'), ['application/sdp', 'text/plain', 'application/vnd.gsma.rcs-ft-http+xml']);
      t.equal(m.to().angle, false, 'addr-spec To');
      const [c] = m.contacts();
      if (c === '*' || c === undefined) return void t.fail('contact');
      t.equal(c.uri.params.get('transport'), 'udp');
      t.equal(c.params.get('+org.linphone.specs'), '"groupchat/1.1,lime"', 'a comma inside a quoted parameter');
      t.equal(c.params.get('reg-id'), '1');
      t.equal(m.contacts().length, 1);
    },
  },
  'linphone-invite-sdp.sip': {
    start: 'INVITE sip:1001@pbx.example.com SIP/2.0', callId: '3jIgxB4mGA', cseq: [20, 'INVITE'],
    branch: 'z9hG4bK.Nh9UffM6Y', fromTag: 'vDq~J9x1e', toTag: undefined, maxForwards: 70, body: 678,
    check: (t, m) => {
      t.equal(m.via.transport, 'TCP');
      t.equal(m.via.params.get('alias'), null);
      t.match(m.body.toString('latin1'), /a=rtpmap:100 telephone-event\/8000\r\n/);
      t.equal(parseMessage(load('valid/linphone-invite-sdp.sip'), { datagram: false }).body.length, 678, 'parses as a stream message too');
    },
  },
  'linphone-180-ringing.sip': {
    start: 'SIP/2.0 180 Ringing', callId: '1_3217785503@192.168.1.50', cseq: [1, 'INVITE'],
    branch: 'z9hG4bK3690513612', fromTag: '1450938167', toTag: '8kYqQ3a1Cz', maxForwards: undefined, body: 0,
    check: (t, m) => {
      t.equal(m.via.received, '192.168.1.50');
      t.equal(m.via.rport, 5060);
    },
  },
  'linphone-200-ok-sdp.sip': {
    start: 'SIP/2.0 200 Ok', callId: '1_3217785503@192.168.1.50', cseq: [1, 'INVITE'],
    branch: 'z9hG4bK3690513612', fromTag: '1450938167', toTag: '8kYqQ3a1Cz', maxForwards: undefined, body: 282,
    check: (t, m) => {
      t.equal((m as SipResponse).reason, 'Ok');
      t.match(m.body.toString('latin1'), /^v=0\r\n[\s\S]*a=rtpmap:101 telephone-event\/8000\r\n/);
    },
  },
  'linphone-200-ok-bye.sip': {
    start: 'SIP/2.0 200 Ok', callId: '1_3217785503@192.168.1.50', cseq: [2, 'BYE'],
    branch: 'z9hG4bK2851032107', fromTag: '1450938167', toTag: '8kYqQ3a1Cz', maxForwards: undefined, body: 0,
  },
  // ------------------------------------------------------------ MicroSIP (PJSIP)
  'microsip-register.sip': {
    start: 'REGISTER sip:pbx.example.com SIP/2.0', callId: '4c2e8a6f1b3d45e7a9c0e2f4b6d8a1c3', cseq: [14763, 'REGISTER'],
    branch: 'z9hG4bKPj6f9b1e2a4c8d4f0b9e7a3c5d1f2e8b6a', fromTag: '7a1c3e5f9b2d4e6f8a0c1d3e5f7a9b1c', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      t.equal(m.via.rport, null);
      t.equal(m.via.port, 61234);
      const [c] = m.contacts();
      t.equal(c !== '*' && c?.uri.params.get('ob'), null, ';ob flag');
      t.equal(m.get('content-length'), '0', 'value trimmed');
      t.ok(m.headers.some((h) => h.raw === 'Content-Length:  0'), 'raw keeps both blanks');
    },
  },
  'microsip-register-auth.sip': {
    start: 'REGISTER sip:pbx.example.com SIP/2.0', callId: '4c2e8a6f1b3d45e7a9c0e2f4b6d8a1c3', cseq: [14764, 'REGISTER'],
    branch: 'z9hG4bKPjd2b4f6a8c0e14a3c5e7f9b1d3f5a7c9e', fromTag: '7a1c3e5f9b2d4e6f8a0c1d3e5f7a9b1c', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => t.match(m.get('authorization'), /qop=auth, nc=00000001$/),
  },
  'microsip-register-compact.sip': {
    start: 'REGISTER sip:pbx.example.com SIP/2.0', callId: '6a8c0e2f4b1d43a5c7e9f1b3d5a7c9e0', cseq: [1, 'REGISTER'],
    branch: 'z9hG4bKPj1a3c5e7f9b0d42e4a6c8e0f2b4d6a8c1', fromTag: '0c2e4a6f8b1d43f5a7c9e1b3d5f7a9c2', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      t.same(m.headers.map((h) => h.name), ['via', 'max-forwards', 'from', 'to', 'call-id', 'cseq', 'user-agent', 'contact', 'expires', 'content-length']);
      t.same(contactUris(m), ['sip:1003@192.168.1.70:61234;ob']);
    },
  },
  'microsip-invite-sdp.sip': {
    start: 'INVITE sip:1001@pbx.example.com SIP/2.0', callId: '9e7c5a3f1d2b46e8a0c2e4f6b8d1a3c5', cseq: [21045, 'INVITE'],
    branch: 'z9hG4bKPj0e2c4a6b8d1f43a5c7e9b0d2f4a6c8e1', fromTag: 'b5d7f9a1c3e54b6d8f0a2c4e6b8d0f2a', toTag: undefined, maxForwards: 70, body: 326,
    check: (t, m) => {
      t.same(m.getAll('supported'), ['replaces', '100rel', 'timer', 'norefersub']);
      t.equal(m.get('session-expires'), '1800');
      t.equal(m.get('x'), '1800', 'compact x = Session-Expires');
      t.match(m.body.toString('latin1'), /a=fmtp:101 0-16\r\n/);
    },
  },
  'microsip-cancel.sip': {
    start: 'CANCEL sip:1001@pbx.example.com SIP/2.0', callId: '9e7c5a3f1d2b46e8a0c2e4f6b8d1a3c5', cseq: [21045, 'CANCEL'],
    branch: 'z9hG4bKPj0e2c4a6b8d1f43a5c7e9b0d2f4a6c8e1', fromTag: 'b5d7f9a1c3e54b6d8f0a2c4e6b8d0f2a', toTag: undefined, maxForwards: 70, body: 0,
  },
  // ------------------------------------------------------------ Zoiper
  'zoiper-register-rinstance.sip': {
    start: 'REGISTER sip:pbx.example.com;transport=UDP SIP/2.0', callId: 'OTc2ZjE4YmI0YjE1NmU5ZDhiYzQ1YjE2ZGJkZTg1ZjM', cseq: [1, 'REGISTER'],
    branch: 'z9hG4bK-524287-1---f3a91d6c2b8e4a07', fromTag: '4a8e2c61', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      const [c] = m.contacts();
      if (c === '*' || c === undefined) return void t.fail('contact');
      t.equal(c.uri.params.get('rinstance'), '0d2f4a6c8e1b3d5f');
      t.equal(c.uri.params.get('transport'), 'UDP', 'parameter values keep their case');
      t.equal((m as SipRequest).requestUri().params.get('transport'), 'UDP');
      t.equal(m.via.rport, null);
    },
  },
  // ------------------------------------------------------------ RFC 4475
  'rfc4475-wsinv.sip': {
    start: 'INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0', callId: 'wsinv.ndaksdj@192.0.2.1', cseq: [9, 'INVITE'],
    branch: '390skdjuw', fromTag: '98asjd8', toTag: '1918181833n', maxForwards: 68, body: 150,
    check: (t, m) => {
      t.equal(m.via.host, '192.0.2.2');
      t.same(m.vias().map((v) => [v.transport, v.host, v.branch]), [['UDP', '192.0.2.2', '390skdjuw'], ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'], ['UDP', '192.168.255.111', 'z9hG4bK30239']]);
      t.equal(m.get('subject'), '', 'empty Subject');
      t.equal(m.get('newfangledheader'), 'newfangled value continued newfangled value');
      t.equal(m.get('unknownheaderwithunusualvalue'), ';;,,;;,;');
      t.same(m.getAll('route'), ['<sip:services.example.com;lr;unknownwith=value;unknown-no-value>']);
      t.equal(m.from().display, '"J Rosenberg \\\\\\""');
      t.equal(displayName(m.from()), 'J Rosenberg \\"');
      t.equal(m.to().uri.user, 'vivekg');
      const [c] = m.contacts();
      if (c === '*' || c === undefined) return void t.fail('contact');
      t.equal(displayName(c), 'Quoted string ""');
      t.same([...c.params], [['newparam', 'newvalue'], ['secondparam', null], ['q', '0.33']]);
      t.equal((m as SipRequest).requestUri().params.get('unknownparam'), null);
    },
  },
  'rfc4475-intmeth.sip': {
    start: "!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0",
    callId: "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{", cseq: [139122385, "!interesting-Method0123456789_*+`.%indeed'~"],
    branch: "z9hG4bK-.!%66*_+`'~", fromTag: "_token~1'+`*%!-.", toTag: undefined, maxForwards: 255, body: 0,
    check: (t, m) => {
      const u = (m as SipRequest).requestUri();
      t.equal(u.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
      t.equal(u.password, "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)");
      t.equal(u.host, 'example.com');
      t.equal(m.to().display, '"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f"', 'quoted-pairs with control characters');
      t.equal(m.to().uri.user, "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*");
      t.equal(m.from().display, "token1~` token2'+_ token3*%!.-");
      t.equal(Buffer.from(m.from().params.get("fromparam''~+*_!.-%")!, 'latin1').toString('utf8'), '"работающий"');
      t.equal(Buffer.from(m.get("extensionHeader-!.%*+_`'~")!, 'latin1').toString('utf8'), '\ufeff大停電');
    },
  },
  'rfc4475-esc01.sip': {
    start: 'INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0', callId: 'esc01.239409asdfakjkn23onasd0-3234', cseq: [234234, 'INVITE'],
    branch: 'z9hG4bKkdjuw', fromTag: '938', toTag: undefined, maxForwards: 87, body: 150,
    check: (t, m) => {
      const r = (m as SipRequest).requestUri();
      t.equal(r.host, 'example.net');
      t.equal(unescapeUser(r.user!), 'sips:user@example.com');
      t.equal(unescapeUser(m.to().uri.user!), 'user');
      t.equal(unescapeUser(m.from().uri.user!), 'I have spaces');
      const [c] = m.contacts();
      if (c === '*' || c === undefined) return void t.fail('contact');
      t.equal(unescapeUser(c.uri.user!), 'caller');
      t.same([...c.uri.params], [['%6c%72', null], ['n%61me', 'v%61lue%25%34%31']], 'escaped parameter names are not unescaped (names lower-cased)');
      t.equal(m.get('content-type'), 'application/sdp', 'compact C');
    },
  },
  'rfc4475-escnull.sip': {
    start: 'REGISTER sip:example.com SIP/2.0', callId: 'escnull.39203ndfvkjdasfkq3w4otrq0adsfdfnavd', cseq: [14398234, 'REGISTER'],
    branch: 'z9hG4bKkdjuw', fromTag: '839923423', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      t.equal(unescapeUser(m.to().uri.user!), 'null-\x00-null', 'the NUL does not shorten the user');
      t.same(m.contacts().map((c) => (c === '*' ? '*' : unescapeUser(c.uri.user!))), ['\x00', '\x00\x00'], 'two distinct contacts');
    },
  },
  'rfc4475-esc02.sip': {
    start: 'RE%47IST%45R sip:registrar.example.com SIP/2.0', callId: 'esc02.asdfnqwo34rq23i34jrjasdcnl23nrlknsdf', cseq: [29344, 'RE%47IST%45R'],
    branch: 'z9hG4bK209%fzsnel234', fromTag: 'f232jadfj23', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      t.equal((m as SipRequest).method, 'RE%47IST%45R', '% is not an escape in a method');
      t.equal(displayName(m.to()), '%Z%45');
      t.same(contactUris(m), ['sip:alias1@host1.example.com', 'sip:alias3@host3.example.com'], 'two Contacts, not three');
      t.equal(m.get('c%6fntact'), '<sip:alias2@host2.example.com>', 'C%6Fntact is another header');
    },
  },
  'rfc4475-lwsdisp.sip': {
    start: 'OPTIONS sip:user@example.com SIP/2.0', callId: 'lwsdisp.1234abcd@funky.example.com', cseq: [60, 'OPTIONS'],
    branch: 'z9hG4bKkdjuw', fromTag: '323', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => t.equal(displayName(m.from()), 'caller', 'no LWS between display name and <'),
  },
  'rfc4475-longreq.sip': {
    start: 'INVITE sip:user@example.com SIP/2.0', callId: `longreq.one${'really'.repeat(20)}longcallid`, cseq: [3882340, 'INVITE'],
    branch: undefined, fromTag: '12982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982982424',
    toTag: undefined, maxForwards: 70, body: 150,
    check: (t, m) => {
      t.equal(m.getAll('via').length, 34, '34 Vias in every spelling of Via and v');
      t.equal(m.via.host, 'sip33.example.com', 'top Via is the first field');
      t.equal(m.vias()[33]!.received, '192.0.2.5');
      t.match(m.vias()[33]!.branch, /^very(long)+branchvalue$/, 'the only branch is on the last Via');
      t.equal(m.to().uri.port, 6000);
      t.equal(m.to().uri.params.get(`very${'long'.repeat(25)}parameternamewithnovalue`), null);
      t.equal(m.from().params.get(`unknownvaluelessparamname${'paramname'.repeat(9)}`), null);
    },
  },
  'rfc4475-dblreq.sip': {
    start: 'REGISTER sip:example.com SIP/2.0', callId: 'dblreq.0ha0isndaksdj99sdfafnl3lk233412', cseq: [8, 'REGISTER'],
    branch: 'z9hG4bKkdjuw23492', fromTag: '43251j3j324', toTag: undefined, maxForwards: 8, body: 0,
    // Content-Length: 0 frames the datagram: the INVITE after it is not part of the message.
    serialized: (input) => input.subarray(0, input.indexOf('\r\n\r\n') + 4),
    check: (t, m) => t.same(contactUris(m), ['sip:j.user@host.example.com']),
  },
  'rfc4475-semiuri.sip': {
    start: 'OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0', callId: 'semiuri.0ha0isndaksdj', cseq: [8, 'OPTIONS'],
    branch: 'z9hG4bKkdjuw', fromTag: '33242', toTag: undefined, maxForwards: 3, body: 0,
    check: (t, m) => {
      const u = (m as SipRequest).requestUri();
      t.equal(u.user, 'user;par=u%40example.net', 'the ; is part of the user');
      t.equal(u.host, 'example.com');
      t.equal(u.params.size, 0);
      t.same(m.getAll('accept'), ['application/sdp', 'application/pkcs7-mime', 'multipart/mixed', 'multipart/signed', 'message/sip', 'message/sipfrag']);
    },
  },
  'rfc4475-transports.sip': {
    start: 'OPTIONS sip:user@example.com SIP/2.0', callId: 'transports.kijh4akdnaqjkwendsasfdj', cseq: [60, 'OPTIONS'],
    branch: 'z9hG4bKkdjuw', fromTag: '323', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => t.same(m.vias().map((v) => v.transport), ['UDP', 'SCTP', 'TLS', 'UNKNOWN', 'TCP']),
  },
  'rfc4475-unreason.sip': {
    start: `SIP/2.0 200 = 2**3 * 5**2 ${Buffer.from('но сто девяносто девять - простое', 'utf8').toString('latin1')}`,
    callId: 'unreason.1234ksdfak3j2erwedfsASdf', cseq: [35, 'INVITE'], branch: 'z9hG4bK1324923', fromTag: '11141343', toTag: '2229', body: 154,
    check: (t, m) => t.equal(Buffer.from((m as SipResponse).reason, 'latin1').toString('utf8'), '= 2**3 * 5**2 но сто девяносто девять - простое'),
  },
  'rfc4475-noreason.sip': {
    start: 'SIP/2.0 100 ', callId: 'noreason.asndj203insdf99223ndf', cseq: [35, 'INVITE'],
    branch: 'z9hG4bK2398ndaoe', fromTag: '39ansfi3', toTag: '902jndnke3', body: 0,
    check: (t, m) => t.equal((m as SipResponse).reason, ''),
  },
  'rfc4475-badbranch.sip': {
    start: 'OPTIONS sip:user@example.com SIP/2.0', callId: 'badbranch.sadonfo23i420jv0as0derf3j3n', cseq: [8, 'OPTIONS'],
    branch: 'z9hG4bK', fromTag: '33242', toTag: undefined, maxForwards: 3, body: 0,
  },
  'rfc4475-unkscm.sip': {
    start: 'OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0', callId: 'unkscm.nasdfasser0q239nwsdfasdkl34', cseq: [3923423, 'OPTIONS'],
    branch: 'z9hG4bKkdjuw39234', fromTag: '384', toTag: undefined, maxForwards: 3, body: 0,
    check: (t, m) => t.match((m as SipRequest).requestUri(), { scheme: 'nobodyknowsthisscheme', opaque: 'totallyopaquecontent' }),
  },
  'rfc4475-novelsc.sip': {
    start: 'OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0', callId: 'novelsc.asdfasser0q239nwsdfasdkl34', cseq: [3923423, 'OPTIONS'],
    branch: 'z9hG4bKkdjuw39234', fromTag: '384', toTag: undefined, maxForwards: 3, body: 0,
    check: (t, m) => t.match((m as SipRequest).requestUri(), { scheme: 'soap.beep', opaque: '//192.0.2.103:3002' }),
  },
  'rfc4475-unksm2.sip': {
    start: 'REGISTER sip:example.com SIP/2.0', callId: 'unksm2.daksdj@hyphenated-host.example.com', cseq: [234902, 'REGISTER'],
    branch: 'z9hG4bKkdjuw', fromTag: '3234233', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      t.equal(m.to().uri.scheme, 'isbn');
      t.equal(m.from().uri.scheme, 'http');
      t.same(contactUris(m), ['name:John_Smith']);
    },
  },
  'rfc4475-bext01.sip': {
    start: 'OPTIONS sip:user@example.com SIP/2.0', callId: 'bext01.0ha0isndaksdj', cseq: [8, 'OPTIONS'],
    branch: 'z9hG4bKkdjuw', fromTag: '242etr', toTag: undefined, maxForwards: 6, body: 0,
    check: (t, m) => {
      t.same(m.getAll('require'), ['nothingSupportsThis', 'nothingSupportsThisEither']);
      t.same(m.getAll('proxy-require'), ['noProxiesSupportThis', 'norDoAnyProxiesSupportThis']);
    },
  },
  'rfc4475-invut.sip': {
    start: 'INVITE sip:user@example.com SIP/2.0', callId: 'invut.0ha0isndaksdjadsfij34n23d', cseq: [235448, 'INVITE'],
    branch: 'z9hG4bKkdjuw', fromTag: '8392034', toTag: undefined, maxForwards: 70, body: 40,
    check: (t, m) => t.equal(m.get('content-type'), 'application/unknownformat'),
  },
  'rfc4475-regaut01.sip': {
    start: 'REGISTER sip:example.com SIP/2.0', callId: 'regaut01.0ha0isndaksdj', cseq: [9338, 'REGISTER'],
    branch: 'z9hG4bKkdjuw', fromTag: '87321hj23128', toTag: undefined, maxForwards: 8, body: 0,
    check: (t, m) => t.equal(m.get('authorization'), 'NoOneKnowsThisScheme opaque-data=here'),
  },
  'rfc4475-bcast.sip': {
    start: 'SIP/2.0 200 OK', callId: 'bcast.0384840201234ksdfak3j2erwedfsASdf', cseq: [35, 'INVITE'],
    branch: 'z9hG4bK1324923', fromTag: '11141343', toTag: '2229', body: 154,
    check: (t, m) => t.equal(m.vias()[1]!.host, '255.255.255.255'),
  },
  'rfc4475-zeromf.sip': {
    start: 'OPTIONS sip:user@example.com SIP/2.0', callId: 'zeromf.jfasdlfnm2o2l43r5u0asdfas', cseq: [39234321, 'OPTIONS'],
    branch: 'z9hG4bKkdjuw2349i', fromTag: '3ghsd41', toTag: undefined, maxForwards: 0, body: 0,
  },
  'rfc4475-cparam01.sip': {
    start: 'REGISTER sip:example.com SIP/2.0', callId: 'cparam01.70710@saturn.example.com', cseq: [2, 'REGISTER'],
    branch: 'z9hG4bKkdjuw', fromTag: 'DkfVgjkrtMwaerKKpe', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      const [c] = m.contacts();
      if (c === '*' || c === undefined) return void t.fail('contact');
      t.equal(c.uri.params.size, 0, 'addr-spec: ;unknownparam belongs to the header');
      t.equal(c.params.get('unknownparam'), null);
    },
  },
  'rfc4475-cparam02.sip': {
    start: 'REGISTER sip:example.com SIP/2.0', callId: 'cparam02.70710@saturn.example.com', cseq: [3, 'REGISTER'],
    branch: 'z9hG4bKkdjuw', fromTag: '838293', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      const [c] = m.contacts();
      if (c === '*' || c === undefined) return void t.fail('contact');
      t.equal(c.uri.params.get('unknownparam'), null, 'name-addr: ;unknownparam belongs to the URI');
      t.equal(c.params.size, 0);
    },
  },
  'rfc4475-regescrt.sip': {
    start: 'REGISTER sip:example.com SIP/2.0', callId: 'regescrt.k345asrl3fdbv@192.0.2.1', cseq: [14398234, 'REGISTER'],
    branch: 'z9hG4bKkdjuw', fromTag: '8', toTag: undefined, maxForwards: 70, body: 0,
    check: (t, m) => {
      const [c] = m.contacts();
      t.equal(c !== '*' && c?.uri.headers, 'Route=%3Csip:sip.example.com%3E');
    },
  },
  'rfc4475-sdp01.sip': {
    start: 'INVITE sip:user@example.com SIP/2.0', callId: 'sdp01.ndaksdj9342dasdd', cseq: [8, 'INVITE'],
    branch: 'z9hG4bKkdjuw', fromTag: '234', toTag: undefined, maxForwards: 5, body: 150,
  },
  'rfc4475-inv2543.sip': {
    start: 'INVITE sip:UserB@example.com SIP/2.0', callId: 'inv2543.1717@ift.client.example.com', cseq: [56, 'INVITE'],
    branch: undefined, fromTag: undefined, toTag: undefined, maxForwards: undefined, body: 105,
    // No Content-Length (the body is the rest of the datagram): serialize adds one.
    serialized: (input) => {
      const at = input.indexOf('\r\n\r\n');
      return Buffer.concat([input.subarray(0, at), Buffer.from('\r\nContent-Length: 105'), input.subarray(at)]);
    },
    check: (t, m) => {
      t.equal(m.via.host, 'iftgw.example.com', 'RFC 2543 Via without branch');
      t.equal(m.get('content-length'), undefined);
    },
  },
};

t.test('every valid file is in the table and every entry has a file', async (t) => {
  t.same(files('valid'), Object.keys(VALID).sort());
});

for (const name of Object.keys(VALID)) {
  t.test(`valid/${name}`, async (t) => {
    const want = VALID[name]!;
    const input = load(`valid/${name}`);
    t.ok(input.includes('\r\n\r\n') && !/[^\r]\n/.test(input.toString('latin1')), 'fixture uses CRLF line ends');
    const m = parseMessage(input);
    t.equal(m.startLine(), want.start, 'start line');
    t.equal(m.callId, want.callId, 'Call-ID');
    t.same(m.cseq, { seq: want.cseq[0], method: want.cseq[1] }, 'CSeq');
    t.equal(m.via.branch, want.branch, 'top Via branch');
    t.equal(m.fromTag, want.fromTag, 'From tag');
    t.equal(m.toTag, want.toTag, 'To tag');
    if (m.isRequest) t.equal(m.maxForwards, want.maxForwards, 'Max-Forwards');
    t.equal(m.body.length, want.body, 'body length');
    const out = m.serialize();
    const expected = want.serialized?.(input) ?? input;
    t.ok(out.equals(expected), 'serialize() writes the input byte for byte');
    if (!out.equals(expected)) t.equal(out.toString('latin1'), expected.toString('latin1'));
    // Every lazy getter works on a valid message.
    t.doesNotThrow(() => [m.from(), m.to(), m.contacts(), m.vias(), m.isRequest ? m.requestUri() : null], 'lazy getters');
    want.check?.(t, m);
    // A re-encoded copy (every field changed) still parses to the same fields.
    const copy = parseMessage(out);
    for (const h of [...copy.headers]) if (h.name !== 'content-length') copy.set(h.name, copy.getAll(h.name).join(', '));
    const back = parseMessage(copy.serialize());
    t.equal(back.callId, m.callId, 're-encoded: Call-ID');
    t.same(back.cseq, m.cseq, 're-encoded: CSeq');
    t.equal(back.fromTag, m.fromTag, 're-encoded: From tag');
    t.ok(back.body.equals(m.body), 're-encoded: body');
  });
}

t.test('valid messages with a Content-Length pass through the stream framer', async (t) => {
  const stream: Buffer[] = [];
  for (const name of Object.keys(VALID)) if (name !== 'rfc4475-inv2543.sip' && name !== 'rfc4475-dblreq.sip') stream.push(load(`valid/${name}`));
  const all = Buffer.concat(stream);
  const framer = new StreamFramer();
  const got: Buffer[] = [];
  for (let i = 0; i < all.length; i += 97) for (const e of framer.push(all.subarray(i, i + 97))) if (e.type === 'message') got.push(e.data);
  t.equal(got.length, stream.length);
  t.ok(got.every((b, i) => b.equals(stream[i]!)), 'each message framed exactly');
  for (const b of got) parseMessage(b, { datagram: false });
  t.pass('each parses as a stream message');
});

interface Invalid {
  /** Rejected by the parser with this code (and status, default 400). */
  code?: string;
  status?: number;
  /** Accepted by parseMessage: why, and the check that documents where the problem surfaces. */
  lenient?: string;
  check?: (t: Test, m: AnyMessage) => void;
}

const lazyThrows = (t: Test, fn: () => unknown, what: string): void => {
  try {
    fn();
    t.fail(`${what} should throw`);
  } catch (e) {
    t.ok(e instanceof SipParseError, `${what} throws SipParseError`);
  }
};

const INVALID: Record<string, Invalid> = {
  'rfc4475-badinv01.sip': { code: 'SIPD_ERR_PARSE_VIA' },
  'rfc4475-clerr.sip': { code: 'SIPD_ERR_PARSE_CONTENT_LENGTH' },
  'rfc4475-ncl.sip': { code: 'SIPD_ERR_PARSE_CONTENT_LENGTH' },
  'rfc4475-scalar02.sip': { code: 'SIPD_ERR_PARSE_CSEQ' },
  'rfc4475-scalarlg.sip': { code: 'SIPD_ERR_PARSE_CSEQ' },
  'rfc4475-lwsruri.sip': { code: 'SIPD_ERR_PARSE_START_LINE' },
  'rfc4475-lwsstart.sip': { code: 'SIPD_ERR_PARSE_START_LINE' },
  'rfc4475-trws.sip': { code: 'SIPD_ERR_PARSE_START_LINE' },
  'rfc4475-badvers.sip': { code: 'SIPD_ERR_PARSE_VERSION', status: 505 },
  'rfc4475-mismatch01.sip': { code: 'SIPD_ERR_PARSE_CSEQ' },
  'rfc4475-mismatch02.sip': { code: 'SIPD_ERR_PARSE_CSEQ' },
  'rfc4475-bigcode.sip': { code: 'SIPD_ERR_PARSE_START_LINE' },
  'rfc4475-insuf.sip': { code: 'SIPD_ERR_PARSE_MISSING_HEADER' },
  'rfc4475-mcl01.sip': { code: 'SIPD_ERR_PARSE_CONTENT_LENGTH' },
  'rfc4475-quotbal.sip': {
    lenient: 'To is parsed on demand; only its tag is read eagerly, and an unterminated quote hides none',
    check: (t, m) => {
      t.equal(m.toTag, undefined);
      lazyThrows(t, () => m.to(), 'to()');
    },
  },
  'rfc4475-ltgtruri.sip': {
    lenient: 'the Request-URI is parsed on demand (requestUri()), not by parseMessage',
    check: (t, m) => lazyThrows(t, () => (m as SipRequest).requestUri(), 'requestUri()'),
  },
  'rfc4475-regbadct.sip': {
    lenient: 'Contact is parsed on demand (contacts())',
    check: (t, m) => lazyThrows(t, () => m.contacts(), 'contacts()'),
  },
  'rfc4475-escruri.sip': {
    lenient: 'a Request-URI with headers is syntactically a SIP URI; the proxy must not forward it (requestUri().headers is set)',
    check: (t, m) => t.equal((m as SipRequest).requestUri().headers, 'Route=%3Csip:example.com%3E'),
  },
  'rfc4475-baddate.sip': {
    lenient: 'sipd does not interpret Date',
    check: (t, m) => t.equal(m.get('date'), 'Fri, 01 Jan 2010 16:00:00 EST'),
  },
  'rfc4475-badaspec.sip': {
    lenient: 'blanks inside <> around the URI are tolerated (robustness)',
    check: (t, m) => t.equal(m.to().uriText, 'sip:t.watson@example.org'),
  },
  'rfc4475-baddn.sip': {
    lenient: 'an unquoted display name with a comma is kept as written (From/To are not list headers)',
    check: (t, m) => {
      t.equal(m.from().display, 'Bell, Alexander');
      t.equal(m.fromTag, '43');
    },
  },
  'rfc4475-multi01.sip': {
    lenient: 'for repeated single-value headers (Call-ID, CSeq, From, To, Max-Forwards) the first field wins',
    check: (t, m) => {
      t.equal(m.callId, 'multi01.98asdh@192.0.2.1');
      t.same(m.cseq, { seq: 5, method: 'INVITE' });
      t.equal(m.fromTag, '3413415');
      t.equal(m.maxForwards, 70);
      t.equal(m.getAll('call-id').length, 2, 'the duplicates stay visible to the TU');
    },
  },
};

t.test('every invalid file is in the table and every entry has a file', async (t) => {
  t.same(files('invalid'), Object.keys(INVALID).sort());
});

for (const name of Object.keys(INVALID)) {
  const want = INVALID[name]!;
  t.test(`invalid/${name}${want.lenient ? ' (accepted leniently)' : ''}`, async (t) => {
    const input = load(`invalid/${name}`);
    if (want.code !== undefined) {
      try {
        parseMessage(input);
        t.fail('should throw');
      } catch (e) {
        t.ok(e instanceof SipParseError, 'SipParseError');
        const err = e as SipParseError;
        t.equal(err.code, want.code);
        t.equal(err.status, want.status ?? 400);
        t.notMatch(err.reason, /[\r\n]/);
      }
      const onStream = (() => { try { parseMessage(input, { datagram: false }); return undefined; } catch (e) { return e; } })();
      t.ok(onStream instanceof SipParseError, 'rejected on a stream too');
    } else {
      t.comment(`lenient: ${want.lenient}`);
      const m = parseMessage(input);
      t.ok(m.serialize().equals(input), 'forwarded unchanged');
      want.check?.(t, m);
    }
  });
}
