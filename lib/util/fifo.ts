/**
 * Keys in insertion order, for tables that drop their oldest entry first
 * (the Record-Route token cache). Taking the oldest key from a
 * Map's own iterator looks O(1) but is not: V8 leaves a hole for every deleted
 * entry until the table is rebuilt, and each `keys().next()` walks the holes at
 * the front, so a full 100,000-entry table that evicts one entry per insert
 * spent ~47 µs per insert (measured), a third of a REGISTER's CPU. Here a key
 * leaves from the head in O(1); the array is compacted now and then.
 */
export class KeyFifo<K> {
  #keys: K[] = [];
  #head = 0;

  get length(): number {
    return this.#keys.length - this.#head;
  }

  push(key: K): void {
    this.#keys.push(key);
  }

  /** The oldest key, without removing it. */
  peek(): K | undefined {
    return this.#head < this.#keys.length ? this.#keys[this.#head] : undefined;
  }

  /** Removes and returns the oldest key. */
  shift(): K | undefined {
    if (this.#head >= this.#keys.length) return undefined;
    const k = this.#keys[this.#head]!;
    this.#keys[this.#head++] = undefined as K; // let it go
    if (this.#head >= 1024 && this.#head * 2 >= this.#keys.length) {
      this.#keys = this.#keys.slice(this.#head);
      this.#head = 0;
    }
    return k;
  }

  clear(): void {
    this.#keys = [];
    this.#head = 0;
  }
}
