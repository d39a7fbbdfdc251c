/**
 * Where a call goes (DESIGN §4 "Who calls", "Numbers", "External numbers"): a
 * pure decision over the immutable Config. No sockets, no clock, no state but a
 * per-Config memo of normalised long numbers. The proxy asks `peerByAddress` who
 * a source address is, `routeCall` where the dialled number leads, and tries the
 * returned gateway attempts in order. docs/routing.md is the user-facing version
 * of every rule below.
 *
 * Decisions where DESIGN and the issue are silent (each differs from or extends
 * the original Go sipd as noted; the original matched everything with one SQL
 * query `name = D OR exten LIKE D% OR (4 digits AND same group ...)`):
 *
 * 1. Order of lookup for a client caller: feature code (`*…`) first, as the
 *    original; then the caller's group's short numbers, then long numbers, then
 *    section names. Numbers win over names because a dialled number is what a
 *    user dials; a numeric section name is an account id. A group's short number
 *    shadows a long number of the same digits (like a local extension).
 * 2. Long numbers match exactly (the original matched `exten LIKE D%`, i.e. any
 *    long number starting with D). In addition, a dialled number whose
 *    normalised form equals the normalised form of exactly one client's long
 *    number reaches that client: `84999876543`, `+74999876543` and
 *    `74999876543` all reach `exten=4999876543`, so a carrier that sends DIDs
 *    in E.164 and a phone that dials an office number in national form stay
 *    inside sipd. Two long numbers with the same normalised form are reachable
 *    only by their exact digits.
 * 3. Only clients (kind `client`) are reachable; gateways and media gateways
 *    are never callable by name or number.
 * 4. Calls from a gateway reach clients only by long number (DID), exact or
 *    normalised: no short numbers (they belong to a group), no section names
 *    (a trunk must not be able to probe account names). Anything else is 404,
 *    also for numbers that would go out to another gateway: sipd never transits
 *    trunk to trunk (toll fraud). 404 rather than 403 because from the trunk's
 *    side the number simply is not one of this office (the original answered
 *    404 too: gateways had no callerid, and a call without one never left).
 *    Feature codes from a gateway: 403.
 * 5. External numbers must be digits with an optional leading `+`; anything
 *    else that is not a client is 404. An empty number, or `+` alone, is 484.
 *    A number whose normalised form has more than 15 digits (ITU-T E.164) is
 *    404 before any gateway is bothered.
 * 6. The caller's dialplan is checked against the number as dialled (as the
 *    original's CheckDialplan; `Dialplan.allows` removes one trunk prefix
 *    itself). Refusal: 403 naming the client and the number.
 * 7. Each gateway's own dialplan/context is checked against the number *as
 *    dialled* too (new: the original picked a gateway at random and never
 *    looked at its dialplan). Same semantics as a caller's dialplan, so the
 *    context presets work on gateways (`context=local` on a city line), and a
 *    normalised number is never passed through the trunk-prefix stripping of
 *    `allows` (Japan's 81… would lose its 8). Gateways are tried in file order
 *    (the original: random among those with an exten).
 * 8. No gateway carries the number (or there is none): 404 "Not Found", not
 *    503: nothing is overloaded or temporarily down, and a 503 invites phones
 *    to fail over and retry (RFC 3263). The original also answered 404.
 * 9. Numbers of up to 4 digits (SHORT_NUMBER_MAX_LENGTH: 112, 01, 100) are
 *    service and emergency numbers: sent to the gateway unchanged, never
 *    normalised (the original sent 7495112).
 * 10. A client with neither callerid nor a long number may still call out;
 *    the route's callerId is then undefined and the proxy leaves From alone
 *    (the original refused: no callerid, no gateway).
 * 11. Reason phrases quote the dialled text with control and non-ASCII
 *    characters replaced by `?` and cut at 40 characters, so a hostile
 *    Request-URI cannot break the status line.
 */
import { canonicalIp } from '../config/values.js';
import { SHORT_NUMBER_MAX_LENGTH, type Client, type Config, type Numbering } from '../config/types.js';

/** Who places the call: a client (authenticated by digest or recognised by its static host) or a gateway (inbound, recognised by host). */
export type Caller = { kind: 'client'; client: Client } | { kind: 'gateway'; gateway: Client };

export interface GatewayAttempt {
  gateway: Client;
  /** Request-URI user to send: gateway prefix + normalised number (or '9'+dialled for the exten=9 special, as GatewayRoute.normalize=false says). */
  user: string;
}

export type RejectStatus = 403 | 404 | 484 | 503;

export type CallRoute =
  /** A client of sipd (static or registering). */
  | { kind: 'client'; client: Client; by: 'name' | 'long' | 'short' }
  | { kind: 'external'; dialled: string; /** normalised */ number: string; attempts: GatewayAttempt[]; callerId: string | undefined }
  /** Dialled starts with '*' and the caller's dialplan allows it (issue 6 handles these). */
  | { kind: 'feature'; code: string }
  /** `reason` is the whole reason phrase, e.g. 'Forbidden (dialplan of [foo] does not allow 0012345)'. 503 is never returned today (see decision 8). */
  | { kind: 'reject'; status: RejectStatus; reason: string };

