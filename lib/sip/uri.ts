/**
 * SIP, SIPS and tel URIs (RFC 3261 §19.1, §25.1; RFC 3966), including IPv6
 * references, parameters, headers and escaped characters. The parsed form keeps
 * the raw text of each part, so `formatUri(parseUri(s)) === s` for any URI
 * sipd has not changed (scheme and parameter names are lower-cased for
 * lookups; the text as written is remembered and written back while the URI
 * is unchanged); `user` is still %-escaped — use {@link unescapeUser} to
 * compare.
 */
import { SipParseError } from './errors.js';
import { formatParams, type Params } from './split.js';

export interface SipUri {
  /** Lower-case scheme: `sip`, `sips`, `tel`, or any other absoluteURI scheme. */
  scheme: string;
  /** User part as written (escaped), or the tel number. */
  user: string | undefined;
  password: string | undefined;
  /** Host as written; IPv6 references keep their brackets. Empty for tel/other. */
  host: string;
  port: number | undefined;
  params: Params;
  /** Raw `?h=v&...` part without the `?`. */
  headers: string | undefined;
  /** For schemes other than sip/sips/tel: everything after `scheme:`. */
  opaque?: string;
}

const HOST_RE = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9\-.]*[A-Za-z0-9.])?|\d{1,3}(?:\.\d{1,3}){3})$/;
const USER_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$/;
const PASS_RE = /^(?:[A-Za-z0-9\-_.!~*'()&=+$,]|%[0-9A-Fa-f]{2})*$/;
const PARAM_RE = /^(?:[A-Za-z0-9\-_.!~*'()[\]/:&+$]|%[0-9A-Fa-f]{2})+$/;
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+\-.]*$/;

/**
 * Parsed URI → the text it was parsed from and its canonical form at parse
 * time, kept only when the two differ (upper-case scheme or parameter names,
 * a port with leading zeros). `formatUri` writes the text back while the URI
 * still formats to that canonical form, i.e. while nothing was changed.
 */
const AS_WRITTEN = new WeakMap<SipUri, { text: string; canon: string }>();

function remember(u: SipUri, text: string): SipUri {
  const canon = canonicalUri(u);
  if (canon !== text) AS_WRITTEN.set(u, { text, canon });
  return u;
}

function bad(reason: string): SipParseError {
  return new SipParseError('SIPD_ERR_PARSE_URI', reason);
}

/** Parses a URI; throws {@link SipParseError} (code SIPD_ERR_PARSE_URI) when it is malformed. */
export function parseUri(s: string): SipUri {
  const colon = s.indexOf(':');
  if (colon <= 0) throw bad('URI has no scheme');
  const schemeRaw = s.slice(0, colon);
  if (!SCHEME_RE.test(schemeRaw)) throw bad('bad URI scheme');
  const scheme = schemeRaw.toLowerCase();
  const rest = s.slice(colon + 1);
  if (scheme === 'tel') return remember(parseTel(rest), s);
  if (scheme !== 'sip' && scheme !== 'sips') {
    if (rest.length === 0 || /[\s<>"]/.test(rest)) throw bad(`bad ${scheme} URI`);
    return { scheme, user: undefined, password: undefined, host: '', port: undefined, params: new Map(), headers: undefined, opaque: rest };
  }
  // Whether `s` is exactly what formatUri writes for the result (checked as
  // parsing goes, so the common case needs no canonical form to compare).
  let exact = schemeRaw === scheme;
  let hostStart = 0;
  let user: string | undefined;
  let password: string | undefined;
  // The first `@` ends the userinfo: `@` is never allowed unescaped in a user,
  // password, host or parameter, while `?` is allowed in a user (RFC 4475 intmeth).
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    const pc = userinfo.indexOf(':');
    user = pc >= 0 ? userinfo.slice(0, pc) : userinfo;
    if (pc >= 0) password = userinfo.slice(pc + 1);
    if (user.length === 0 || !USER_RE.test(user)) throw bad('bad user part in URI');
    if (password !== undefined && !PASS_RE.test(password)) throw bad('bad password in URI');
    hostStart = at + 1;
  }
  let i = hostStart;
  let host: string;
  if (rest.charCodeAt(i) === 0x5b /* [ */) {
    const close = rest.indexOf(']', i);
    if (close < 0) throw bad('unterminated IPv6 reference in URI');
    host = rest.slice(i, close + 1);
    i = close + 1;
  } else {
    let j = i;
    while (j < rest.length) {
      const c = rest.charCodeAt(j);
      if (c === 0x3a || c === 0x3b || c === 0x3f) break;
      j++;
    }
    host = rest.slice(i, j);
    i = j;
  }
  if (host.length === 0 || !HOST_RE.test(host)) throw bad('bad host in URI');
  let port: number | undefined;
  if (rest.charCodeAt(i) === 0x3a /* : */) {
    let j = i + 1;
    while (j < rest.length && rest.charCodeAt(j) >= 0x30 && rest.charCodeAt(j) <= 0x39) j++;
    const p = rest.slice(i + 1, j);
    if (p.length === 0 || p.length > 5 || Number(p) > 65535) throw bad('bad port in URI');
    port = Number(p);
    if (p.length > 1 && p.charCodeAt(0) === 0x30) exact = false; // leading zeros
    i = j;
  }
  const params: Params = new Map();
  let headers: string | undefined;
  while (i < rest.length) {
    const c = rest.charCodeAt(i);
    if (c === 0x3b /* ; */) {
      let j = i + 1;
      while (j < rest.length && rest.charCodeAt(j) !== 0x3b && rest.charCodeAt(j) !== 0x3f) j++;
      const p = rest.slice(i + 1, j);
      const eq = p.indexOf('=');
      const name = eq >= 0 ? p.slice(0, eq) : p;
      const value = eq >= 0 ? p.slice(eq + 1) : null;
      if (!PARAM_RE.test(name) || (value !== null && value.length > 0 && !PARAM_RE.test(value))) {
        throw bad('bad URI parameter');
      }
      const lower = name.toLowerCase();
      if (lower !== name || params.has(lower)) exact = false;
      params.set(lower, value);
      i = j;
    } else if (c === 0x3f /* ? */) {
      headers = rest.slice(i + 1);
      if (/[\s<>"]/.test(headers)) throw bad('bad URI headers');
      break;
    } else {
      throw bad('unexpected character in URI');
    }
  }
  const u: SipUri = { scheme, user, password, host, port, params, headers };
  return exact ? u : remember(u, s);
}

function parseTel(rest: string): SipUri {
  const semi = rest.indexOf(';');
  const number = semi < 0 ? rest : rest.slice(0, semi);
  if (!/^\+?[0-9A-Fa-f*#\-.()p,w]+$/.test(number)) throw bad('bad tel URI number');
  const params: Params = new Map();
  if (semi >= 0) {
    for (const p of rest.slice(semi + 1).split(';')) {
      if (p.length === 0) continue;
      const eq = p.indexOf('=');
      params.set((eq >= 0 ? p.slice(0, eq) : p).toLowerCase(), eq >= 0 ? p.slice(eq + 1) : null);
    }
  }
  return { scheme: 'tel', user: number, password: undefined, host: '', port: undefined, params, headers: undefined };
}

/** Writes a URI back as text. */
export function formatUri(u: SipUri): string {
  const canon = canonicalUri(u);
  const written = AS_WRITTEN.get(u);
  return written !== undefined && written.canon === canon ? written.text : canon;
}

function canonicalUri(u: SipUri): string {
  if (u.opaque !== undefined) return `${u.scheme}:${u.opaque}`;
  if (u.scheme === 'tel') return `tel:${u.user ?? ''}${formatParams(u.params)}`;
  let s = `${u.scheme}:`;
  if (u.user !== undefined) s += u.password !== undefined ? `${u.user}:${u.password}@` : `${u.user}@`;
  s += u.host;
  if (u.port !== undefined) s += `:${u.port}`;
  s += formatParams(u.params);
  if (u.headers !== undefined) s += `?${u.headers}`;
  return s;
}

/** Decodes %-escapes in a user part (`alice%40home` → `alice@home`). */
export function unescapeUser(user: string): string {
  if (user.indexOf('%') < 0) return user;
  return user.replace(/%([0-9A-Fa-f]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
}

/** Host without IPv6 brackets, lower-cased (for comparisons and sockets). */
export function bareHost(host: string): string {
  return host.charCodeAt(0) === 0x5b ? host.slice(1, -1).toLowerCase() : host.toLowerCase();
}

/** Formats an address for a URI or Via: IPv6 gets brackets. */
export function hostForUri(address: string): string {
  return address.includes(':') && address.charCodeAt(0) !== 0x5b ? `[${address}]` : address;
}
