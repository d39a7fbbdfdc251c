/**
 * The nonce-count table of {@link NonceService}: per nonce the highest count
 * seen and the 32-bit window below it, in typed arrays — no JavaScript object,
 * string or Map entry per nonce. A busy server tracks up to 100,000 nonces
 * (every authenticated call and REGISTER uses a fresh one); as objects they
 * were ~150 bytes and three heap objects each, which every mark-compact had to
 * walk. Here an entry costs 33 bytes per slot (16 of table, 1 of occupancy, 16
 * of insertion-order ring) at a load of 3/8 to 3/4: 44–88 bytes.
 *
 * Entries are keyed by a 64-bit fingerprint of the nonce: its 8 random bytes
 * (from a CSPRNG at issue) folded with its issue time. Only nonces whose MAC
 * verified are recorded, so nobody chooses the bits; two of 100,000 tracked
 * nonces share a fingerprint with odds of about 1 in 10^9, and the effect would
 * be one refused count (the client gets `stale=true` and a fresh nonce).
 *
 * Open addressing with linear probing and backward-shift deletion; the table
 * doubles at 3/4 load and halves when it is mostly empty. Entries leave only
 * from the front of the insertion order (expiry, eviction), which a ring of
 * fingerprints and issue times keeps.
 */

const MIN_CAPACITY = 1024;
/** Words per table slot: fingerprint low, high, highest count, window. */
const W = 4;

export class NonceCountTable {
  #cap = MIN_CAPACITY;
  #mask = MIN_CAPACITY - 1;
  #used = new Uint8Array(MIN_CAPACITY);
  /** Slot i at i*W: fingerprint low, high; highest count seen; bit k of the window set: count `max - 1 - k` was seen. */
  #slots = new Uint32Array(MIN_CAPACITY * W);
  #size = 0;
  // The insertion order: a ring of fingerprints (low, high) and issue times.
  #rFp = new Uint32Array(MIN_CAPACITY * 2);
  #rIssued = new Float64Array(MIN_CAPACITY);
  #rHead = 0;

  get size(): number {
    return this.#size;
  }

  /** Slots in the table (for tests and memory figures). */
  get capacity(): number {
    return this.#cap;
  }

  /** The slot of fingerprint (lo, hi), or -1. */
  find(lo: number, hi: number): number {
    const t = this.#slots;
    let i = mix(lo, hi) & this.#mask;
    while (this.#used[i] === 1) {
      if (t[i * W] === lo && t[i * W + 1] === hi) return i;
      i = (i + 1) & this.#mask;
    }
    return -1;
  }

  max(slot: number): number {
    return this.#slots[slot * W + 2]!;
  }

  window(slot: number): number {
    return this.#slots[slot * W + 3]!;
  }

  update(slot: number, max: number, window: number): void {
    this.#slots[slot * W + 2] = max;
    this.#slots[slot * W + 3] = window;
  }

  /** Adds a fingerprint that is not in the table, newest in the insertion order. */
  insert(lo: number, hi: number, issued: number, max: number, window: number): void {
    if ((this.#size + 1) * 4 > this.#cap * 3) this.#resize(this.#cap * 2);
    this.#place(lo, hi, max, window);
    // The ring has the table's capacity, more than the size: there is room.
    const at = (this.#rHead + this.#size) & this.#mask;
    this.#rFp[at * 2] = lo;
    this.#rFp[at * 2 + 1] = hi;
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
    this.#delete(this.#rFp[h * 2]!, this.#rFp[h * 2 + 1]!);
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

  /** Puts an entry in its first free slot from home (the caller made room). */
  #place(lo: number, hi: number, max: number, window: number): void {
    let i = mix(lo, hi) & this.#mask;
    while (this.#used[i] === 1) i = (i + 1) & this.#mask;
    this.#used[i] = 1;
    const t = this.#slots;
    t[i * W] = lo;
    t[i * W + 1] = hi;
    t[i * W + 2] = max;
    t[i * W + 3] = window;
  }

  /** Backward-shift deletion (no tombstones): later entries of the probe run move up. */
  #delete(lo: number, hi: number): void {
    let i = this.find(lo, hi);
    if (i < 0) return;
    const m = this.#mask;
    const t = this.#slots;
    let j = i;
    for (;;) {
      j = (j + 1) & m;
      if (this.#used[j] !== 1) break;
      const home = mix(t[j * W]!, t[j * W + 1]!) & m;
      // Move j into the hole at i unless its home lies cyclically in (i, j].
      if (i <= j ? home > i && home <= j : home > i || home <= j) continue;
      t.copyWithin(i * W, j * W, j * W + W);
      i = j;
    }
    this.#used[i] = 0;
  }

  #resize(cap: number): void {
    const used = this.#used;
    const slots = this.#slots;
    const ring = { fp: this.#rFp, issued: this.#rIssued, head: this.#rHead, mask: this.#mask };
    this.#cap = cap;
    this.#mask = cap - 1;
    this.#used = new Uint8Array(cap);
    this.#slots = new Uint32Array(cap * W);
    this.#rFp = new Uint32Array(cap * 2);
    this.#rIssued = new Float64Array(cap);
    this.#rHead = 0;
    for (let k = 0; k < this.#size; k++) {
      const r = (ring.head + k) & ring.mask;
      this.#rFp[k * 2] = ring.fp[r * 2]!;
      this.#rFp[k * 2 + 1] = ring.fp[r * 2 + 1]!;
      this.#rIssued[k] = ring.issued[r]!;
    }
    for (let s = 0; s < used.length; s++) {
      if (used[s] === 1) this.#place(slots[s * W]!, slots[s * W + 1]!, slots[s * W + 2]!, slots[s * W + 3]!);
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
