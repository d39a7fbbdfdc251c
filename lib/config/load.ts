/**
 * sip.conf → immutable `Config` (DESIGN §3, STYLE §4.6). `loadConfig` is pure:
 * tokenize, group into sections, validate every key, cross-check the sections,
 * then deep-freeze. Every problem of the file is collected; if there is at least
 * one error a single `ConfigLoadError` carries all of them. Warnings are returned
 * with the config (and attached to the error when loading fails).
 *
 * Decisions (documented in docs/sip.conf.md):
 * - keys are case-insensitive (`Secret=` is `secret=`); two spellings of one key
 *   in a section are a duplicate; section names are case-sensitive (they are SIP
 *   user names), `[general]` is recognised in any case;
 * - duplicate sections and keys are errors (the original silently used the first);
 * - `key=` with an empty value is ignored with a warning (the original read "").
 */
import { readFileSync } from 'node:fs';
import { deepFreeze } from '../util/freeze.js';
import { ConfigLoadError, DiagnosticSink, type ConfigDiagnostic, type DiagnosticInit } from './errors.js';
import { canonicalContext, compileDialplan, CONTEXT_ALIASES, presetDialplan } from './dialplan.js';
import { ImmutableMap } from './immutable-map.js';
import { suggest } from './suggest.js';
import { tokenize, splitLines } from './tokenize.js';
import {
  SHORT_NUMBER_MAX_LENGTH,
  type Client,
  type ClientKind,
  type Config,
  type ContextName,
  type DigestAlgorithm,
  type Dialplan,
  type Exten,
  type General,
  type GatewayRoute,
  type HostAddress,
  type Numbering,
  type Permit,
} from './types.js';
import {
  parseCallerid,
  parseExten,
  parseGatewayPrefix,
  parseHost,
  parseInteger,
  parsePermit,
  type Parsed,
} from './values.js';

export interface NumberingOptions {
  /** `-c`, default "7". */
  countryCode: string;
  /** `-cc`, default "495". */
  cityCode: string;
}

export interface LoadResult {
  config: Config;
  warnings: ConfigDiagnostic[];
  /** The text that was loaded (a reload compares it to skip a file that did not change). */
  text: string;
}

export const CLIENT_KEYS = [
  'accountcode',
  'secret',
  'permit',
  'host',
  'exten',
  'callerid',
  'dialplan',
  'context',
] as const;

export const GENERAL_KEYS = [
  'realm',
  'defaultcontext',
  'trunkprefix',
  'internationalprefix',
  'nationallength',
  'minexpires',
  'maxexpires',
  'defaultexpires',
  'digestalgorithms',
  'noncelifetime',
  'noanswer',
  // The former name of noanswer, still accepted (both in one file: an error).
  'ringtimeout',
] as const;

export const GENERAL_DEFAULTS = Object.freeze({
  defaultContext: 'domestic' as ContextName,
  trunkPrefix: '8',
  internationalPrefix: '10',
  nationalLength: 10,
  minExpires: 60,
  maxExpires: 3600,
  defaultExpires: 3600,
  digestAlgorithms: Object.freeze(['MD5', 'SHA-256'] as DigestAlgorithm[]),
  nonceLifetime: 300,
  /** `noanswer` (DESIGN §4, issue 6: 20 s before ~F or the next hunt member). */
  noAnswer: 20,
  /** @deprecated Same as noAnswer. */
  ringTimeout: 20,
});

const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = ['MD5', 'SHA-256', 'SHA-512-256'];

/** Keys of other PBXes (Asterisk mostly) that people carry over, with what to do instead. */
const KEY_HINTS: Readonly<Record<string, string>> = {
  username: 'the user name is the section name: [name]',
  defaultuser: 'the user name is the section name: [name]',
  authuser: 'the user name is the section name: [name]',
  fromuser: 'the user name is the section name: [name]',
  port: 'put the port in host (host=ip:port)',
  deny: 'list the allowed networks in permit; everything else is refused',
  type: 'sipd has no section types: accountcode=gateways or mediagates makes a gateway',
  password: "the password key is 'secret'",
  number: "numbers go in 'exten' (exten=L#S)",
};

