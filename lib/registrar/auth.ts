/**
 * Digest authentication for the registrar (401) and, later, the proxy (407):
 * the `Authenticator` that `register.ts` uses, on top of the pure pieces in
 * digest.ts (challenges, parsing, verification) and nonce.ts (self-validating
 * nonces keyed by a secret kept in sipd.sqlite3, so they survive a restart).
 * Realm, offered algorithms and nonce lifetime are read from the config in
 * force at each request, so a reload changes them at once.
 */
import type { Clock } from '../util/clock.js';
import type { SipRequest } from '../sip/message.js';
import type { General } from '../config/types.js';
import { challengeHeaders, parseDigestCredentials, verifyDigest, type DigestCredentials } from './digest.js';
import { NonceService } from './nonce.js';
import type { Authenticator } from './register.js';

export interface DigestAuthenticatorOptions {
  /** HMAC key for nonces (≥ 32 bytes). */
  secret: Uint8Array;
  clock: Clock;
  realm: () => string;
  general: () => General;
}

export class DigestAuthenticator implements Authenticator {
  readonly #nonces: NonceService;
  readonly #realm: () => string;
  readonly #general: () => General;
  #lifetime: number;

  constructor(opts: DigestAuthenticatorOptions) {
    this.#realm = opts.realm;
    this.#general = opts.general;
    this.#lifetime = opts.general().nonceLifetime;
    this.#nonces = new NonceService({ secret: opts.secret, clock: opts.clock, lifetimeSec: this.#lifetime });
  }

  /** Follows `[general] noncelifetime` across reloads. */
  #settings(): General {
    const g = this.#general();
    if (g.nonceLifetime !== this.#lifetime) {
      this.#lifetime = g.nonceLifetime;
      this.#nonces.setLifetime(g.nonceLifetime);
    }
    return g;
  }

  challenge(stale: boolean): string[] {
    const g = this.#settings();
    return challengeHeaders({ realm: this.#realm(), algorithms: g.digestAlgorithms, nonces: this.#nonces, stale });
  }

  verify(
    req: SipRequest,
    header: 'authorization' | 'proxy-authorization',
    passwordOf: (username: string) => string | undefined,
  ): { ok: true; username: string } | { ok: false; stale: boolean; present: boolean } {
    const values = req.getAll(header);
    if (values.length === 0) return { ok: false, stale: false, present: false };
    const realm = this.#realm();
    // A request may carry credentials for several realms (RFC 3261 §22.3): use ours.
    let creds: DigestCredentials | undefined;
    for (const v of values) {
      const c = parseDigestCredentials(v);
      if (c !== undefined && (creds === undefined || c.realm === realm)) creds = c;
      if (creds?.realm === realm) break;
    }
    if (creds === undefined) return { ok: false, stale: false, present: true };
    const g = this.#settings();
    const out = verifyDigest({
      credentials: creds,
      method: req.method,
      password: passwordOf(creds.username),
      realm,
      nonces: this.#nonces,
      algorithms: g.digestAlgorithms,
    });
    return out.ok ? { ok: true, username: creds.username } : { ok: false, stale: out.stale, present: true };
  }
}
