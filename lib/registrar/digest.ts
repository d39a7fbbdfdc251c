/**
 * SIP digest authentication, server side: challenges, parsing of
 * `Authorization` / `Proxy-Authorization`, and verification
 * (RFC 3261 §22.2–22.4, RFC 7616 §3, RFC 8760 §2).
 *
 * Decisions, for the callers in the registrar and the proxy:
 * - **One challenge per algorithm**, in the configured order (RFC 8760 §2:
 *   the server lists them in order of preference and the client takes the
 *   first it supports). The default puts MD5 first because old PJSIP-based
 *   softphones (MicroSIP) read only the first challenge. All challenges of
 *   one response share one nonce (RFC 7616 §3.3 asks for a unique nonce per
 *   401; the nonce is not bound to an algorithm).
 * - **qop**: sipd offers `qop="auth"`. A response without qop (RFC 2069
 *   clients, RFC 2617 §3.2.2.1 form `H(HA1:nonce:HA2)`, which RFC 7616 dropped
 *   but old phones still send) is accepted while its
 *   nonce is fresh, but has no nonce-count replay protection: a captured
 *   request can be replayed within the nonce lifetime. `auth-int` was never
 *   offered and is refused (`malformed`).
 * - **No user enumeration**: an unknown user (`password: undefined`) costs the
 *   same hashing as a known one (a dummy password) and fails with
 *   `stale: false` exactly like a wrong password; only `reason`, which never
 *   goes on the wire, differs. `stale: true` is reported only when the digest
 *   itself was correct (RFC 7616 §3.3 "stale"), i.e. to a client that knows
 *   the password.
 * - The digest `uri` is not compared with the Request-URI (SIPp sends
 *   `uri="sip:HOST:PORT"` for INVITE); HA2 uses the credentials' `uri`.
 * - `userhash=true` (RFC 7616 §3.4.4) is not supported: such credentials do not
 *   parse. `-sess` algorithms (RFC 7616 §3.4.2) are verified when their base
 *   algorithm is allowed, though sipd never offers them.
 *
 * Strings from the wire are latin1 in sipd's message model (one character per
 * byte), so username, realm, uri, nonce and cnonce are hashed as latin1, which
 * reproduces the bytes the client hashed; the password is text from sip.conf
 * and is hashed as UTF-8 (RFC 7616 §4, charset=UTF-8). For ASCII, which
 * is what phones send, both are the same.
 */
import * as cryptoNs from 'node:crypto';
import { createHash, timingSafeEqual } from 'node:crypto';
import { quote } from '../sip/split.js';
import type { NonceIssuer, NonceVerifier } from './nonce.js';

/** Algorithms sipd offers in challenges (the same names as `[general] digestalgorithms`). */
export type DigestAlgorithm = 'MD5' | 'SHA-256' | 'SHA-512-256';

/** Every algorithm a response may use: the offered ones and their `-sess` forms (RFC 7616 §3.4.2, §6.1). */
export type DigestAlgorithmName = DigestAlgorithm | 'MD5-sess' | 'SHA-256-sess' | 'SHA-512-256-sess';

/** Offer order when none is configured: MD5 first for clients that read only the first challenge. */
export const DEFAULT_CHALLENGE_ALGORITHMS: readonly DigestAlgorithm[] = Object.freeze(['MD5', 'SHA-256'] as const);

/** Parsed `Digest` credentials (RFC 7616 §3.4, RFC 3261 §25.1 `digest-response`). */
export interface DigestCredentials {
  /** `username`, unquoted (latin1 as on the wire). */
  readonly username: string;
  readonly realm: string;
  readonly nonce: string;
  /** `digest-uri`, unquoted; not required to equal the Request-URI. */
  readonly uri: string;
  /** `response`, lower-cased hex. */
  readonly response: string;
  /**
   * Canonical spelling (`MD5`, `SHA-256`, `SHA-512-256`, with `-sess`) when
   * known, else the value as sent; `MD5` when absent (RFC 7616 §3.3).
   */
  readonly algorithm: DigestAlgorithmName | (string & {});
  /** `cnonce`; present when `qop` is. */
  readonly cnonce: string | undefined;
  /** `qop`, lower-cased (`auth`, or anything else, which verification refuses); undefined for RFC 2069 clients. */
  readonly qop: string | undefined;
  /** `nc`, 8 hex digits as sent; present when `qop` is. */
  readonly nc: string | undefined;
  readonly opaque: string | undefined;
}