const SPECIAL_ACCOUNTCODES: Readonly<Record<string, ClientKind>> = { gateways: 'gateway', mediagates: 'mediagate' };

// ------------------------------------------------------------------ sections

interface Entry {
  /** Lower-case canonical key (`acl` → `permit`). */
  readonly key: string;
  /** The key as written. */
  readonly written: string;
  readonly value: string;
  readonly line: number;
  readonly valueColumn: number;
}

interface RawSection {
  readonly name: string;
  readonly line: number;
  readonly general: boolean;
  /** A repeated section: validated for its own mistakes, left out of the config. */
  readonly duplicate: boolean;
  readonly entries: Map<string, Entry>;
}

function collectSections(text: string, sink: DiagnosticSink): { general?: RawSection; clients: RawSection[] } {
  const tokens = tokenize(text, sink);
  const clients: RawSection[] = [];
  const byName = new Map<string, RawSection>();
  const byLower = new Map<string, RawSection>();
  let general: RawSection | undefined;
  let current: RawSection | undefined;
  let orphanReported = false;

  for (const t of tokens) {
    if (t.kind === 'section') {
      orphanReported = false;
      if (t.invalid) {
        // Already reported: keys below are checked as a client's, then dropped.
        current = { name: t.name, line: t.line, general: false, duplicate: true, entries: new Map() };
        continue;
      }
      const isGeneral = t.name.toLowerCase() === 'general';
      let duplicate = false;
      const first = isGeneral ? general : byName.get(t.name);
      if (first) {
        duplicate = true;
        sink.error({
          line: t.line,
          section: t.name,
          message: `duplicate section [${t.name}] (first at line ${first.line})`,
          code: 'SIPD_ERR_CONFIG_DUPLICATE_SECTION',
        });
      } else if (!isGeneral) {
        const twin = byLower.get(t.name.toLowerCase());
        if (twin) {
          sink.warn({
            line: t.line,
            section: t.name,
            message: `section name differs only in case from [${twin.name}] (line ${twin.line}); phones may confuse them`,
            code: 'SIPD_WARN_CONFIG_CASE',
          });
        }
      }
      current = { name: t.name, line: t.line, general: isGeneral, duplicate, entries: new Map() };
      if (!duplicate) {
        if (isGeneral) general = current;
        else {
          clients.push(current);
          byName.set(t.name, current);
          byLower.set(t.name.toLowerCase(), current);
        }
      }
      continue;
    }

    if (!current) {
      if (!orphanReported) {
        sink.error({
          line: t.line,
          message: `key '${t.key}' outside any section (add a [name] header above it)`,
          code: 'SIPD_ERR_CONFIG_OUTSIDE_SECTION',
        });
        orphanReported = true;
      }
      continue;
    }
    const sec = current;
    const where = { line: t.line, key: t.key, ...(sec.name !== '' ? { section: sec.name } : {}) };
    let key = t.key.toLowerCase();

    if (sec.general) {
      if (!(GENERAL_KEYS as readonly string[]).includes(key)) {
        if ((CLIENT_KEYS as readonly string[]).includes(key) || key === 'acl') {
          const extra = key === 'context' ? ' (the default for all clients is defaultcontext)' : '';
          sink.error({
            ...where,
            message: `key '${t.key}' belongs in a client section, not [general]${extra}`,
            code: 'SIPD_ERR_CONFIG_UNKNOWN_KEY',
          });
        } else {
          const s = suggest(key, GENERAL_KEYS);
          sink.error({
            ...where,
            message: `unknown key '${t.key}'${s ? ` (did you mean '${s}'?)` : ''}`,
            code: 'SIPD_ERR_CONFIG_UNKNOWN_KEY',
          });
        }
        continue;
      }
    } else {
      if (key === 'acl') {
        sink.warn({
          ...where,
          message: `key 'acl' is read as 'permit' (the original sipd read acl; its README documented permit)`,
          code: 'SIPD_WARN_CONFIG_ACL',
        });
        key = 'permit';
      } else if (!(CLIENT_KEYS as readonly string[]).includes(key)) {
        let message: string;
        if ((GENERAL_KEYS as readonly string[]).includes(key)) {
          message = `key '${t.key}' belongs in [general]`;
        } else {
          const s = suggest(key, CLIENT_KEYS);
          const hint = Object.hasOwn(KEY_HINTS, key) ? KEY_HINTS[key] : undefined;
          message = `unknown key '${t.key}'${s ? ` (did you mean '${s}'?)` : hint ? ` (${hint})` : ''}`;
        }
        sink.error({ ...where, message, code: 'SIPD_ERR_CONFIG_UNKNOWN_KEY' });
        continue;
      }
    }

    if (t.value === '') {
      sink.warn({
        ...where,
        message: `key '${t.key}' has no value and is ignored`,
        code: 'SIPD_WARN_CONFIG_EMPTY_VALUE',
      });
      continue;
    }

    const prev = sec.entries.get(key);
    if (prev) {
      const same = prev.written.toLowerCase() === t.key.toLowerCase();
      sink.error({
        ...where,
        message: same
          ? `duplicate key '${t.key}' (first at line ${prev.line})`
          : `key '${t.key}' repeats '${prev.written}' of line ${prev.line} (acl is a synonym of permit)`,
        code: 'SIPD_ERR_CONFIG_DUPLICATE_KEY',
      });
      continue;
    }
    sec.entries.set(key, { key, written: t.key, value: t.value, line: t.line, valueColumn: t.valueColumn });
  }
  return general ? { general, clients } : { clients };
}

