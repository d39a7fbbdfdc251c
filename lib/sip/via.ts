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

/** Parses one Via element (not a comma list). */
export function parseVia(value: string): Via {
  const m = VIA_RE.exec(value.trim());
  if (m === null) throw bad('malformed Via');
  const port = m[3] !== undefined ? Number(m[3]) : undefined;
  if (port !== undefined && (port === 0 || port > 65535)) throw bad('bad port in Via');
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
