/**
 * The `sipd --check` report: how sipd understood the file. Clients per group
 * (groups and members ordered by name, the order hunt positions count in), their
 * numbers, forwards and hunts (resolved to member names), gateways in the order
 * they are tried, media gateways, and the general settings with their defaults.
 */
import { SHORT_NUMBER_MAX_LENGTH, type Client, type Config, type Dialplan, type General } from './types.js';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export function describeDialplan(d: Dialplan): string {
  if (d.origin === 'dialplan') return `dialplan ${d.source}`;
  const how = d.origin === 'default' ? ' (default)' : '';
  return `context ${d.context}${how}: ${d.source}`;
}

function numbers(c: Client): string {
  const parts: string[] = [];
  if (c.longNumber !== undefined) parts.push(`long ${c.longNumber}`);
  for (const s of c.shortNumbers) {
    const note = c.exten?.long === s ? ` (long number of ${SHORT_NUMBER_MAX_LENGTH} digits or fewer)` : '';
    parts.push(`short ${s}${note}`);
  }
  return parts.length ? parts.join(', ') : 'none (reachable by name only)';
}

function reach(c: Client): string {
  const parts: string[] = [];
  if (c.host) parts.push(`static host ${c.host.hostport}`);
  if (c.secret !== undefined) parts.push(c.host ? 'may also register (secret)' : 'registers (secret)');
  return parts.length ? parts.join(', ') : 'unreachable: neither secret nor host';
}

function clientBlock(c: Client, out: string[]): void {
  const row = (label: string, value: string): void => {
    out.push(`    ${(label + ':').padEnd(10)}${value}`);
  };
  out.push(`  ${c.name} (line ${c.line})`);
  row('numbers', numbers(c));
  if (c.exten?.forward) {
    const f = c.exten.forward;
    row('forward', f.mode === 'always' ? `every call to ${f.number}` : `when unavailable to ${f.number}`);
  }
  if (c.exten?.hunt) {
    const list = c.exten.hunt.join(', ');
    row('hunt', `position${c.exten.hunt.length === 1 ? '' : 's'} ${list}: ${c.hunt.length ? c.hunt.join(' → ') : 'nobody (only itself)'}`);
  }
  row('reach', reach(c));
  row('permit', c.permit ? c.permit.cidrs.join(', ') : 'any address');
  if (c.callerid !== undefined) row('callerid', c.callerid);
  row('may call', describeDialplan(c.dialplan));
}

function generalBlock(g: General, out: string[]): void {
  const n = g.numbering;
  const row = (label: string, value: string): void => {
    out.push(`  ${(label + ':').padEnd(22)}${value}`);
  };
  const mark = (key: string): string => (g.keyLines[key] !== undefined ? '' : ' (default)');
  out.push(`general${g.line !== undefined ? ` (line ${g.line})` : ' (no [general] section: defaults)'}`);
  row('realm', g.realm ?? 'the host name (default)');
  row('default context', `${g.defaultContext}${mark('defaultcontext')}`);
  row('country / city code', `${n.countryCode} / ${n.cityCode} (-c / -cc)`);
  row('trunk prefix', n.trunkPrefix === '' ? `none${mark('trunkprefix')}` : `${n.trunkPrefix}${mark('trunkprefix')}`);
  row(
    'international prefix',
    `${n.internationalPrefix}${mark('internationalprefix')}, dialled ${n.trunkPrefix}${n.internationalPrefix}`,
  );
  row(
    'national numbers',
    `${n.nationalLength} digits${mark('nationallength')}; local numbers ${n.subscriberLength} digits`,
  );
  row(
    'registration expiry',
    `min ${g.minExpires} s${mark('minexpires')}, default ${g.defaultExpires} s${mark('defaultexpires')}, ` +
      `max ${g.maxExpires} s${mark('maxexpires')}`,
  );
  row('digest algorithms', `${g.digestAlgorithms.join(', ')}${mark('digestalgorithms')}`);
  row('nonce lifetime', `${g.nonceLifetime} s${mark('noncelifetime')}`);
  const naKey = g.keyLines.noanswer === undefined && g.keyLines.ringtimeout !== undefined ? 'ringtimeout' : 'noanswer';
  row('no answer after', `${g.noAnswer === 0 ? 'never' : `${g.noAnswer} s`}${mark(naKey)}${naKey === 'ringtimeout' ? ' (ringtimeout)' : ''}`);
}

export function formatSummary(cfg: Config): string {
  const out: string[] = [];
  let clientCount = 0;
  for (const members of cfg.groups.values()) clientCount += members.length;
  out.push(
    `${cfg.file}: ${plural(clientCount, 'client')} in ${plural(cfg.groups.size, 'group')}, ` +
      `${plural(cfg.gateways.length, 'gateway')}, ${plural(cfg.mediaGateways.length, 'media gateway')}`,
  );

  const codes = [...cfg.groups.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  for (const code of codes) {
    const members = cfg.groups.get(code)!;
    out.push('');
    const label = code === '' ? 'clients without accountcode' : `group ${code}`;
    out.push(`${label}: ${plural(members.length, 'client')}`);
    for (const name of members) clientBlock(cfg.clients.get(name)!, out);
  }

  out.push('');
  if (cfg.gateways.length === 0) out.push('gateways: none (external numbers cannot be called)');
  else {
    out.push('gateways (tried in this order):');
    cfg.gateways.forEach((g, i) => {
      const r = g.gateway!;
      const how = !r.normalize
        ? `prefix ${r.prefix}, number as dialled (the original's exten=9)`
        : r.prefix === ''
          ? 'no prefix, normalised number'
          : `prefix ${r.prefix}, normalised number`;
      const carries = g.dialplan.origin === 'default' ? 'carries anything' : `carries ${describeDialplan(g.dialplan)}`;
      out.push(`  ${i + 1}. ${g.name} (line ${g.line}) ${g.host?.hostport ?? '(no host)'}: ${how}; ${carries}`);
    });
  }
  out.push('');
  if (cfg.mediaGateways.length === 0) out.push('media gateways: none (feature code results are given as response reasons)');
  else {
    out.push('media gateways (in this order):');
    cfg.mediaGateways.forEach((m, i) => {
      const addr = m.host?.hostport ?? (m.secret !== undefined ? 'registers (secret)' : '(no address)');
      out.push(`  ${i + 1}. ${m.name} (line ${m.line}) ${addr}`);
    });
  }
  out.push('');
  generalBlock(cfg.general, out);
  return out.join('\n') + '\n';
}
