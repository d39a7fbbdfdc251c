/**
 * Via (RFC 3261 §20.42, §18.2.1; RFC 3581 rport). `SIP / 2.0 / UDP host:port;params`,
 * with LWS allowed around the slashes.
 */
import { SipParseError } from './errors.js';
import { parseParams, formatParams, type Params } from './split.js';

export interface Via {
  /** Upper-case transport: UDP, TCP, TLS, SCTP, WS, WSS... */
  transport: string;
  /** sent-by host as written (IPv6 with brackets). */
  host: string;
  port: number | undefined;
  params: Params;
  /** `branch` parameter, or undefined. */
  branch: string | undefined;
  /** RFC 3581: undefined = absent, null = present without value, number = filled in. */
  rport: number | null | undefined;
  received: string | undefined;
  maddr: string | undefined;
}

const VIA_RE = /^SIP\s*\/\s*2\.0\s*\/\s*([A-Za-z0-9\-.!%*_+`'~]+)\s+(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)(?:\s*:\s*(\d{1,5}))?\s*(;.*)?$/is;

function bad(reason: string): SipParseError {
  return new SipParseError('SIPD_ERR_PARSE_VIA', reason, { header: 'Via' });
}

/**
 * Parses one Via element (not a comma list). The common shape
 * (`SIP/2.0/UDP host:port;params` with no blanks inside and no quoted
 * parameters) takes a hand-written fast path; anything else the full grammar.
 */
export function parseVia(value: string): Via {
  return fastVia(value) ?? slowVia(value);
}

const TRANSPORTS: Readonly<Record<string, string>> = { UDP: 'UDP', TCP: 'TCP', TLS: 'TLS', WS: 'WS', WSS: 'WSS', SCTP: 'SCTP' };

function fastVia(v: string): Via | undefined {
  if (!v.startsWith('SIP/2.0/')) return undefined;
  const sp = v.indexOf(' ', 8);
  if (sp < 0) return undefined;
  const transport = TRANSPORTS[v.slice(8, sp)];
  if (transport === undefined) return undefined;
  const hs = sp + 1;
  if (v.charCodeAt(hs) === 0x5b /* [ */) return undefined; // IPv6: full grammar
  let i = hs;
  let colon = -1;
  for (; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 0x3b /* ; */) break;
    if (c === 0x3a /* : */) {
      if (colon >= 0) return undefined; // a second colon: an IPv6 address without brackets; the full grammar decides
      colon = i;
    }
    else if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || c === 0x2e || c === 0x2d)) return undefined;
  }
  const host = v.slice(hs, colon < 0 ? i : colon);
  if (host.length === 0) return undefined;
  let port: number | undefined;
  if (colon >= 0) {
    if (i - colon - 1 < 1 || i - colon - 1 > 5) return undefined;
    port = Number(v.slice(colon + 1, i));
    if (!(port > 0 && port <= 65535) || !Number.isInteger(port)) return undefined;
  }
  const params: Params = new Map();
  let branch: string | undefined;
  let received: string | undefined;
  let maddr: string | undefined;
  let rport: number | null | undefined;
  while (i < v.length) {
    // at a ';'
    let j = v.indexOf(';', i + 1);
    if (j < 0) j = v.length;
    const eq = v.indexOf('=', i + 1);
    const hasValue = eq >= 0 && eq < j;
    let name = v.slice(i + 1, hasValue ? eq : j);
    const val = hasValue ? v.slice(eq + 1, j) : null;
    if (name.length === 0 || (val !== null && (val.indexOf('"') >= 0 || val.indexOf(' ') >= 0)) || name.indexOf(' ') >= 0) return undefined;
    if (name !== 'branch' && name !== 'rport' && name !== 'received') name = name.toLowerCase();
    params.set(name, val);
    if (name === 'branch') branch = val ?? undefined;
    else if (name === 'received') received = val ?? undefined;
    else if (name === 'maddr') maddr = val ?? undefined;
    else if (name === 'rport') {
      if (val === null || val === '') rport = null;
      else {
        const n = Number(val);
        if (!(n >= 0 && n <= 65535) || !/^\d{1,5}$/.test(val)) throw bad('bad rport in Via');
        rport = n;
      }
    }
    i = j;
  }
  return { transport, host, port, params, branch, rport, received, maddr };
}

function slowVia(value: string): Via {
  const m = VIA_RE.exec(value.trim());
  if (m === null) throw bad('malformed Via');
  const port = m[3] !== undefined ? Number(m[3]) : undefined;
  if (port !== undefined && (port === 0 || port > 65535)) throw bad('bad port in Via');
  // An empty parameter (`;;`, a trailing `;`) is not a generic-param (RFC 4475 badinv01).
  if (m[4] !== undefined && /;[ \t]*(?:;|$)/.test(m[4])) throw bad('empty Via parameter');
  const params = m[4] !== undefined ? parseParams(m[4]) : new Map<string, string | null>();
  const rp = params.get('rport');
  let rport: number | null | undefined;
  if (rp === undefined) rport = undefined;
  else if (rp === null || rp === '') rport = null;
  else {
    if (!/^\d{1,5}$/.test(rp)) throw bad('bad rport in Via');
    rport = Number(rp);
  }
  const branch = params.get('branch');
  const received = params.get('received');
  const maddr = params.get('maddr');
  return {
    transport: m[1]!.toUpperCase(),
    host: m[2]!,
    port,
    params,
    branch: branch === null ? undefined : branch,
    rport,
    received: received === null ? undefined : received,
    maddr: maddr === null ? undefined : maddr,
  };
}

/** Writes a Via element. `params` wins; `branch/rport/received` fields are not re-read. */
export function formatVia(v: Pick<Via, 'transport' | 'host' | 'port' | 'params'>): string {
  return `SIP/2.0/${v.transport} ${v.host}${v.port !== undefined ? `:${v.port}` : ''}${formatParams(v.params)}`;
}

/** RFC 3261 §8.1.1.7: branches of RFC 3261 implementations start with the magic cookie. */
export const MAGIC_COOKIE = 'z9hG4bK';
