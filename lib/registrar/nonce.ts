/**
 * Self-validating digest nonces and nonce-count replay protection
 * (RFC 7616 §3.3 "nonce", §3.4 "nc", §5.4–5.5; RFC 3261 §22.4; RFC 8760 §2).
 *
 * **Nonce format.** `base64url(v ‖ t ‖ r ‖ m)`, 27 bytes → exactly 36
 * characters from `[A-Za-z0-9_-]` (safe in a quoted-string and as a token):
 * - `v`: 1 byte format version (2; version 1 is still accepted);
 * - `t`: 6 bytes issue time, wall-clock milliseconds, big-endian;
 * - `r`: 8 random bytes (uniqueness within a millisecond, unpredictability);
 * - `m`: the first 12 bytes (96 bits) of SHA-256(secret ‖ v ‖ t ‖ r ‖ realm)
 *   (version 1: of HMAC-SHA256(secret, v ‖ t ‖ r ‖ realm)).
 *
 * The version 2 MAC is a secret-prefix hash: with a fixed-length secret and
 * body and the realm last, and only 96 of the 256 bits published, no length
 * extension applies (an attacker lacks the hash state), and it costs one
 * `crypto.hash` call (about 1 µs) instead of an HMAC object (about 2.5 µs and
 * native handles for the garbage collector). Version 1 nonces, issued by
 * sipd before this change, stay valid until they expire, so nothing breaks
 * across an upgrade.
 *
 * Nothing is stored when a nonce is issued: {@link NonceService.check}
 * recomputes the MAC (one hash per check, compared with `timingSafeEqual`) and
 * reads the issue time from the nonce itself. The secret is injected; the
 * server keeps it in its database so nonces stay authentic across a restart.
 *
 * **Nonce-count (`nc`) policy.** Per nonce, an anti-replay window in the style
 * of IPsec (RFC 4303 §3.4.3): the highest `nc` seen plus a 32-bit bitmap of the
 * 32 values below it. A count above the highest is accepted and slides the
 * window; a count inside the window is accepted once (RFC 7616 §3.4 lets a
 * client send requests with one nonce in parallel, so they may arrive out of
 * order); a repeated count, `nc=0` or one older than the window is refused.
 * Counts are recorded only by {@link NonceService.checkCount}, which the
 * verifier calls after the digest proved correct, so a forged request cannot
 * burn a victim's counts.
 *
 * **Bounded memory, no timers.** Entries exist only for nonces that were used
 * with `qop=auth`. Expired entries (their nonce is stale anyway) are dropped
 * lazily from the front of the insertion order on each
 * `checkCount`, keyed on the injected clock. A hard cap (default 100,000)
 * evicts the oldest entry; its nonce's history is then lost, so the service
 * raises a floor: an untracked nonce issued before the floor is refused
 * (the verifier answers `stale=true` and the client re-authenticates with a
 * fresh nonce, without prompting its user). The floor starts at the
 * construction time: after a restart the history of older nonces is gone, so
 * their counts are refused the same way (fail closed, one extra round trip).
 */