/** Why verification failed. Never put it on the wire: unknown user and bad password must look alike. */
export type DigestFailureReason = 'unknown-user' | 'bad-password' | 'bad-nonce' | 'replay' | 'malformed' | 'realm' | 'algorithm';

/**
 * Outcome of {@link verifyDigest}. On failure the caller answers 401/407 with
 * fresh challenges, adding `stale=true` when `stale` is set.
 */
export type DigestOutcome =
  | { readonly ok: true }
  | { readonly ok: false; readonly stale: boolean; readonly reason: DigestFailureReason };

const NODE_HASH: Readonly<Record<DigestAlgorithm, string>> = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' };
const HEX_LENGTH: Readonly<Record<DigestAlgorithm, number>> = { MD5: 32, 'SHA-256': 64, 'SHA-512-256': 64 };
const CANONICAL = new Map<string, DigestAlgorithmName>([
  ['md5', 'MD5'],
  ['md5-sess', 'MD5-sess'],
  ['sha-256', 'SHA-256'],
  ['sha-256-sess', 'SHA-256-sess'],
  ['sha-512-256', 'SHA-512-256'],
  ['sha-512-256-sess', 'SHA-512-256-sess'],
]);
const ALL_ALGORITHMS: readonly DigestAlgorithm[] = ['MD5', 'SHA-256', 'SHA-512-256'];

/** Canonical name of a digest algorithm (case-insensitive, RFC 7616 §6.1 registry names), or undefined. */
export function parseDigestAlgorithm(name: string): DigestAlgorithmName | undefined {
  return CANONICAL.get(name.toLowerCase());
}

function baseOf(alg: DigestAlgorithmName): DigestAlgorithm {
  return (alg.endsWith('-sess') ? alg.slice(0, -5) : alg) as DigestAlgorithm;
}

// ---------------------------------------------------------------- challenges

export interface ChallengeOptions {
  /** `[general] realm`. */
  readonly realm: string;
  /** Offer order; default {@link DEFAULT_CHALLENGE_ALGORITHMS}. Duplicates are dropped; empty means the default. */
  readonly algorithms?: readonly DigestAlgorithm[];
  /** Source of the nonce (a `NonceService`); `issue()` is called once per call. */
  readonly nonces: NonceIssuer;
  /** Adds `stale=true` (RFC 7616 §3.3): the previous nonce was stale but the digest was right. */
  readonly stale?: boolean;
  /** Optional `opaque`, echoed by clients (RFC 7616 §3.3). */
  readonly opaque?: string;
}

/**
 * The values of the `WWW-Authenticate` (401, REGISTER) or
 * `Proxy-Authenticate` (407) header fields: one field per algorithm, in offer
 * order (RFC 8760 §2: most preferred first; RFC 3261 §22.1), each
 * `Digest realm="R", nonce="N"[, opaque="O"], algorithm=A, qop="auth"[, stale=true]`.
 * The same for every caller whatever user it claims to be (no enumeration).
 */
export function challengeHeaders(opts: ChallengeOptions): string[] {
  const algorithms = opts.algorithms !== undefined && opts.algorithms.length > 0 ? opts.algorithms : DEFAULT_CHALLENGE_ALGORITHMS;
  const head = `Digest realm=${quote(opts.realm)}, nonce=${quote(opts.nonces.issue())}${opts.opaque !== undefined ? `, opaque=${quote(opts.opaque)}` : ''}, algorithm=`;
  const tail = opts.stale === true ? ', qop="auth", stale=true' : ', qop="auth"';
  const out: string[] = [];
  const seen = new Set<string>();
  for (const a of algorithms) {
    if (seen.has(a)) continue;
    seen.add(a);
    out.push(head + a + tail);
  }
  return out;
}

// ---------------------------------------------------------------- parsing

const MAX_PARAMS = 32;