// ------------------------------------------------------------------ [general]

function keyLines(sec: RawSection | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (sec) for (const e of sec.entries.values()) out[e.key] = e.line;
  return out;
}

function fromEntry<T>(sink: DiagnosticSink, sec: RawSection, e: Entry, p: Parsed<T>): T | undefined {
  const where = { line: e.line, section: sec.name, key: e.written };
  if (!p.ok) {
    // Every value message names its key: `permit: '10/33' ...`, `exten '1#' ...`.
    const named = p.error.toLowerCase().startsWith(e.written.toLowerCase()) ? p.error : `${e.written}: ${p.error}`;
    sink.error({ ...where, message: named, code: 'SIPD_ERR_CONFIG_VALUE' });
    return undefined;
  }
  for (const w of p.warnings) sink.warn({ ...where, message: w, code: 'SIPD_WARN_CONFIG_COMPAT' });
  return p.value;
}

function checkOptions(opts: NumberingOptions, sink: DiagnosticSink): boolean {
  let good = true;
  if (!/^\d{1,3}$/.test(opts.countryCode)) {
    sink.error({
      line: 0,
      message: `country code -c '${opts.countryCode}' must be 1 to 3 digits (e.g. 7, 44)`,
      code: 'SIPD_ERR_CONFIG_OPTION',
    });
    good = false;
  }
  if (!/^\d{1,5}$/.test(opts.cityCode)) {
    sink.error({
      line: 0,
      message: `city code -cc '${opts.cityCode}' must be 1 to 5 digits (e.g. 495, 20)`,
      code: 'SIPD_ERR_CONFIG_OPTION',
    });
    good = false;
  }
  return good;
}

