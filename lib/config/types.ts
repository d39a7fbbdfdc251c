/**
 * The immutable model of one sip.conf (DESIGN §3, STYLE §4.6). `loadConfig`
 * builds it and deep-freezes it; maps are `ImmutableMap`s whose mutators throw.
 * docs/sip.conf.md is the user-facing reference of every field.
 */
import type { BlockList } from 'node:net';

export type ClientKind = 'client' | 'gateway' | 'mediagate';

/** Canonical context names; `em`/`trush` and `mobile` are aliases (see dialplan.ts). */
export type ContextName = 'internal' | 'local' | 'domestic' | 'international';

export type DigestAlgorithm = 'MD5' | 'SHA-256' | 'SHA-512-256';

/** A long number of this many digits or fewer acts as a short number (DESIGN §4, as the original). */
export const SHORT_NUMBER_MAX_LENGTH = 4;

export interface Numbering {
  /** `-c`, default "7". */
  readonly countryCode: string;
  /** `-cc`, default "495". */
  readonly cityCode: string;
  /** `[general] trunkprefix`, default "8"; "" (written `none`) when the country has none. */
  readonly trunkPrefix: string;
  /** `[general] internationalprefix`: the digits after the trunk prefix, default "10" ("810" dialled). */
  readonly internationalPrefix: string;
  /** `[general] nationallength`: digits of a national number (city code + subscriber), default 10. */
  readonly nationalLength: number;
  /** nationalLength − cityCode.length: digits of a local (own city) number, 7 for Moscow. */
  readonly subscriberLength: number;
}

export interface General {
  /** Line of the `[general]` header, undefined when the file has none. */
  readonly line: number | undefined;
  /** Digest realm; undefined = the host name, resolved by the server. */
  readonly realm: string | undefined;
  /** Context of clients with neither `dialplan` nor `context`; default `domestic`. */
  readonly defaultContext: ContextName;
  readonly numbering: Numbering;
  /** REGISTER expiry bounds in seconds (defaults 60 / 3600 / 3600). */
  readonly minExpires: number;
  readonly maxExpires: number;
  readonly defaultExpires: number;
  /** Challenge algorithms in offer order; default MD5, SHA-256. */
  readonly digestAlgorithms: readonly DigestAlgorithm[];
  /** Seconds a nonce stays valid (then `stale=true`); default 300. */
  readonly nonceLifetime: number;
  /**
   * `[general] noanswer` (alias `ringtimeout`): seconds a call may ring at a
   * client before it counts as not answered (`~F`, each hunt step); 0 = never;
   * default 20.
   */
  readonly noAnswer: number;
  /** @deprecated The same value as {@link noAnswer} (the key's former name). */
  readonly ringTimeout: number;
  /** Line of every key present in [general], by lower-case key. */
  readonly keyLines: Readonly<Record<string, number>>;
}

export interface HostAddress {
  /** Canonical IP text (IPv6 lower-case, compressed, without brackets). */
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
  /** `192.0.2.10:5060` or `[2001:db8::1]:5070`. */
  readonly hostport: string;
}

export interface Permit {
  /** Normalised CIDRs in file order: `192.168.0.0/16`, `10.0.0.0/8`, `192.0.2.7/32`, `2001:db8::/32`. */
  readonly cidrs: readonly string[];
  /** The same networks, compiled. IPv4-mapped IPv6 addresses match IPv4 rules. */
  readonly list: BlockList;
  /** True when `address` (IPv4 or IPv6 text) is inside one of the networks; false for non-IP text. */
  allows(address: string): boolean;
}

export interface Forward {
  /** Digits, optionally with a leading `+`. */
  readonly number: string;
  /** `=F` always, `~F` when unavailable (not registered, 480, 486, 603, no answer). */
  readonly mode: 'always' | 'unavailable';
}

/** `exten=L#S(N)=F` / `L#S(N)~F` of a client, every part optional. */
export interface Exten {
  readonly raw: string;
  readonly long?: string;
  readonly short?: string;
  /** Hunt positions (1-based, in the group ordered by section name), expanded and de-duplicated. */
  readonly hunt?: readonly number[];
  readonly forward?: Forward;
}

export type DialplanOrigin = 'dialplan' | 'context' | 'default';

export interface Dialplan {
  /** The RE2 expression as written (`dialplan=`) or generated from the context preset. */
  readonly source: string;
  /** `dialplan`: the key; `context`: the section's context key; `default`: [general] defaultcontext (clients) or carry-all (gateways). */
  readonly origin: DialplanOrigin;
  /** The preset when origin is `context` or `default`. */
  readonly context?: ContextName;
  /**
   * Whether a dialled number is allowed, exactly as the original sipd decided:
   * one leading trunk prefix (`8`) is removed, then the expression is searched
   * for anywhere in the rest (unanchored, Go `MatchString` semantics). Presets
   * are anchored themselves. Linear time (re2js).
   */
  allows(dialled: string): boolean;
}

/** How a gateway (accountcode=gateways) rewrites the number it is sent. */
export interface GatewayRoute {
  /** Put in front of the number: the gateway's exten ("" without one). */
  readonly prefix: string;
  /**
   * Normalise the number first (strip trunk prefix, add country/city codes; DESIGN §4).
   * False only for the original's special `exten=9`: the number goes as dialled,
   * behind the prefix "9" (the original sent `"9" + dialled`).
   */
  readonly normalize: boolean;
}

export interface Client {
  /** Section name: SIP user and digest username. */
  readonly name: string;
  /** Line of the `[name]` header. */
  readonly line: number;
  readonly kind: ClientKind;
  /** Group id as written ("" when absent: those clients form one unnamed group, as in the original). */
  readonly accountcode: string;
  readonly secret?: string;
  /** Absent: requests are accepted from any address (as the original with no acl). */
  readonly permit?: Permit;
  readonly host?: HostAddress;
  /** Clients only (a gateway's exten is its `gateway.prefix`). */
  readonly exten?: Exten;
  readonly callerid?: string;
  /** Always present: explicit, from the context, or the default. */
  readonly dialplan: Dialplan;
  /** Context in effect (the key's canonical name, or the default); kept even when `dialplan=` overrides it. */
  readonly context: ContextName;
  /** The long number if it has more than SHORT_NUMBER_MAX_LENGTH digits (reachable from anywhere, DID). */
  readonly longNumber?: string;
  /** Numbers reachable inside the group: S, and L when it has 4 digits or fewer. */
  readonly shortNumbers: readonly string[];
  /** Hunt positions resolved to member names, in order. */
  readonly hunt: readonly string[];
  /** Gateways only. */
  readonly gateway?: GatewayRoute;
  /** Line of every key present, by lower-case key (`acl` is recorded as `permit`). */
  readonly keyLines: Readonly<Record<string, number>>;
}

export interface Config {
  /** The file name as given to the loader. */
  readonly file: string;
  readonly general: General;
  /** Every section but [general], in file order, gateways and media gateways included. */
  readonly clients: ReadonlyMap<string, Client>;
  /** Long number → client name (kind `client`). */
  readonly byLong: ReadonlyMap<string, string>;
  /** accountcode → short number → client name. */
  readonly byShort: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** accountcode → member names ordered by section name (code-unit order, as the original's SQLite). Clients only. */
  readonly groups: ReadonlyMap<string, readonly string[]>;
  /** Canonical host IP → names of the sections with that static host, in file order. */
  readonly byHost: ReadonlyMap<string, readonly string[]>;
  /** Gateways in file order (the order they are tried). */
  readonly gateways: readonly Client[];
  /** Media gateways in file order (the first is used). */
  readonly mediaGateways: readonly Client[];
}
