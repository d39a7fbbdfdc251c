// Call routing (lib/pbx/numbers.ts): who reaches whom by name, long and short
// number, external numbers through gateways, normalisation, rejects and their
// reason phrases, peers by address. Tables over the original sample sip.conf
// and small configs of our own.
import fc from 'fast-check';
import t from 'tap';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { loadConfig, type NumberingOptions } from '../../../lib/config/load.js';
import type { Client, Config } from '../../../lib/config/types.js';
import {
  callerIdOf,
  normalizeNumber,
  peerByAddress,
  routeCall,
  type CallRoute,
  type Caller,
} from '../../../lib/pbx/numbers.js';

const MOSCOW: NumberingOptions = { countryCode: '7', cityCode: '495' };
const fixture = fileURLToPath(new URL('../../fixtures/config/original-sip.conf', import.meta.url));
const original = loadConfig(readFileSync(fixture, 'utf8'), 'sip.conf', MOSCOW).config;

function conf(lines: string[], opts: NumberingOptions = MOSCOW): Config {
  return loadConfig(lines.join('\n'), 'sip.conf', opts).config;
}
function get(cfg: Config, name: string): Client {
  const c = cfg.clients.get(name);
  if (!c) throw new Error(`no section ${name}`);
  return c;
}
const from = (cfg: Config, name: string): Caller => {
  const c = get(cfg, name);
  return c.kind === 'gateway' ? { kind: 'gateway', gateway: c } : { kind: 'client', client: c };
};

/** A route in a comparable shape: `client:NAME/by`, `external:NUMBER -> GW=user,…`, `feature:CODE`, `STATUS reason`. */
function describe(r: CallRoute): string {
  switch (r.kind) {
    case 'client':
      return `client:${r.client.name}/${r.by}`;
    case 'external':
      return `external:${r.number} -> ${r.attempts.map((a) => `${a.gateway.name}=${a.user}`).join(',')}`;
    case 'feature':
      return `feature:${r.code}`;
    case 'reject':
      return `${r.status} ${r.reason}`;
  }
}

type Row = [caller: string, dialled: string, expected: string];
function table(t: Tap, cfg: Config, rows: Row[]): void {
  for (const [caller, dialled, expected] of rows) {
    t.equal(describe(routeCall(cfg, from(cfg, caller), dialled)), expected, `${caller} dials ${dialled || "''"}`);
  }
}
type Tap = Parameters<Parameters<typeof t.test>[0]>[0];

t.test('original sample: clients by name, long and short number', async (t) => {
  table(t, original, [
    // short numbers inside the group (a 4-digit exten=L is a short number)
    ['foo', '1002', 'client:bar/short'],
    ['bar', '1001', 'client:foo/short'],
    ['foo', '1001', 'client:foo/short'],
    ['siphone1', '1002', 'client:siphone2/short'],
    ['siphone2', '1001', 'client:siphone1/short'],
    // long numbers from anywhere, exactly and in any normalised form
    ['foo', '4999876543', 'client:siphone2/long'],
    ['foo', '84999876543', 'client:siphone2/long'],
    ['foo', '74999876543', 'client:siphone2/long'],
    ['foo', '+74999876543', 'client:siphone2/long'],
    ['bar', '4999876543', 'client:siphone2/long'],
    // section names; gateways and media gateways are not callable by name
    ['foo', 'bar', 'client:bar/name'],
    ['foo', 'siphone2', 'client:siphone2/name'],
    ['siphone2', 'foo', 'client:foo/name'],
    ['foo', 'GATE1', '404 Not Found (GATE1 is neither a client nor a phone number)'],
    ['foo', 'MEDIAGATE', '404 Not Found (MEDIAGATE is neither a client nor a phone number)'],
    ['foo', 'nobody', '404 Not Found (nobody is neither a client nor a phone number)'],
  ]);
});

