/**
 * Parsers for the values of sip.conf keys. Each returns either the parsed value
 * (with optional warnings) or an error message; the loader adds file, line,
 * section and key. Pure functions.
 */
import net from 'node:net';
import type { Exten, Forward, HostAddress, Permit } from './types.js';

export type Parsed<T> = { ok: true; value: T; warnings: string[] } | { ok: false; error: string };

const ok = <T>(value: T, warnings: string[] = []): Parsed<T> => ({ ok: true, value, warnings });
const fail = <T>(error: string): Parsed<T> => ({ ok: false, error });

const DIGITS = /^\d+$/;
/** Hunt positions above this are certainly typos, and bound the expansion of ranges. */
export const MAX_HUNT_POSITION = 9999;

// ---------------------------------------------------------------- exten

/**
 * Hunt list `N`: `2`, `2,4`, `2-4`, `1,3-5` (blanks around items allowed).
 * Positions are 1-based; duplicates are dropped with a warning.
 */
export function parseHunt(text: string): Parsed<number[]> {
  if (text.trim() === '') return fail(`empty hunt list '()' (write the positions, e.g. (2) or (2-3))`);
  const out: number[] = [];
  const warnings: string[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const m = /^(\d+)(?:\s*-\s*(\d+))?$/.exec(item);
    if (!m) return fail(`hunt list '(${text})': '${item}' is not a position or a range such as 2-4`);
    const a = Number(m[1]);
    const b = m[2] === undefined ? a : Number(m[2]);
    if (a === 0 || b === 0) return fail(`hunt list '(${text})': positions start at 1`);
    if (a > MAX_HUNT_POSITION || b > MAX_HUNT_POSITION) return fail(`hunt list '(${text})': position too large`);
    if (b < a) return fail(`hunt list '(${text})': range '${item}' is reversed (write ${b}-${a})`);
    for (let p = a; p <= b; p++) {
      if (out.includes(p)) warnings.push(`hunt position ${p} is listed twice in '(${text})'`);
      else out.push(p);
    }
  }
  return ok(out, warnings);
}

const FORWARD = /^\+?\d+$/;

/** A client's `exten`: `L#S(N)=F` or `L#S(N)~F`, every part optional. */
export function parseExten(text: string): Parsed<Exten> {
  const shape = `(expected L#S(N)=F or L#S(N)~F, e.g. 4951234567#1001(2)~4957654321)`;
  let i = 0;
  const digits = (): string => {
    const s = i;
    while (i < text.length && text[i]! >= '0' && text[i]! <= '9') i++;
    return text.slice(s, i);
  };
  const long = digits();
  let short: string | undefined;
  let hunt: number[] | undefined;
  let forward: Forward | undefined;
  const warnings: string[] = [];
  if (text[i] === '#') {
    i++;
    short = digits();
    if (short === '') return fail(`exten '${text}': '#' must be followed by the short number ${shape}`);
  }
  if (text[i] === '(') {
    const close = text.indexOf(')', i);
    if (close < 0) return fail(`exten '${text}': unclosed '(' in the hunt list ${shape}`);
    const h = parseHunt(text.slice(i + 1, close));
    if (!h.ok) return fail(`exten '${text}': ${h.error}`);
    hunt = h.value;
    warnings.push(...h.warnings);
    i = close + 1;
  }
  if (text[i] === '=' || text[i] === '~') {
    const mode = text[i] === '=' ? 'always' : 'unavailable';
    const f = text.slice(i + 1);
    if (f === '') return fail(`exten '${text}': '${text[i]}' must be followed by the forward number ${shape}`);
    if (!FORWARD.test(f)) {
      return fail(`exten '${text}': forward target '${f}' must be a phone number (digits, optionally a leading +)`);
    }
    forward = { number: f, mode };
    i = text.length;
  }
  if (i < text.length) {
    const c = text[i]!;
    const hint = c === '+' && i === 0 ? ' (long and short numbers are digits only)' : '';
    return fail(`exten '${text}': unexpected '${c}' at position ${i + 1}${hint} ${shape}`);
  }
  const e: { -readonly [K in keyof Exten]: Exten[K] } = { raw: text };
  if (long !== '') e.long = long;
  if (short !== undefined) e.short = short;
  if (hunt !== undefined) e.hunt = hunt;
  if (forward !== undefined) e.forward = forward;
  return ok(e as Exten, warnings);
}

