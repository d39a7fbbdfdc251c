/**
 * "Did you mean" for near-miss keys and context names: optimal string alignment
 * distance (Levenshtein plus adjacent transposition, so `secrte` → `secret` is 1).
 */

export function editDistance(a: string, b: string): number {
  const m = a.length;
  const n = b.length;
  const d: number[][] = [];
  for (let i = 0; i <= m; i++) {
    d.push(new Array<number>(n + 1).fill(0));
    d[i]![0] = i;
  }
  for (let j = 0; j <= n; j++) d[0]![j] = j;
  for (let i = 1; i <= m; i++) {
    for (let j = 1; j <= n; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[m]![n]!;
}

/**
 * The closest candidate to `word` (case-insensitive), or undefined when none is
 * close: distance at most 1 for words up to 4 characters, 2 for longer ones, or
 * `word` being a prefix (4+ characters) of exactly one candidate (`account` →
 * `accountcode`).
 */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const limit = w.length <= 4 ? 1 : 2;
  let best: string | undefined;
  let bestD = Infinity;
  const prefixed: string[] = [];
  for (const c of candidates) {
    const d = editDistance(w, c.toLowerCase());
    if (d < bestD) {
      bestD = d;
      best = c;
    }
    if (w.length >= 4 && c.toLowerCase().startsWith(w)) prefixed.push(c);
  }
  if (best !== undefined && bestD <= limit && bestD < w.length) return best;
  if (prefixed.length === 1) return prefixed[0];
  return undefined;
}
