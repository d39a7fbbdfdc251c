// Feature codes and run-time forwards (lib/pbx/features.ts, issue 6 items 3–5):
// the parse table (and that it never throws), forward targets under the
// client's own dialplan, ForwardState overrides of sip.conf and its
// write-through to a real SQLite file, and the outcome of every code with and
// without a media gateway.
import path from 'node:path';
import fc from 'fast-check';
import t from 'tap';
import { loadConfig, type NumberingOptions } from '../../../lib/config/load.js';
import type { Client, Config } from '../../../lib/config/types.js';
import {
  FEATURE_STATUS,
  ForwardState,
  checkForwardTarget,
  featureOutcome,
  parseFeatureCode,
  type FeatureOutcome,
} from '../../../lib/pbx/features.js';
import { openStore } from '../../../lib/store/sqlite.js';
import type { FeatureStore, StoredForward } from '../../../lib/store/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';

const MOSCOW: NumberingOptions = { countryCode: '7', cityCode: '495' };
const AT = Date.UTC(2024, 4, 1, 6);

const OFFICE = [
  '[alice]',
  'accountcode=office',
  'secret=a',
  'exten=4955550101#101',
  '[bob]',
  'accountcode=office',
  'secret=b',
  'exten=4955550102#102~103',
  '[carol]',
  'accountcode=office',
  'secret=c',
  'exten=103=84991234567',
  '[dave]',
  'accountcode=office',
  'secret=d',
  'context=internal',
  'exten=104',
  '[erin]',
  'accountcode=sales',
  'secret=e',
  'exten=201',
  '[gw1]',
  'accountcode=gateways',
  'host=192.0.2.200',
  'exten=9995999',
];
const MEDIA = ['[media]', 'accountcode=mediagates', 'host=192.0.2.100:5070'];

function conf(lines: string[]): Config {
  return loadConfig(lines.join('\n'), 'sip.conf', MOSCOW).config;
}
const office = conf(OFFICE);
const officeWithMedia = conf([...OFFICE, ...MEDIA]);
const noGateway = conf(OFFICE.slice(0, OFFICE.indexOf('[gw1]')));

function get(cfg: Config, name: string): Client {
  const c = cfg.clients.get(name);
  if (!c) throw new Error(`no section ${name}`);
  return c;
}

t.test('parseFeatureCode: every code of the original, and the prefix rule for the rest', async (t) => {
  const rows: [string, unknown][] = [
    ['*72', { kind: 'check-forward', code: '*72' }],
    ['*71', { kind: 'check-forward', code: '*71' }],
    ['*73', { kind: 'cancel-forward', code: '*73' }],
    ['*11', { kind: 'pickup', code: '*11' }],
    ['*55', { kind: 'music', code: '*55' }],
    ['*724991234567', { kind: 'set-forward', code: '*724991234567', forward: 'always', target: '4991234567' }],
    ['*7284991234567', { kind: 'set-forward', code: '*7284991234567', forward: 'always', target: '84991234567' }],
    ['*714991234567', { kind: 'set-forward', code: '*714991234567', forward: 'unavailable', target: '4991234567' }],
    ['*72102', { kind: 'set-forward', code: '*72102', forward: 'always', target: '102' }],
    ['*71+441234567890', { kind: 'set-forward', code: '*71+441234567890', forward: 'unavailable', target: '+441234567890' }],
    ['*72bob', { kind: 'invalid', code: '*72bob', wrongForward: true }],
    ['*72+', { kind: 'invalid', code: '*72+', wrongForward: true }],
    ['*72' + '1'.repeat(33), { kind: 'invalid', code: '*72' + '1'.repeat(33), wrongForward: true }],
    ['*72' + '1'.repeat(32), { kind: 'set-forward', code: '*72' + '1'.repeat(32), forward: 'always', target: '1'.repeat(32) }],
    ['*731', { kind: 'invalid', code: '*731', wrongForward: true }],
    ['*74', { kind: 'invalid', code: '*74', wrongForward: true }],
    ['*7', { kind: 'invalid', code: '*7', wrongForward: true }],
    ['*1', { kind: 'invalid', code: '*1', wrongForward: true }],
    ['*12', { kind: 'invalid', code: '*12', wrongForward: true }],
    ['*110', { kind: 'invalid', code: '*110', wrongForward: true }],
    ['*00', { kind: 'invalid', code: '*00', wrongForward: false }],
    ['*99', { kind: 'invalid', code: '*99', wrongForward: false }],
    ['*', { kind: 'invalid', code: '*', wrongForward: false }],
    ['**72', { kind: 'invalid', code: '**72', wrongForward: false }],
    ['72', { kind: 'invalid', code: '72', wrongForward: false }],
    ['', { kind: 'invalid', code: '', wrongForward: false }],
  ];
  for (const [dialled, expected] of rows) t.same(parseFeatureCode(dialled), expected, JSON.stringify(dialled));
});