t.test('original sample: external numbers, dialplans, gateways in file order, exten=9', async (t) => {
  table(t, original, [
    // foo: context=domestic; GATE1 prefix 9995999, GATE2 exten=9 (number as dialled)
    ['foo', '84951234567', 'external:74951234567 -> GATE1=999599974951234567,GATE2=984951234567'],
    ['foo', '1234567', 'external:74951234567 -> GATE1=999599974951234567,GATE2=91234567'],
    ['foo', '89161234567', 'external:79161234567 -> GATE1=999599979161234567,GATE2=989161234567'],
    ['foo', '+79161234567', 'external:79161234567 -> GATE1=999599979161234567,GATE2=9+79161234567'],
    ['foo', '112', 'external:112 -> GATE1=9995999112,GATE2=9112'],
    ['foo', '81044123456789', '403 Forbidden (dialplan of [foo] does not allow 81044123456789)'],
    ['foo', '+44123456789', '403 Forbidden (dialplan of [foo] does not allow +44123456789)'],
    // bar: context=international
    ['bar', '81044123456789', 'external:44123456789 -> GATE1=999599944123456789,GATE2=981044123456789'],
    ['bar', '+44123456789', 'external:44123456789 -> GATE1=999599944123456789,GATE2=9+44123456789'],
    // a short number of another group is not reachable: it is a service number for the gateways
    ['foo', '1003', 'external:1003 -> GATE1=99959991003,GATE2=91003'],
  ]);
});

t.test('caller ID of the external route', async (t) => {
  const r1 = routeCall(original, from(original, 'siphone2'), '89161234567');
  t.equal(r1.kind === 'external' && r1.callerId, '4999876543', 'the long number');
  const r2 = routeCall(original, from(original, 'foo'), '89161234567');
  t.ok(r2.kind === 'external' && r2.callerId === undefined, 'no callerid, no long number: undefined');
  const cfg = conf(['[a]', 'secret=x', 'exten=4951112233', 'callerid=4950000000', '[gw]', 'accountcode=gateways', 'host=192.0.2.1', 'exten=5']);
  const r3 = routeCall(cfg, from(cfg, 'a'), '89161234567');
  t.equal(r3.kind === 'external' && r3.callerId, '4950000000', 'callerid wins');
  t.equal(r3.kind === 'external' && r3.dialled, '89161234567');
  t.equal(callerIdOf(get(cfg, 'a')), '4950000000');
  t.equal(callerIdOf(get(original, 'siphone2')), '4999876543');
  t.equal(callerIdOf(get(original, 'foo')), undefined, 'a 4-digit L is a short number, not a caller ID');
  t.equal(callerIdOf(get(original, 'GATE1')), undefined);
});

t.test('calls from a gateway: DID only, never transit', async (t) => {
  table(t, original, [
    ['GATE1', '4999876543', 'client:siphone2/long'],
    ['GATE1', '74999876543', 'client:siphone2/long'],
    ['GATE2', '+74999876543', 'client:siphone2/long'],
    ['GATE2', '84999876543', 'client:siphone2/long'],
    ['GATE1', '1001', '404 Not Found (no client has number 1001)'],
    ['GATE1', 'foo', '404 Not Found (no client has number foo)'],
    ['GATE1', 'GATE2', '404 Not Found (no client has number GATE2)'],
    ['GATE1', '89161234567', '404 Not Found (no client has number 89161234567)'],
    ['GATE1', '81044123456789', '404 Not Found (no client has number 81044123456789)'],
    ['GATE1', '*72', '403 Forbidden (gateway [GATE1] cannot use feature codes)'],
    ['GATE1', '', '484 Address Incomplete (no number)'],
  ]);
  // a gateway handed over as a client caller is still a gateway
  const g = get(original, 'GATE1');
  t.equal(describe(routeCall(original, { kind: 'client', client: g }, '89161234567')), '404 Not Found (no client has number 89161234567)');
  t.equal(describe(routeCall(original, { kind: 'client', client: g }, '4999876543')), 'client:siphone2/long');
  const m = get(original, 'MEDIAGATE');
  t.equal(
    describe(routeCall(original, { kind: 'client', client: m }, '89161234567')),
    '403 Forbidden ([MEDIAGATE] is a media gateway and places no calls)',
  );
});