import * as cryptoNs from 'node:crypto';
import { createHash, createHmac, createSecretKey, randomFillSync, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { Clock } from '../util/clock.js';
import { SipdError } from '../util/errors.js';
import { NonceCountTable, decodeNonceBody } from './nonce-counts.js';

/** Outcome of {@link NonceService.check}. */
export type NonceStatus = 'valid' | 'stale' | 'invalid';

/** What the digest verifier needs from a nonce service (see `verifyDigest` in `digest.ts`). */
export interface NonceVerifier {
  /** Authenticity and freshness of a nonce (one HMAC). */
  check(nonce: string): NonceStatus;
  /** Records a nonce-count for an authentic, fresh nonce; false when it is a replay. */
  checkCount(nonce: string, nc: string | number): boolean;
}

/** What a challenge builder needs: a fresh nonce. */
export interface NonceIssuer {
  issue(): string;
}

export interface NonceServiceOptions {
  /** HMAC key, at least 32 bytes of randomness (kept in the database). */
  readonly secret: Uint8Array;
  /** Time source; only `wallNow()` is used. */
  readonly clock: Clock;
  /** Seconds a nonce stays valid, then it is stale (`[general] noncelifetime`, default 300). */
  readonly lifetimeSec?: number;
  /** Realm bound into the MAC, so a nonce minted for one realm is invalid in another. Default `''`. */
  readonly realm?: string;
  /** Hard cap on nonces whose counts are remembered; default 100,000. */
  readonly maxTracked?: number;
}

/** Length of an encoded nonce in characters. */
export const NONCE_LENGTH = 36;
/** Smallest accepted secret, in bytes. */
export const MIN_SECRET_BYTES = 32;
/** Default lifetime in seconds. */
export const DEFAULT_NONCE_LIFETIME_SEC = 300;
/** Default cap of the nonce-count table. */
export const DEFAULT_MAX_TRACKED = 100_000;

const VERSION = 2;
/** The HMAC format of sipd before version 2; checked, never issued. */
const VERSION_HMAC = 1;
const BODY_BYTES = 15; // version 1 + time 6 + random 8
const MAC_BYTES = 12;
const TOTAL_BYTES = BODY_BYTES + MAC_BYTES; // 27 → 36 base64url characters
const RANDOM_BYTES = 8;
/** Nonces that claim to be from the future by more than this are stale (wall clock stepped back). */
const FUTURE_TOLERANCE_MS = 5_000;
const WINDOW = 32;
/** Expired entries removed per `checkCount` call (amortised, bounds the latency of one call). */
const SWEEP_PER_CALL = 32;
const NONCE_RE = /^[A-Za-z0-9_-]{36}$/;
const NC_RE = /^[0-9a-fA-F]{1,8}$/;

/** `crypto.hash` (Node ≥ 20.12): one call, no Hash object. */
const oneShot = (cryptoNs as { hash?: (alg: string, data: Buffer, enc: 'buffer') => Buffer }).hash;

/**
 * Issues and checks self-validating nonces and remembers nonce-counts.
 * Pure: no I/O and no timers; time comes from the injected clock.
 */
export class NonceService implements NonceVerifier, NonceIssuer {
  readonly #key: KeyObject;
  readonly #clock: Clock;
  readonly #realm: Buffer;
  readonly #maxTracked: number;
  #lifetimeMs: number;
  /** Counts per nonce, by fingerprint, in insertion order (see nonce-counts.ts). */
  readonly #counts = new NonceCountTable();
  /** Scratch for the decoded start of a nonce (version, issue time, random bytes). */
  readonly #head = new Uint8Array(15);
  /** Untracked nonces issued before this wall time (ms) have no history: their counts are refused. */
  #floor: number;
  readonly #pool = Buffer.allocUnsafe(RANDOM_BYTES * 512);
  #poolPos: number;
  readonly #body = Buffer.allocUnsafe(TOTAL_BYTES);
  /** secret ‖ body ‖ realm, hashed in one call (version 2 MAC); the body is written in place. */
  readonly #macInput: Buffer;
  readonly #secretLength: number;

  /** @throws SipdError `SIPD_ERR_NONCE_OPTIONS` on a short secret or out-of-range numbers (programming errors, not network input). */
  constructor(opts: NonceServiceOptions) {
    if (!(opts.secret instanceof Uint8Array) || opts.secret.byteLength < MIN_SECRET_BYTES) {
      throw new SipdError('SIPD_ERR_NONCE_OPTIONS', `nonce secret must be at least ${MIN_SECRET_BYTES} bytes`);
    }
    const maxTracked = opts.maxTracked ?? DEFAULT_MAX_TRACKED;
    if (!Number.isInteger(maxTracked) || maxTracked < 1) {
      throw new SipdError('SIPD_ERR_NONCE_OPTIONS', `maxTracked must be a positive integer, got ${maxTracked}`);
    }
    this.#key = createSecretKey(Buffer.from(opts.secret));
    this.#clock = opts.clock;
    this.#realm = Buffer.from(opts.realm ?? '', 'utf8');
    this.#secretLength = opts.secret.byteLength;
    this.#macInput = Buffer.concat([Buffer.from(opts.secret), Buffer.alloc(BODY_BYTES), this.#realm]);
    this.#maxTracked = maxTracked;
    this.#lifetimeMs = NonceService.#lifetimeToMs(opts.lifetimeSec ?? DEFAULT_NONCE_LIFETIME_SEC);
    this.#floor = opts.clock.wallNow();
    this.#poolPos = this.#pool.length;
  }

  /** Current lifetime in seconds. */
  get lifetimeSec(): number {
    return this.#lifetimeMs / 1000;
  }

  /** Number of nonces whose counts are remembered (for tests and metrics). */
  get tracked(): number {
    return this.#counts.size;
  }

  /**
   * Changes the lifetime (a reload of `[general] noncelifetime`) without
   * losing the nonce-count history; a no-op when unchanged. Entries swept
   * under the old lifetime cannot come back to life: the floor rises to the
   * old expiry horizon.
   */
  setLifetime(lifetimeSec: number): void {
    const ms = NonceService.#lifetimeToMs(lifetimeSec);
    if (ms === this.#lifetimeMs) return; // cheap enough to call on every request
    this.#floor = Math.max(this.#floor, this.#clock.wallNow() - this.#lifetimeMs);
    this.#lifetimeMs = ms;
  }

  /** A fresh nonce (RFC 7616 §3.3: "uniquely generated each time a 401 response is made"). */
  issue(): string {
    const b = this.#body;
    b[0] = VERSION;
    b.writeUIntBE(Math.max(0, Math.floor(this.#clock.wallNow())), 1, 6);
    if (this.#poolPos + RANDOM_BYTES > this.#pool.length) {
      randomFillSync(this.#pool);
      this.#poolPos = 0;
    }
    this.#pool.copy(b, 7, this.#poolPos, this.#poolPos + RANDOM_BYTES);
    this.#poolPos += RANDOM_BYTES;
    this.#mac(b.subarray(0, BODY_BYTES)).copy(b, BODY_BYTES, 0, MAC_BYTES);
    return b.toString('base64url');
  }

  /**
   * `'invalid'` when the nonce was not minted with this secret and realm
   * (forged, truncated, garbage), `'stale'` when it is authentic but older
   * than the lifetime (or more than a few seconds in the future after the
   * wall clock stepped back), else `'valid'`. Never throws.
   */
  check(nonce: string): NonceStatus {
    if (typeof nonce !== 'string' || nonce.length !== NONCE_LENGTH || !NONCE_RE.test(nonce)) return 'invalid';
    const b = Buffer.from(nonce, 'base64url');
    if (b.length !== TOTAL_BYTES || (b[0] !== VERSION && b[0] !== VERSION_HMAC)) return 'invalid';
    const mac = b[0] === VERSION ? this.#mac(b.subarray(0, BODY_BYTES)) : this.#hmac(b.subarray(0, BODY_BYTES));
    if (!timingSafeEqual(mac.subarray(0, MAC_BYTES), b.subarray(BODY_BYTES))) return 'invalid';
    return this.#fresh(b.readUIntBE(1, 6), this.#clock.wallNow()) ? 'valid' : 'stale';
  }

  /**
   * Records nonce-count `nc` (8 hex digits as on the wire, or a number) for
   * `nonce` and says whether it is new (see the module comment for the
   * window policy). Call it only for a nonce that {@link check} found
   * `'valid'` and a digest that proved correct: it does not verify the MAC.
   * Returns false for a replayed, zero, too old or malformed count, and for an
   * untracked nonce issued before the history floor.
   */
  checkCount(nonce: string, nc: string | number): boolean {
    const n = typeof nc === 'number' ? nc : NC_RE.test(nc) ? parseInt(nc, 16) : NaN;
    if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) return false;
    const now = this.#clock.wallNow();
    this.#sweep(now);
    const h = this.#head;
    if (typeof nonce !== 'string' || nonce.length !== NONCE_LENGTH || !decodeNonceBody(nonce, h)) return false;
    if (h[0] !== VERSION && h[0] !== VERSION_HMAC) return false;
    // The fingerprint: the 8 random bytes, the second half folded with the low 32 bits of the issue time.
    const timeLow = uint32At(h, 3);
    const lo = uint32At(h, 7);
    const hi = (uint32At(h, 11) ^ timeLow) >>> 0;
    const slot = this.#counts.find(lo, hi);
    if (slot < 0) {
      const issued = h[1]! * 2 ** 40 + h[2]! * 2 ** 32 + timeLow;
      if (issued < this.#floor || !this.#fresh(issued, now)) return false;
      if (this.#counts.size >= this.#maxTracked) this.#evictOldest();
      this.#counts.insert(lo, hi, issued, n, 0);
      return true;
    }
    const max = this.#counts.max(slot);
    const window = this.#counts.window(slot);
    if (n > max) {
      const shift = n - max;
      // the old max becomes bit (shift - 1); older bits move up by `shift`
      const w = shift > WINDOW ? 0 : shift === WINDOW ? 0x8000_0000 : ((window << shift) | (1 << (shift - 1))) >>> 0;
      this.#counts.update(slot, n, w);
      return true;
    }
    if (n === max) return false;
    const bit = max - 1 - n;
    if (bit >= WINDOW) return false;
    const mask = (1 << bit) >>> 0;
    if ((window & mask) !== 0) return false;
    this.#counts.update(slot, max, (window | mask) >>> 0);
    return true;
  }

  /** Version 2: SHA-256(secret ‖ body ‖ realm); the caller compares the first MAC_BYTES. */
  #mac(body: Buffer): Buffer {
    body.copy(this.#macInput, this.#secretLength, 0, BODY_BYTES);
    return oneShot !== undefined ? oneShot('sha256', this.#macInput, 'buffer') : createHash('sha256').update(this.#macInput).digest();
  }

  /** Version 1: HMAC-SHA256(secret, body ‖ realm). */
  #hmac(body: Buffer): Buffer {
    return createHmac('sha256', this.#key).update(body).update(this.#realm).digest();
  }

  #fresh(issued: number, now: number): boolean {
    const age = now - issued;
    return age <= this.#lifetimeMs && age >= -FUTURE_TOLERANCE_MS;
  }

  #sweep(now: number): void {
    for (let n = 0; n < SWEEP_PER_CALL; n++) {
      const issued = this.#counts.oldestIssued();
      if (issued === undefined || now - issued <= this.#lifetimeMs) return;
      this.#counts.removeOldest();
    }
  }

  #evictOldest(): void {
    const issued = this.#counts.removeOldest();
    // its history is gone: refuse untracked nonces issued up to its issue time
    if (issued !== undefined && issued + 1 > this.#floor) this.#floor = issued + 1;
  }

  static #lifetimeToMs(sec: number): number {
    if (!Number.isFinite(sec) || sec <= 0) {
      throw new SipdError('SIPD_ERR_NONCE_OPTIONS', `nonce lifetime must be a positive number of seconds, got ${sec}`);
    }
    return sec * 1000;
  }
}

/** The big-endian unsigned 32-bit number at `at` in `b`. */
function uint32At(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
}
