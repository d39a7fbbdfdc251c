/**
 * A Map whose mutators throw once built. `Object.freeze` does not stop
 * `Map.prototype.set`, so a deep-frozen Config uses these for its lookups.
 */
export class ImmutableMap<K, V> extends Map<K, V> {
  #sealed = false;

  constructor(entries?: Iterable<readonly [K, V]>) {
    super();
    if (entries) for (const [k, v] of entries) super.set(k, v);
    this.#sealed = true;
  }

  override set(key: K, value: V): this {
    if (this.#sealed) throw new TypeError('config maps are immutable');
    return super.set(key, value);
  }

  override delete(_key: K): boolean {
    throw new TypeError('config maps are immutable');
  }

  override clear(): void {
    throw new TypeError('config maps are immutable');
  }
}
