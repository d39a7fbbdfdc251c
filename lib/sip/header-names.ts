/**
 * Header names: compact forms (RFC 3261 §7.3.3 and later RFCs), canonical
 * spelling for headers sipd writes, and which headers are comma-separated lists
 * (RFC 3261 §7.3.1). Names are keyed in lower case.
 */

/** Compact form (lower case) → long name (lower case). */
export const COMPACT: Readonly<Record<string, string>> = Object.freeze({
  i: 'call-id',
  m: 'contact',
  f: 'from',
  t: 'to',
  v: 'via',
  l: 'content-length',
  c: 'content-type',
  k: 'supported',
  s: 'subject',
  e: 'content-encoding',
  o: 'event',
  u: 'allow-events',
  r: 'refer-to',
  b: 'referred-by',
  x: 'session-expires',
  y: 'identity',
  a: 'accept-contact',
  j: 'reject-contact',
  d: 'request-disposition',
  n: 'identity-info',
});

const CANONICAL: Record<string, string> = {
  'call-id': 'Call-ID',
  cseq: 'CSeq',
  'www-authenticate': 'WWW-Authenticate',
  'mime-version': 'MIME-Version',
  'rack': 'RAck',
  'rseq': 'RSeq',
  'p-asserted-identity': 'P-Asserted-Identity',
  'p-preferred-identity': 'P-Preferred-Identity',
  'sip-etag': 'SIP-ETag',
  'sip-if-match': 'SIP-If-Match',
};

/** Canonical display form of a lower-case long header name (`content-length` → `Content-Length`). */
export function canonicalName(lower: string): string {
  const c = CANONICAL[lower];
  if (c !== undefined) return c;
  let out = '';
  let up = true;
  for (let i = 0; i < lower.length; i++) {
    const ch = lower[i]!;
    out += up ? ch.toUpperCase() : ch;
    up = ch === '-';
  }
  CANONICAL[lower] = out;
  return out;
}

/** Lower-case long name for a header name as it appears on the wire. */
export function normalizeName(name: string): string {
  const lower = name.toLowerCase();
  if (lower.length === 1) return COMPACT[lower] ?? lower;
  return lower;
}

/**
 * Headers whose value is a comma-separated list (RFC 3261 §7.3.1 and the ABNF of
 * each header). Authorization-style headers are NOT lists: their commas separate
 * digest parameters.
 */
export const LIST_HEADERS: ReadonlySet<string> = new Set([
  'via',
  'contact',
  'route',
  'record-route',
  'path',
  'service-route',
  'allow',
  'allow-events',
  'supported',
  'require',
  'proxy-require',
  'unsupported',
  'accept',
  'accept-encoding',
  'accept-language',
  'content-encoding',
  'content-language',
  'in-reply-to',
  'alert-info',
  'call-info',
  'error-info',
  'warning',
  'p-asserted-identity',
  'p-preferred-identity',
  'history-info',
  'diversion',
  'reason',
  'accept-contact',
  'reject-contact',
  'request-disposition',
  'security-client',
  'security-server',
  'security-verify',
]);
