// The original Go sipd's sample sip.conf parses to the expected model, field by field.
import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, readConfigFile } from '../../../lib/config/load.js';
import type { Client } from '../../../lib/config/types.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const fixture = path.join(repoRoot, 'test/fixtures/config/original-sip.conf');
const shared = path.resolve(repoRoot, '../shared/sipd-original/sip.conf');
const opts = { countryCode: '7', cityCode: '495' };

t.test('the fixture is a faithful copy of the shared original', async (t) => {
  if (!existsSync(shared)) {
    t.pass('../shared/sipd-original/sip.conf is not present; the fixture stands alone');
    return;
  }
  t.equal(readFileSync(fixture, 'utf8'), readFileSync(shared, 'utf8'));
});

t.test('original sample: no errors, no warnings', async (t) => {
  const { config, warnings } = readConfigFile(fixture, opts);
  t.same(warnings.map(String), []);
  t.equal(config.file, fixture);
  t.ok(Object.isFrozen(config));
  t.same([...config.clients.keys()], ['foo', 'bar', 'siphone1', 'siphone2', 'GATE1', 'GATE2', 'MEDIAGATE']);
});

const { config } = loadConfig(readFileSync(fixture, 'utf8'), 'sip.conf', opts);
const c = (name: string): Client => {
  const v = config.clients.get(name);
  if (!v) throw new Error(`no client ${name}`);
  return v;
};

t.test('[foo]', async (t) => {
  const foo = c('foo');
  t.equal(foo.line, 4);
  t.equal(foo.kind, 'client');
  t.equal(foo.accountcode, 'FOOBAR');
  t.equal(foo.context, 'domestic');
  t.equal(foo.dialplan.origin, 'context');
  t.equal(foo.dialplan.context, 'domestic');
  t.equal(foo.secret, 'abc');
  t.same(foo.permit?.cidrs, ['192.168.0.0/16', '10.0.0.0/8']);
  t.equal(foo.permit?.allows('192.168.44.1'), true);
  t.equal(foo.permit?.allows('10.200.0.1'), true);
  t.equal(foo.permit?.allows('172.16.0.1'), false);
  t.equal(foo.permit?.allows('::ffff:10.1.1.1'), true, 'IPv4-mapped IPv6 matches IPv4 rules');
  t.equal(foo.host, undefined);
  t.same(foo.exten, { raw: '1001', long: '1001' });
  t.equal(foo.longNumber, undefined, 'a 4-digit long number is not a long number');
  t.same(foo.shortNumbers, ['1001']);
  t.same(foo.hunt, []);
  t.equal(foo.callerid, undefined);
  t.same(foo.keyLines, { accountcode: 5, context: 6, secret: 7, permit: 8, exten: 10 });
});

t.test('[bar]', async (t) => {
  const bar = c('bar');
  t.equal(bar.line, 12);
  t.equal(bar.accountcode, 'FOOBAR');
  t.same(bar.host, { address: '192.168.1.129', port: 5060, family: 4, hostport: '192.168.1.129:5060' });
  t.equal(bar.context, 'international');
  t.equal(bar.dialplan.source, '.+');
  t.equal(bar.dialplan.allows('810441234567890'), true);
  t.equal(bar.secret, 'cba');
  t.same(bar.permit?.cidrs, ['192.168.1.129/32']);
  t.same(bar.shortNumbers, ['1002']);
  t.same(bar.keyLines, { accountcode: 13, host: 14, context: 15, secret: 16, permit: 17, exten: 18 });
});

t.test('[siphone1]: dialplan and a hunt to position 2', async (t) => {
  const s = c('siphone1');
  t.equal(s.line, 20);
  t.equal(s.accountcode, 'HOME');
  t.equal(s.dialplan.origin, 'dialplan');
  t.equal(s.dialplan.source, '.+');
  t.equal(s.dialplan.context, undefined);
  t.equal(s.context, 'domestic', 'the default context is recorded even when dialplan wins');
  t.equal(s.secret, '12345');
  t.same(s.exten, { raw: '1001(2)', long: '1001', hunt: [2] });
  t.same(s.shortNumbers, ['1001']);
  t.same(s.hunt, ['siphone2'], 'position 2 of HOME ordered by name');
  t.equal(s.permit, undefined);
});