/** A gateway's `exten`: the prefix put in front of the number (digits and * # +). */
export function parseGatewayPrefix(text: string): Parsed<string> {
  if (!/^[0-9*#+]+$/.test(text)) {
    return fail(`exten '${text}' of a gateway must be a prefix of digits (and * # +), e.g. exten=9995999`);
  }
  return ok(text);
}

// ---------------------------------------------------------------- addresses

/** Canonical text of an IP literal: IPv6 lower-case and compressed (as the WHATWG URL parser writes it). */
export function canonicalIp(address: string): string | undefined {
  const family = net.isIP(address);
  if (family === 4) return address;
  if (family !== 6) return undefined;
  if (address.includes('%')) return undefined; // zone ids are meaningless in a config shared by hosts
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
}

function parseOctets(s: string): number[] | undefined {
  const parts = s.split('.');
  if (parts.length < 1 || parts.length > 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    out.push(v);
  }
  return out;
}

function maskIpv4(octets: number[], prefix: number): string {
  const v = ((octets[0]! << 24) | (octets[1]! << 16) | (octets[2]! << 8) | octets[3]!) >>> 0;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  const m = (v & mask) >>> 0;
  return [m >>> 24, (m >>> 16) & 255, (m >>> 8) & 255, m & 255].join('.');
}

function expandIpv6(canonical: string): number[] {
  // canonical is valid IPv6 text; expand into 8 groups (handles an embedded IPv4 tail).
  let text = canonical;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    text = text.slice(0, v4.index) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : new Array<string>(8 - h.length - t.length).fill('0');
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16));
}

function maskIpv6(canonical: string, prefix: number): string {
  const groups = expandIpv6(canonical);
  const out = groups.map((g, i) => {
    const bits = Math.max(0, Math.min(16, prefix - i * 16));
    const mask = bits === 0 ? 0 : (0xffff << (16 - bits)) & 0xffff;
    return (g & mask).toString(16);
  });
  return canonicalIp(out.join(':'))!;
}

interface Network {
  address: string;
  prefix: number;
  family: 'ipv4' | 'ipv6';
  cidr: string;
}

/**
 * One `permit` entry: `a.b.c.d/len`, the original's short forms `192.168/16` and
 * `10/8` (missing octets are zero), a bare address (/32 or /128), an IPv6 CIDR,
 * an IPv6 address in brackets. Host bits are cleared (`192.168.1.7/24` is
 * 192.168.1.0/24), as Go's ParseCIDR did.
 */
export function parseNetwork(entry: string): Parsed<Network> {
  let text = entry;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return fail(`'${entry}' is not an address or network: unclosed '['`);
    text = text.slice(1, close) + text.slice(close + 1);
  }
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const lenText = slash < 0 ? undefined : text.slice(slash + 1);
  if (lenText !== undefined && !/^\d{1,3}$/.test(lenText)) {
    return fail(`'${entry}' is not an address or network: bad prefix length '/${lenText}'`);
  }
  if (addr.includes(':')) {
    const c = canonicalIp(addr);
    if (c === undefined || net.isIP(c) !== 6) return fail(`'${entry}' is not an IPv6 address or network`);
    const prefix = lenText === undefined ? 128 : Number(lenText);
    if (prefix > 128) return fail(`'${entry}': an IPv6 prefix length is at most 128`);
    const network = maskIpv6(c, prefix);
    return ok({ address: network, prefix, family: 'ipv6', cidr: `${network}/${prefix}` });
  }
  const octets = parseOctets(addr);
  if (!octets) {
    const hint = /[a-z]/i.test(addr) ? ' (permit takes IP addresses and networks, not host names)' : '';
    return fail(`'${entry}' is not an IPv4 address or network${hint}`);
  }
  if (octets.length < 4 && lenText === undefined) {
    return fail(`'${entry}' is an incomplete address: give a prefix length (e.g. ${addr}/${octets.length * 8})`);
  }
  while (octets.length < 4) octets.push(0);
  const prefix = lenText === undefined ? 32 : Number(lenText);
  if (prefix > 32) return fail(`'${entry}': an IPv4 prefix length is at most 32`);
  const network = maskIpv4(octets, prefix);
  return ok({ address: network, prefix, family: 'ipv4', cidr: `${network}/${prefix}` });
}

/**
 * Compiled permits by text: clients usually share one permit text (every phone
 * `permit=192.168.1.0/24`), so they share one BlockList and one answer cache
 * instead of a check (a SocketAddress) per client and address. Bounded.
 */
const PERMITS = new Map<string, Parsed<Permit>>();

