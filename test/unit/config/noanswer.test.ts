// [general] noanswer (issue 6): seconds before a call counts as not answered
// (~F, hunting), default 20, 0–3600; ringtimeout is its former name, still
// accepted; both in one file are an error naming both lines.
import t from 'tap';
import { loadConfig, type NumberingOptions } from '../../../lib/config/load.js';
import { ConfigLoadError } from '../../../lib/config/errors.js';
import { diffConfigs } from '../../../lib/config/diff.js';
import { formatSummary } from '../../../lib/config/summary.js';

const MOSCOW: NumberingOptions = { countryCode: '7', cityCode: '495' };
const load = (...lines: string[]) => loadConfig([...lines, '[alice]', 'secret=a'].join('\n'), 'sip.conf', MOSCOW);
function errors(...lines: string[]): string[] {
  try {
    load(...lines);
  } catch (err) {
    if (err instanceof ConfigLoadError) return err.diagnostics.map(String);
    throw err;
  }
  return [];
}

t.test('default 20 s; noanswer and ringtimeout set the same value', async (t) => {
  t.equal(load().config.general.noAnswer, 20);
  t.equal(load('[general]').config.general.noAnswer, 20);
  const a = load('[general]', 'noanswer=15').config.general;
  t.equal(a.noAnswer, 15);
  t.equal(a.ringTimeout, 15, 'the deprecated field mirrors it');
  const b = load('[general]', 'ringtimeout=45').config.general;
  t.equal(b.noAnswer, 45, 'the former name still works');
  t.same(load('[general]', 'ringtimeout=45').warnings, [], 'without a warning');
  t.equal(load('[general]', 'NoAnswer=0').config.general.noAnswer, 0, 'keys are case-insensitive; 0 = never');
  t.equal(load('[general]', 'noanswer=3600').config.general.noAnswer, 3600);
});

t.test('bad values and both names', async (t) => {
  t.same(errors('[general]', 'noanswer=3601'), ['sip.conf:2: [general] noanswer: 3601 s is out of range (0 to 3600 s)']);
  t.same(errors('[general]', 'noanswer=ten'), ["sip.conf:2: [general] noanswer: 'ten' is not a whole number"]);
  t.same(errors('[general]', 'ringtimeout=-1'), ["sip.conf:2: [general] ringtimeout: '-1' is not a whole number"]);
  t.same(errors('[general]', 'noanswer=20', 'realm=pbx', 'ringtimeout=30'), [
    'sip.conf:4: [general] ringtimeout (line 4) and noanswer (line 2) are the same setting (ringtimeout is the former name of noanswer); keep only noanswer',
  ]);
  t.same(errors('[general]', 'RingTimeout=30', 'noanswer=20'), [
    'sip.conf:3: [general] noanswer (line 3) and RingTimeout (line 2) are the same setting (ringtimeout is the former name of noanswer); keep only noanswer',
  ]);
});

t.test('diff names noanswer whichever spelling changed it; the summary shows it', async (t) => {
  const a = load('[general]', 'ringtimeout=30').config;
  t.same(diffConfigs(a, load('[general]', 'noanswer=30').config).general, [], 'same value under the new name: no change');
  t.same(diffConfigs(a, load().config).general, ['noanswer']);
  t.match(formatSummary(load('[general]', 'noanswer=25').config), /\n {2}no answer after: {6}25 s\n/);
  t.match(formatSummary(load().config), /\n {2}no answer after: {6}20 s \(default\)\n/);
});
