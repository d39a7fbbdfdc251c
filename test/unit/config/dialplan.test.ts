// Context presets and dialplan semantics: tables of numbers each context
// accepts or refuses, for Moscow (-c 7 -cc 495) and for London (-c 44 -cc 20
// with trunkprefix 0, internationalprefix 0).
import t from 'tap';
import { loadConfig, type NumberingOptions } from '../../../lib/config/load.js';
import { contextPattern, canonicalContext } from '../../../lib/config/dialplan.js';
import type { Config, ContextName } from '../../../lib/config/types.js';

function presets(o: NumberingOptions, general: string[] = []): Config {
  const text = [
    '[general]',
    ...general,
    ...['internal', 'local', 'domestic', 'international'].flatMap((c) => [`[${c}]`, 'secret=x', `context=${c}`]),
  ].join('\n');
  return loadConfig(text, 'sip.conf', o).config;
}

type Row = [dialled: string, internal: boolean, local: boolean, domestic: boolean, international: boolean];
const CONTEXTS: ContextName[] = ['internal', 'local', 'domestic', 'international'];

function checkTable(same: (got: unknown, want: unknown, msg: string) => unknown, cfg: Config, rows: Row[]): void {
  for (const [dialled, ...expected] of rows) {
    const got = CONTEXTS.map((c) => cfg.clients.get(c)!.dialplan.allows(dialled));
    same(got, expected, `${dialled || "''"}: internal, local, domestic, international`);
  }
}

const Y = true;
const N = false;

t.test('Moscow: -c 7 -cc 495, trunk prefix 8', async (t) => {
  const cfg = presets({ countryCode: '7', cityCode: '495' });
  t.equal(cfg.clients.get('internal')!.dialplan.source, '^(?:\\*\\d{2}8?)?(?:\\d{1,4})$|^\\*\\d{2}$');
  t.equal(
    cfg.clients.get('local')!.dialplan.source,
    '^(?:\\*\\d{2}8?)?(?:\\d{1,4}|\\d{7}|495\\d{7}|\\+?7495\\d{7})$|^\\*\\d{2}$',
  );
  t.equal(
    cfg.clients.get('domestic')!.dialplan.source,
    '^(?:\\*\\d{2}8?)?(?:\\d{1,4}|\\d{7}|\\d{10}|\\+?7\\d{10})$|^\\*\\d{2}$',
  );
  t.equal(cfg.clients.get('international')!.dialplan.source, '.+');
  checkTable((a, b, m) => t.same(a, b, m), cfg, [
    // emergency, service and feature codes
    ['112', Y, Y, Y, Y],
    ['01', Y, Y, Y, Y],
    ['*11', Y, Y, Y, Y],
    ['*73', Y, Y, Y, Y],
    ['*721001', Y, Y, Y, Y],
    ['*7284951234567', N, Y, Y, Y],
    ['*714951234567', N, Y, Y, Y],
    ['*729161234567', N, N, Y, Y],
    ['*72810441234567890', N, N, N, Y],
    // the own city
    ['1234567', N, Y, Y, Y],
    ['81234567', N, Y, Y, Y],
    ['84951234567', N, Y, Y, Y],
    ['4951234567', N, Y, Y, Y],
    ['74951234567', N, Y, Y, Y],
    ['+74951234567', N, Y, Y, Y],
    // the own country
    ['84991234567', N, N, Y, Y],
    ['89161234567', N, N, Y, Y],
    ['9161234567', N, N, Y, Y],
    ['88001234567', N, N, Y, Y],
    ['79161234567', N, N, Y, Y],
    ['+79161234567', N, N, Y, Y],
    // abroad and odd lengths
    ['810441234567890', N, N, N, Y],
    ['+441234567890', N, N, N, Y],
    ['12345', N, N, N, Y],
    ['123456789', N, N, N, Y],
    ['749512345678', N, N, N, Y],
    // nothing
    ['', N, N, N, N],
    ['8', N, N, N, N],
  ]);
});

