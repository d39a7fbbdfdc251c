// One test per error kind: exact line number and message. Plus warnings, and
// "all errors at once".
import t from 'tap';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, readConfigFile, type NumberingOptions } from '../../../lib/config/load.js';
import { ConfigLoadError, type ConfigDiagnostic } from '../../../lib/config/errors.js';
import { SipdError } from '../../../lib/util/errors.js';

const opts: NumberingOptions = { countryCode: '7', cityCode: '495' };
const file = (...lines: string[]): string => lines.join('\n') + '\n';

function failure(text: string, o: NumberingOptions = opts): ConfigLoadError {
  try {
    loadConfig(text, 'sip.conf', o);
  } catch (e) {
    if (e instanceof ConfigLoadError) return e;
    throw e;
  }
  throw new Error('expected a ConfigLoadError');
}
const errors = (text: string, o?: NumberingOptions): string[] => failure(text, o).diagnostics.map(String);
const warnings = (text: string): string[] => loadConfig(text, 'sip.conf', opts).warnings.map(String);

// A valid client to pad files with.
const ok = ['[ok]', 'secret=x'];

t.test('ConfigLoadError shape', async (t) => {
  const e = failure(file('[foo]', 'secret=a', 'permitt=10/8', 'bogus'));
  t.ok(e instanceof SipdError);
  t.equal(e.code, 'SIPD_ERR_CONFIG');
  t.equal(e.name, 'ConfigLoadError');
  t.equal(e.diagnostics.length, 2);
  t.equal(e.message, e.diagnostics.map(String).join('\n'));
  const d: ConfigDiagnostic = e.diagnostics[0]!;
  t.match(d, {
    file: 'sip.conf',
    line: 3,
    section: 'foo',
    key: 'permitt',
    severity: 'error',
    code: 'SIPD_ERR_CONFIG_UNKNOWN_KEY',
    message: "unknown key 'permitt' (did you mean 'permit'?)",
  });
  t.equal(String(d), "sip.conf:3: [foo] unknown key 'permitt' (did you mean 'permit'?)");
});

t.test('syntax: a line that is not key=value', async (t) => {
  t.same(errors(file(...ok, 'exten 1001')), ["sip.conf:3: [ok] expected key=value, [section] or ; comment, got 'exten 1001'"]);
});

t.test('syntax: unclosed [', async (t) => {
  t.same(errors(file(...ok, '[foo', 'secret=a')), [
    "sip.conf:3: unclosed '[' in section header '[foo' (expected [name])",
  ]);
});

t.test('syntax: text after a section header', async (t) => {
  t.same(errors(file('[foo](template)', 'secret=a')), [
    "sip.conf:1: unexpected text '(template)' after section header [foo]",
  ]);
});

t.test('syntax: missing key, invalid key', async (t) => {
  t.same(errors(file(...ok, '=1001', 'call id=5')), [
    "sip.conf:3: [ok] missing key before '='",
    "sip.conf:4: [ok] invalid key 'call id' (a key is a word such as 'secret' or 'exten')",
  ]);
});

t.test('syntax: control character', async (t) => {
  const e = failure(file(...ok, 'exten=10\u000001'));
  t.same(e.diagnostics.map(String), ['sip.conf:3:9: [ok] control character U+0000 at column 9 (is this a text file?)']);
  t.equal(e.diagnostics[0]!.column, 9);
});

t.test('section names', async (t) => {
  t.same(errors(file('[]', '[a b]', '[ok;x]', '[ok/x]', ...ok)), [
    'sip.conf:1: empty section name []',
    "sip.conf:2: section name '[a b]' contains a blank (write [ab]?)",
    "sip.conf:3: section name '[ok;x]' has characters a SIP user name cannot carry; use letters, digits and - _ . ! ~ * ' ( ) & = + $ ,",
    "sip.conf:4: section name '[ok/x]' has characters a SIP user name cannot carry; use letters, digits and - _ . ! ~ * ' ( ) & = + $ ,",
  ]);
});

t.test('key outside any section (reported once)', async (t) => {
  t.same(errors(file('; header', 'secret=a', 'exten=1', ...ok)), [
    "sip.conf:2: key 'secret' outside any section (add a [name] header above it)",
  ]);
});