t.test('parseFeatureCode never throws and always returns a request for the dialled text', async () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string().map((s) => `*${s}`), fc.stringMatching(/^\*7[12]\+?\d{0,40}$/)), (s) => {
      const r = parseFeatureCode(s);
      if (r.code !== s) return false;
      if (r.kind === 'set-forward') return /^\+?\d+$/.test(r.target) && `*7${r.forward === 'always' ? 2 : 1}${r.target}` === s;
      return true;
    }),
    { numRuns: 2000 },
  );
});

t.test('checkForwardTarget: anything the client could dial itself, never itself', async (t) => {
  const alice = get(office, 'alice');
  const why = (cfg: Config, c: Client, target: string) => {
    const r = checkForwardTarget(cfg, c, target);
    return r.ok ? `ok ${r.route.kind === 'client' ? r.route.client.name : `external ${r.route.number}`}` : r.why;
  };
  t.equal(why(office, alice, '102'), 'ok bob', 'a short number of the group');
  t.equal(why(office, alice, '4955550102'), 'ok bob', 'a long number');
  t.equal(why(office, alice, '84991234567'), 'ok external 74991234567', 'a national number through a gateway');
  t.equal(why(office, alice, '101'), 'cannot forward to yourself');
  t.equal(why(office, alice, '84955550101'), 'cannot forward to yourself', 'its own long number in another form');
  t.equal(why(office, alice, '201'), 'ok external 201', 'another group\'s short number is no client of alice: a service number');
  t.equal(why(office, alice, '81044123456789'), 'dialplan of [alice] does not allow 81044123456789', 'domestic context: no international');
  t.equal(why(office, get(office, 'dave'), '84991234567'), 'dialplan of [dave] does not allow 84991234567', 'internal context');
  t.equal(why(office, get(office, 'dave'), '101'), 'ok alice', 'internal context: the office still reachable');
  t.equal(why(noGateway, alice, '84991234567'), 'no gateway is configured for 84991234567');
  t.equal(why(office, alice, 'bob'), 'bob is not a number', 'names are not targets (like sip.conf =F)');
  t.equal(why(office, alice, '1'.repeat(20)), '11111111111111111111 has more than 15 digits');
});

t.test('ForwardState: run-time rows override sip.conf per kind; the last command defines the forward', async (t) => {
  const s = new ForwardState();
  const alice = get(office, 'alice');
  const bob = get(office, 'bob'); // exten ~103
  const carol = get(office, 'carol'); // exten =84991234567
  const line = (c: Client) => c.keyLines.exten!;

  t.same(s.get(alice), {});
  t.equal(s.effective(alice), undefined);
  t.same(s.get(bob), { unavailable: '103' });
  t.same(s.effective(bob), { kind: 'unavailable', target: '103', source: 'sip.conf', line: line(bob) });
  t.same(s.effective(carol), { kind: 'always', target: '84991234567', source: 'sip.conf', line: line(carol) });
  t.same(s.get(get(office, 'gw1')), {}, 'gateways have none');
  t.equal(s.effective(get(office, 'gw1')), undefined);

  s.set('alice', 'always', '102', AT);
  t.same(s.get(alice), { always: '102' });
  t.same(s.effective(alice), { kind: 'always', target: '102', source: 'feature', updatedAt: AT });

  s.set('bob', 'always', '101', AT);
  t.same(s.get(bob), { always: '101' }, '*72 on bob: the sip.conf ~103 is hidden (unavailable = none)');
  s.set('bob', 'unavailable', '104', AT + 1);
  t.same(s.get(bob), { unavailable: '104' }, '*71 replaces the *72, as the original');
  t.same(s.effective(bob), { kind: 'unavailable', target: '104', source: 'feature', updatedAt: AT + 1 });

  s.clear('carol', AT + 2);
  t.same(s.get(carol), {}, '*73 cancels the sip.conf forward too');
  t.equal(s.effective(carol), undefined);
  t.same(s.runtime('carol'), {
    always: { client: 'carol', kind: 'always', target: '', updatedAt: AT + 2 },
    unavailable: { client: 'carol', kind: 'unavailable', target: '', updatedAt: AT + 2 },
  }, 'stored as explicit none of both kinds');

  s.reset('carol');
  t.same(s.effective(carol), { kind: 'always', target: '84991234567', source: 'sip.conf', line: line(carol) }, 'reset: sip.conf again');
  t.same(s.clients(), ['alice', 'bob']);

  t.throws(() => s.set('alice', 'always', '', AT), RangeError);

  // A single partial row (not written by feature codes, but legal in the table): per kind.
  const partial = ForwardState.fromRows([{ client: 'carol', kind: 'unavailable', target: '101', updatedAt: AT }]);
  t.same(partial.get(carol), { always: '84991234567', unavailable: '101' });
  t.equal(partial.effective(carol)!.source, 'sip.conf', 'always wins over when-unavailable');
  const hidden = ForwardState.fromRows([{ client: 'carol', kind: 'always', target: '', updatedAt: AT }]);
  t.equal(hidden.effective(carol), undefined);
});

