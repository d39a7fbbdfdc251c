// NonceCountTable: the typed-array table behind nonce-count replay protection.
// Checked against a Map model with random operations (inserts, updates,
// removal of the oldest, growth and shrinking), and with fingerprints chosen to
// collide in the table so backward-shift deletion is exercised.
import t from 'tap';
import { NonceCountTable, decodeNonceBody } from '../../../lib/registrar/nonce-counts.js';

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32;
  };
}

t.test('behaves like a Map in insertion order (random operations, colliding homes, resizes)', async (t) => {
  let mismatches = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const rnd = prng(seed);
    const table = new NonceCountTable();
    const model = new Map<string, { lo: number; hi: number; issued: number; max: number; win: number }>();
    const keys: string[] = [];
    let head = 0;
    let issued = 0;
    for (let step = 0; step < 6000; step++) {
      const r = rnd();
      if (r < 0.55) {
        // few distinct fingerprints: long probe runs, and inserts of ones already held are skipped
        const lo = Math.floor(rnd() * 6000);
        const hi = Math.floor(rnd() * 2);
        const k = `${lo}/${hi}`;
        if (model.has(k)) continue;
        table.insert(lo, hi, ++issued, 1, 0);
        model.set(k, { lo, hi, issued, max: 1, win: 0 });
        keys.push(k);
      } else if (r < 0.8) {
        if (model.size === 0) continue;
        const e = model.get(keys[keys.length - 1 - Math.floor(rnd() * Math.min(keys.length - head, 50))]!);
        if (e === undefined) continue;
        const slot = table.find(e.lo, e.hi);
        if (slot < 0) {
          mismatches++;
          continue;
        }
        e.max = 1 + Math.floor(rnd() * 0xfffffffe);
        e.win = Math.floor(rnd() * 0xffffffff);
        table.update(slot, e.max, e.win);
      } else {
        const n = 1 + Math.floor(rnd() * (r < 0.98 ? 5 : 2000));
        for (let i = 0; i < n; i++) {
          const got = table.removeOldest();
          if (head === keys.length) {
            if (got !== undefined) mismatches++;
            break;
          }
          // (the model's order is its own array: a Map's iterator walks the holes of deleted entries)
          const k = keys[head++]!;
          if (got !== model.get(k)!.issued) mismatches++;
          model.delete(k);
        }
      }
      if (table.size !== model.size) mismatches++;
      if (step % 500 === 0) for (const e of model.values()) if (table.find(e.lo, e.hi) < 0) mismatches++;
    }
    for (const e of model.values()) {
      const slot = table.find(e.lo, e.hi);
      if (slot < 0 || table.max(slot) !== e.max || table.window(slot) !== e.win) mismatches++;
    }
    for (let lo = 6001; lo < 6100; lo++) if (table.find(lo, 0) >= 0) mismatches++; // never inserted
  }
  t.equal(mismatches, 0, 'the table matched the model (20 seeds × 6,000 operations)');
});

t.test('100,000 entries: grows, finds them all, shrinks when emptied, clear()', async (t) => {
  const table = new NonceCountTable();
  const rnd = prng(7);
  const lo = Array.from({ length: 100_000 }, () => Math.floor(rnd() * 2 ** 32));
  const hi = Array.from({ length: 100_000 }, () => Math.floor(rnd() * 2 ** 32));
  for (let i = 0; i < 100_000; i++) {
    table.insert(lo[i]!, hi[i]!, i, 1, 0);
    if (i === 9_999) t.equal(table.capacity, 16_384, '10,000 entries fit in 16,384 slots (load up to 3/4)');
  }
  t.equal(table.size, 100_000);
  let found = 0;
  for (let i = 0; i < 100_000; i++) if (table.find(lo[i]!, hi[i]!) >= 0) found++;
  t.equal(found, 100_000);
  let outOfOrder = 0;
  for (let i = 0; i < 99_990; i++) if (table.removeOldest() !== i) outOfOrder++;
  t.equal(outOfOrder, 0, 'removed oldest first');
  t.equal(table.size, 10);
  t.equal(table.capacity, 1024, 'shrunk back to the minimum');
  t.equal(table.oldestIssued(), 99_990);
  t.ok(table.find(lo[99_995]!, hi[99_995]!) >= 0, 'the rest is still found after shrinking');
  t.equal(table.find(lo[5]!, hi[5]!), -1, 'removed ones are gone');
  table.clear();
  t.equal(table.size, 0);
  t.equal(table.removeOldest(), undefined);
});

t.test('decodeNonceBody: the first 15 bytes of a nonce; not base64url → false', async (t) => {
  const bytes = Buffer.from(Array.from({ length: 27 }, (_, i) => (i * 37 + 11) & 0xff));
  const nonce = bytes.toString('base64url');
  const out = new Uint8Array(15);
  t.ok(decodeNonceBody(nonce, out));
  t.same(Buffer.from(out), bytes.subarray(0, 15));
  t.notOk(decodeNonceBody(`${nonce.slice(0, 5)}+${nonce.slice(6)}`, out), '+ is not base64url');
  t.notOk(decodeNonceBody(`${nonce.slice(0, 9)}é${nonce.slice(10)}`, out), 'non-ASCII');
  t.notOk(decodeNonceBody(nonce.slice(0, 10), out), 'too short');
});