t.test('[siphone2]: long, short and forward', async (t) => {
  const s = c('siphone2');
  t.equal(s.line, 26);
  t.same(s.exten, {
    raw: '4999876543#1002=4991234567',
    long: '4999876543',
    short: '1002',
    forward: { number: '4991234567', mode: 'always' },
  });
  t.equal(s.longNumber, '4999876543');
  t.same(s.shortNumbers, ['1002']);
  t.equal(s.keyLines.exten, 31);
});

t.test('gateways and media gateway', async (t) => {
  const g1 = c('GATE1');
  t.equal(g1.kind, 'gateway');
  t.equal(g1.line, 33);
  t.same(g1.gateway, { prefix: '9995999', normalize: true }, 'inline comment cut from the prefix');
  t.equal(g1.host?.hostport, '192.168.1.200:5060');
  t.equal(g1.exten, undefined, "a gateway's exten is its prefix");
  t.equal(g1.dialplan.origin, 'default');
  t.equal(g1.dialplan.allows('84951234567'), true, 'a gateway without dialplan carries anything');
  const g2 = c('GATE2');
  t.same(g2.gateway, { prefix: '9', normalize: false }, "the original's exten=9: number as dialled");
  t.equal(g2.host?.hostport, '192.168.1.201:5060');
  const m = c('MEDIAGATE');
  t.equal(m.kind, 'mediagate');
  t.same(m.host, { address: '192.168.1.100', port: 5070, family: 4, hostport: '192.168.1.100:5070' });
  t.same(
    config.gateways.map((g) => g.name),
    ['GATE1', 'GATE2'],
  );
  t.same(
    config.mediaGateways.map((g) => g.name),
    ['MEDIAGATE'],
  );
});

t.test('lookups', async (t) => {
  t.same([...config.byLong], [['4999876543', 'siphone2']]);
  t.same(
    [...config.groups],
    [
      ['FOOBAR', ['bar', 'foo']],
      ['HOME', ['siphone1', 'siphone2']],
    ],
  );
  t.same(
    [...config.byShort].map(([k, v]) => [k, [...v]]),
    [
      [
        'FOOBAR',
        [
          ['1001', 'foo'],
          ['1002', 'bar'],
        ],
      ],
      [
        'HOME',
        [
          ['1001', 'siphone1'],
          ['1002', 'siphone2'],
        ],
      ],
    ],
  );
  t.same(config.byHost.get('192.168.1.200'), ['GATE1']);
});

t.test('general defaults reproduce the original', async (t) => {
  const g = config.general;
  t.equal(g.line, undefined);
  t.equal(g.realm, undefined);
  t.equal(g.defaultContext, 'domestic');
  t.same(g.numbering, {
    countryCode: '7',
    cityCode: '495',
    trunkPrefix: '8',
    internationalPrefix: '10',
    nationalLength: 10,
    subscriberLength: 7,
  });
  t.equal(g.minExpires, 60);
  t.equal(g.maxExpires, 3600);
  t.equal(g.defaultExpires, 3600);
  t.same(g.digestAlgorithms, ['MD5', 'SHA-256']);
  t.equal(g.nonceLifetime, 300);
  t.equal(g.noAnswer, 20, 'noanswer: 20 s (issue 6)');
  t.equal(g.ringTimeout, 20, 'the deprecated field keeps the same value');
});

t.test('the config is immutable', async (t) => {
  t.throws(() => (config.clients as Map<string, Client>).set('x', c('foo')), TypeError);
  t.throws(() => (config.clients as Map<string, Client>).delete('foo'), TypeError);
  t.throws(() => (config.byLong as Map<string, string>).clear(), TypeError);
  t.throws(() => {
    (c('foo') as { secret?: string }).secret = 'x';
  }, TypeError);
  t.throws(() => {
    (c('foo').shortNumbers as string[]).push('9');
  }, TypeError);
  t.ok(Object.isFrozen(c('foo').permit?.list), 'BlockList frozen');
  t.equal(c('foo').permit?.allows('10.0.0.1'), true, 'still usable when frozen');
  t.equal(c('foo').dialplan.allows('84951234567'), true, 'dialplan usable when frozen');
});
