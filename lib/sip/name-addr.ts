/**
 * name-addr and addr-spec (RFC 3261 §20.10, §25.1) as used by From, To,
 * Contact, Route, Record-Route, Refer-To. In addr-spec form (no `<>`), the
 * parameters after the URI belong to the header, not the URI.
 */
import { SipParseError } from './errors.js';
import { indexOutsideQuotes, parseParams, formatParams, unquote, type Params } from './split.js';
import { parseUri, type SipUri } from './uri.js';

export interface NameAddr {
  /** Display name as written (quotes kept), or undefined. */
  display: string | undefined;
  /** The URI text as written. */
  uriText: string;
  uri: SipUri;
  /** Header parameters (`tag`, `expires`, `q`, `lr` on Route is a URI param, etc.). */
  params: Params;
  /** True when the URI was inside `<...>` on input. */
  angle: boolean;
}

function bad(reason: string): SipParseError {
  return new SipParseError('SIPD_ERR_PARSE_NAME_ADDR', reason);
}

export function parseNameAddr(value: string): NameAddr {
  const s = value.trim();
  const lt = indexOutsideQuotes(s, 0x3c /* < */);
  if (lt >= 0) {
    const gt = s.indexOf('>', lt);
    if (gt < 0) throw bad('missing > in name-addr');
    const displayRaw = s.slice(0, lt).trim();
    if (displayRaw.length > 0 && displayRaw.charCodeAt(0) === 0x22) {
      if (displayRaw.length < 2 || displayRaw.charCodeAt(displayRaw.length - 1) !== 0x22) throw bad('bad quoted display name');
    }
    const uriText = s.slice(lt + 1, gt).trim();
    const rest = s.slice(gt + 1).trim();
    if (rest.length > 0 && rest.charCodeAt(0) !== 0x3b) throw bad('unexpected text after >');
    return {
      display: displayRaw.length > 0 ? displayRaw : undefined,
      uriText,
      uri: parseUri(uriText),
      params: parseParams(rest),
      angle: true,
    };
  }
  const semi = s.indexOf(';');
  // LWS may come before the `;` of a header parameter (RFC 4475 wsinv: `sip:… ;   tag = …`).
  const uriText = (semi < 0 ? s : s.slice(0, semi)).replace(/[ \t]+$/, '');
  if (uriText.length === 0 || /\s/.test(uriText)) throw bad('bad addr-spec');
  // RFC 3261 §20.10: a URI with headers (`?`) must be inside <> (RFC 4475 regbadct).
  if (uriText.indexOf('?') >= 0) throw bad('URI with headers must be enclosed in <>');
  return {
    display: undefined,
    uriText,
    uri: parseUri(uriText),
    params: parseParams(semi < 0 ? '' : s.slice(semi)),
    angle: false,
  };
}

/** Writes a name-addr; always uses `<>` (required when the URI has params or the header params exist). */
export function formatNameAddr(na: { display?: string | undefined; uriText: string; params?: ReadonlyMap<string, string | null> }): string {
  const d = na.display !== undefined && na.display.length > 0 ? `${na.display} ` : '';
  return `${d}<${na.uriText}>${na.params ? formatParams(na.params) : ''}`;
}

/** Display name without quotes, or undefined. */
export function displayName(na: NameAddr): string | undefined {
  return na.display === undefined ? undefined : unquote(na.display);
}

/**
 * Fast `tag` extraction for From/To (used on every message): the tag parameter
 * after the URI, or undefined.
 */
export function extractTag(value: string): string | undefined {
  let from = 0;
  // Header parameters start after the `>` closing the URI; that `<` is the first
  // one outside a quoted display name (a later quoted parameter may hold a `>`).
  let lt = value.indexOf('<');
  if (lt >= 0) {
    const q = value.indexOf('"');
    if (q >= 0 && q < lt) lt = indexOutsideQuotes(value, 0x3c /* < */);
    const gt = lt < 0 ? -1 : value.indexOf('>', lt);
    if (gt >= 0) from = gt + 1;
  }
  // `;tag=` found case-insensitively in place (no lower-cased copy).
  const n = value.length;
  for (let idx = from; idx + 3 <= n; idx++) {
    if ((value.charCodeAt(idx) | 0x20) !== 0x74 /* t */ || (value.charCodeAt(idx + 1) | 0x20) !== 0x61 /* a */ || (value.charCodeAt(idx + 2) | 0x20) !== 0x67 /* g */) continue;
    // must be preceded by ';' (with optional blanks) and followed by optional blanks and '='
    let p = idx - 1;
    while (p >= from && (value.charCodeAt(p) === 0x20 || value.charCodeAt(p) === 0x09)) p--;
    let q = idx + 3;
    while (q < n && (value.charCodeAt(q) === 0x20 || value.charCodeAt(q) === 0x09)) q++;
    if (p >= from && value.charCodeAt(p) === 0x3b && value.charCodeAt(q) === 0x3d) {
      q++;
      while (q < n && (value.charCodeAt(q) === 0x20 || value.charCodeAt(q) === 0x09)) q++;
      let e = q;
      while (e < n && value.charCodeAt(e) !== 0x3b && value.charCodeAt(e) !== 0x20 && value.charCodeAt(e) !== 0x2c) e++;
      return e > q ? value.slice(q, e) : undefined;
    }
    idx += 2;
  }
  return undefined;
}
