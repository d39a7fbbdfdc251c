// diffConfigs / formatDiff (reload log line, sipd -r) and formatSummary (sipd --check),
// and sip.conf.example loading cleanly.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { loadConfig, readConfigFile } from '../../../lib/config/load.js';
import { diffConfigs, formatDiff } from '../../../lib/config/diff.js';
import { formatSummary } from '../../../lib/config/summary.js';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const original = readFileSync(path.join(repoRoot, 'test/fixtures/config/original-sip.conf'), 'utf8');
const opts = { countryCode: '7', cityCode: '495' };
const load = (text: string, o = opts) => loadConfig(text, 'sip.conf', o).config;

t.test('diff: identical and moved sections are no change', async (t) => {
  const a = load(original);
  t.equal(formatDiff(diffConfigs(a, load(original))), 'no changes');
  // move [foo] to the end: lines change, meaning does not
  const foo = original.slice(original.indexOf('[foo]'), original.indexOf('[bar]'));
  const moved = original.replace(foo, '') + '\n' + foo;
  t.same(diffConfigs(a, load(moved)), { added: [], removed: [], changed: [], general: [] });
});

t.test('diff: added, removed, changed, general', async (t) => {
  const a = load(original);
  const edited =
    '[general]\nrealm=pbx.example.com\nmaxexpires=1800\n' +
    original
      .replace('secret=cba', 'secret=new')
      .replace(/\[MEDIAGATE\][^;]*/, '')
      .replace(/(\[GATE1\][^[]*)(\[GATE2\][^[]*)/, '$2$1') +
    '\n[zoe]\naccountcode=HOME\nsecret=x\nexten=#1003\n';
  const d = diffConfigs(a, load(edited));
  // zoe sorts after siphone2 in HOME: siphone1's hunt position 2 is unchanged
  t.same(d, {
    added: ['zoe'],
    removed: ['MEDIAGATE'],
    changed: ['bar'],
    general: ['realm', 'maxexpires', 'defaultexpires', 'gateway order'],
  });
  t.equal(
    formatDiff(d),
    'clients added: zoe; removed: MEDIAGATE; changed: bar; general: realm, maxexpires, defaultexpires, gateway order',
  );
  t.equal(formatDiff({ added: [], removed: ['x'], changed: [], general: [] }), 'clients removed: x');
});

t.test('diff: a hunt whose member shifts is a change; -c changes preset dialplans', async (t) => {
  const a = load(original);
  // 'Aaron' sorts first in HOME (code-unit order): siphone1's position 2 becomes siphone1 itself
  const b = load(original + '\n[Aaron]\naccountcode=HOME\nsecret=x\n');
  const d = diffConfigs(a, b);
  t.same(d.added, ['Aaron']);
  t.same(d.changed, ['siphone1'], 'position 2 of HOME is now siphone1 itself');
  const c = load(original, { countryCode: '375', cityCode: '17' });
  t.same(diffConfigs(a, c), { added: [], removed: [], changed: ['foo'], general: ['countrycode', 'citycode'] });
});

t.test('summary of the original sample', async (t) => {
  const s = formatSummary(load(original));
  t.equal(
    s,
    `sip.conf: 4 clients in 2 groups, 2 gateways, 1 media gateway

group FOOBAR: 2 clients
  bar (line 12)
    numbers:  short 1002 (long number of 4 digits or fewer)
    reach:    static host 192.168.1.129:5060, may also register (secret)
    permit:   192.168.1.129/32
    may call: context international: .+
  foo (line 4)
    numbers:  short 1001 (long number of 4 digits or fewer)
    reach:    registers (secret)
    permit:   192.168.0.0/16, 10.0.0.0/8
    may call: context domestic: ^(?:\\*\\d{2}8?)?(?:\\d{1,4}|\\d{7}|\\d{10}|\\+?7\\d{10})$|^\\*\\d{2}$

group HOME: 2 clients
  siphone1 (line 20)
    numbers:  short 1001 (long number of 4 digits or fewer)
    hunt:     position 2: siphone2
    reach:    registers (secret)
    permit:   any address
    may call: dialplan .+
  siphone2 (line 26)
    numbers:  long 4999876543, short 1002
    forward:  every call to 4991234567
    reach:    registers (secret)
    permit:   any address
    may call: dialplan .+

gateways (tried in this order):
  1. GATE1 (line 33) 192.168.1.200:5060: prefix 9995999, normalised number; carries anything
  2. GATE2 (line 38) 192.168.1.201:5060: prefix 9, number as dialled (the original's exten=9); carries anything

media gateways (in this order):
  1. MEDIAGATE (line 43) 192.168.1.100:5070

general (no [general] section: defaults)
  realm:                the host name (default)
  default context:      domestic (default)
  country / city code:  7 / 495 (-c / -cc)
  trunk prefix:         8 (default)
  international prefix: 10 (default), dialled 810
  national numbers:     10 digits (default); local numbers 7 digits
  registration expiry:  min 60 s (default), default 3600 s (default), max 3600 s (default)
  digest algorithms:    MD5, SHA-256 (default)
  nonce lifetime:       300 s (default)
  no answer after:      20 s (default)
`,
  );
});

t.test('summary: no gateways, clients without accountcode, set general keys', async (t) => {
  const s = formatSummary(
    load(
      [
        '[general]',
        'realm=pbx.example.com',
        'trunkprefix=none',
        'ringtimeout=0',
        '[solo]',
        'secret=x',
        'exten=#5(1)~+441234567890',
      ].join('\n'),
    ),
  );
  t.match(s, /^sip\.conf: 1 client in 1 group, 0 gateways, 0 media gateways\n/);
  t.match(s, /\nclients without accountcode: 1 client\n {2}solo \(line 5\)\n/);
  t.match(s, /\n {4}forward: {2}when unavailable to \+441234567890\n/);
  t.match(s, /\n {4}hunt: {5}position 1: nobody \(only itself\)\n/);
  t.match(s, /\ngateways: none \(external numbers cannot be called\)\n/);
  t.match(s, /\nmedia gateways: none/);
  t.match(s, /\ngeneral \(line 1\)\n {2}realm: {16}pbx\.example\.com\n/);
  t.match(s, /trunk prefix: {9}none\n/);
  t.match(s, /no answer after: {6}never \(ringtimeout\)\n/, 'ringtimeout, the former name of noanswer');
});

t.test('sip.conf.example loads without errors or warnings and has what it promises', async (t) => {
  const { config, warnings } = readConfigFile(path.join(repoRoot, 'sip.conf.example'), opts);
  t.same(warnings.map(String), []);
  t.equal(config.groups.size, 2, 'two groups');
  t.ok([...config.clients.values()].some((c) => c.longNumber && c.exten?.short), 'long and short numbers');
  t.ok([...config.clients.values()].some((c) => c.hunt.length > 0), 'a hunt');
  t.ok([...config.clients.values()].some((c) => c.exten?.forward?.mode === 'always'), 'a forward');
  t.ok([...config.clients.values()].some((c) => c.exten?.forward?.mode === 'unavailable'), 'a forward when unavailable');
  t.equal(config.gateways.length, 2, 'two gateways');
  t.equal(config.mediaGateways.length, 1, 'a media gateway');
  const soft = [...config.clients.values()].find((c) => c.permit?.allows('127.0.0.1'));
  t.ok(soft, 'a client that may come from 127.0.0.1 (sipd -b 127.0.0.1:5060)');
  for (const c of config.clients.values()) {
    for (const a of [c.host?.address, ...(c.permit?.cidrs ?? [])]) {
      if (a === undefined) continue;
      t.match(a, /^(192\.0\.2\.|198\.51\.100\.|127\.0\.0\.1|::1)/, `${c.name}: documentation or loopback address ${a}`);
    }
  }
  t.same(config.clients.get('reception')?.hunt, ['alice', 'bob']);
  t.equal(config.general.line, 17);
  t.same(config.general.keyLines, {}, '[general] shows the defaults commented out');
});