/** ITU-T E.164: at most 15 digits in an international number. */
export const MAX_NUMBER_DIGITS = 15;

const NUMBER_RE = /^\+?\d+$/;
const DIGITS_RE = /^\d+$/;
const SHOWN_MAX = 40;

/** The dialled text as it may appear inside a reason phrase (printable ASCII only, bounded). */
export function shown(text: string): string {
  const clean = text.replace(/[^\x20-\x7e]/g, '?');
  return clean.length > SHOWN_MAX ? `${clean.slice(0, SHOWN_MAX)}...` : clean;
}

function reject(status: RejectStatus, why: string): CallRoute {
  const phrase = status === 403 ? 'Forbidden' : status === 404 ? 'Not Found' : status === 484 ? 'Address Incomplete' : 'Service Unavailable';
  return { kind: 'reject', status, reason: `${phrase} (${why})` };
}

/**
 * The number as sent to a gateway, before its prefix (DESIGN §4, the original's
 * "ABC format"), for country C, city A, trunk prefix T, international prefix I,
 * national length N:
 *
 * - `+` followed by digits: already international, the `+` is removed;
 * - up to 4 digits: a service/emergency number, unchanged (`112`);
 * - otherwise one leading T is removed, then by the length L of the rest:
 *   L > N: international; a leading I is removed (`810 44…` → `44…`; numbers
 *   that already start with the country code stay: `74951234567`);
 *   L = N: national, C is prepended (`8 916 1234567` → `79161234567`);
 *   L < N: local, C and A are prepended (`1234567` → `74951234567`).
 *
 * Anything that is not `+?digits` is returned unchanged. Never throws.
 */
export function normalizeNumber(n: Numbering, dialled: string): string {
  if (!NUMBER_RE.test(dialled)) return dialled;
  if (dialled.startsWith('+')) return dialled.slice(1);
  if (dialled.length <= SHORT_NUMBER_MAX_LENGTH) return dialled;
  let s = dialled;
  if (n.trunkPrefix !== '' && s.startsWith(n.trunkPrefix)) s = s.slice(n.trunkPrefix.length);
  if (s.length > n.nationalLength) {
    // The original removed "10" from any number this long, with or without the 8
    // before it; so does this (it also covers countries without a trunk prefix,
    // whose international prefix is dialled alone: 00 44…).
    return n.internationalPrefix !== '' && s.startsWith(n.internationalPrefix) ? s.slice(n.internationalPrefix.length) : s;
  }
  if (s.length === n.nationalLength) return n.countryCode + s;
  return n.countryCode + n.cityCode + s;
}

/** Caller ID presented to gateways: callerid= if set, else the long number, else undefined. */
export function callerIdOf(client: Client): string | undefined {
  return client.callerid ?? client.longNumber;
}

// ------------------------------------------------------------------ lookups

/** Normalised long number → client name, for the long numbers whose normalised form is unique. */
const normalisedLongs = new WeakMap<Config, ReadonlyMap<string, string>>();

function byNormalisedLong(cfg: Config): ReadonlyMap<string, string> {
  let map = normalisedLongs.get(cfg);
  if (map) return map;
  const m = new Map<string, string>();
  const clash = new Set<string>();
  for (const [long, name] of cfg.byLong) {
    const key = normalizeNumber(cfg.general.numbering, long);
    if (clash.has(key)) continue;
    if (m.has(key)) {
      m.delete(key);
      clash.add(key);
    } else m.set(key, name);
  }
  map = m;
  normalisedLongs.set(cfg, map);
  return map;
}

function clientNamed(cfg: Config, name: string | undefined): Client | undefined {
  if (name === undefined) return undefined;
  const c = cfg.clients.get(name);
  return c?.kind === 'client' ? c : undefined;
}

/** A client by long number: exactly, else by normalised form (decision 2). */
function byLongNumber(cfg: Config, dialled: string): Client | undefined {
  const exact = clientNamed(cfg, cfg.byLong.get(dialled));
  if (exact) return exact;
  if (!NUMBER_RE.test(dialled)) return undefined;
  const norm = normalizeNumber(cfg.general.numbering, dialled);
  if (!DIGITS_RE.test(norm) || norm.length <= SHORT_NUMBER_MAX_LENGTH) return undefined;
  return clientNamed(cfg, byNormalisedLong(cfg).get(norm));
}

// ------------------------------------------------------------------ routing

/**
 * Decides where a call from `caller` to the dialled Request-URI user `dialled`
 * (already unescaped) goes. Pure; never throws.
 */