t.test('feature codes follow the caller dialplan', async (t) => {
  const cfg = conf([
    '[in]', 'secret=x', 'context=internal',
    '[strict]', 'secret=x', 'dialplan=^1',
    '[gw]', 'accountcode=gateways', 'host=192.0.2.1', 'exten=5',
  ]);
  table(t, cfg, [
    ['in', '*73', 'feature:*73'],
    ['in', '*11', 'feature:*11'],
    ['in', '*721001', 'feature:*721001'],
    ['in', '*7289161234567', '403 Forbidden (dialplan of [in] does not allow *7289161234567)'],
    ['strict', '*73', '403 Forbidden (dialplan of [strict] does not allow *73)'],
  ]);
  table(t, original, [['siphone1', '*72', 'feature:*72']]);
});

t.test('numbers of up to 4 digits: short in the group, across groups not reachable', async (t) => {
  const cfg = conf([
    '[a1]', 'accountcode=A', 'secret=x', 'exten=#10', 'context=international',
    '[a2]', 'accountcode=A', 'secret=x', 'exten=2001', 'context=international',
    '[b1]', 'accountcode=B', 'secret=x', 'exten=3001#10', 'context=international',
    '[b2]', 'accountcode=B', 'secret=x', 'exten=49512345#77', 'context=international',
    '[n1]', 'secret=x', 'exten=#10', 'context=international',
    '[n2]', 'secret=x', 'exten=#77777', 'context=international',
  ]);
  table(t, cfg, [
    ['a1', '2001', 'client:a2/short'],
    ['a1', '10', 'client:a1/short'],
    ['b1', '10', 'client:b1/short'],
    ['a2', '3001', '404 Not Found (no gateway is configured for 3001)'],
    ['b1', '2001', '404 Not Found (no gateway is configured for 2001)'],
    ['a1', '77', '404 Not Found (no gateway is configured for 77)'],
    ['a1', '49512345', 'client:b2/long'],
    ['n1', '10', 'client:n1/short'],
    ['n1', '77777', 'client:n2/short'],
    ['a1', '77777', '404 Not Found (no gateway is configured for 77777)'],
    ['a1', '', '484 Address Incomplete (no number)'],
    ['a1', '+', '484 Address Incomplete (+ without digits)'],
    ['a1', '12a', '404 Not Found (12a is neither a client nor a phone number)'],
    ['a1', '1234567890123456', '404 Not Found (1234567890123456 has more than 15 digits)'],
  ]);
});

t.test('lookup order: short, then long, then name', async (t) => {
  const cfg = conf([
    '[12345]', 'accountcode=A', 'secret=x', 'exten=4950000001',
    '[x]', 'accountcode=A', 'secret=x', 'exten=#12345',
    '[y]', 'accountcode=B', 'secret=x', 'exten=12345',
    '[z]', 'accountcode=B', 'secret=x',
  ]);
  table(t, cfg, [
    ['x', '12345', 'client:x/short'],
    ['y', '12345', 'client:y/long'],
    ['12345', '12345', 'client:x/short'],
    ['z', '4950000001', 'client:12345/long'],
    ['z', 'x', 'client:x/name'],
  ]);
  const named = conf(['[4951112233]', 'secret=x', '[a]', 'secret=x', 'exten=4951112233', '[b]', 'secret=x']);
  table(t, named, [['b', '4951112233', 'client:a/long']]);
});

t.test('normalised long numbers that clash are reachable only exactly', async (t) => {
  const cfg = conf([
    '[a]', 'secret=x', 'exten=4951234567', 'context=international',
    '[b]', 'secret=x', 'exten=1234567', 'context=international',
    '[gw]', 'accountcode=gateways', 'host=192.0.2.1', 'exten=5',
  ]);
  table(t, cfg, [
    ['a', '1234567', 'client:b/long'],
    ['b', '4951234567', 'client:a/long'],
    ['a', '84951234567', 'external:74951234567 -> gw=574951234567'],
    ['gw', '74951234567', '404 Not Found (no client has number 74951234567)'],
    ['gw', '4951234567', 'client:a/long'],
  ]);
});

