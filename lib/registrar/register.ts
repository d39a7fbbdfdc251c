/**
 * REGISTER (RFC 3261 §10.3): authenticate, check the AOR, bound the expiry,
 * update the location service, answer with every current binding.
 *
 * - The AOR is `sip:NAME@DOMAIN` where NAME is the sip.conf section name or
 *   the client's long number, and DOMAIN one of sipd's own names or addresses.
 * - Unknown users, wrong passwords, a source outside `permit` and static
 *   clients (host= without secret) all get the same 401 challenge: nothing on
 *   the wire tells them apart (no user enumeration).
 * - Each Contact goes back in the 200 OK exactly as the phone sent it, with
 *   only its `expires` parameter set to the remaining time; NAT data (source
 *   address, port, transport, TCP connection) is stored beside it.
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { RateLimitedLog } from '../util/log.js';
import { createLocalResponse, createResponse, statelessTag } from '../sip/build.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { NameAddr } from '../sip/name-addr.js';
import { indexOutsideQuotes, unquote } from '../sip/split.js';
import { unescapeUser } from '../sip/uri.js';
import type { Flow } from '../transport/types.js';
import type { RespondOptions, ServerTransaction } from '../transaction/types.js';
import { isRfc3261Branch } from '../transaction/key.js';
import { createTimerConfig } from '../transaction/timers.js';
import type { Client, Config } from '../config/types.js';
import type { ContactChange, LocationService, Binding } from './location.js';
import type { LocalDomains } from './domain.js';

/** What the registrar needs from digest authentication (see auth.ts). */
export interface Authenticator {
  /** Header values for a 401/407 challenge, one per algorithm; `stale` after an expired nonce. */
  challenge(stale: boolean): string[];
  /**
   * Checks the credentials in the request's `header` (`authorization` or
   * `proxy-authorization`). `passwordOf(username)` gives the secret of a user
   * allowed to authenticate from this source, or undefined (then the same
   * work is done against a dummy secret, so timing does not tell).
   */
  verify(
    req: SipRequest,
    header: 'authorization' | 'proxy-authorization',
    passwordOf: (username: string) => string | undefined,
  ): { ok: true; username: string } | { ok: false; stale: boolean; present: boolean };
}

/**
 * The secret `username` may authenticate with from `source`: a client with a
 * secret whose `permit` admits the address; undefined otherwise (the digest is
 * then checked against a dummy secret, so nothing tells the cases apart).
 * Used for REGISTER (401) and for calls (407).
 */
export function secretFor(cfg: Config, username: string, source: string): string | undefined {
  const c = cfg.clients.get(username);
  if (c === undefined || c.kind !== 'client' || c.secret === undefined) return undefined;
  if (c.permit !== undefined && !c.permit.allows(source)) return undefined;
  return c.secret;
}

/**
 * How long after a REGISTER a copy of it counts as a retransmission: the
 * phone's Timer F (64*T1 with the RFC's default T1, RFC 3261 §17.1.2.2), after
 * which it has given the request up. The phone's timer, not sipd's: taken from
 * the default timer table, whatever T1 sipd's own transaction layer runs with.
 */
export const RETRANSMISSION_WINDOW_MS = createTimerConfig().F;

/** A 200 OK that made or refreshed bindings: the registrar itself recognises a retransmission of its REGISTER. */
const RECOGNISED: RespondOptions = Object.freeze({ replayable: true, tuRecognisesRetransmissions: true });
/** A 200 OK that left no binding of the request behind (a query, a removal): the transaction layer recognises retransmissions. */
const REPLAYABLE: RespondOptions = Object.freeze({ replayable: true });

/**
 * A non-zero 30-bit mark of the request's transaction: FNV-1a of its RFC 3261
 * Via branch (a small integer, kept in each binding without a boxed number);
 * 0 for an RFC 2543 request, whose branch does not name its transaction.
 */
export function transactionMark(req: SipRequest): number {
  const branch = req.via.branch;
  if (!isRfc3261Branch(branch)) return 0;
  let h = 0x811c9dc5;
  for (let i = 0; i < branch.length; i++) h = Math.imul(h ^ branch.charCodeAt(i), 0x01000193);
  return ((h >>> 2) | 1) & 0x3fffffff;
}

export interface RegistrarOptions {
  location: LocationService;
  auth: Authenticator;
  clock: Clock;
  log: Logger;
  /** The configuration in force (read once per request). */
  config: () => Config;
  domains: () => LocalDomains;
  serverName: string;
}

export class Registrar {
  readonly #o: RegistrarOptions;
  readonly #rate: RateLimitedLog;

  constructor(opts: RegistrarOptions) {
    this.#o = opts;
    this.#rate = new RateLimitedLog(() => opts.clock.now(), 60_000);
  }

  /**
   * RFC 3261 §8.2.7: a REGISTER without credentials gets its answer (the 401
   * challenge, or a 400/404 for a bad AOR) statelessly, so unauthenticated
   * traffic holds no transaction state. Undefined: it needs a transaction.
   */
  statelessResponse(req: SipRequest): SipResponse | undefined {
    if (req.has('authorization')) return undefined;
    const aor = this.#checkAor(req);
    if (typeof aor !== 'string') return aor;
    return this.#challengeResponse(req, false);
  }