t.test('duplicate section names both lines', async (t) => {
  t.same(errors(file('[foo]', 'secret=a', '', '[foo]', 'secret=b')), [
    'sip.conf:4: [foo] duplicate section [foo] (first at line 1)',
  ]);
  t.same(errors(file('[general]', '[GENERAL]')), ['sip.conf:2: [GENERAL] duplicate section [GENERAL] (first at line 1)']);
});

t.test('duplicate key names both lines; keys are case-insensitive', async (t) => {
  t.same(errors(file('[foo]', 'secret=a', 'exten=1001', 'Secret=b')), [
    "sip.conf:4: [foo] duplicate key 'Secret' (first at line 2)",
  ]);
  t.same(errors(file('[foo]', 'secret=a', 'permit=10/8', 'acl=10/8')), [
    "sip.conf:4: [foo] key 'acl' repeats 'permit' of line 3 (acl is a synonym of permit)",
  ]);
});

t.test('unknown keys: suggestion, hint, wrong section', async (t) => {
  t.same(
    errors(
      file(
        '[general]',
        'realms=x',
        'secret=y',
        'context=local',
        '[foo]',
        'secrte=a',
        'exetn=1001',
        'username=foo',
        'nat=yes',
        'realm=x',
        'account=A',
      ),
    ),
    [
      "sip.conf:2: [general] unknown key 'realms' (did you mean 'realm'?)",
      "sip.conf:3: [general] key 'secret' belongs in a client section, not [general]",
      "sip.conf:4: [general] key 'context' belongs in a client section, not [general] (the default for all clients is defaultcontext)",
      "sip.conf:6: [foo] unknown key 'secrte' (did you mean 'secret'?)",
      "sip.conf:7: [foo] unknown key 'exetn' (did you mean 'exten'?)",
      "sip.conf:8: [foo] unknown key 'username' (the user name is the section name: [name])",
      "sip.conf:9: [foo] unknown key 'nat'",
      "sip.conf:10: [foo] key 'realm' belongs in [general]",
      "sip.conf:11: [foo] unknown key 'account' (did you mean 'accountcode'?)",
    ],
  );
});

t.test('bad exten values', async (t) => {
  t.same(
    errors(
      file(
        '[a]',
        'secret=x',
        'exten=10a1',
        '[b]',
        'secret=x',
        'exten=1001#',
        '[c]',
        'secret=x',
        'exten=1001(2',
        '[d]',
        'secret=x',
        'exten=1001(3-2)',
        '[e]',
        'secret=x',
        'exten=1001=abc',
        '[f]',
        'secret=x',
        'exten=+74951234567',
        '[g]',
        'secret=x',
        'exten=(0)',
      ),
    ),
    [
      "sip.conf:3: [a] exten '10a1': unexpected 'a' at position 3 (expected L#S(N)=F or L#S(N)~F, e.g. 4951234567#1001(2)~4957654321)",
      "sip.conf:6: [b] exten '1001#': '#' must be followed by the short number (expected L#S(N)=F or L#S(N)~F, e.g. 4951234567#1001(2)~4957654321)",
      "sip.conf:9: [c] exten '1001(2': unclosed '(' in the hunt list (expected L#S(N)=F or L#S(N)~F, e.g. 4951234567#1001(2)~4957654321)",
      "sip.conf:12: [d] exten '1001(3-2)': hunt list '(3-2)': range '3-2' is reversed (write 2-3)",
      "sip.conf:15: [e] exten '1001=abc': forward target 'abc' must be a phone number (digits, optionally a leading +)",
      "sip.conf:18: [f] exten '+74951234567': unexpected '+' at position 1 (long and short numbers are digits only) (expected L#S(N)=F or L#S(N)~F, e.g. 4951234567#1001(2)~4957654321)",
      "sip.conf:21: [g] exten '(0)': hunt list '(0)': positions start at 1",
    ],
  );
});

t.test('bad permit entries are named', async (t) => {
  t.same(errors(file('[foo]', 'secret=x', 'permit=10/8,192.168,10.0.0.300/8,office.example.com,10.0.0.0/33,fe80::zz')), [
    "sip.conf:3: [foo] permit: '192.168' is an incomplete address: give a prefix length (e.g. 192.168/16); " +
      "'10.0.0.300/8' is not an IPv4 address or network; " +
      "'office.example.com' is not an IPv4 address or network (permit takes IP addresses and networks, not host names); " +
      "'10.0.0.0/33': an IPv4 prefix length is at most 32; " +
      "'fe80::zz' is not an IPv6 address or network",
  ]);
});