t.test('ForwardState writes through to SQLite and loads it back; a failed write changes nothing', async (t) => {
  const dir = t.testdir();
  const file = path.join(dir, 'sipd.sqlite3');
  const store = openStore(file, { clock: new FakeClock() });
  const s = new ForwardState(store);
  s.set('alice', 'always', '84991234567', AT);
  s.clear('carol', AT + 1);
  s.set('bob', 'unavailable', '101', AT + 2);
  s.reset('bob');
  // No close: a "restart" reads what is committed.
  const again = new ForwardState(openStore(file, { clock: new FakeClock() }));
  t.same(again.get(get(office, 'alice')), { always: '84991234567' });
  t.same(again.get(get(office, 'carol')), {});
  t.same(again.get(get(office, 'bob')), { unavailable: '103' }, 'reset bob: sip.conf');
  t.same(again.clients(), ['alice', 'carol']);
  store.close();

  const rows: StoredForward[] = [];
  let failOn = -1;
  let writes = 0;
  const flaky: FeatureStore = {
    loadForwards: () => [...rows],
    setForward: (f) => {
      if (writes++ === failOn) throw new Error('disk full');
      const i = rows.findIndex((r) => r.client === f.client && r.kind === f.kind);
      if (i >= 0) rows[i] = f;
      else rows.push(f);
    },
    clearForward: (client, kind) => {
      for (let i = rows.length - 1; i >= 0; i--) if (rows[i]!.client === client && (kind === undefined || rows[i]!.kind === kind)) rows.splice(i, 1);
    },
  };
  const f = new ForwardState(flaky);
  f.set('alice', 'always', '102', AT);
  failOn = writes + 1; // the second row of the next command
  t.throws(() => f.set('alice', 'unavailable', '104', AT + 1), /disk full/);
  t.same(f.get(get(office, 'alice')), { always: '102' }, 'memory unchanged');
  t.same(new ForwardState(flaky).get(get(office, 'alice')), { always: '102' }, 'disk rolled back to match');
  failOn = writes;
  t.throws(() => f.clear('alice', AT + 2), /disk full/);
  t.same(f.get(get(office, 'alice')), { always: '102' });
});

/** An outcome as one comparable line: `result change | media USER | STATUS reason`. */
function line(o: FeatureOutcome): string {
  const change = o.change === undefined ? '-' : o.change.op === 'cancel' ? 'cancel' : `set ${o.change.kind} ${o.change.target}`;
  return `${o.result} ${change} | media ${o.mediaUser} | ${o.status} ${o.reason}`;
}

