/**
 * Dialplans: `dialplan=` RE2 expressions (re2js, linear time) and the `context`
 * presets derived from the numbering plan (DESIGN §3).
 *
 * Matching reproduces the original sipd's `CheckDialplan`: one leading trunk
 * prefix is removed from the dialled number, then the expression is searched for
 * anywhere in the rest (Go `regexp.MatchString`, unanchored). So `dialplan=^49[59]`
 * admits 84951234567, and `dialplan=.+` admits everything. Presets are anchored.
 *
 * Presets (X = the numbers of the context; C country, A city code, S = subscriber
 * length, N = national length, 8 = the trunk prefix):
 *
 *   internal       X = \d{1,4}                              short/service/emergency numbers (112, 01)
 *   local          X = internal | \d{S} | A\d{S} | \+?CA\d{S}  + the own city
 *   domestic       X = internal | \d{S} | \d{N} | \+?C\d{N}    + the own country
 *   international  .+                                        anything
 *
 *   pattern = ^(?:\*\d{2}8?)?(?:X)$|^\*\d{2}$
 *
 * i.e. a number of the context, a two-digit feature code alone (`*11`, `*73`), or
 * a feature code followed by a number of the context (`*72` + forward target, its
 * trunk prefix optional). For -c 7 -cc 495: local admits 1234567, 84951234567,
 * 74951234567, +74951234567; domestic adds 89161234567, 88001234567, +79161234567.
 */
import { RE2JS, RE2JSSyntaxException } from 're2js';
import type { ContextName, Dialplan, DialplanOrigin, Numbering } from './types.js';

export const CONTEXT_NAMES: readonly ContextName[] = ['internal', 'local', 'domestic', 'international'];

/** Every accepted `context=` value (lower case) → canonical name. */
export const CONTEXT_ALIASES: Readonly<Record<string, ContextName>> = Object.freeze({
  internal: 'internal',
  em: 'internal',
  trush: 'internal',
  local: 'local',
  domestic: 'domestic',
  mobile: 'domestic',
  international: 'international',
});

export function canonicalContext(value: string): ContextName | undefined {
  const v = value.toLowerCase();
  return Object.hasOwn(CONTEXT_ALIASES, v) ? CONTEXT_ALIASES[v] : undefined;
}

function contextNumbers(ctx: Exclude<ContextName, 'international'>, n: Numbering): string[] {
  const c = n.countryCode;
  const a = n.cityCode;
  const s = n.subscriberLength;
  const internal = ['\\d{1,4}'];
  if (ctx === 'internal') return internal;
  if (ctx === 'local') return [...internal, `\\d{${s}}`, `${a}\\d{${s}}`, `\\+?${c}${a}\\d{${s}}`];
  return [...internal, `\\d{${s}}`, `\\d{${n.nationalLength}}`, `\\+?${c}\\d{${n.nationalLength}}`];
}

/** The RE2 expression of a context preset for a numbering plan. */
export function contextPattern(ctx: ContextName, n: Numbering): string {
  if (ctx === 'international') return '.+';
  const x = [...new Set(contextNumbers(ctx, n))].join('|');
  const t = n.trunkPrefix === '' ? '' : n.trunkPrefix.length === 1 ? `${n.trunkPrefix}?` : `(?:${n.trunkPrefix})?`;
  return `^(?:\\*\\d{2}${t})?(?:${x})$|^\\*\\d{2}$`;
}

export type CompileResult =
  | { ok: true; dialplan: Dialplan }
  | { ok: false; message: string; offset: number };

function makeDialplan(
  re: RE2JS,
  source: string,
  origin: DialplanOrigin,
  context: ContextName | undefined,
  trunkPrefix: string,
): Dialplan {
  // The RE2JS object stays in this closure: deepFreeze never reaches it, so its
  // internal caches keep working.
  const allows = (dialled: string): boolean => {
    const n = trunkPrefix !== '' && dialled.startsWith(trunkPrefix) ? dialled.slice(trunkPrefix.length) : dialled;
    return re.test(n);
  };
  return context === undefined ? { source, origin, allows } : { source, origin, context, allows };
}

/** Compiles an explicit `dialplan=` value. On a syntax error, `offset` is the 0-based position in `source`. */
export function compileDialplan(source: string, n: Numbering): CompileResult {
  try {
    return { ok: true, dialplan: makeDialplan(RE2JS.compile(source), source, 'dialplan', undefined, n.trunkPrefix) };
  } catch (e) {
    if (e instanceof RE2JSSyntaxException) {
      const fragment = e.input ?? '';
      const at = fragment === '' ? -1 : source.indexOf(fragment);
      let message = e.error;
      if (fragment !== '' && fragment !== source) message += ` '${fragment}'`;
      if (/Perl syntax|backreference|lookbehind|lookahead/i.test(e.error)) {
        message += ' (RE2 has no lookahead, lookbehind or backreferences)';
      }
      return { ok: false, message, offset: at < 0 ? 0 : at };
    }
    const text = e instanceof Error ? e.message : String(e);
    return { ok: false, message: text, offset: 0 };
  }
}

/** The dialplan of a context preset (origin `context` or `default`). */
export function presetDialplan(ctx: ContextName, origin: 'context' | 'default', n: Numbering): Dialplan {
  const source = contextPattern(ctx, n);
  return makeDialplan(RE2JS.compile(source), source, origin, ctx, n.trunkPrefix);
}
