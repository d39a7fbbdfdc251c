/**
 * What changed between two configs, for the reload log line and `sipd -r`.
 * A client is "changed" when anything that affects calls differs: kind, group,
 * secret, permit, host, exten, callerid, dialplan (so a new -c/-cc changes the
 * clients whose preset depends on it), resolved hunt members, gateway route.
 * Moving a section within the file (its line) is not a change.
 */
import type { Client, Config, General } from './types.js';

export interface ConfigDiff {
  readonly added: string[];
  readonly removed: string[];
  readonly changed: string[];
  /** [general] keys (as written in the file; countrycode/citycode for -c/-cc) that differ, plus `gateway order`. */
  readonly general: string[];
}

function canonical(c: Client): string {
  return JSON.stringify([
    c.kind,
    c.accountcode,
    c.secret ?? null,
    c.permit?.cidrs ?? null,
    c.host?.hostport ?? null,
    c.exten?.raw ?? null,
    c.callerid ?? null,
    c.dialplan.source,
    c.dialplan.origin,
    c.context,
    c.hunt,
    c.gateway ?? null,
  ]);
}

function generalFields(g: General): [string, unknown][] {
  return [
    ['realm', g.realm ?? null],
    ['defaultcontext', g.defaultContext],
    ['countrycode', g.numbering.countryCode],
    ['citycode', g.numbering.cityCode],
    ['trunkprefix', g.numbering.trunkPrefix],
    ['internationalprefix', g.numbering.internationalPrefix],
    ['nationallength', g.numbering.nationalLength],
    ['minexpires', g.minExpires],
    ['maxexpires', g.maxExpires],
    ['defaultexpires', g.defaultExpires],
    ['digestalgorithms', g.digestAlgorithms.join(',')],
    ['noncelifetime', g.nonceLifetime],
    ['noanswer', g.noAnswer],
  ];
}

export function diffConfigs(a: Config, b: Config): ConfigDiff {
  const added: string[] = [];
  const removed: string[] = [];
  const changed: string[] = [];
  for (const [name, cb] of b.clients) {
    const ca = a.clients.get(name);
    if (!ca) added.push(name);
    else if (canonical(ca) !== canonical(cb)) changed.push(name);
  }
  for (const name of a.clients.keys()) if (!b.clients.has(name)) removed.push(name);

  const general: string[] = [];
  const fa = generalFields(a.general);
  const fb = generalFields(b.general);
  for (let i = 0; i < fa.length; i++) if (fa[i]![1] !== fb[i]![1]) general.push(fa[i]![0]);
  const orderA = a.gateways.map((g) => g.name).filter((n) => b.clients.has(n));
  const orderB = b.gateways.map((g) => g.name).filter((n) => a.clients.has(n));
  if (orderA.join('\n') !== orderB.join('\n')) general.push('gateway order');
  return { added, removed, changed, general };
}

/** One line: `clients added: x; removed: y; changed: z; general: realm`, or `no changes`. */
export function formatDiff(d: ConfigDiff): string {
  const clientParts: string[] = [];
  if (d.added.length) clientParts.push(`added: ${d.added.join(', ')}`);
  if (d.removed.length) clientParts.push(`removed: ${d.removed.join(', ')}`);
  if (d.changed.length) clientParts.push(`changed: ${d.changed.join(', ')}`);
  const parts: string[] = [];
  if (clientParts.length) parts.push(`clients ${clientParts.join('; ')}`);
  if (d.general.length) parts.push(`general: ${d.general.join(', ')}`);
  return parts.length ? parts.join('; ') : 'no changes';
}