t.test('bad host values', async (t) => {
  t.same(errors(file('[a]', 'host=pbx.example.com', '[b]', 'host=192.0.2.1:70000', '[c]', 'host=2001:db8::1]:5060', '[d]', 'host=[2001:db8::1]5060')), [
    "sip.conf:2: [a] host 'pbx.example.com': 'pbx.example.com' is not an IP address (sipd does not resolve host names: write the IP address)",
    "sip.conf:4: [b] host '192.0.2.1:70000': port '70000' is not a number from 1 to 65535",
    "sip.conf:6: [c] host '2001:db8::1]:5060': put an IPv6 address in brackets when giving a port ([2001:db8::1]:5060)",
    "sip.conf:8: [d] host '[2001:db8::1]5060' is not ip[:port] (an IPv6 address goes in brackets: [2001:db8::1]:5060)",
  ]);
});

t.test('bad callerid and accountcode', async (t) => {
  t.same(errors(file('[a]', 'secret=x', 'callerid=Office', 'accountcode=Sales Dept')), [
    "sip.conf:3: [a] callerid 'Office' must be a phone number (digits, optionally a leading +)",
    "sip.conf:4: [a] accountcode 'Sales Dept' contains a blank (the original sipd read only 'Sales')",
  ]);
});

t.test('dialplan syntax errors name line and column', async (t) => {
  const e = failure(file('[foo]', 'secret=x', 'dialplan = ^7495(\\d{7}', '[bar]', 'secret=x', 'dialplan=^(?=7)\\d+'));
  t.same(e.diagnostics.map(String), [
    "sip.conf:3:12: [foo] dialplan '^7495(\\d{7}' is not a valid RE2 expression: missing closing ) (column 12)",
    "sip.conf:6:11: [bar] dialplan '^(?=7)\\d+' is not a valid RE2 expression: invalid or unsupported Perl syntax '(?=' (RE2 has no lookahead, lookbehind or backreferences) (column 11)",
  ]);
  t.equal(e.diagnostics[0]!.column, 12);
  t.equal(e.diagnostics[0]!.code, 'SIPD_ERR_CONFIG_DIALPLAN');
});

t.test('unknown context', async (t) => {
  t.same(errors(file('[general]', 'defaultcontext=everything', '[foo]', 'secret=x', 'context=domestc', 'dialplan=.+', '[bar]', 'secret=x', 'context=from-internal')), [
    "sip.conf:2: [general] unknown context 'everything'; known: internal (em, trush), local, domestic (mobile), international",
    "sip.conf:5: [foo] unknown context 'domestc' (did you mean 'domestic'?); known: internal (em, trush), local, domestic (mobile), international",
    "sip.conf:9: [bar] unknown context 'from-internal'; known: internal (em, trush), local, domestic (mobile), international",
  ]);
});

t.test('gateway without host names both lines', async (t) => {
  t.same(errors(file(...ok, '', '[GW]', '; trunk', 'accountcode=gateways', 'exten=9')), [
    'sip.conf:4: [GW] gateway without host (accountcode=gateways at line 6 makes it a gateway; add host=ip[:port])',
  ]);
});

t.test('the same long number twice names both lines', async (t) => {
  t.same(errors(file('[a]', 'secret=x', 'exten=4951112233', '[b]', 'secret=y', 'accountcode=OTHER', 'exten=4951112233#22')), [
    "sip.conf:7: [b] long number 4951112233 is also [a]'s (line 3)",
  ]);
});

t.test('the same short number twice in a group names both lines', async (t) => {
  t.same(
    errors(
      file('[a]', 'accountcode=G', 'secret=x', 'exten=#101', '[b]', 'accountcode=G', 'secret=x', 'exten=101', '[c]', 'accountcode=H', 'secret=x', 'exten=#101'),
    ),
    [
      "sip.conf:8: [b] short number 101 is also [a]'s in group 'G' (line 4) (a long number of 4 digits or fewer acts as a short number)",
    ],
    'the same short number in another group is fine',
  );
  t.same(errors(file('[a]', 'secret=x', 'exten=#7', '[b]', 'secret=x', 'exten=#7')), [
    "sip.conf:6: [b] short number 7 is also [a]'s in the clients without accountcode (line 3)",
  ]);
});