/** `permit` (and its synonym `acl`): comma-separated networks, compiled into a BlockList. */
export function parsePermit(text: string): Parsed<Permit> {
  const known = PERMITS.get(text);
  if (known !== undefined) return known;
  const p = compilePermit(text);
  if (PERMITS.size >= 1024) PERMITS.delete(PERMITS.keys().next().value!);
  PERMITS.set(text, p);
  return p;
}

function compilePermit(text: string): Parsed<Permit> {
  const cidrs: string[] = [];
  const warnings: string[] = [];
  const list = new net.BlockList();
  const errors: string[] = [];
  for (const raw of text.split(',')) {
    const entry = raw.trim();
    if (entry === '') {
      warnings.push(`empty entry in permit list '${text}' ignored`);
      continue;
    }
    const n = parseNetwork(entry);
    if (!n.ok) {
      errors.push(n.error);
      continue;
    }
    if (cidrs.includes(n.value.cidr)) {
      warnings.push(`network ${n.value.cidr} is listed twice`);
      continue;
    }
    cidrs.push(n.value.cidr);
    list.addSubnet(n.value.address, n.value.prefix, n.value.family);
  }
  if (errors.length > 0) return fail(errors.join('; '));
  if (cidrs.length === 0) return fail(`permit '${text}' lists no network`);
  // BlockList.check builds a SocketAddress on every call; phones come from few
  // addresses, so answers are remembered (bounded, per Config: a reload starts afresh).
  const seen = new Map<string, boolean>();
  const allows = (address: string): boolean => {
    const known = seen.get(address);
    if (known !== undefined) return known;
    const family = net.isIP(address);
    const answer = family !== 0 && list.check(address, family === 4 ? 'ipv4' : 'ipv6');
    if (seen.size >= 4096) seen.clear();
    seen.set(address, answer);
    return answer;
  };
  return ok({ cidrs, list, allows }, warnings);
}

/**
 * `host`: `ip`, `ip:port`, `[ipv6]`, `[ipv6]:port`, or a bare IPv6 address.
 * IP literals only: sipd does not resolve names. Port defaults to 5060.
 */
export function parseHost(text: string): Parsed<HostAddress> {
  let addr: string;
  let portText: string | undefined;
  if (text.startsWith('[')) {
    const m = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
    if (!m) return fail(`host '${text}' is not ip[:port] (an IPv6 address goes in brackets: [2001:db8::1]:5060)`);
    addr = m[1]!;
    portText = m[2];
  } else if (net.isIPv6(text)) {
    addr = text;
  } else {
    const colon = text.lastIndexOf(':');
    if (colon >= 0 && text.indexOf(':') !== colon) {
      return fail(`host '${text}': put an IPv6 address in brackets when giving a port ([2001:db8::1]:5060)`);
    }
    addr = colon < 0 ? text : text.slice(0, colon);
    portText = colon < 0 ? undefined : text.slice(colon + 1);
  }
  const c = canonicalIp(addr);
  if (c === undefined) {
    const hint = /[a-z]/i.test(addr) && !addr.includes(':') ? ' (sipd does not resolve host names: write the IP address)' : '';
    return fail(`host '${text}': '${addr}' is not an IP address${hint}`);
  }
  let port = 5060;
  if (portText !== undefined) {
    if (!DIGITS.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
      return fail(`host '${text}': port '${portText}' is not a number from 1 to 65535`);
    }
    port = Number(portText);
  }
  const family = net.isIP(c) === 6 ? 6 : 4;
  const hostport = family === 6 ? `[${c}]:${port}` : `${c}:${port}`;
  return ok({ address: c, port, family, hostport });
}

// ---------------------------------------------------------------- other

/**
 * `callerid`: the number presented to gateways: digits, optionally a leading +.
 * A value with a number inside (`"Office" <4951234567>`), which the original
 * reduced to its first 10 digits, is reduced to that number (all its digits),
 * with a warning.
 */
export function parseCallerid(text: string): Parsed<string> {
  if (/^\+?\d+$/.test(text)) return ok(text);
  const run = /\+?\d{3,}/.exec(text);
  if (run) {
    return ok(run[0], [`callerid '${text}' is read as '${run[0]}' (the number in it)`]);
  }
  return fail(`callerid '${text}' must be a phone number (digits, optionally a leading +)`);
}

/** A whole number of a range, for [general] keys. */
export function parseInteger(text: string, min: number, max: number, unit = ''): Parsed<number> {
  if (!DIGITS.test(text)) return fail(`'${text}' is not a whole number`);
  const v = Number(text);
  if (v < min || v > max) return fail(`${text}${unit} is out of range (${min} to ${max}${unit})`);
  return ok(v);
}
