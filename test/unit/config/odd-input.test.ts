// Odd but valid input reads exactly like its clean form: CRLF, BOM, tabs,
// `; comment` after values, `#` inside exten, spaces around `=`, empty
// sections, key case.
import t from 'tap';
import { loadConfig } from '../../../lib/config/load.js';
import { diffConfigs, formatDiff } from '../../../lib/config/diff.js';
import { formatSummary } from '../../../lib/config/summary.js';

const opts = { countryCode: '7', cityCode: '495' };

const clean = [
  '[general]',
  'realm=pbx.example.com',
  '[empty]',
  '[alice]',
  'accountcode=OFFICE',
  'secret=s3cret',
  'permit=192.0.2.0/24,10.0.0.0/8',
  'exten=4955550101#101(2)~9165550123',
  'context=international',
  '[bob]',
  'accountcode=OFFICE',
  'secret=pa;ss',
  'exten=#102',
  'dialplan=^(7495|495)\\d{7}$',
  '[gw]',
  'accountcode=gateways',
  'host=198.51.100.10',
  'exten=9995999',
  '',
].join('\n');

const odd = [
  '\uFEFF; a file saved by a Windows editor, with a BOM',
  '[general]   ',
  '\trealm\t=\tpbx.example.com\t; the realm',
  '',
  '[empty]',
  '; nothing here',
  '[alice] ; the manager',
  '  AccountCode = OFFICE',
  'SECRET=s3cret   ;   not part of the secret',
  'permit = 192.0.2.0/24 , 10/8',
  'exten\t=\t4955550101#101(2)~9165550123 ; # is data, ; after a blank is a comment',
  'Context=INTERNATIONAL',
  '',
  '',
  '[bob]',
  'accountcode=OFFICE',
  'secret=pa;ss ; a ; glued to text is data',
  'exten=#102',
  'dialplan= ^(7495|495)\\d{7}$ ',
  '[gw]',
  'accountcode=gateways',
  'host=198.51.100.10:5060',
  'exten=9995999 ; gateway prefix when accountcode is gateways',
  '; EOF',
].join('\r\n');

t.test('the odd file has the same model as the clean one', async (t) => {
  const a = loadConfig(clean, 'sip.conf', opts);
  const b = loadConfig(odd, 'sip.conf', opts);
  const unreachable = 'warning: [empty] can never be reached: it has neither secret (to register) nor host (a static address)';
  t.same(a.warnings.map(String), [`sip.conf:3: ${unreachable}`]);
  t.same(b.warnings.map(String), [`sip.conf:5: ${unreachable}`]);
  const d = diffConfigs(a.config, b.config);
  t.equal(formatDiff(d), 'no changes');
  const strip = (s: string): string => s.replace(/\(line \d+\)/g, '');
  t.equal(strip(formatSummary(b.config)), strip(formatSummary(a.config)));

  const alice = b.config.clients.get('alice')!;
  t.equal(alice.secret, 's3cret');
  t.same(alice.permit?.cidrs, ['192.0.2.0/24', '10.0.0.0/8']);
  t.same(alice.exten, {
    raw: '4955550101#101(2)~9165550123',
    long: '4955550101',
    short: '101',
    hunt: [2],
    forward: { number: '9165550123', mode: 'unavailable' },
  });
  t.same(alice.hunt, ['bob']);
  t.equal(alice.context, 'international');
  t.same(alice.keyLines, { accountcode: 8, secret: 9, permit: 10, exten: 11, context: 12 });
  t.equal(alice.line, 7);
  const bob = b.config.clients.get('bob')!;
  t.equal(bob.secret, 'pa;ss');
  t.equal(bob.dialplan.source, '^(7495|495)\\d{7}$');
  t.equal(b.config.general.realm, 'pbx.example.com');
  t.equal(b.config.general.line, 2);
  t.equal(b.config.clients.get('gw')!.gateway?.prefix, '9995999');
});

t.test('an empty section is a client that can never be reached (a warning)', async (t) => {
  const r = loadConfig('[empty]\n', 'sip.conf', opts);
  t.same(r.warnings.map(String), [
    'sip.conf:1: warning: [empty] can never be reached: it has neither secret (to register) nor host (a static address)',
  ]);
  t.same(r.config.groups.get(''), ['empty']);
});

t.test('an empty file is a valid, empty config', async (t) => {
  for (const text of ['', '\uFEFF', '\r\n\r\n', '; only comments\n;\n']) {
    const r = loadConfig(text, 'sip.conf', opts);
    t.equal(r.config.clients.size, 0);
    t.same(r.warnings, []);
  }
});

t.test('IPv6 host and permit forms', async (t) => {
  const r = loadConfig(
    [
      '[v6]',
      'secret=x',
      'host=[2001:DB8:0::1]:5070',
      'permit=2001:db8::/32,[2001:db8:1::5],::1,192.0.2.7,192.0.2.77/24',
    ].join('\n'),
    'sip.conf',
    opts,
  );
  const c = r.config.clients.get('v6')!;
  t.same(c.host, { address: '2001:db8::1', port: 5070, family: 6, hostport: '[2001:db8::1]:5070' });
  t.same(c.permit?.cidrs, ['2001:db8::/32', '2001:db8:1::5/128', '::1/128', '192.0.2.7/32', '192.0.2.0/24']);
  t.equal(c.permit?.allows('2001:db8:ffff::1'), true);
  t.equal(c.permit?.allows('2001:db9::1'), false);
  t.equal(c.permit?.allows('192.0.2.200'), true);
  t.equal(c.permit?.allows('not-an-ip'), false);
  t.same(r.config.byHost.get('2001:db8::1'), ['v6']);
});

t.test('a large office loads quickly', async (t) => {
  const lines: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const g = `G${i % 30}`; // p0000..p0029 sort first in their groups: they hunt nobody
    lines.push(`[p${String(i).padStart(4, '0')}]`, `accountcode=${g}`, `secret=s${i}`, 'permit=192.0.2.0/24,10/8');
    lines.push(`exten=49555${String(i).padStart(5, '0')}#${1000 + Math.floor(i / 30)}${i < 30 ? '' : '(1)'}${i % 7 === 0 ? '~9161234567' : ''}`);
    lines.push(`context=${['internal', 'local', 'domestic', 'international'][i % 4]}`);
  }
  const start = performance.now();
  const { config, warnings } = loadConfig(lines.join('\n'), 'sip.conf', opts);
  const ms = performance.now() - start;
  t.equal(config.clients.size, 3000);
  t.same(warnings.map(String), []);
  t.equal(config.groups.get('G0')!.length, 100);
  t.ok(ms < 2000, `3000 clients in ${ms.toFixed(0)} ms`);
});