/**
 * Parses an `Authorization` or `Proxy-Authorization` value with the `Digest`
 * scheme (case-insensitive; RFC 3261 §25.1 `credentials`, RFC 7616 §3.4).
 * Parameters are comma-separated `name=token` or `name="quoted string"`
 * (commas and `\"` escapes inside quotes, blanks around `=` and `,`, empty
 * list elements, names in any case, quoted values where tokens are expected
 * and vice versa). Unknown parameters are ignored.
 *
 * Returns undefined, never throws, when the scheme is not Digest, the syntax
 * is broken (unterminated quote, missing `=`), a parameter appears twice, one
 * of username, realm, nonce, uri, response is missing, `response` is not hex,
 * `qop` comes without `cnonce` or an 8-hex-digit `nc`, or `userhash=true`
 * (not supported).
 */
export function parseDigestCredentials(value: string): DigestCredentials | undefined {
  if (typeof value !== 'string') return undefined;
  const n = value.length;
  let i = skipBlanks(value, 0);
  const schemeStart = i;
  while (i < n && isTokenChar(value.charCodeAt(i))) i++;
  if (i - schemeStart !== 6 || value.slice(schemeStart, i).toLowerCase() !== 'digest') return undefined;
  if (i >= n || !isBlank(value.charCodeAt(i))) return undefined;

  const p = new Map<string, string>();
  for (;;) {
    // blanks and empty list elements
    while (i < n) {
      const c = value.charCodeAt(i);
      if (c === 0x2c || isBlank(c)) i++;
      else break;
    }
    if (i >= n) break;
    const nameStart = i;
    while (i < n && isTokenChar(value.charCodeAt(i))) i++;
    if (i === nameStart) return undefined;
    const name = value.slice(nameStart, i).toLowerCase();
    i = skipBlanks(value, i);
    if (i >= n || value.charCodeAt(i) !== 0x3d /* = */) return undefined;
    i = skipBlanks(value, i + 1);
    if (i >= n) return undefined;
    let v: string;
    if (value.charCodeAt(i) === 0x22 /* " */) {
      const start = ++i;
      let escaped = false;
      for (;;) {
        if (i >= n) return undefined; // unterminated
        const c = value.charCodeAt(i);
        if (c === 0x22) break;
        if (c === 0x5c /* \ */) {
          if (i + 1 >= n) return undefined;
          escaped = true;
          i += 2;
          continue;
        }
        if (c < 0x20 && c !== 0x09) return undefined; // CR, LF, NUL and other controls
        if (c === 0x7f) return undefined;
        i++;
      }
      v = escaped ? value.slice(start, i).replace(/\\([\s\S])/g, '$1') : value.slice(start, i);
      i++; // closing quote
    } else {
      const start = i;
      while (i < n && isValueChar(value.charCodeAt(i))) i++;
      if (i === start) return undefined;
      v = value.slice(start, i);
    }
    i = skipBlanks(value, i);
    if (i < n && value.charCodeAt(i) !== 0x2c) return undefined; // junk after a value
    if (p.has(name)) return undefined; // ambiguous: which realm/response counts?
    if (p.size >= MAX_PARAMS) return undefined;
    p.set(name, v);
  }

  const username = p.get('username');
  const realm = p.get('realm');
  const nonce = p.get('nonce');
  const uri = p.get('uri');
  let response = p.get('response');
  if (username === undefined || realm === undefined || nonce === undefined || uri === undefined || response === undefined) return undefined;
  if (username.length === 0 || nonce.length === 0 || uri.length === 0) return undefined;
  if (!HEX_RE.test(response)) return undefined;
  response = response.toLowerCase();

  const userhash = p.get('userhash');
  if (userhash !== undefined && userhash.toLowerCase() === 'true') return undefined;

  const algRaw = p.get('algorithm');
  const algorithm = algRaw === undefined ? 'MD5' : (parseDigestAlgorithm(algRaw) ?? algRaw);

  const qopRaw = p.get('qop');
  const qop = qopRaw?.toLowerCase();
  const cnonce = p.get('cnonce');
  const nc = p.get('nc');
  if (qop !== undefined) {
    if (cnonce === undefined || nc === undefined || !NC_RE.test(nc)) return undefined;
  }
  return { username, realm, nonce, uri, response, algorithm, cnonce, qop, nc, opaque: p.get('opaque') };
}

const HEX_RE = /^[0-9a-fA-F]+$/;
const NC_RE = /^[0-9a-fA-F]{8}$/;

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;
}

function skipBlanks(s: string, i: number): number {
  while (i < s.length && isBlank(s.charCodeAt(i))) i++;
  return i;
}