t.test('a hunt position that does not exist names both lines', async (t) => {
  t.same(errors(file('[a]', 'accountcode=G', 'secret=x', 'exten=#1(2,3)', '[b]', 'accountcode=G', 'secret=x')), [
    "sip.conf:4: [a] hunt position 3 does not exist: group 'G' has 2 members (ordered by name, the last is [b] at line 5)",
  ]);
});

t.test('bad [general] values', async (t) => {
  t.same(
    errors(
      file(
        '[general]',
        'realm=my pbx',
        'trunkprefix=x',
        'internationalprefix=+',
        'minexpires=0',
        'maxexpires=ten',
        'digestalgorithms=MD5,SHA256,SHA1',
        'noncelifetime=5',
        'ringtimeout=-1',
      ),
    ),
    [
      "sip.conf:2: [general] realm 'my pbx' must be printable ASCII without blanks, quotes or backslashes",
      "sip.conf:3: [general] trunkprefix 'x' must be 1 to 3 digits, or none",
      "sip.conf:4: [general] internationalprefix '+' must be 1 to 4 digits (dialled after the trunk prefix)",
      'sip.conf:5: [general] minexpires: 0 s is out of range (1 to 604800 s)',
      "sip.conf:6: [general] maxexpires: 'ten' is not a whole number",
      "sip.conf:7: [general] unknown digest algorithm 'SHA256' (did you mean 'SHA-256'?); known: MD5, SHA-256, SHA-512-256",
      "sip.conf:7: [general] unknown digest algorithm 'SHA1'; known: MD5, SHA-256, SHA-512-256",
      'sip.conf:8: [general] noncelifetime: 5 s is out of range (10 to 86400 s)',
      "sip.conf:9: [general] ringtimeout: '-1' is not a whole number",
    ],
  );
  t.same(errors(file('[general]', 'minexpires=600', 'maxexpires=300')), [
    'sip.conf:3: [general] minexpires 600 s is greater than maxexpires 300 s',
  ]);
  t.same(errors(file('[general]', 'defaultexpires=30')), [
    'sip.conf:2: [general] defaultexpires 30 s is outside minexpires..maxexpires (60..3600 s)',
  ]);
});

t.test('numbering options', async (t) => {
  t.same(errors(file(...ok), { countryCode: '+7', cityCode: '4 95' }), [
    "sip.conf: country code -c '+7' must be 1 to 3 digits (e.g. 7, 44)",
    "sip.conf: city code -cc '4 95' must be 1 to 5 digits (e.g. 495, 20)",
  ]);
  t.same(errors(file('[general]', 'nationallength=4', ...ok), { countryCode: '7', cityCode: '4951' }), [
    "sip.conf:2: [general] city code -cc '4951' leaves no digits for local numbers: national numbers have 4 digits",
  ]);
  t.equal(loadConfig(file(...ok), 'sip.conf', { countryCode: '7', cityCode: '12345' }).config.general.numbering.subscriberLength, 5);
});

t.test('readConfigFile: unreadable and non-UTF-8 files', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sipd-config-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missing = path.join(dir, 'nope.conf');
  t.throws(() => readConfigFile(missing, opts), {
    name: 'ConfigLoadError',
    message: `${missing}: cannot read the file: no such file`,
  });
  const latin1 = path.join(dir, 'latin1.conf');
  writeFileSync(latin1, Buffer.concat([Buffer.from('[foo]\nsecret=x\ncallerid=caf'), Buffer.from([0xe9]), Buffer.from('\n')]));
  t.throws(() => readConfigFile(latin1, opts), { message: `${latin1}:3: the file is not UTF-8 text (save it as UTF-8)` });
  const good = path.join(dir, 'sip.conf');
  writeFileSync(good, file(...ok));
  t.equal(readConfigFile(good, opts).config.clients.size, 1);
});

t.test('a file with five errors reports five, sorted by line', async (t) => {
  const e = failure(
    file(
      '[alice]',
      'secret=a',
      'exten=4951230001#101',
      'permitt=10/8', // 4: unknown key
      '',
      '[bob]',
      'secret=b',
      'exten=4951230001#102', // 8: duplicate long number
      'host=pbx.example.com', // 9: bad host
      '',
      '[GW]',
      'accountcode=gateways', // GW (11): no host
      'dialplan=(', // 13: bad regex
    ),
  );
  t.equal(e.diagnostics.length, 5);
  t.same(
    e.diagnostics.map((d) => [d.line, d.code]),
    [
      [4, 'SIPD_ERR_CONFIG_UNKNOWN_KEY'],
      [8, 'SIPD_ERR_CONFIG_DUPLICATE_NUMBER'],
      [9, 'SIPD_ERR_CONFIG_VALUE'],
      [11, 'SIPD_ERR_CONFIG_MISSING_HOST'],
      [13, 'SIPD_ERR_CONFIG_DIALPLAN'],
    ],
  );
  t.equal(e.message.split('\n').length, 5);
  t.same(e.warnings.map(String), ['sip.conf:11: warning: [GW] gateway has no exten: the original sipd never sent calls to such a gateway; sipd sends it the normalised number without a prefix']);
});

