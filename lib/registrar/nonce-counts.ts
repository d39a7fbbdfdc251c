/**
 * The nonce-count table of {@link NonceService}: per nonce its issue time, the
 * highest count seen and the 32-bit window below it, in typed arrays — no
 * JavaScript object, string or Map entry per nonce. A busy server tracks up to
 * 100,000 nonces (every authenticated call and REGISTER uses a fresh one);
 * as objects they were ~150 bytes and three heap objects each, which every
 * mark-compact had to walk. Here an entry is 24 bytes of table (at most half
 * full) plus 16 bytes of FIFO.
 *
 * Entries are keyed by a 64-bit fingerprint of the nonce: its 8 random bytes
 * (from a CSPRNG at issue) folded with its issue time. Only nonces whose MAC
 * verified are recorded, so nobody chooses the bits; two of 100,000 tracked
 * nonces share a fingerprint with odds of about 1 in 10^9, and the effect would
 * be one refused count (the client gets `stale=true` and a fresh nonce).
 *
 * Open addressing with linear probing and backward-shift deletion; the table
 * doubles at half load and halves when it is mostly empty. Entries leave only
 * from the front of the insertion order (expiry, eviction), which a ring of
 * fingerprints keeps.
 */

const MIN_CAPACITY = 1024;

export class NonceCountTable {
  #cap = MIN_CAPACITY;
  #mask = MIN_CAPACITY - 1;
  #used = new Uint8Array(MIN_CAPACITY);
  #lo = new Uint32Array(MIN_CAPACITY);
  #hi = new Uint32Array(MIN_CAPACITY);
  #issued = new Float64Array(MIN_CAPACITY);
  /** Highest count seen. */
  #max = new Uint32Array(MIN_CAPACITY);
  /** Bit i set: count `max - 1 - i` was seen. */
  #win = new Uint32Array(MIN_CAPACITY);
  #size = 0;
  // The insertion order: a ring of fingerprints and issue times.
  #rLo = new Uint32Array(MIN_CAPACITY);
  #rHi = new Uint32Array(MIN_CAPACITY);
  #rIssued = new Float64Array(MIN_CAPACITY);
  #rHead = 0;

  get size(): number {
    return this.#size;
  }