/** RFC 3261 §25.1 token characters. */
function isTokenChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x2d || c === 0x2e || c === 0x21 || c === 0x25 || c === 0x2a || // - . ! % *
    c === 0x5f || c === 0x2b || c === 0x60 || c === 0x27 || c === 0x7e // _ + ` ' ~
  );
}

/** An unquoted value: tolerant (clients send `uri=sip:host` or base64 nonces unquoted), but stops at blanks, `,` and `"`. */
function isValueChar(c: number): boolean {
  return c > 0x20 && c !== 0x7f && c !== 0x2c && c !== 0x22;
}

// ---------------------------------------------------------------- hashing

/** Inputs of {@link computeResponse}. */
export interface DigestResponseInput {
  readonly algorithm: DigestAlgorithmName;
  readonly username: string;
  readonly realm: string;
  /** Text (hashed as UTF-8). */
  readonly password: string;
  /** Request method (HA2 = H(method:uri), RFC 3261 §22.4 uses the request's method). */
  readonly method: string;
  readonly uri: string;
  readonly nonce: string;
  /** `'auth'`, or undefined for the RFC 2069 form. */
  readonly qop?: 'auth' | undefined;
  /** 8 hex digits; required with qop. */
  readonly nc?: string | undefined;
  /** Required with qop and for `-sess` algorithms. */
  readonly cnonce?: string | undefined;
}

/**
 * The `response` value a client computes (RFC 7616 §3.4.1–3.4.3, RFC 2617
 * §3.2.2, RFC 8760 §2): lower-case hex of
 * - `KD(HA1, nonce:nc:cnonce:qop:HA2)` with qop=auth,
 * - `KD(HA1, nonce:HA2)` without qop (RFC 2617 §3.2.2.1),
 *
 * where `KD(s, d) = H(s:d)`, `HA2 = H(method:uri)`, `HA1 = H(username:realm:password)`
 * and for `-sess`, `HA1 = H(H(username:realm:password):nonce:cnonce)`.
 * Exported for tests and for SIPp-independent clients.
 */
export function computeResponse(input: DigestResponseInput): string {
  return responseFor(input.algorithm, input.username, input.realm, input.password, input.method, input.uri, input.nonce, input.qop, input.nc, input.cnonce);
}