t.test('featureOutcome: every code, the media-gateway user and the response', async (t) => {
  const forwards = new ForwardState();
  forwards.set('dave', 'unavailable', '101', AT);
  const ctx = (name: string) => ({ cfg: office, client: get(office, name), forwards });
  const rows: [string, string, string][] = [
    ['alice', '*724991234567', 'forward-set set always 4991234567 | media *724991234567 | 480 Forward set to 4991234567'],
    ['alice', '*7284991234567', 'forward-set set always 84991234567 | media *7284991234567 | 480 Forward set to 84991234567'],
    ['alice', '*71102', 'forward-set set unavailable 102 | media *71102 | 480 Forward if unavailable set to 102'],
    ['alice', '*72101', 'wrong-forward - | media *70 | 403 Wrong forwarding command (cannot forward to yourself)'],
    ['alice', '*7281044123456789', 'wrong-forward - | media *70 | 403 Wrong forwarding command (dialplan of [alice] does not allow 81044123456789)'],
    ['alice', '*72', 'no-forward - | media *73 | 480 No forward'],
    ['alice', '*71', 'no-forward - | media *73 | 480 No forward'],
    ['bob', '*72', 'forward-current - | media *71103 | 480 Forward if unavailable to 103'],
    ['carol', '*71', 'forward-current - | media *7284991234567 | 480 Forward to 84991234567'],
    ['dave', '*72', 'forward-current - | media *71101 | 480 Forward if unavailable to 101'],
    ['alice', '*73', 'forward-cancelled cancel | media *73 | 480 No forward'],
    ['carol', '*73', 'forward-cancelled cancel | media *73 | 480 Forward cancelled'],
    ['alice', '*74', 'wrong-forward - | media *70 | 403 Wrong forwarding command (*74)'],
    ['alice', '*72bob', 'wrong-forward - | media *70 | 403 Wrong forwarding command (*72bob)'],
    ['alice', '*12', 'wrong-forward - | media *70 | 403 Wrong forwarding command (*12)'],
    ['alice', '*11', 'nothing-to-pick-up - | media *00 | 404 No call to pick up'],
    ['alice', '*99', 'invalid - | media *00 | 404 Invalid feature code *99'],
    ['alice', '*55', 'invalid - | media *00 | 404 Invalid feature code *55 (no media gateway)'],
  ];
  for (const [who, dialled, expected] of rows) {
    const o = featureOutcome(ctx(who), parseFeatureCode(dialled));
    t.equal(line(o), expected, `${who} dials ${dialled}`);
    t.same(o.announce, { via: 'response', status: o.status, reason: o.reason }, 'no media gateway: the response');
    t.notOk(o.status >= 200 && o.status < 300, 'never 2xx');
    t.match(o.reason, /^[\x20-\x7e]+$/, 'printable reason phrase');
  }
  t.same(Object.values(FEATURE_STATUS), [480, 403, 404]);
});

t.test('featureOutcome with a media gateway: the INVITE goes to it with the outcome as user', async (t) => {
  const forwards = new ForwardState();
  const media = get(officeWithMedia, 'media');
  const ctx = (name: string) => ({ cfg: officeWithMedia, client: get(officeWithMedia, name), forwards });
  const rows: [string, string, string][] = [
    ['alice', '*724991234567', '*724991234567'],
    ['alice', '*714991234567', '*714991234567'],
    ['alice', '*72', '*73'],
    ['bob', '*72', '*71103'],
    ['carol', '*71', '*7284991234567'],
    ['alice', '*73', '*73'],
    ['alice', '*72101', '*70'],
    ['alice', '*79', '*70'],
    ['alice', '*11', '*00'],
    ['alice', '*42', '*00'],
    ['alice', '*55', '*55'],
  ];
  for (const [who, dialled, user] of rows) {
    const o = featureOutcome(ctx(who), parseFeatureCode(dialled));
    t.same(o.announce, { via: 'mediagate', gateway: media, user }, `${who} dials ${dialled}`);
    t.equal(o.mediaUser, user);
  }
  t.equal(featureOutcome(ctx('alice'), parseFeatureCode('*55')).result, 'music');
});

t.test('featureOutcome is pure; applying its change gives what the next check announces', async (t) => {
  const forwards = new ForwardState();
  const alice = get(office, 'alice');
  const ctx = { cfg: office, client: alice, forwards };
  const set = featureOutcome(ctx, parseFeatureCode('*72102'));
  t.same(forwards.get(alice), {}, 'nothing changed yet');
  forwards.apply('alice', set.change!, AT);
  t.equal(featureOutcome(ctx, parseFeatureCode('*71')).mediaUser, '*72102');
  t.match(featureOutcome(ctx, parseFeatureCode('*72')).summary, /forward to 102/);
  const cancel = featureOutcome(ctx, parseFeatureCode('*73'));
  t.equal(cancel.reason, 'Forward cancelled');
  forwards.apply('alice', cancel.change!, AT + 1);
  t.equal(featureOutcome(ctx, parseFeatureCode('*72')).mediaUser, '*73');
  t.equal(featureOutcome(ctx, parseFeatureCode('*73')).reason, 'No forward');
});

t.test('featureOutcome never throws on any dialled text', async () => {
  const forwards = new ForwardState();
  const ctx = { cfg: office, client: get(office, 'alice'), forwards };
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.string().map((s) => `*7${s}`), fc.stringMatching(/^\*7[12]\+?\d{0,40}$/)), (s) => {
      const o = featureOutcome(ctx, parseFeatureCode(s));
      return o.status >= 400 && /^[\x20-\x7e]*$/.test(o.reason) && o.mediaUser.startsWith('*');
    }),
    { numRuns: 1000 },
  );
});