export function routeCall(cfg: Config, caller: Caller, dialled: string): CallRoute {
  if (caller.kind === 'gateway') return fromGateway(cfg, caller.gateway, dialled);
  const me = caller.client;
  // A peer that is not a client placing a call: a gateway is treated as one
  // (only DIDs); a media gateway places no calls.
  if (me.kind === 'gateway') return fromGateway(cfg, me, dialled);
  if (me.kind === 'mediagate') return reject(403, `[${shown(me.name)}] is a media gateway and places no calls`);
  return fromClient(cfg, me, dialled);
}

function fromGateway(cfg: Config, gw: Client, dialled: string): CallRoute {
  if (dialled === '' || dialled === '+') return reject(484, dialled === '' ? 'no number' : '+ without digits');
  if (dialled.startsWith('*')) return reject(403, `gateway [${shown(gw.name)}] cannot use feature codes`);
  const client = byLongNumber(cfg, dialled);
  if (client) return { kind: 'client', client, by: 'long' };
  return reject(404, `no client has number ${shown(dialled)}`);
}

function fromClient(cfg: Config, me: Client, dialled: string): CallRoute {
  if (dialled === '' || dialled === '+') return reject(484, dialled === '' ? 'no number' : '+ without digits');

  if (dialled.startsWith('*')) {
    if (me.dialplan.allows(dialled)) return { kind: 'feature', code: dialled };
    return reject(403, `dialplan of [${shown(me.name)}] does not allow ${shown(dialled)}`);
  }

  const short = clientNamed(cfg, cfg.byShort.get(me.accountcode)?.get(dialled));
  if (short) return { kind: 'client', client: short, by: 'short' };
  const long = byLongNumber(cfg, dialled);
  if (long) return { kind: 'client', client: long, by: 'long' };
  const named = clientNamed(cfg, dialled);
  if (named) return { kind: 'client', client: named, by: 'name' };

  if (!NUMBER_RE.test(dialled)) return reject(404, `${shown(dialled)} is neither a client nor a phone number`);
  const number = normalizeNumber(cfg.general.numbering, dialled);
  if (number.length > MAX_NUMBER_DIGITS) {
    return reject(404, `${shown(dialled)} has more than ${MAX_NUMBER_DIGITS} digits`);
  }
  if (!me.dialplan.allows(dialled)) {
    return reject(403, `dialplan of [${shown(me.name)}] does not allow ${shown(dialled)}`);
  }
  if (cfg.gateways.length === 0) return reject(404, `no gateway is configured for ${shown(dialled)}`);

  const attempts: GatewayAttempt[] = [];
  for (const gateway of cfg.gateways) {
    if (!gateway.dialplan.allows(dialled)) continue;
    const route = gateway.gateway ?? { prefix: '', normalize: true };
    attempts.push({ gateway, user: route.prefix + (route.normalize ? number : dialled) });
  }
  if (attempts.length === 0) return reject(404, `no gateway carries ${shown(dialled)}`);
  return { kind: 'external', dialled, number, attempts, callerId: callerIdOf(me) };
}

// ------------------------------------------------------------------ peers

/** `1.2.3.4`, `[v6]`, `::ffff:1.2.3.4` (also in its hex form) → the canonical text byHost is keyed by. */
function canonicalPeer(address: string): string | undefined {
  let a = address;
  if (a.startsWith('[') && a.endsWith(']')) a = a.slice(1, -1);
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  if (mapped) a = mapped[1]!;
  const c = canonicalIp(a);
  if (c === undefined) return undefined;
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(c);
  if (hex) {
    const hi = parseInt(hex[1]!, 16);
    const lo = parseInt(hex[2]!, 16);
    return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  return c;
}

/**
 * The gateway or static client whose `host=` is this source address, or
 * undefined. Media gateways are never returned (they place no calls; a media
 * server mistaken for a client could call out through the gateways).
 *
 * - One section with this IP: it, whatever the source port (TCP connections and
 *   NATs use other ports than the configured one).
 * - Several: the first (file order) whose host port equals `port`, as the
 *   config's duplicate-host warning says; if none has that port, the first
 *   gateway, else the first client: on doubt the caller gets the gateway's
 *   rights (reach DIDs only), never a client's (call out), so a wrong guess
 *   cannot cost money.
 *
 * IPv6 is compared in canonical form; IPv4-mapped IPv6 (`::ffff:a.b.c.d`, from
 * dual-stack sockets) is the IPv4 address.
 */
export function peerByAddress(cfg: Config, address: string, port: number): Client | undefined {
  const ip = canonicalPeer(address);
  if (ip === undefined) return undefined;
  const names = cfg.byHost.get(ip);
  if (!names) return undefined;
  const peers: Client[] = [];
  for (const name of names) {
    const c = cfg.clients.get(name);
    if (c && c.kind !== 'mediagate') peers.push(c);
  }
  if (peers.length <= 1) return peers[0];
  return peers.find((c) => c.host?.port === port) ?? peers.find((c) => c.kind === 'gateway') ?? peers[0];
}
