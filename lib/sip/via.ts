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

/**
 * A Via parsed by the fast path: branch, rport, received and maddr are read
 * while scanning; the full parameter map is built from the parameter text on
 * first use of `params` (most messages never need it).
 */
class LazyVia implements Via {
  transport: string;
  host: string;
  port: number | undefined;
  branch: string | undefined;
  rport: number | null | undefined;
  received: string | undefined;
  maddr: string | undefined;
  #params: Params | undefined;
  /** `;a=b;c` as received (already checked by the fast path), while `params` was not built. */
  #text: string;

  constructor(transport: string, host: string, port: number | undefined, text: string, branch: string | undefined, rport: number | null | undefined, received: string | undefined, maddr: string | undefined) {
    this.transport = transport;
    this.host = host;
    this.port = port;
    this.#text = text;
    this.branch = branch;
    this.rport = rport;
    this.received = received;
    this.maddr = maddr;
    this.#params = undefined;
  }

  get params(): Params {
    if (this.#params === undefined) {
      const params: Params = new Map();
      eachParam(this.#text, (name, value) => params.set(name, value));
      this.#params = params;
    }
    return this.#params;
  }

  set params(p: Params) {
    this.#params = p;
  }

  /** The parameter text (`;a=b;c`, names as received) when `params` was never built or replaced, else undefined. */
  get paramText(): string | undefined {
    return this.#params === undefined ? this.#text : undefined;
  }
}

function lowerName(n: string): string {
  for (let k = 0; k < n.length; k++) {
    const c = n.charCodeAt(k);
    if (c >= 0x41 && c <= 0x5a) return n.toLowerCase();
  }
  return n;
}

/** True when `v[from, to)` equals the lower-case ASCII `name`, ignoring case. */
function nameIs(v: string, from: number, to: number, name: string): boolean {
  if (to - from !== name.length) return false;
  for (let k = 0; k < name.length; k++) {
    let c = v.charCodeAt(from + k);
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== name.charCodeAt(k)) return false;
  }
  return true;
}

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
  const hostEnd = colon < 0 ? i : colon;
  if (hostEnd === hs) return undefined;
  let port: number | undefined;
  if (colon >= 0) {
    if (i - colon - 1 < 1 || i - colon - 1 > 5) return undefined;
    port = Number(v.slice(colon + 1, i));
    if (!(port > 0 && port <= 65535) || !Number.isInteger(port)) return undefined;
  }
  const paramStart = i;
  let branch: string | undefined;
  let received: string | undefined;
  let maddr: string | undefined;
  let rport: number | null | undefined;
  while (i < v.length) {
    // at a ';'
    let j = v.indexOf(';', i + 1);
    if (j < 0) j = v.length;
    let eq = v.indexOf('=', i + 1);
    if (eq >= j) eq = -1;
    const nameEnd = eq >= 0 ? eq : j;
    if (nameEnd === i + 1) return undefined;
    for (let k = i + 1; k < j; k++) {
      const c = v.charCodeAt(k);
      if (c === 0x20 /* SP */ || (c === 0x22 /* " */ && k > eq && eq >= 0)) return undefined;
    }
    // The last occurrence of a parameter wins (as a Map would have it).
    if (nameIs(v, i + 1, nameEnd, 'branch')) branch = eq >= 0 ? v.slice(eq + 1, j) : undefined;
    else if (nameIs(v, i + 1, nameEnd, 'received')) received = eq >= 0 ? v.slice(eq + 1, j) : undefined;
    else if (nameIs(v, i + 1, nameEnd, 'maddr')) maddr = eq >= 0 ? v.slice(eq + 1, j) : undefined;
    else if (nameIs(v, i + 1, nameEnd, 'rport')) {
      if (eq < 0 || eq + 1 === j) rport = null;
      else {
        const val = v.slice(eq + 1, j);
        const n = Number(val);
        if (!(n >= 0 && n <= 65535) || !/^\d{1,5}$/.test(val)) throw bad('bad rport in Via');
        rport = n;
      }
    }
    i = j;
  }
  return new LazyVia(transport, v.slice(hs, hostEnd), port, paramStart === v.length ? '' : v.slice(paramStart), branch, rport, received, maddr);
}

/**
 * The parameter text of a Via whose `params` map was never built (names as
 * received, checked by the fast path: no blanks, no quotes), else undefined.
 */
export function viaParamText(v: Via): string | undefined {
  return v instanceof LazyVia ? v.paramText : undefined;
}

/**
 * A proxy's own Via (`SIP/2.0/UDP host:port;branch=…;rport`) as text and
 * parsed, without parsing it: `branch` must be a token (sipd's own branches are).
 */
export function ownVia(transport: string, host: string, port: number | undefined, branch: string): { text: string; via: Via } {
  const params = `;branch=${branch};rport`;
  return {
    text: `SIP/2.0/${transport} ${host}${port !== undefined ? `:${port}` : ''}${params}`,
    via: new LazyVia(transport, host, port, params, branch, null, undefined, undefined),
  };
}

/** Each `;name[=value]` of a Via's parameter text, names lower-cased, in order (repeats included). */
function eachParam(text: string, fn: (name: string, value: string | null) => void): void {
  let i = 0;
  while (i < text.length) {
    let j = text.indexOf(';', i + 1);
    if (j < 0) j = text.length;
    const eq = text.indexOf('=', i + 1);
    const hasValue = eq >= 0 && eq < j;
    fn(lowerName(text.slice(i + 1, hasValue ? eq : j)), hasValue ? text.slice(eq + 1, j) : null);
    i = j;
  }
}

/**
 * RFC 3261 §18.2.1 / RFC 3581 §4 on a Via whose parameter text is known
 * ({@link viaParamText}): the element text and parsed Via with `received` set
 * and, when `rport` is given, `rport` filled in — the same text `formatVia`
 * writes after `params.set('received', …)` and `params.set('rport', …)`.
 */
export function stampViaText(v: Via, text: string, received: string, rport: number | undefined): { text: string; via: Via } {
  // The parameters as a Map would hold them: lower-case names, first position, last value.
  const names: string[] = [];
  const values: Array<string | null> = [];
  eachParam(text, (name, val) => {
    const at = names.indexOf(name);
    if (at >= 0) values[at] = val;
    else {
      names.push(name);
      values.push(val);
    }
  });
  const r = names.indexOf('received');
  if (r >= 0) values[r] = received;
  else {
    names.push('received');
    values.push(received);
  }
  if (rport !== undefined) {
    const p = names.indexOf('rport');
    if (p >= 0) values[p] = String(rport);
    else {
      names.push('rport');
      values.push(String(rport));
    }
  }
  let params = '';
  for (let k = 0; k < names.length; k++) params += values[k] === null ? `;${names[k]}` : `;${names[k]}=${values[k]}`;
  const via = new LazyVia(v.transport, v.host, v.port, params, v.branch, rport ?? v.rport, received, v.maddr);
  return { text: `SIP/2.0/${v.transport} ${v.host}${v.port !== undefined ? `:${v.port}` : ''}${params}`, via };
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
