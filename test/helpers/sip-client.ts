/**
 * A small SIP UA for registrar tests over real UDP on loopback: builds
 * REGISTERs, answers digest challenges (MD5 / SHA-256 computed here with
 * node:crypto, independently of lib/), and parses responses with lib/sip.
 */
import { createHash } from 'node:crypto';
import { parseMessage } from '../../lib/sip/parse.js';
import type { SipResponse } from '../../lib/sip/message.js';
import { UdpPeer } from './udp-peer.js';

export interface Challenge {
  realm: string;
  nonce: string;
  algorithm: string;
  qop?: string;
  opaque?: string;
  stale?: string;
}

export function parseChallenge(v: string): Challenge {
  const out: Record<string, string> = {};
  for (const m of v.replace(/^Digest\s+/i, '').matchAll(/([A-Za-z-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]+))/g)) {
    out[m[1]!.toLowerCase()] = m[2] ?? m[3]!;
  }
  return out as unknown as Challenge;
}

const HASH: Record<string, string> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };

export function digestResponse(o: {
  algorithm: string;
  username: string;
  realm: string;
  password: string;
  method: string;
  uri: string;
  nonce: string;
  nc?: string;
  cnonce?: string;
  qop?: string;
}): string {
  const h = (s: string) => createHash(HASH[o.algorithm] ?? 'md5').update(s).digest('hex');
  const ha1 = h(`${o.username}:${o.realm}:${o.password}`);
  const ha2 = h(`${o.method}:${o.uri}`);
  return o.qop ? h(`${ha1}:${o.nonce}:${o.nc}:${o.cnonce}:${o.qop}:${ha2}`) : h(`${ha1}:${o.nonce}:${ha2}`);
}

export function authorization(ch: Challenge, o: { username: string; password: string; method: string; uri: string; nc?: number; cnonce?: string }): string {
  const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
  const cnonce = o.cnonce ?? 'c0ffee42';
  const qop = ch.qop ? 'auth' : undefined;
  const response = digestResponse({ ...o, algorithm: ch.algorithm ?? 'MD5', realm: ch.realm, nonce: ch.nonce, nc, cnonce, ...(qop ? { qop } : {}) });
  return (
    `Digest username="${o.username}", realm="${ch.realm}", nonce="${ch.nonce}", uri="${o.uri}", response="${response}", algorithm=${ch.algorithm ?? 'MD5'}` +
    (qop ? `, qop=${qop}, nc=${nc}, cnonce="${cnonce}"` : '') +
    (ch.opaque !== undefined ? `, opaque="${ch.opaque}"` : '')
  );
}

let seq = 0;

export class SipClient {
  readonly peer: UdpPeer;
  readonly serverPort: number;
  readonly serverHost: string;
  #read = 0;

  constructor(peer: UdpPeer, serverPort: number, serverHost = '127.0.0.1') {
    this.peer = peer;
    this.serverPort = serverPort;
    this.serverHost = serverHost;
  }

  static async open(serverPort: number): Promise<SipClient> {
    return new SipClient(await UdpPeer.open(), serverPort);
  }

  close(): void {
    this.peer.close();
  }

  /** Sends raw text and returns the next final response (provisionals skipped). */
  async send(text: string): Promise<SipResponse> {
    this.peer.send(text, this.serverPort, this.serverHost);
    for (;;) {
      const raw = await this.peer.nth(++this.#read);
      const res = parseMessage(Buffer.from(raw, 'latin1')) as SipResponse;
      if (res.status >= 200) return res;
    }
  }

  newCallId(): string {
    return `reg-${process.pid}-${++seq}-${Date.now()}`;
  }

  register(o: {
    user: string;
    domain?: string;
    callId: string;
    cseq: number;
    contacts?: string[];
    expires?: number;
    extra?: string[];
    authz?: string;
  }): string {
    const domain = o.domain ?? '127.0.0.1';
    const branch = `z9hG4bK-${process.pid}-${++seq}`;
    const contacts = o.contacts ?? [`<sip:${o.user}@127.0.0.1:${this.peer.port}>`];
    return [
      `REGISTER sip:${domain} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${this.peer.port};branch=${branch};rport`,
      'Max-Forwards: 70',
      `From: <sip:${o.user}@${domain}>;tag=t${o.callId.length}`,
      `To: <sip:${o.user}@${domain}>`,
      `Call-ID: ${o.callId}`,
      `CSeq: ${o.cseq} REGISTER`,
      ...contacts.map((c) => `Contact: ${c}`),
      ...(o.expires !== undefined ? [`Expires: ${o.expires}`] : []),
      ...(o.authz !== undefined ? [`Authorization: ${o.authz}`] : []),
      ...(o.extra ?? []),
      'User-Agent: sipd-test/1.0',
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n');
  }

  /** REGISTER → 401 → REGISTER with credentials (first challenge, or the one of `algorithm`). Returns the final response. */
  async registerWithAuth(o: {
    user: string;
    password: string;
    domain?: string;
    contacts?: string[];
    expires?: number;
    algorithm?: string;
    callId?: string;
    cseq?: number;
    extra?: string[];
  }): Promise<{ challenge: SipResponse; res: SipResponse; callId: string; cseq: number }> {
    const callId = o.callId ?? this.newCallId();
    let cseq = o.cseq ?? 1;
    const base = { user: o.user, callId, ...(o.domain ? { domain: o.domain } : {}), ...(o.contacts ? { contacts: o.contacts } : {}), ...(o.expires !== undefined ? { expires: o.expires } : {}), ...(o.extra ? { extra: o.extra } : {}) };
    const challenge = await this.send(this.register({ ...base, cseq }));
    if (challenge.status !== 401) return { challenge, res: challenge, callId, cseq };
    const chs = challenge.getAll('www-authenticate').map(parseChallenge);
    const ch = (o.algorithm ? chs.find((c) => c.algorithm === o.algorithm) : chs[0]) ?? chs[0]!;
    cseq++;
    const authz = authorization(ch, { username: o.user, password: o.password, method: 'REGISTER', uri: `sip:${o.domain ?? '127.0.0.1'}` });
    const res = await this.send(this.register({ ...base, cseq, authz }));
    return { challenge, res, callId, cseq };
  }
}
