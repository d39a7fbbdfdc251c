/**
 * A Map for long-lived tables with heavy turnover whose values hold large
 * object graphs: transactions, calls. Same interface as the Map methods sipd
 * uses, same insertion order.
 *
 * Why not a plain Map: when V8 grows, shrinks or rebuilds a Map's hash table
 * it leaves the old table behind with every entry it held (iterators may still
 * need it). Once the Map has lived long enough to be in the old generation, so
 * are its tables, and an abandoned table keeps each value that was in the Map
 * at that moment alive through every young collection until the next full
 * one: a transaction that ended a millisecond later is promoted with its
 * messages. With ~40 transactions in flight that was about 1 MB per young
 * collection at 1,000 calls/s, and the full collections it led to set the p99
 * call setup time. Here each value sits in a cell that is emptied when its
 * entry goes, so an abandoned table keeps only empty cells (test/unit/util/
 * churn-map.test.ts measures both).
 */
interface Cell<V> {
  v: V | undefined;
}

export class ChurnMap<K, V> {
  readonly #m = new Map<K, Cell<V>>();

  get size(): number {
    return this.#m.size;
  }

  get(key: K): V | undefined {
    return this.#m.get(key)?.v;
  }

  has(key: K): boolean {
    return this.#m.has(key);
  }

  set(key: K, value: V): this {
    const c = this.#m.get(key);
    if (c !== undefined) c.v = value;
    else this.#m.set(key, { v: value });
    return this;
  }

  delete(key: K): boolean {
    const c = this.#m.get(key);
    if (c === undefined) return false;
    c.v = undefined;
    return this.#m.delete(key);
  }

  clear(): void {
    for (const c of this.#m.values()) c.v = undefined;
    this.#m.clear();
  }

  *values(): IterableIterator<V> {
    for (const c of this.#m.values()) yield c.v as V;
  }

  /** Entries in insertion order; deleting during the walk is allowed, as with a Map. */
  *entries(): IterableIterator<[K, V]> {
    for (const [k, c] of this.#m) yield [k, c.v as V];
  }

  [Symbol.iterator](): IterableIterator<[K, V]> {
    return this.entries();
  }
}