t.test('London: -c 44 -cc 20, trunkprefix 0, internationalprefix 0', async (t) => {
  const cfg = presets({ countryCode: '44', cityCode: '20' }, ['trunkprefix=0', 'internationalprefix=0']);
  t.same(cfg.general.numbering, {
    countryCode: '44',
    cityCode: '20',
    trunkPrefix: '0',
    internationalPrefix: '0',
    nationalLength: 10,
    subscriberLength: 8,
  });
  t.equal(
    cfg.clients.get('local')!.dialplan.source,
    '^(?:\\*\\d{2}0?)?(?:\\d{1,4}|\\d{8}|20\\d{8}|\\+?4420\\d{8})$|^\\*\\d{2}$',
  );
  checkTable((a, b, m) => t.same(a, b, m), cfg, [
    ['999', Y, Y, Y, Y],
    ['112', Y, Y, Y, Y],
    ['*73', Y, Y, Y, Y],
    ['79460000', N, Y, Y, Y],
    ['02079460000', N, Y, Y, Y],
    ['2079460000', N, Y, Y, Y],
    ['442079460000', N, Y, Y, Y],
    ['+442079460000', N, Y, Y, Y],
    ['07700900123', N, N, Y, Y],
    ['+447700900123', N, N, Y, Y],
    ['*7207700900123', N, N, Y, Y],
    ['0033142685300', N, N, N, Y],
    ['+33142685300', N, N, N, Y],
    ['84951234567', N, N, N, Y],
  ]);
});

t.test('no trunk prefix', async (t) => {
  const cfg = presets({ countryCode: '39', cityCode: '06' }, ['trunkprefix=none', 'internationalprefix=00']);
  t.equal(cfg.general.numbering.trunkPrefix, '');
  t.equal(cfg.clients.get('internal')!.dialplan.source, '^(?:\\*\\d{2})?(?:\\d{1,4})$|^\\*\\d{2}$');
  checkTable((a, b, m) => t.same(a, b, m), cfg, [
    ['0612345678', N, Y, Y, Y],
    ['*11', Y, Y, Y, Y],
  ]);
});

t.test('context aliases and defaults', async (t) => {
  t.equal(canonicalContext('em'), 'internal');
  t.equal(canonicalContext('trush'), 'internal');
  t.equal(canonicalContext('Mobile'), 'domestic');
  t.equal(canonicalContext('toString'), undefined, 'no prototype keys');
  const cfg = loadConfig(
    ['[general]', 'defaultcontext=local', '[a]', 'secret=x', '[b]', 'secret=x', 'context=em'].join('\n'),
    'sip.conf',
    { countryCode: '7', cityCode: '495' },
  ).config;
  const a = cfg.clients.get('a')!;
  t.equal(a.context, 'local');
  t.equal(a.dialplan.origin, 'default');
  const b = cfg.clients.get('b')!;
  t.equal(b.context, 'internal');
  t.equal(b.dialplan.origin, 'context');
  t.equal(a.dialplan.source, contextPattern('local', cfg.general.numbering));
});

t.test('explicit dialplans match like the original: trunk prefix stripped once, unanchored', async (t) => {
  const cfg = loadConfig(
    [
      '[a]',
      'secret=x',
      'dialplan=^49[59]',
      '[b]',
      'secret=x',
      'dialplan=123',
      '[c]',
      'secret=x',
      'dialplan=^7495\\d{2,3}$',
      '[d]',
      'secret=x',
      'dialplan=.+',
    ].join('\n'),
    'sip.conf',
    { countryCode: '7', cityCode: '495' },
  ).config;
  const allows = (name: string, n: string): boolean => cfg.clients.get(name)!.dialplan.allows(n);
  t.equal(allows('a', '84951234567'), true);
  t.equal(allows('a', '4991234567'), true);
  t.equal(allows('a', '89161234567'), false);
  t.equal(allows('a', '884951234567'), false, 'only one trunk prefix is stripped');
  t.equal(allows('b', '91234'), true, 'unanchored');
  t.equal(allows('c', '749512'), true);
  t.equal(allows('c', '74951234'), false);
  t.equal(allows('d', '8'), false, '8 alone is empty after the trunk prefix');
  t.equal(allows('d', '*72'), true);
});

t.test('dialplans run in linear time (no catastrophic backtracking)', async (t) => {
  const cfg = loadConfig('[a]\nsecret=x\ndialplan=^(a+)+$', 'sip.conf', { countryCode: '7', cityCode: '495' }).config;
  const start = process.hrtime.bigint();
  t.equal(cfg.clients.get('a')!.dialplan.allows('a'.repeat(5000) + 'b'), false);
  t.ok(Number(process.hrtime.bigint() - start) / 1e6 < 1000);
});