  /** The AOR user of a REGISTER, or the error response when the To header is not a user of sipd's domains. */
  #checkAor(req: SipRequest): string | SipResponse {
    let to: NameAddr;
    try {
      to = req.to();
    } catch {
      return this.#res(req, 400, 'Bad Request (malformed To)');
    }
    if ((to.uri.scheme !== 'sip' && to.uri.scheme !== 'sips') || to.uri.user === undefined) {
      return this.#res(req, 404, 'Not Found (the To header must be sip:USER@DOMAIN)');
    }
    if (!this.#o.domains().has(to.uri.host)) return this.#res(req, 404, 'Not Found (domain not served here)');
    return unescapeUser(to.uri.user);
  }

  handle(req: SipRequest, stx: ServerTransaction, flow: Flow): void {
    const cfg = this.#o.config();
    const g = cfg.general;
    // The AOR (To) must name a client of this server.
    const user = this.#checkAor(req);
    if (typeof user !== 'string') {
      stx.respond(user);
      return;
    }
    const client = findClient(cfg, user);
    const txMark = transactionMark(req);
    if (client !== undefined && this.#retransmission(req, flow, client.name, txMark)) {
      stx.respond(this.#ok(req, this.#o.location.lookup(client.name)), RECOGNISED);
      return;
    }

    // Who is asking (RFC 3261 §22): the same challenge for every failure.
    const src = flow.remote.address;
    const result = this.#o.auth.verify(req, 'authorization', (username) => secretFor(cfg, username, src));
    if (!result.ok) {
      if (result.present && client !== undefined && client.secret === undefined && this.#rate.allow(`static:${client.name}`) >= 0) {
        this.#o.log.warn({ client: client.name, peer: src }, `REGISTER refused: [${client.name}] is a static client (host= without secret)`);
      }
      this.#challenge(req, stx, result.stale);
      return;
    }
    if (client === undefined || client.name !== result.username) {
      stx.respond(this.#res(req, 403, `Forbidden (${result.username} may not register ${user})`));
      return;
    }

    // Contacts and their expiry (§10.3 steps 5–6).
    const parsed = this.#contacts(req, stx, g);
    if (parsed === undefined) return;
    const ua = req.get('user-agent');
    const r = this.#o.location.apply(client.name, {
      callId: req.callId,
      cseq: req.cseq.seq,
      source: {
        proto: flow.proto,
        address: flow.remote.address,
        port: flow.remote.port,
        localAddress: flow.local.address,
        localPort: flow.local.port,
      },
      connId: flow.connId,
      txMark,
      ...(ua !== undefined ? { userAgent: ua } : {}),
      ...(parsed === 'wildcard' ? { wildcard: true } : { contacts: parsed }),
    });
    if (!r.ok) {
      if (r.reason === 'out-of-order') {
        stx.respond(this.#res(req, 400, 'Bad Request (CSeq not above the last REGISTER of this Call-ID)'));
      } else {
        stx.respond(this.#res(req, 403, `Forbidden (more than ${r.limit} registrations for ${client.name})`));
      }
      return;
    }
    // A binding made or refreshed here carries the request's mark: the registrar
    // recognises a retransmission itself (#retransmission) and the transaction
    // layer keeps nothing. Otherwise the layer keeps the key and a retransmission
    // within timer J gets the bindings as they are then (replay()).
    const marked = txMark !== 0 && parsed !== 'wildcard' && parsed.some((c) => c.expires > 0);
    stx.respond(this.#ok(req, r.bindings), marked ? RECOGNISED : REPLAYABLE);
  }

  /**
   * A copy of a REGISTER that created or refreshed a binding of `aor` (same
   * branch, Call-ID and CSeq) within {@link RETRANSMISSION_WINDOW_MS}, from the
   * address that binding came from: the phone did not get the 200 OK. It gets
   * the bindings again; no digest check (its nonce-count is used up) and no
   * change. A copy from anywhere else goes on as a new request (and fails as a
   * replay), so a spoofed one learns nothing.
   */
  #retransmission(req: SipRequest, flow: Flow, aor: string, txMark: number): boolean {
    const b = this.#o.location.madeBy(aor, req.callId, req.cseq.seq, txMark);
    if (b === undefined) return false;
    const s = b.source;
    return (
      s.port === flow.remote.port &&
      s.address === flow.remote.address &&
      s.proto === flow.proto &&
      this.#o.clock.wallNow() - b.registeredAt <= RETRANSMISSION_WINDOW_MS
    );
  }

  /**
   * The 200 OK again for a retransmitted REGISTER that was answered with one
   * (the transaction layer recognised it by its branch): the AOR's bindings as
   * they are now. Undefined when the client is gone from sip.conf.
   */
  replay(req: SipRequest): SipResponse | undefined {
    const user = this.#checkAor(req);
    if (typeof user !== 'string') return undefined;
    const client = findClient(this.#o.config(), user);
    if (client === undefined) return undefined;
    return this.#ok(req, this.#o.location.lookup(client.name));
  }

  /** Parses the Contacts; answers 400/423 itself and returns undefined on a problem. */
  #contacts(req: SipRequest, stx: ServerTransaction, g: Config['general']): ContactChange[] | 'wildcard' | undefined {
    const elements = req.getAll('contact');
    if (elements.length === 0) return [];
    const headerExpires = req.get('expires');
    let defaultExpires = g.defaultExpires;
    if (headerExpires !== undefined) {
      if (!/^\d{1,10}$/.test(headerExpires)) {
        stx.respond(this.#res(req, 400, 'Bad Request (malformed Expires)'));
        return undefined;
      }
      defaultExpires = Number(headerExpires);
    }
    let parsed: Array<NameAddr | '*'>;
    try {
      parsed = req.contacts();
    } catch {
      stx.respond(this.#res(req, 400, 'Bad Request (malformed Contact)'));
      return undefined;
    }
    if (parsed.includes('*')) {
      if (parsed.length !== 1 || headerExpires !== '0') {
        stx.respond(this.#res(req, 400, 'Bad Request (Contact: * needs Expires: 0 and no other Contact)'));
        return undefined;
      }
      return 'wildcard';
    }
    const out: ContactChange[] = [];
    for (let i = 0; i < parsed.length; i++) {
      const na = parsed[i] as NameAddr;
      const p = na.params.get('expires');
      let expires = p !== undefined && p !== null && /^\d{1,10}$/.test(p) ? Number(p) : defaultExpires;
      if (expires > 0 && expires < g.minExpires) {
        stx.respond(
          createResponse(req, 423, { headers: [['Min-Expires', String(g.minExpires)], ['Server', this.#o.serverName]] }),
        );
        return undefined;
      }
      if (expires > g.maxExpires) expires = g.maxExpires;
      const inst = na.params.get('+sip.instance');
      const regId = na.params.get('reg-id');
      const q = na.params.get('q');
      out.push({
        contact: elements[i]!,
        contactUri: na.uriText,
        ...(inst ? { instance: unquote(inst) } : {}),
        ...(regId && /^\d{1,9}$/.test(regId) ? { regId: Number(regId) } : {}),
        ...(q && /^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$/.test(q) ? { q: Number(q) } : {}),
        expires,
      });
    }
    return out;
  }

  #challenge(req: SipRequest, stx: ServerTransaction, stale: boolean): void {
    stx.respond(this.#challengeResponse(req, stale));
  }

  #challengeResponse(req: SipRequest, stale: boolean): SipResponse {
    const headers: Array<[string, string]> = this.#o.auth.challenge(stale).map((v) => ['WWW-Authenticate', v]);
    headers.push(['Server', this.#o.serverName]);
    return createResponse(req, 401, { headers, toTag: statelessTag(req) });
  }

  /** 200 OK listing every current binding with its remaining time (RFC 3261 §10.3 step 8). */
  #ok(req: SipRequest, bindings: readonly Binding[]): SipResponse {
    const now = this.#o.clock.wallNow();
    const headers: Array<[string, string]> = [];
    for (const b of bindings) {
      const left = Math.max(0, Math.round((b.expiresAt - now) / 1000));
      headers.push(['Contact', withExpires(b.contact, left)]);
    }
    headers.push(['Date', new Date(now).toUTCString()]);
    headers.push(['Server', this.#o.serverName]);
    return createResponse(req, 200, { headers });
  }

  #res(req: SipRequest, status: number, reason: string): SipResponse {
    return createLocalResponse(req, status, this.#o.serverName, reason);
  }
}

/** The client an AOR user names: its section name, or its long number. Only `client` sections register. */
export function findClient(cfg: Config, user: string): Client | undefined {
  let c = cfg.clients.get(user);
  if (c === undefined) {
    const name = cfg.byLong.get(user);
    if (name !== undefined) c = cfg.clients.get(name);
  }
  return c !== undefined && c.kind === 'client' ? c : undefined;
}

/**
 * The Contact element as the phone sent it, with its header parameter
 * `expires` (after the `>`, or after the URI in addr-spec form) set to `n`;
 * everything else byte for byte.
 */
export function withExpires(contact: string, n: number): string {
  const gt = lastOutsideQuotes(contact, 0x3e /* > */);
  const paramsAt = gt >= 0 ? gt + 1 : Math.max(0, contact.indexOf(';'));
  if (gt < 0 && contact.indexOf(';') < 0) return `${contact};expires=${n}`;
  const head = contact.slice(0, paramsAt);
  const params = contact.slice(paramsAt).replace(/;[ \t]*expires[ \t]*=[ \t]*[^;]*/gi, '');
  return `${head}${params};expires=${n}`;
}

function lastOutsideQuotes(s: string, ch: number): number {
  let last = -1;
  let i = indexOutsideQuotes(s, ch);
  while (i >= 0) {
    last = i;
    i = indexOutsideQuotes(s, ch, i + 1);
  }
  return last;
}
