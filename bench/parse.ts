/**
 * Parser benchmark: parse + serialize throughput for a typical INVITE with SDP
 * and a REGISTER with Authorization, on one core. Prints messages per second.
 * Not a test: figures go to docs/performance.md by hand with the command.
 */
import { parseMessage } from '../lib/sip/parse.js';

const SDP =
  'v=0\r\no=alice 2890844526 2890844526 IN IP4 192.168.1.23\r\ns=-\r\nc=IN IP4 192.168.1.23\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\n';

export const INVITE = Buffer.from(
  [
    'INVITE sip:4991234567@sipd.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.168.1.23:5060;branch=z9hG4bK776asdhds;rport',
    'Max-Forwards: 70',
    'To: <sip:4991234567@sipd.example.com>',
    'From: "Alice" <sip:alice@sipd.example.com>;tag=1928301774',
    'Call-ID: a84b4c76e66710@pc33.example.com',
    'CSeq: 314159 INVITE',
    'Contact: <sip:alice@192.168.1.23:5060;transport=udp>',
    'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, NOTIFY, MESSAGE',
    'Supported: replaces, timer',
    'User-Agent: Yealink SIP-T46S 66.86.0.15',
    'Content-Type: application/sdp',
    `Content-Length: ${SDP.length}`,
    '',
    SDP,
  ].join('\r\n'),
  'latin1',
);

export const REGISTER = Buffer.from(
  [
    'REGISTER sip:sipd.example.com SIP/2.0',
    'Via: SIP/2.0/UDP 192.168.1.23:5060;branch=z9hG4bKnashds7;rport',
    'Max-Forwards: 70',
    'To: <sip:alice@sipd.example.com>',
    'From: <sip:alice@sipd.example.com>;tag=a73kszlfl',
    'Call-ID: 1j9FpLxk3uxtm8tn@192.168.1.23',
    'CSeq: 2 REGISTER',
    'Contact: <sip:alice@192.168.1.23:5060;rinstance=6f8e2c1a>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-0004f2a1b2c3>"',
    'Authorization: Digest username="alice", realm="sipd.example.com", nonce="ZyXwVuTsRqPoNmLkJiHgFeDcBa9876543210", uri="sip:sipd.example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001',
    'User-Agent: MicroSIP/3.21.3',
    'Expires: 3600',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n'),
  'latin1',
);

/** Runs `fn` for about `ms` of this process's CPU time; returns calls per CPU second. */
export function rate(fn: () => unknown, ms = 2000): number {
  for (let i = 0; i < 20000; i++) fn(); // warm-up: let the JIT settle
  const cpu = () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  };
  let n = 0;
  const t0 = cpu();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 1000; i++) fn();
    n += 1000;
    t = cpu();
  }
  return Math.round((n * 1000) / (t - t0));
}

/**
 * The parser figures: parse+serialize of an unchanged message (what the issue
 * measures), and parse + the edits a proxy makes (own Via on top,
 * Max-Forwards decremented) + serialize (every field re-joined).
 */
export interface ParserFigure {
  name: string;
  bytes: number;
  /** Median of the rounds, messages per CPU second. */
  perSecond: number;
  min: number;
  max: number;
}

export function parserBench(rounds = 5, ms = 1000): ParserFigure[] {
  const cases: Array<{ name: string; bytes: number; fn: () => unknown }> = [];
  for (const [name, buf] of [['INVITE', INVITE], ['REGISTER', REGISTER]] as const) {
    cases.push({ name: `${name} parse+serialize`, bytes: buf.length, fn: () => parseMessage(buf).serialize() });
    cases.push({
      name: `${name} parse+proxy edits+serialize`,
      bytes: buf.length,
      fn: () => {
        const m = parseMessage(buf);
        m.prepend('via', 'SIP/2.0/UDP 203.0.113.1:5060;branch=z9hG4bKproxy1;rport');
        m.set('max-forwards', String((m.maxForwards ?? 70) - 1));
        return m.serialize();
      },
    });
  }
  // Rounds are interleaved so that a noisy moment on a shared machine hits every case alike.
  const results = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++) cases.forEach((c, i) => results[i]!.push(rate(c.fn, ms)));
  return cases.map((c, i) => {
    const v = results[i]!.sort((a, b) => a - b);
    return { name: c.name, bytes: c.bytes, perSecond: v[Math.floor(v.length / 2)]!, min: v[0]!, max: v[v.length - 1]! };
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  for (const r of parserBench()) process.stdout.write(`${r.name}: ${r.perSecond} msg/s median (${r.min}–${r.max}; ${r.bytes} bytes)\n`);
}