  /** The slot of fingerprint (lo, hi), or -1. */
  find(lo: number, hi: number): number {
    let i = mix(lo, hi) & this.#mask;
    while (this.#used[i] === 1) {
      if (this.#lo[i] === lo && this.#hi[i] === hi) return i;
      i = (i + 1) & this.#mask;
    }
    return -1;
  }

  max(slot: number): number {
    return this.#max[slot]!;
  }

  window(slot: number): number {
    return this.#win[slot]!;
  }

  update(slot: number, max: number, window: number): void {
    this.#max[slot] = max;
    this.#win[slot] = window;
  }

  /** Adds a fingerprint that is not in the table, newest in the insertion order. */
  insert(lo: number, hi: number, issued: number, max: number, window: number): void {
    if ((this.#size + 1) * 2 > this.#cap) this.#resize(this.#cap * 2);
    let i = mix(lo, hi) & this.#mask;
    while (this.#used[i] === 1) i = (i + 1) & this.#mask;
    this.#used[i] = 1;
    this.#lo[i] = lo;
    this.#hi[i] = hi;
    this.#issued[i] = issued;
    this.#max[i] = max;
    this.#win[i] = window;
    // The ring has the table's capacity, at least twice the size: there is room.
    const at = (this.#rHead + this.#size) & this.#mask;
    this.#rLo[at] = lo;
    this.#rHi[at] = hi;
    this.#rIssued[at] = issued;
    this.#size++;
  }

  /** Issue time of the oldest entry, or undefined when empty. */
  oldestIssued(): number | undefined {
    return this.#size === 0 ? undefined : this.#rIssued[this.#rHead];
  }

  /** Removes the oldest entry and returns its issue time (undefined when empty). */
  removeOldest(): number | undefined {
    if (this.#size === 0) return undefined;
    const h = this.#rHead;
    const issued = this.#rIssued[h]!;
    this.#delete(this.#rLo[h]!, this.#rHi[h]!);
    this.#rHead = (h + 1) & this.#mask;
    this.#size--;
    if (this.#cap > MIN_CAPACITY && this.#size * 8 < this.#cap) this.#resize(this.#cap / 2);
    return issued;
  }

  clear(): void {
    this.#size = 0;
    this.#rHead = 0;
    this.#resize(MIN_CAPACITY);
  }

  /** Backward-shift deletion (no tombstones): later entries of the probe run move up. */
  #delete(lo: number, hi: number): void {
    let i = this.find(lo, hi);
    if (i < 0) return;
    const m = this.#mask;
    let j = i;
    for (;;) {
      j = (j + 1) & m;
      if (this.#used[j] !== 1) break;
      const home = mix(this.#lo[j]!, this.#hi[j]!) & m;
      // Move j into the hole at i unless its home lies cyclically in (i, j].
      if (i <= j ? home > i && home <= j : home > i || home <= j) continue;
      this.#lo[i] = this.#lo[j]!;
      this.#hi[i] = this.#hi[j]!;
      this.#issued[i] = this.#issued[j]!;
      this.#max[i] = this.#max[j]!;
      this.#win[i] = this.#win[j]!;
      i = j;
    }
    this.#used[i] = 0;
  }

  #resize(cap: number): void {
    const old = { used: this.#used, lo: this.#lo, hi: this.#hi, issued: this.#issued, max: this.#max, win: this.#win };
    const ring = { lo: this.#rLo, hi: this.#rHi, issued: this.#rIssued, head: this.#rHead, mask: this.#mask };
    this.#cap = cap;
    this.#mask = cap - 1;
    this.#used = new Uint8Array(cap);
    this.#lo = new Uint32Array(cap);
    this.#hi = new Uint32Array(cap);
    this.#issued = new Float64Array(cap);
    this.#max = new Uint32Array(cap);
    this.#win = new Uint32Array(cap);
    this.#rLo = new Uint32Array(cap);
    this.#rHi = new Uint32Array(cap);
    this.#rIssued = new Float64Array(cap);
    this.#rHead = 0;
    for (let k = 0; k < this.#size; k++) {
      const r = (ring.head + k) & ring.mask;
      this.#rLo[k] = ring.lo[r]!;
      this.#rHi[k] = ring.hi[r]!;
      this.#rIssued[k] = ring.issued[r]!;
    }
    for (let s = 0; s < old.used.length; s++) {
      if (old.used[s] !== 1) continue;
      let i = mix(old.lo[s]!, old.hi[s]!) & this.#mask;
      while (this.#used[i] === 1) i = (i + 1) & this.#mask;
      this.#used[i] = 1;
      this.#lo[i] = old.lo[s]!;
      this.#hi[i] = old.hi[s]!;
      this.#issued[i] = old.issued[s]!;
      this.#max[i] = old.max[s]!;
      this.#win[i] = old.win[s]!;
    }
  }
}

/** Spreads a fingerprint over the table (its bits are random already; this mixes both halves into the low bits). */
function mix(lo: number, hi: number): number {
  let h = Math.imul(lo ^ (lo >>> 16), 0x85ebca6b);
  h ^= Math.imul(hi ^ (hi >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

const B64URL = new Int8Array(128).fill(-1);
for (let i = 0; i < 64; i++) B64URL['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.charCodeAt(i)] = i;

/**
 * Decodes the first 20 base64url characters of a well-formed nonce (15 bytes:
 * version, 6 bytes of issue time, 8 random bytes) into `out`. False when a
 * character is not base64url.
 */
export function decodeNonceBody(nonce: string, out: Uint8Array): boolean {
  for (let c = 0, b = 0; c < 20; c += 4, b += 3) {
    const x0 = B64URL[nonce.charCodeAt(c)] ?? -1;
    const x1 = B64URL[nonce.charCodeAt(c + 1)] ?? -1;
    const x2 = B64URL[nonce.charCodeAt(c + 2)] ?? -1;
    const x3 = B64URL[nonce.charCodeAt(c + 3)] ?? -1;
    if ((x0 | x1 | x2 | x3) < 0) return false;
    const v = (x0 << 18) | (x1 << 12) | (x2 << 6) | x3;
    out[b] = v >>> 16;
    out[b + 1] = (v >>> 8) & 0xff;
    out[b + 2] = v & 0xff;
  }
  return true;
}