t.test('gateway dialplans filter, file order, prefixes', async (t) => {
  const cfg = conf([
    '[me]', 'secret=x', 'context=international', 'exten=4951110000',
    '[city]', 'accountcode=gateways', 'host=192.0.2.1', 'exten=11', 'context=local',
    '[mobile]', 'accountcode=gateways', 'host=192.0.2.2', 'exten=22', 'context=domestic',
    '[world]', 'accountcode=gateways', 'host=192.0.2.3', 'exten=33', 'dialplan=^(\\+|10)',
    '[plain]', 'accountcode=gateways', 'host=192.0.2.4', 'exten=9',
    '[none]', 'accountcode=gateways', 'host=192.0.2.5',
  ]);
  table(t, cfg, [
    ['me', '1234567', 'external:74951234567 -> city=1174951234567,mobile=2274951234567,plain=91234567,none=74951234567'],
    ['me', '84951234567', 'external:74951234567 -> city=1174951234567,mobile=2274951234567,plain=984951234567,none=74951234567'],
    ['me', '89161234567', 'external:79161234567 -> mobile=2279161234567,plain=989161234567,none=79161234567'],
    ['me', '81044123456789', 'external:44123456789 -> world=3344123456789,plain=981044123456789,none=44123456789'],
    ['me', '+44123456789', 'external:44123456789 -> world=3344123456789,plain=9+44123456789,none=44123456789'],
    ['me', '112', 'external:112 -> city=11112,mobile=22112,plain=9112,none=112'],
  ]);
  const only = conf([
    '[me]', 'secret=x', 'context=international',
    '[city]', 'accountcode=gateways', 'host=192.0.2.1', 'exten=11', 'context=local',
  ]);
  table(t, only, [['me', '89161234567', '404 Not Found (no gateway carries 89161234567)']]);
});

t.test('normalisation: Moscow (-c 7 -cc 495)', async (t) => {
  const n = original.general.numbering;
  const rows: [string, string][] = [
    ['1234567', '74951234567'],
    ['84951234567', '74951234567'],
    ['4951234567', '74951234567'],
    ['74951234567', '74951234567'],
    ['874951234567', '74951234567'],
    ['89161234567', '79161234567'],
    ['9161234567', '79161234567'],
    ['88001234567', '78001234567'],
    ['81044123456789', '44123456789'],
    ['810441234567890', '441234567890'],
    ['+79161234567', '79161234567'],
    ['+44123456789', '44123456789'],
    ['112', '112'],
    ['01', '01'],
    ['8112', '8112'],
    ['12345', '749512345'],
    ['foo', 'foo'],
    ['', ''],
    ['+', '+'],
  ];
  for (const [d, want] of rows) t.equal(normalizeNumber(n, d), want, d || "''");
});

t.test('normalisation: Berlin (-c 49 -cc 30, trunk prefix 0, international 00)', async (t) => {
  const cfg = conf(
    ['[general]', 'trunkprefix=0', 'internationalprefix=0', '[me]', 'secret=x', 'context=international',
      '[gw]', 'accountcode=gateways', 'host=192.0.2.1', 'exten=7'],
    { countryCode: '49', cityCode: '30' },
  );
  const n = cfg.general.numbering;
  const rows: [string, string][] = [
    ['12345678', '493012345678'],
    ['03012345678', '493012345678'],
    ['01701234567', '491701234567'],
    ['00493012345678', '493012345678'],
    ['0044123456789', '44123456789'],
    ['+44123456789', '44123456789'],
    ['110', '110'],
  ];
  for (const [d, want] of rows) t.equal(normalizeNumber(n, d), want, d);
  table(t, cfg, [['me', '0044123456789', 'external:44123456789 -> gw=744123456789']]);
});

t.test('normalisation without a trunk prefix (trunkprefix=none, internationalprefix=00)', async (t) => {
  const cfg = conf(['[general]', 'trunkprefix=none', 'internationalprefix=00', 'nationallength=9', '[me]', 'secret=x'], {
    countryCode: '34',
    cityCode: '91',
  });
  const n = cfg.general.numbering;
  t.equal(normalizeNumber(n, '912345678'), '34912345678');
  t.equal(normalizeNumber(n, '2345678'), '34912345678');
  t.equal(normalizeNumber(n, '0044123456789'), '44123456789');
  t.equal(normalizeNumber(n, '8123456'), '34918123456', 'no trunk prefix to strip');
});