t.test('warnings are not fatal', async (t) => {
  t.same(
    warnings(
      file(
        '[ghost]',
        'accountcode=HOME',
        'exten=#100',
        '[old]',
        'accountcode=HOME',
        'secret=x',
        'acl=10/8',
        'exten=#101(1,2,1)',
        'dialplan=.+',
        'context=local',
        'callerid=',
      ),
    ),
    [
      'sip.conf:1: warning: [ghost] can never be reached: it has neither secret (to register) nor host (a static address)',
      "sip.conf:7: warning: [old] key 'acl' is read as 'permit' (the original sipd read acl; its README documented permit)",
      "sip.conf:8: warning: [old] hunt position 1 is listed twice in '(1,2,1)'",
      'sip.conf:8: warning: [old] hunt position 2 is [old] itself and is skipped',
      "sip.conf:10: warning: [old] context 'local' is ignored: dialplan (line 9) takes precedence",
      "sip.conf:11: warning: [old] key 'callerid' has no value and is ignored",
    ],
  );
});

t.test('more warnings', async (t) => {
  const w = warnings(
    file(
      '[foo]',
      'secret=two words',
      'accountcode=Gateways',
      'callerid="Office" <4951234567>',
      'permit=10/8,,10.0.0.0/8',
      'exten=#1(1)',
      '[Foo]',
      'host=192.0.2.1',
      '[bar]',
      'host=192.0.2.1:5060',
      'accountcode=agigates',
      '[media]',
      'accountcode=mediagates',
      'host=192.0.2.9',
      'exten=1',
      'context=local',
      '[gw]',
      'accountcode=gateways',
      'host=192.0.2.10',
      'exten=5',
      'callerid=1',
    ),
  );
  t.same(w, [
    "sip.conf:2: warning: [foo] secret contains a blank; sipd uses all of it, the original sipd used only 'two'",
    "sip.conf:3: warning: [foo] accountcode 'Gateways' is an ordinary group; did you mean 'gateways'? (the special values are lower case)",
    `sip.conf:4: warning: [foo] callerid '"Office" <4951234567>' is read as '4951234567' (the number in it)`,
    "sip.conf:5: warning: [foo] empty entry in permit list '10/8,,10.0.0.0/8' ignored",
    'sip.conf:5: warning: [foo] network 10.0.0.0/8 is listed twice',
    'sip.conf:6: warning: [foo] hunt position 1 is [foo] itself and is skipped',
    'sip.conf:7: warning: [Foo] section name differs only in case from [foo] (line 1); phones may confuse them',
    "sip.conf:10: warning: [bar] host 192.0.2.1:5060 is also [Foo]'s (line 8); requests from it are taken as [Foo]'s",
    "sip.conf:11: warning: [bar] accountcode 'agigates' (the original's undocumented AGI servers) is not supported; the section is an ordinary group",
    "sip.conf:15: warning: [media] key 'exten' means nothing on a media gateway and is ignored",
    "sip.conf:16: warning: [media] key 'context' means nothing on a media gateway and is ignored",
    "sip.conf:21: warning: [gw] key 'callerid' means nothing on a gateway and is ignored",
  ]);
});

t.test('names of Object.prototype members are ordinary text', async (t) => {
  t.same(errors(file('[a]', 'secret=x', 'constructor=1', 'toString=2')), [
    "sip.conf:3: [a] unknown key 'constructor'",
    "sip.conf:4: [a] unknown key 'toString'",
  ]);
  const r = loadConfig(file('[constructor]', 'accountcode=constructor', 'secret=x', 'context=local', '[__proto__]', 'accountcode=__proto__', 'secret=y'), 'sip.conf', opts);
  t.equal(r.config.clients.get('constructor')!.kind, 'client');
  t.same(r.config.groups.get('__proto__'), ['__proto__']);
  t.same(r.warnings, []);
});