function validateGeneral(sec: RawSection | undefined, opts: NumberingOptions, sink: DiagnosticSink): General {
  const d = GENERAL_DEFAULTS;
  const get = (k: string): Entry | undefined => sec?.entries.get(k);
  const num = (k: string, min: number, max: number, def: number, unit = ' s'): number => {
    const e = get(k);
    if (!e || !sec) return def;
    return fromEntry(sink, sec, e, parseInteger(e.value, min, max, unit)) ?? def;
  };
  const err = (e: Entry, message: string, code: DiagnosticInit['code'] = 'SIPD_ERR_CONFIG_VALUE'): void => {
    sink.error({ line: e.line, section: sec!.name, key: e.written, message, code });
  };

  let realm: string | undefined;
  const realmE = get('realm');
  if (realmE) {
    if (/^[!#-[\]-~]+$/.test(realmE.value)) realm = realmE.value;
    else err(realmE, `realm '${realmE.value}' must be printable ASCII without blanks, quotes or backslashes`);
  }

  let defaultContext = d.defaultContext;
  const dcE = get('defaultcontext');
  if (dcE) {
    const c = canonicalContext(dcE.value);
    if (c) defaultContext = c;
    else err(dcE, unknownContextMessage(dcE.value), 'SIPD_ERR_CONFIG_CONTEXT');
  }

  let trunkPrefix: string = d.trunkPrefix;
  const tpE = get('trunkprefix');
  if (tpE) {
    if (tpE.value.toLowerCase() === 'none') trunkPrefix = '';
    else if (/^\d{1,3}$/.test(tpE.value)) trunkPrefix = tpE.value;
    else err(tpE, `trunkprefix '${tpE.value}' must be 1 to 3 digits, or none`);
  }

  let internationalPrefix: string = d.internationalPrefix;
  const ipE = get('internationalprefix');
  if (ipE) {
    if (/^\d{1,4}$/.test(ipE.value)) internationalPrefix = ipE.value;
    else err(ipE, `internationalprefix '${ipE.value}' must be 1 to 4 digits (dialled after the trunk prefix)`);
  }

  const nationalLength = num('nationallength', 4, 15, d.nationalLength, '');
  const optsOk = checkOptions(opts, sink);
  let subscriberLength = nationalLength - (optsOk ? opts.cityCode.length : 3);
  if (optsOk && subscriberLength < 1) {
    const nlE = get('nationallength');
    const message = `city code -cc '${opts.cityCode}' leaves no digits for local numbers: national numbers have ${nationalLength} digits`;
    if (nlE) err(nlE, message, 'SIPD_ERR_CONFIG_OPTION');
    else sink.error({ line: 0, message: `${message} (set nationallength in [general])`, code: 'SIPD_ERR_CONFIG_OPTION' });
  }
  if (subscriberLength < 1) subscriberLength = 1;

  const WEEK = 7 * 86400;
  const minExpires = num('minexpires', 1, WEEK, d.minExpires);
  const maxExpires = num('maxexpires', 1, WEEK, Math.max(d.maxExpires, minExpires));
  const defaultExpires = num('defaultexpires', 1, WEEK, Math.min(Math.max(d.defaultExpires, minExpires), maxExpires));
  const minE = get('minexpires');
  const maxE = get('maxexpires');
  const defE = get('defaultexpires');
  if (minExpires > maxExpires) {
    const e = maxE ?? minE!;
    err(e, `minexpires ${minExpires} s is greater than maxexpires ${maxExpires} s`);
  } else if (defaultExpires < minExpires || defaultExpires > maxExpires) {
    const e = defE ?? minE ?? maxE!;
    err(e, `defaultexpires ${defaultExpires} s is outside minexpires..maxexpires (${minExpires}..${maxExpires} s)`);
  }

  let digestAlgorithms: readonly DigestAlgorithm[] = d.digestAlgorithms;
  const daE = get('digestalgorithms');
  if (daE) {
    const list: DigestAlgorithm[] = [];
    let good = true;
    for (const raw of daE.value.split(',')) {
      const name = raw.trim().toUpperCase();
      const alg = DIGEST_ALGORITHMS.find((a) => a === name);
      if (!alg) {
        const s = suggest(name, DIGEST_ALGORITHMS);
        err(
          daE,
          `unknown digest algorithm '${raw.trim()}'${s ? ` (did you mean '${s}'?)` : ''}; known: ${DIGEST_ALGORITHMS.join(', ')}`,
        );
        good = false;
      } else if (list.includes(alg)) {
        sink.warn({
          line: daE.line,
          section: sec!.name,
          key: daE.written,
          message: `digest algorithm ${alg} is listed twice`,
          code: 'SIPD_WARN_CONFIG_COMPAT',
        });
      } else list.push(alg);
    }
    if (good) digestAlgorithms = list;
  }

  const nonceLifetime = num('noncelifetime', 10, 86400, d.nonceLifetime);
  // noanswer, or its former name ringtimeout; not both (which one would win is not obvious).
  const naE = get('noanswer');
  const rtE = get('ringtimeout');
  if (naE && rtE) {
    const [first, second] = naE.line < rtE.line ? [naE, rtE] : [rtE, naE];
    err(
      second,
      `${second.written} (line ${second.line}) and ${first.written} (line ${first.line}) are the same setting (ringtimeout is the former name of noanswer); keep only noanswer`,
      'SIPD_ERR_CONFIG_DUPLICATE_KEY',
    );
  }
  const noAnswer = num(naE || !rtE ? 'noanswer' : 'ringtimeout', 0, 3600, d.noAnswer);

  // With bad -c/-cc (already reported) the presets are built from the defaults
  // so the rest of the file is still checked; no Config is returned anyway.
  const numbering: Numbering = {
    countryCode: optsOk ? opts.countryCode : '7',
    cityCode: optsOk ? opts.cityCode : '495',
    trunkPrefix,
    internationalPrefix,
    nationalLength,
    subscriberLength,
  };
  return {
    line: sec?.line,
    realm,
    defaultContext,
    numbering,
    minExpires,
    maxExpires,
    defaultExpires,
    digestAlgorithms,
    nonceLifetime,
    noAnswer,
    ringTimeout: noAnswer,
    keyLines: keyLines(sec),
  };
}

function unknownContextMessage(value: string): string {
  const s = suggest(value, Object.keys(CONTEXT_ALIASES));
  return (
    `unknown context '${value}'${s ? ` (did you mean '${s}'?)` : ''}; ` +
    `known: internal (em, trush), local, domestic (mobile), international`
  );
}

// ------------------------------------------------------------------ clients

type Draft = { -readonly [K in keyof Client]: Client[K] } & { raw: RawSection };

/** Preset dialplans are immutable, so one load compiles each at most once and shares it. */
type PresetCache = Map<string, Dialplan>;

function preset(cache: PresetCache, ctx: ContextName, origin: 'context' | 'default', n: Numbering): Dialplan {
  const key = `${ctx}/${origin}`;
  let d = cache.get(key);
  if (!d) {
    d = presetDialplan(ctx, origin, n);
    cache.set(key, d);
  }
  return d;
}

function validateClient(sec: RawSection, general: General, sink: DiagnosticSink, presets: PresetCache): Draft {
  const e = (k: string): Entry | undefined => sec.entries.get(k);
  const at = (en: Entry): { line: number; section: string; key: string } => ({
    line: en.line,
    section: sec.name,
    key: en.written,
  });

  // accountcode decides the kind
  let accountcode = '';
  let kind: ClientKind = 'client';
  const acE = e('accountcode');
  if (acE) {
    if (/[ \t]/.test(acE.value)) {
      sink.error({
        ...at(acE),
        message: `accountcode '${acE.value}' contains a blank (the original sipd read only '${acE.value.split(/[ \t]/)[0]}')`,
        code: 'SIPD_ERR_CONFIG_VALUE',
      });
    } else {
      accountcode = acE.value;
      if (Object.hasOwn(SPECIAL_ACCOUNTCODES, accountcode)) kind = SPECIAL_ACCOUNTCODES[accountcode]!;
      else {
        const lower = accountcode.toLowerCase();
        if (Object.hasOwn(SPECIAL_ACCOUNTCODES, lower)) {
          sink.warn({
            ...at(acE),
            message: `accountcode '${accountcode}' is an ordinary group; did you mean '${lower}'? (the special values are lower case)`,
            code: 'SIPD_WARN_CONFIG_COMPAT',
          });
        } else if (lower === 'agigates') {
          sink.warn({
            ...at(acE),
            message: `accountcode 'agigates' (the original's undocumented AGI servers) is not supported; the section is an ordinary group`,
            code: 'SIPD_WARN_CONFIG_COMPAT',
          });
        }
      }
    }
  }

  let secret: string | undefined;
  const secE = e('secret');
  if (secE) {
    secret = secE.value;
    if (/[ \t]/.test(secret)) {
      sink.warn({
        ...at(secE),
        message: `secret contains a blank; sipd uses all of it, the original sipd used only '${secret.split(/[ \t]/)[0]}'`,
        code: 'SIPD_WARN_CONFIG_COMPAT',
      });
    }
  }

  let permit: Permit | undefined;
  const pE = e('permit');
  if (pE) permit = fromEntry(sink, sec, pE, parsePermit(pE.value));

  let host: HostAddress | undefined;
  const hE = e('host');
  if (hE) host = fromEntry(sink, sec, hE, parseHost(hE.value));

  let callerid: string | undefined;
  const cidE = e('callerid');
  if (cidE) {
    if (kind === 'client') callerid = fromEntry(sink, sec, cidE, parseCallerid(cidE.value));
    else ignored(sink, sec, cidE, kind);
  }

  // exten: numbers of a client, the prefix of a gateway
  let exten: Exten | undefined;
  let gateway: GatewayRoute | undefined;
  const exE = e('exten');
  if (kind === 'client' && exE) {
    exten = fromEntry(sink, sec, exE, parseExten(exE.value));
  } else if (kind === 'gateway') {
    if (exE) {
      const prefix = fromEntry(sink, sec, exE, parseGatewayPrefix(exE.value));
      if (prefix !== undefined) gateway = { prefix, normalize: prefix !== '9' };
    } else {
      gateway = { prefix: '', normalize: true };
      sink.warn({
        line: sec.line,
        section: sec.name,
        message:
          `gateway has no exten: the original sipd never sent calls to such a gateway; ` +
          `sipd sends it the normalised number without a prefix`,
        code: 'SIPD_WARN_CONFIG_COMPAT',
      });
    }
    if (!host) {
      sink.error({
        line: sec.line,
        section: sec.name,
        message:
          `gateway without host (accountcode=gateways at line ${acE!.line} makes it a gateway; ` +
          `add host=ip[:port])`,
        code: 'SIPD_ERR_CONFIG_MISSING_HOST',
      });
    }
  } else if (kind === 'mediagate' && exE) {
    ignored(sink, sec, exE, kind);
  }

  // dialplan / context
  const dpE = e('dialplan');
  const cxE = e('context');
  let context: ContextName = kind === 'client' ? general.defaultContext : 'international';
  let contextGiven = false;
  if (cxE && kind !== 'mediagate') {
    const c = canonicalContext(cxE.value);
    if (c) {
      context = c;
      contextGiven = true;
    } else {
      sink.error({ ...at(cxE), message: unknownContextMessage(cxE.value), code: 'SIPD_ERR_CONFIG_CONTEXT' });
    }
  }
  let dialplan: Dialplan | undefined;
  if (kind === 'mediagate') {
    if (dpE) ignored(sink, sec, dpE, kind);
    if (cxE) ignored(sink, sec, cxE, kind);
  } else if (dpE) {
    const r = compileDialplan(dpE.value, general.numbering);
    if (r.ok) dialplan = r.dialplan;
    else {
      const column = dpE.valueColumn + r.offset;
      sink.error({
        ...at(dpE),
        column,
        message: `dialplan '${dpE.value}' is not a valid RE2 expression: ${r.message} (column ${column})`,
        code: 'SIPD_ERR_CONFIG_DIALPLAN',
      });
    }
    if (cxE && contextGiven) {
      sink.warn({
        ...at(cxE),
        message: `context '${cxE.value}' is ignored: dialplan (line ${dpE.line}) takes precedence`,
        code: 'SIPD_WARN_CONFIG_IGNORED',
      });
    }
  }
  dialplan ??= preset(presets, context, contextGiven ? 'context' : 'default', general.numbering);

  if (!secret && !host && kind !== 'gateway') {
    sink.warn({
      line: sec.line,
      section: sec.name,
      message: `can never be reached: it has neither secret (to register) nor host (a static address)`,
      code: 'SIPD_WARN_CONFIG_UNREACHABLE',
    });
  }

  // A section with errors still takes part in the cross-checks (so all of a
  // file's errors are found); the Config is not built then.
  const shortNumbers: string[] = [];
  let longNumber: string | undefined;
  if (exten?.long !== undefined) {
    if (exten.long.length > SHORT_NUMBER_MAX_LENGTH) longNumber = exten.long;
    else shortNumbers.push(exten.long);
  }
  if (exten?.short !== undefined && !shortNumbers.includes(exten.short)) shortNumbers.push(exten.short);

  const draft: Draft = {
    raw: sec,
    name: sec.name,
    line: sec.line,
    kind,
    accountcode,
    dialplan,
    context,
    shortNumbers,
    hunt: [],
    keyLines: keyLines(sec),
  };
  if (secret !== undefined) draft.secret = secret;
  if (permit !== undefined) draft.permit = permit;
  if (host !== undefined) draft.host = host;
  if (exten !== undefined) draft.exten = exten;
  if (callerid !== undefined) draft.callerid = callerid;
  if (longNumber !== undefined) draft.longNumber = longNumber;
  if (gateway !== undefined) draft.gateway = gateway;
  return draft;
}

function ignored(sink: DiagnosticSink, sec: RawSection, en: Entry, kind: ClientKind): void {
  sink.warn({
    line: en.line,
    section: sec.name,
    key: en.written,
    message: `key '${en.written}' means nothing on a ${kind === 'gateway' ? 'gateway' : 'media gateway'} and is ignored`,
    code: 'SIPD_WARN_CONFIG_IGNORED',
  });
}

// ------------------------------------------------------------------ cross-checks

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function groupLabel(accountcode: string): string {
  return accountcode === '' ? 'the clients without accountcode' : `group '${accountcode}'`;
}

function crossCheck(drafts: Draft[], sink: DiagnosticSink) {
  const byLong = new Map<string, string>();
  const longOwner = new Map<string, Draft>();
  const groups = new Map<string, Draft[]>();
  const byShort = new Map<string, Map<string, string>>();
  const byHost = new Map<string, string[]>();
  const hostOwner = new Map<string, Draft>();

  for (const c of drafts) {
    if (c.host) {
      const first = hostOwner.get(c.host.hostport);
      if (first) {
        sink.warn({
          line: c.keyLines.host!,
          section: c.name,
          key: 'host',
          message:
            `host ${c.host.hostport} is also [${first.name}]'s (line ${first.keyLines.host}); ` +
            `requests from it are taken as [${first.name}]'s`,
          code: 'SIPD_WARN_CONFIG_DUPLICATE_HOST',
        });
      } else hostOwner.set(c.host.hostport, c);
      const list = byHost.get(c.host.address) ?? [];
      list.push(c.name);
      byHost.set(c.host.address, list);
    }
    if (c.kind !== 'client') continue;
    const g = groups.get(c.accountcode) ?? [];
    g.push(c);
    groups.set(c.accountcode, g);

    if (c.longNumber !== undefined) {
      const other = longOwner.get(c.longNumber);
      if (other) {
        sink.error({
          line: c.keyLines.exten!,
          section: c.name,
          key: 'exten',
          message: `long number ${c.longNumber} is also [${other.name}]'s (line ${other.keyLines.exten})`,
          code: 'SIPD_ERR_CONFIG_DUPLICATE_NUMBER',
        });
      } else {
        longOwner.set(c.longNumber, c);
        byLong.set(c.longNumber, c.name);
      }
    }
  }

  for (const [code, members] of groups) {
    members.sort((a, b) => byCodeUnits(a.name, b.name));
    const owners = new Map<string, Draft>();
    const map = new Map<string, string>();
    // report in file order so the later line carries the error
    for (const c of [...members].sort((a, b) => a.line - b.line)) {
      for (const s of c.shortNumbers) {
        const other = owners.get(s);
        if (other) {
          const how = c.exten?.short === s ? '' : ` (a long number of ${SHORT_NUMBER_MAX_LENGTH} digits or fewer acts as a short number)`;
          sink.error({
            line: c.keyLines.exten!,
            section: c.name,
            key: 'exten',
            message: `short number ${s} is also [${other.name}]'s in ${groupLabel(code)} (line ${other.keyLines.exten})${how}`,
            code: 'SIPD_ERR_CONFIG_DUPLICATE_NUMBER',
          });
        } else {
          owners.set(s, c);
          map.set(s, c.name);
        }
      }
    }
    byShort.set(code, map);

    for (const c of members) {
      const positions = c.exten?.hunt;
      if (!positions) continue;
      const names: string[] = [];
      for (const p of positions) {
        const target = members[p - 1];
        if (!target) {
          const last = members[members.length - 1]!;
          sink.error({
            line: c.keyLines.exten!,
            section: c.name,
            key: 'exten',
            message:
              `hunt position ${p} does not exist: ${groupLabel(code)} has ${members.length} ` +
              `member${members.length === 1 ? '' : 's'} (ordered by name, the last is [${last.name}] at line ${last.line})`,
            code: 'SIPD_ERR_CONFIG_HUNT',
          });
          continue;
        }
        if (target === c) {
          sink.warn({
            line: c.keyLines.exten!,
            section: c.name,
            key: 'exten',
            message: `hunt position ${p} is [${c.name}] itself and is skipped`,
            code: 'SIPD_WARN_CONFIG_IGNORED',
          });
          continue;
        }
        names.push(target.name);
      }
      c.hunt = names;
    }
  }

  return { byLong, byShort, groups, byHost };
}

// ------------------------------------------------------------------ entry points

function finish(sink: DiagnosticSink, cause?: unknown): never {
  throw new ConfigLoadError(sink.errors(), sink.warnings(), cause === undefined ? undefined : { cause });
}

/**
 * Parses and validates one sip.conf. Pure. Throws `ConfigLoadError` with every
 * error of the file; returns the deep-frozen Config and the warnings otherwise.
 * `file` is only used in diagnostics (`sip.conf:14: ...`).
 */
export function loadConfig(text: string, file: string, opts: NumberingOptions): LoadResult {
  const sink = new DiagnosticSink(file);
  const { general: generalRaw, clients: rawClients } = collectSections(text, sink);
  const general = validateGeneral(generalRaw, opts, sink);

  const drafts: Draft[] = [];
  const presets: PresetCache = new Map();
  for (const sec of rawClients) drafts.push(validateClient(sec, general, sink, presets));
  // A repeated section is reported by collectSections (its keys are checked
  // there too) and left out of rawClients.
  const { byLong, byShort, groups, byHost } = crossCheck(drafts, sink);

  if (sink.errorCount > 0) finish(sink);

  const clients = new ImmutableMap<string, Client>(
    drafts.map((d) => {
      const { raw: _raw, ...client } = d;
      return [d.name, client as Client] as const;
    }),
  );
  const config: Config = {
    file,
    general,
    clients,
    byLong: new ImmutableMap(byLong),
    byShort: new ImmutableMap([...byShort].map(([k, v]) => [k, new ImmutableMap(v)] as const)),
    groups: new ImmutableMap([...groups].map(([k, v]) => [k, v.map((c) => c.name)] as const)),
    byHost: new ImmutableMap(byHost),
    gateways: [...clients.values()].filter((c) => c.kind === 'gateway'),
    mediaGateways: [...clients.values()].filter((c) => c.kind === 'mediagate'),
  };
  return { config: deepFreeze(config), warnings: sink.warnings(), text };
}

/**
 * Reads `path` (UTF-8, strictly) and loads it; diagnostics name the file as `path`
 * was given. A missing or unreadable file, or one that is not UTF-8, is a
 * `ConfigLoadError` too.
 */
export function readConfigFile(path: string, opts: NumberingOptions): LoadResult {
  const sink = new DiagnosticSink(path);
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.message;
    sink.error({ line: 0, message: `cannot read the file: ${why}`, code: 'SIPD_ERR_CONFIG_READ' });
    finish(sink, e);
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf);
  } catch (e) {
    const lines = splitLines(new TextDecoder('utf-8').decode(buf));
    const bad = lines.findIndex((l) => l.includes('\uFFFD'));
    sink.error({
      line: bad + 1,
      message: `the file is not UTF-8 text (save it as UTF-8)`,
      code: 'SIPD_ERR_CONFIG_READ',
    });
    finish(sink, e);
  }
  return loadConfig(text, path, opts);
}