function responseFor(
  alg: DigestAlgorithmName,
  username: string,
  realm: string,
  password: string,
  method: string,
  uri: string,
  nonce: string,
  qop: string | undefined,
  nc: string | undefined,
  cnonce: string | undefined,
): string {
  const h = NODE_HASH[baseOf(alg)];
  // Wire strings are latin1 and the password UTF-8. When the wire strings are
  // ASCII (nearly always) both encodings agree, and the one-shot crypto.hash
  // (about 4x cheaper than a Hash object per step) gives the same bytes.
  const wire = `${username}:${realm}:${method}:${uri}:${nonce}:${nc ?? ''}:${cnonce ?? ''}:${qop ?? ''}`;
  if (oneShot !== undefined && ASCII.test(wire)) {
    let ha1 = oneShot(h, `${username}:${realm}:${password}`, 'hex');
    if (alg.endsWith('-sess')) ha1 = oneShot(h, `${ha1}:${nonce}:${cnonce ?? ''}`, 'hex');
    const ha2 = oneShot(h, `${method}:${uri}`, 'hex');
    return oneShot(h, qop !== undefined ? `${ha1}:${nonce}:${nc ?? ''}:${cnonce ?? ''}:${qop}:${ha2}` : `${ha1}:${nonce}:${ha2}`, 'hex');
  }
  let ha1 = createHash(h).update(username, 'latin1').update(':').update(realm, 'latin1').update(':').update(password, 'utf8').digest('hex');
  if (alg.endsWith('-sess')) {
    ha1 = createHash(h).update(ha1).update(':').update(nonce, 'latin1').update(':').update(cnonce ?? '', 'latin1').digest('hex');
  }
  const ha2 = createHash(h).update(method, 'latin1').update(':').update(uri, 'latin1').digest('hex');
  const r = createHash(h).update(ha1).update(':').update(nonce, 'latin1');
  if (qop !== undefined) {
    r.update(':').update(nc ?? '', 'latin1').update(':').update(cnonce ?? '', 'latin1').update(':').update(qop, 'latin1');
  }
  return r.update(':').update(ha2).digest('hex');
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\x00-\x7f]*$/;
/** `crypto.hash` (Node ≥ 20.12); undefined on older runtimes, where the Hash objects are used. */
const oneShot = (cryptoNs as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;

// ---------------------------------------------------------------- verification

/** Inputs of {@link verifyDigest}. */
export interface VerifyDigestInput {
  readonly credentials: DigestCredentials;
  /** Method of the request being authenticated. */
  readonly method: string;
  /** The user's secret, or undefined for an unknown user (a dummy is hashed instead, same cost). */
  readonly password: string | undefined;
  /** The realm sipd challenged with; credentials for another realm fail with `realm`. */
  readonly realm: string;
  /** The nonce service that issued the challenge. */
  readonly nonces: NonceVerifier;
  /** Algorithms the configuration allows (their `-sess` forms too); default all three. A response with another one fails with `algorithm` (no downgrade). */
  readonly algorithms?: readonly DigestAlgorithm[];
  /** When the challenge carried `opaque`, the value the client must echo. */
  readonly opaque?: string;
}

const OK: DigestOutcome = Object.freeze({ ok: true });
const REASONS: readonly DigestFailureReason[] = ['unknown-user', 'bad-password', 'bad-nonce', 'replay', 'malformed', 'realm', 'algorithm'];
function failures(stale: boolean): Readonly<Record<DigestFailureReason, DigestOutcome>> {
  const t = {} as Record<DigestFailureReason, DigestOutcome>;
  for (const reason of REASONS) t[reason] = Object.freeze({ ok: false, stale, reason });
  return t;
}
/** Preallocated, frozen outcomes: verification allocates no result object. */
const FAILURES = [failures(false), failures(true)] as const;
function fail(reason: DigestFailureReason, stale = false): DigestOutcome {
  return FAILURES[stale ? 1 : 0][reason];
}

/** Hashed instead of the password of an unknown user, so both paths cost the same. */
const DUMMY_PASSWORD = 'sipd-no-such-user-0123456789';

/**
 * Verifies digest credentials (RFC 3261 §22.4, RFC 7616 §3.4–3.5). In order:
 * 1. realm differs → `realm`; algorithm unknown or not allowed → `algorithm`;
 *    qop other than `auth`, or an `opaque` that does not match → `malformed`;
 * 2. nonce not minted by sipd → `bad-nonce` (`stale: false`);
 * 3. the response is computed (with a dummy password for an unknown user)
 *    and compared in constant time: unknown user → `unknown-user`, mismatch →
 *    `bad-password`, both `stale: false`;
 * 4. correct digest but stale nonce → `bad-nonce` with `stale: true`;
 * 5. with qop, a nonce-count already seen → `replay` with `stale: true` (the
 *    client re-authenticates with a fresh nonce without prompting its user);
 *    counts are recorded only here, after the digest proved correct.
 *
 * Never throws on network input; the outcome never contains the password.
 */
export function verifyDigest(input: VerifyDigestInput): DigestOutcome {
  const c = input.credentials;
  if (c.realm !== input.realm) return fail('realm');
  const alg = parseDigestAlgorithm(c.algorithm);
  if (alg === undefined) return fail('algorithm');
  const base = baseOf(alg);
  if (!(input.algorithms ?? ALL_ALGORITHMS).includes(base)) return fail('algorithm');
  if (c.qop !== undefined && (c.qop !== 'auth' || c.nc === undefined || c.cnonce === undefined)) return fail('malformed');
  if (alg !== base && c.cnonce === undefined) return fail('malformed');
  if (input.opaque !== undefined && c.opaque !== input.opaque) return fail('malformed');

  const status = input.nonces.check(c.nonce);
  if (status === 'invalid') return fail('bad-nonce');

  const known = input.password !== undefined;
  const expected = responseFor(alg, c.username, c.realm, known ? input.password! : DUMMY_PASSWORD, input.method, c.uri, c.nonce, c.qop, c.nc, c.cnonce);
  const match = c.response.length === HEX_LENGTH[base] && timingSafeEqual(Buffer.from(expected, 'latin1'), Buffer.from(c.response, 'latin1'));
  if (!known) return fail('unknown-user');
  if (!match) return fail('bad-password');
  if (status === 'stale') return fail('bad-nonce', true);
  if (c.qop !== undefined && !input.nonces.checkCount(c.nonce, c.nc!)) return fail('replay', true);
  return OK;
}
