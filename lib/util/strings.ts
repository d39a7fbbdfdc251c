/**
 * Copies `s` into a string of its own. Header values are slices of the whole
 * message text; V8 keeps the parent alive for a sliced string, so storing the
 * slice in anything long-lived (a binding, a cache key, a parked transaction)
 * would keep ~0.5–1 KB of packet per entry. JSON round-tripping is
 * exact for every string.
 */
export function detach(s: string): string;
export function detach(s: string | undefined): string | undefined;
export function detach(s: string | undefined): string | undefined {
  if (s === undefined || s.length < 13) return s; // V8 never slices below 13 characters
  return JSON.parse(JSON.stringify(s)) as string;
}
