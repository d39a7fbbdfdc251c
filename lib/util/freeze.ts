/** Deep-freezes plain objects, arrays and Maps' values (config snapshots are immutable). */
export function deepFreeze<T>(o: T): T {
  if (o === null || typeof o !== 'object' || Object.isFrozen(o)) return o;
  Object.freeze(o);
  if (o instanceof Map) {
    for (const v of o.values()) deepFreeze(v);
    return o;
  }
  for (const k of Object.keys(o as object)) deepFreeze((o as Record<string, unknown>)[k]);
  return o;
}
