/**
 * Lexical helpers shared by the header parsers: splitting on a separator outside
 * quoted strings and `<...>`, and parameter lists (`;name=value`).
 */

/**
 * Splits `s` on `sep` where it is not inside a quoted string (with `\` escapes)
 * or angle brackets; trims each element and drops empty ones (RFC 3261 §7.3.1
 * allows empty list elements to be ignored).
 */
export function splitOutside(s: string, sep: number = 0x2c /* , */): string[] {
  const out: string[] = [];
  let inQuote = false;
  let inAngle = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c /* \ */) i++;
      else if (c === 0x22 /* " */) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === 0x3c /* < */) inAngle = true;
    else if (c === 0x3e /* > */) inAngle = false;
    else if (c === sep && !inAngle) {
      const part = s.slice(start, i).trim();
      if (part.length > 0) out.push(part);
      start = i + 1;
    }
  }
  const last = s.slice(start).trim();
  if (last.length > 0) out.push(last);
  return out;
}

/** Index of the first `ch` in `s` at or after `from` outside quoted strings; -1 if none. */
export function indexOutsideQuotes(s: string, ch: number, from = 0): number {
  let inQuote = false;
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (inQuote) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inQuote = false;
    } else if (c === 0x22) inQuote = true;
    else if (c === ch) return i;
  }
  return -1;
}

/** Ordered parameters; names are lower-cased, a value of `null` means a flag (`;lr`). */
export type Params = Map<string, string | null>;

/**
 * Parses `;a=b;c;d="x;y"` (the leading `;` optional). Values keep their
 * original case and quotes are kept (call {@link unquote} to strip them).
 */
export function parseParams(s: string): Params {
  const params: Params = new Map();
  for (const part of splitOutside(s, 0x3b /* ; */)) {
    const eq = part.indexOf('=');
    if (eq < 0) params.set(part.trim().toLowerCase(), null);
    else params.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).trim());
  }
  return params;
}

export function formatParams(params: ReadonlyMap<string, string | null>): string {
  let out = '';
  for (const [k, v] of params) out += v === null ? `;${k}` : `;${k}=${v}`;
  return out;
}

/** Removes surrounding double quotes and `\` escapes. */
export function unquote(s: string): string {
  if (s.length < 2 || s.charCodeAt(0) !== 0x22 || s.charCodeAt(s.length - 1) !== 0x22) return s;
  const inner = s.slice(1, -1);
  return inner.indexOf('\\') < 0 ? inner : inner.replace(/\\(.)/g, '$1');
}

/** Quotes a string for a quoted-string (RFC 3261 §25.1). */
export function quote(s: string): string {
  return `"${s.replace(/(["\\])/g, '\\$1')}"`;
}

const TOKEN_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
/** RFC 3261 §25.1 token. */
export function isToken(s: string): boolean {
  return TOKEN_RE.test(s);
}