t.test('peerByAddress', async (t) => {
  const p = (cfg: Config, a: string, port = 5060): string | undefined => peerByAddress(cfg, a, port)?.name;
  t.equal(p(original, '192.168.1.200'), 'GATE1');
  t.equal(p(original, '192.168.1.200', 40000), 'GATE1', 'alone on its IP: any port');
  t.equal(p(original, '::ffff:192.168.1.200'), 'GATE1', 'IPv4-mapped');
  t.equal(p(original, '::ffff:c0a8:1c9'), 'GATE2', 'IPv4-mapped, hex form');
  t.equal(p(original, '192.168.1.129'), 'bar', 'a static client');
  t.equal(p(original, '192.168.1.100', 5070), undefined, 'a media gateway is not a peer');
  t.equal(p(original, '192.168.1.1'), undefined);
  t.equal(p(original, 'not an address'), undefined);
  t.equal(p(original, ''), undefined);

  const cfg = conf([
    '[phone]', 'host=[2001:db8::1]:5060', 'secret=x',
    '[trunk]', 'accountcode=gateways', 'host=[2001:db8::1]:5070', 'exten=5',
    '[desk]', 'host=192.0.2.9:5062',
    '[desk2]', 'host=192.0.2.9:5062',
    '[box]', 'host=192.0.2.7:5060',
    '[media]', 'accountcode=mediagates', 'host=192.0.2.7:5070',
  ]);
  t.equal(p(cfg, '2001:db8::1', 5060), 'phone', 'port decides between sections on one IP');
  t.equal(p(cfg, '2001:DB8:0:0:0:0:0:1', 5070), 'trunk', 'IPv6 in any spelling');
  t.equal(p(cfg, '[2001:db8::1]', 5070), 'trunk', 'brackets');
  t.equal(p(cfg, '2001:db8::1', 33333), 'trunk', 'no port matches: the gateway (fewer rights)');
  t.equal(p(cfg, '2001:db8::2', 5060), undefined);
  t.equal(p(cfg, '192.0.2.9', 5062), 'desk', 'same ip:port twice: the first, as the config warning says');
  t.equal(p(cfg, '192.0.2.9', 1), 'desk', 'no port matches, no gateway: the first client');
  t.equal(p(cfg, '192.0.2.7', 5070), 'box', 'the media gateway sharing the IP is skipped');
});

t.test('routeCall never throws and reason phrases stay printable', async (t) => {
  const configs = [
    original,
    conf([
      '[general]', 'trunkprefix=0', 'internationalprefix=0',
      '[me]', 'secret=x', 'context=international', 'exten=4951112233',
      '[in]', 'secret=x', 'context=internal',
      '[gw]', 'accountcode=gateways', 'host=192.0.2.1', 'exten=9',
    ], { countryCode: '44', cityCode: '20' }),
  ];
  const callers: [Config, Caller][] = configs.flatMap((cfg) => [...cfg.clients.keys()].map((n) => [cfg, from(cfg, n)] as [Config, Caller]));
  const dialled = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.stringMatching(/^[+*]?[0-9]{0,24}$/),
    fc.string({ unit: fc.constantFrom('0', '1', '7', '8', '9', '+', '*', '#', 'a'), maxLength: 20 }),
  );
  fc.assert(
    fc.property(fc.constantFrom(...callers), dialled, ([cfg, caller], d) => {
      const r = routeCall(cfg, caller, d);
      if (r.kind === 'reject') {
        if (!/^[\x20-\x7e]+$/.test(r.reason) || r.reason.length > 120) return false;
      }
      if (r.kind === 'external') {
        if (r.attempts.length === 0 || !/^\d+$/.test(r.number)) return false;
      }
      normalizeNumber(cfg.general.numbering, d);
      return true;
    }),
    { numRuns: 3000 },
  );
  t.pass('3000 runs');
});
