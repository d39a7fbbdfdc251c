// CallPlan (lib/pbx/plan.ts, issue 6 items 1, 2, 6) with fake builders: no
// sockets, no proxy. Every branch of next(): ring → hunt → ~F in that order,
// moving on only on the ~F conditions (486, 603, 480, 408, no answer, not
// registered); gateway failover only on 408 / 5xx / silence; 6xx: 603 goes on
// for a ring step, 600 stops. Forward loops and the MAX_CHAIN bound end in
// 482; the ring timeout is set only when something follows; the notes (CDR
// reason) and Diversion passed to the builders.
import t from 'tap';
import { loadConfig, type NumberingOptions } from '../../../lib/config/load.js';
import type { Client, Config } from '../../../lib/config/types.js';
import { SipResponse } from '../../../lib/sip/message.js';
import type { FinalAnswer, GroupOutcome, TargetGroup } from '../../../lib/proxy/types.js';
import type { GatewayAttempt } from '../../../lib/pbx/numbers.js';
import { ForwardState, type ForwardSet } from '../../../lib/pbx/features.js';
import { CallPlan, diversionHeader, type Diversion } from '../../../lib/pbx/plan.js';

const MOSCOW: NumberingOptions = { countryCode: '7', cityCode: '495' };

// Group "office" ordered by section name: alice 1, bob 2, carol 3, dave 4, erin 5, ...
const OFFICE = `
[general]
noanswer=5

[alice]
accountcode=office
secret=a
exten=4955550101#101

[bob]
accountcode=office
secret=b
exten=4955550102#102(3-4)~105

[carol]
accountcode=office
secret=c
exten=103

[dave]
accountcode=office
secret=d
exten=104

[erin]
accountcode=office
secret=e
exten=105

[fred]
accountcode=office
secret=f
exten=106=107

[gina]
accountcode=office
secret=g
exten=107

[hal]
accountcode=office
secret=h
exten=108=109

[ivy]
accountcode=office
secret=i
exten=109=108

[jack]
accountcode=office
secret=j
exten=4955550110#110=84991234567
callerid=4955550100

[kate]
accountcode=office
secret=k
exten=4955550111#111~84991234567

[lara]
accountcode=office
secret=l
exten=112~113

[mike]
accountcode=office
secret=m
exten=113~112

[nina]
accountcode=office
secret=n
context=internal
exten=114=84991234567

[olga]
accountcode=office
secret=o
exten=115(2)

[gw1]
accountcode=gateways
host=192.0.2.201
exten=9995

[gw2]
accountcode=gateways
host=192.0.2.202
exten=7777
`;

function load(text: string): Config {
  return loadConfig(text, 'sip.conf', MOSCOW).config;
}

const office = load(OFFICE);

function get(cfg: Config, name: string): Client {
  const c = cfg.clients.get(name);
  if (c === undefined) throw new Error(`no section ${name}`);
  return c;
}

interface RingCall {
  client: string;
  dialled: string;
  diversion: Diversion | undefined;
  timeout: number | undefined;
}
interface GatewayCall {
  user: string;
  gateway: string;
  callerId: string | undefined;
  diversion: Diversion | undefined;
}

/** Fake builders: a group per client unless it is "not registered"; every call recorded. */
function fake(cfg: Config, o: { unregistered?: string[]; forwards?: ForwardState } = {}) {
  const rings: RingCall[] = [];
  const gateways: GatewayCall[] = [];
  const state = o.forwards ?? new ForwardState();
  const plan = new CallPlan(cfg, {
    clientGroup(client, dialled, diversion, ringTimeoutMs): TargetGroup | undefined {
      rings.push({ client: client.name, dialled, diversion, timeout: ringTimeoutMs });
      if (o.unregistered?.includes(client.name)) return undefined;
      return { targets: [{ uri: `sip:${client.name}@192.0.2.1`, dest: { proto: 'udp', address: '192.0.2.1', port: 5060 }, label: client.name }], ringTimeoutMs };
    },
    gatewayGroup(attempt: GatewayAttempt, callerId, diversion): TargetGroup {
      gateways.push({ user: attempt.user, gateway: attempt.gateway.name, callerId, diversion });
      return {
        targets: [{ uri: `sip:${attempt.user}@${attempt.gateway.host!.hostport}`, dest: { proto: 'udp', address: attempt.gateway.host!.address, port: 5060 }, label: attempt.gateway.name, gateway: true }],
        noResponseMs: 4000,
      };
    },
    forwardsOf(client): ForwardSet {
      return state.get(client);
    },
  });
  return { plan, rings, gateways };
}

function res(status: number): SipResponse {
  return new SipResponse(status, 'x', [], Buffer.alloc(0));
}

function outcome(status: number, o: { noAnswer?: boolean; global?: boolean; attempt?: number } = {}): GroupOutcome {
  return { best: res(status), attempt: o.attempt ?? 1, noAnswer: o.noAnswer ?? false, labels: [], global: o.global ?? status >= 600 };
}

function isGroup(x: TargetGroup | FinalAnswer | undefined): x is TargetGroup {
  return x !== undefined && !('final' in x);
}

function labelOf(x: TargetGroup | FinalAnswer | undefined): string | undefined {
  if (x === undefined) return undefined;
  if ('final' in x) return `final ${x.final.status}`;
  return x.targets.map((tg) => tg.label).join(',');
}

/** A diversion without the Client object, for t.same. */
function div(d: Diversion | undefined): { from: string; reason: string; counter: number } | undefined {
  return d === undefined ? undefined : { from: d.from.name, reason: d.reason, counter: d.counter };
}

t.test('a plain client: rings without a ring timeout (nothing follows), and no next group whatever happens', async (t) => {
  for (const [status, o] of [[486, {}], [603, {}], [480, {}], [408, {}], [0, { noAnswer: true }], [404, {}], [500, {}], [600, {}]] as const) {
    const { plan, rings } = fake(office);
    const first = plan.startClient(get(office, 'alice'), '101');
    t.equal(labelOf(first), 'alice');
    t.same(rings, [{ client: 'alice', dialled: '101', diversion: undefined, timeout: undefined }], 'no ring timeout: nothing would follow a no-answer');
    t.equal(plan.next(outcome(status === 0 ? 408 : status, o)), undefined, `${status === 0 ? 'no answer' : status}: the best response goes to the caller`);
    t.same(plan.notes, []);
    t.same(plan.chain, ['alice']);
    t.equal(plan.lastLabel, 'alice');
  }
});

t.test('not registered and nothing follows: 480 naming the client', async (t) => {
  const { plan } = fake(office, { unregistered: ['alice'] });
  t.same(plan.startClient(get(office, 'alice'), '101'), { final: { status: 480, reason: 'Temporarily Unavailable (alice is not registered)' } });
});

t.test('ring → hunt (3-4) → ~F: the order, ring timeouts, Diversion and notes', async (t) => {
  const { plan, rings } = fake(office);
  const bob = get(office, 'bob');
  t.same(bob.hunt, ['carol', 'dave'], 'positions 3-4 of the group ordered by name');
  t.equal(labelOf(plan.startClient(bob, '102')), 'bob');
  t.equal(labelOf(plan.next(outcome(486))), 'carol', 'busy: the first hunt member');
  t.equal(labelOf(plan.next(outcome(408, { noAnswer: true }))), 'dave', 'no answer: the next member');
  const last = plan.next(outcome(603, { global: true }));
  t.equal(labelOf(last), 'erin', '603 (a 6xx, global) still goes on for a ring step: the ~F target');
  t.same(
    rings.map((r) => ({ ...r, diversion: div(r.diversion) })),
    [
      { client: 'bob', dialled: '102', diversion: undefined, timeout: 5000 },
      { client: 'carol', dialled: 'carol', diversion: undefined, timeout: 5000 },
      { client: 'dave', dialled: 'dave', diversion: undefined, timeout: 5000 },
      { client: 'erin', dialled: '105', diversion: { from: 'bob', reason: 'do-not-disturb', counter: 1 }, timeout: undefined },
    ],
    'noanswer=5 s on every step something follows; none on the last',
  );
  t.same(plan.notes, ['hunt: carol', 'hunt: dave', 'forwarded (declined) by bob to 105']);
  t.same(plan.chain, ['bob', 'erin']);
  t.equal(plan.lastLabel, 'erin');
  t.equal(plan.next(outcome(486)), undefined, 'the forward target busy: nothing left, the 486 goes to the caller');
});

t.test('the ~F Diversion reason follows why the last ring step did not answer', async (t) => {
  const cases: Array<[GroupOutcome, string, string]> = [
    [outcome(486), 'user-busy', 'busy'],
    [outcome(603), 'do-not-disturb', 'declined'],
    [outcome(480), 'unavailable', 'unavailable'],
    [outcome(408), 'no-answer', 'no answer'],
    [outcome(408, { noAnswer: true }), 'no-answer', 'no answer'],
    [outcome(487, { noAnswer: true }), 'no-answer', 'no answer'],
  ];
  for (const [o, reason, text] of cases) {
    const { plan, rings } = fake(office);
    t.equal(labelOf(plan.startClient(get(office, 'lara'), '112')), 'lara');
    t.equal(rings[0]!.timeout, 5000, 'lara rings for noanswer seconds: a ~F follows');
    t.equal(labelOf(plan.next(o)), 'mike', `${o.best.status}${o.noAnswer ? ' (no answer)' : ''}: forwarded`);
    t.same(div(rings[1]!.diversion), { from: 'lara', reason, counter: 1 });
    t.equal(rings[1]!.dialled, '113', 'the forward target rings as the number dialled on lara’s behalf');
    t.equal(rings[1]!.timeout, 5000, "mike's own ~F follows him");
    t.same(plan.notes, [`forwarded (${text}) by lara to 113`]);
  }
});

t.test('a ring step stops on anything but the ~F conditions (600 included)', async (t) => {
  for (const status of [404, 410, 484, 500, 503, 600, 604, 606, 487, 403]) {
    const { plan, rings } = fake(office);
    plan.startClient(get(office, 'bob'), '102');
    t.equal(plan.next(outcome(status)), undefined, `${status}: the caller gets it`);
    t.equal(rings.length, 1, `${status}: no hunt member rang`);
    t.same(plan.notes, []);
  }
});

t.test('not registered: the plan skips to the next step at once', async (t) => {
  await t.test('the client and its first hunt member not registered', async (t) => {
    const { plan, rings } = fake(office, { unregistered: ['bob', 'carol'] });
    t.equal(labelOf(plan.startClient(get(office, 'bob'), '102')), 'dave');
    t.same(rings.map((r) => r.client), ['bob', 'carol', 'dave']);
    t.same(plan.notes, ['hunt: carol (not registered)', 'hunt: dave']);
    t.equal(labelOf(plan.next(outcome(486))), 'erin');
    t.same(plan.notes, ['hunt: carol (not registered)', 'hunt: dave', 'forwarded (busy) by bob to 105']);
  });
  await t.test('everyone unregistered: the ~F reason is "unavailable", then 480 for the client called', async (t) => {
    const { plan, rings } = fake(office, { unregistered: ['bob', 'carol', 'dave', 'erin'] });
    t.same(plan.startClient(get(office, 'bob'), '102'), { final: { status: 480, reason: 'Temporarily Unavailable (bob is not registered)' } });
    t.same(div(rings[3]!.diversion), { from: 'bob', reason: 'unavailable', counter: 1 });
    t.same(plan.notes, ['hunt: carol (not registered)', 'hunt: dave (not registered)', 'forwarded (unavailable) by bob to 105']);
  });
  await t.test('a hunt member missing after a ring step: the next one, from next()', async (t) => {
    const { plan } = fake(office, { unregistered: ['carol'] });
    plan.startClient(get(office, 'bob'), '102');
    t.equal(labelOf(plan.next(outcome(480))), 'dave');
  });
  await t.test('the last hunt member not registered and nothing after it: undefined (the best response so far)', async (t) => {
    const { plan } = fake(office, { unregistered: ['bob'] });
    const olga = get(office, 'olga');
    t.same(olga.hunt, ['bob']);
    t.equal(labelOf(plan.startClient(olga, '115')), 'olga');
    t.equal(plan.next(outcome(486)), undefined);
    t.same(plan.notes, ['hunt: bob (not registered)']);
  });
});

t.test('=F to a client: the target rings with an unconditional Diversion; the forwarding client never rings', async (t) => {
  const { plan, rings } = fake(office);
  t.equal(labelOf(plan.startClient(get(office, 'fred'), '106')), 'gina');
  t.same(rings.map((r) => ({ ...r, diversion: div(r.diversion) })), [{ client: 'gina', dialled: '107', diversion: { from: 'fred', reason: 'unconditional', counter: 1 }, timeout: undefined }]);
  t.same(plan.notes, ['forwarded by fred to 107']);
  t.same(plan.chain, ['fred', 'gina']);
});

t.test('=F to an outside number: every gateway in order with the forwarding client’s caller ID', async (t) => {
  const { plan, gateways, rings } = fake(office);
  t.equal(labelOf(plan.startClient(get(office, 'jack'), '110')), 'gw1');
  t.same(rings, []);
  const d = { from: 'jack', reason: 'unconditional', counter: 1 };
  t.same(plan.notes, ['forwarded by jack to 84991234567']);
  t.equal(plan.lastLabel, 'gw1');
  t.equal(labelOf(plan.next(outcome(503))), 'gw2', '503: failover to the next gateway');
  t.same(
    gateways.map((g) => ({ ...g, diversion: div(g.diversion) })),
    [
      { user: '999574991234567', gateway: 'gw1', callerId: '4955550100', diversion: d },
      { user: '777774991234567', gateway: 'gw2', callerId: '4955550100', diversion: d },
    ],
  );
  t.same(plan.notes, ['forwarded by jack to 84991234567', 'gw1 failed (503)']);
  t.equal(plan.next(outcome(503)), undefined, 'the last gateway failed: the caller gets the best response');
});

t.test('gateway failover: only on 408, 5xx or silence; never after a 6xx or a busy', async (t) => {
  const go: GroupOutcome[] = [outcome(408), outcome(500), outcome(502), outcome(503), outcome(504), outcome(599), outcome(408, { noAnswer: true }), outcome(487, { noAnswer: true })];
  for (const o of go) {
    const { plan } = fake(office);
    const route = plan.startGateways([{ gateway: get(office, 'gw1'), user: 'a' }, { gateway: get(office, 'gw2'), user: 'b' }], '4955550100');
    t.equal(labelOf(route), 'gw1');
    t.equal(labelOf(plan.next(o)), 'gw2', `${o.best.status}${o.noAnswer ? ' (silence)' : ''}: the next gateway`);
  }
  const stop: GroupOutcome[] = [outcome(486), outcome(480), outcome(404), outcome(403), outcome(487), outcome(600), outcome(603), outcome(604), outcome(503, { global: true })];
  for (const o of stop) {
    const { plan } = fake(office);
    plan.startGateways([{ gateway: get(office, 'gw1'), user: 'a' }, { gateway: get(office, 'gw2'), user: 'b' }], '4955550100');
    t.equal(plan.next(o), undefined, `${o.best.status}${o.global ? ' (global)' : ''}: no failover`);
    t.same(plan.notes, []);
  }
  const { plan } = fake(office);
  t.same(plan.startGateways([], undefined), { final: { status: 404, reason: 'Not Found (no gateway)' } });
  t.equal(plan.next(outcome(503)), undefined, 'next() with no current step');
});

t.test('~F to an outside number after a busy: gateways with the user-busy Diversion', async (t) => {
  const { plan, gateways } = fake(office);
  plan.startClient(get(office, 'kate'), '111');
  t.equal(labelOf(plan.next(outcome(486))), 'gw1');
  t.same(div(gateways[0]!.diversion), { from: 'kate', reason: 'user-busy', counter: 1 });
  t.equal(gateways[0]!.callerId, '4955550111', 'kate has no callerid: her long number');
  t.same(plan.notes, ['forwarded (busy) by kate to 84991234567']);
  t.equal(plan.next(outcome(486)), undefined, 'a busy gateway: no failover');
});

t.test('forward loops end in 482 naming the loop', async (t) => {
  await t.test('=F both ways: at once', async (t) => {
    const { plan, rings } = fake(office);
    t.same(plan.startClient(get(office, 'hal'), '108'), { final: { status: 482, reason: 'Loop Detected (forward loop: hal -> ivy -> hal)' } });
    t.same(rings, [], 'nobody rang');
    t.same(plan.notes, ['forwarded by hal to 109', 'forwarded by ivy to 108']);
  });
  await t.test('~F both ways: after both were busy, from next()', async (t) => {
    const { plan, rings } = fake(office);
    plan.startClient(get(office, 'lara'), '112');
    t.equal(labelOf(plan.next(outcome(486))), 'mike');
    t.same(plan.next(outcome(486)), { final: { status: 482, reason: 'Loop Detected (forward loop: lara -> mike -> lara)' } });
    t.same(div(rings[1]!.diversion), { from: 'lara', reason: 'user-busy', counter: 1 });
    t.same(plan.notes, ['forwarded (busy) by lara to 113', 'forwarded (busy) by mike to 112']);
  });
  await t.test('a run-time forward (ForwardState) counts the same', async (t) => {
    const fw = new ForwardState();
    fw.set('alice', 'always', '107', 1);
    fw.set('gina', 'always', '101', 1);
    const { plan } = fake(office, { forwards: fw });
    t.same(plan.startClient(get(office, 'alice'), '101'), { final: { status: 482, reason: 'Loop Detected (forward loop: alice -> gina -> alice)' } });
  });
});

t.test('MAX_CHAIN: ten clients along a chain of forwards ring, the eleventh is a loop', async (t) => {
  const section = (i: number, last: number): string => `[c${String(i).padStart(2, '0')}]\naccountcode=chain\nsecret=x\nexten=${300 + i}${i < last ? `=${301 + i}` : ''}\n`;
  const ten = load(Array.from({ length: 10 }, (_, i) => section(i + 1, 10)).join('\n'));
  const a = fake(ten);
  t.equal(labelOf(a.plan.startClient(get(ten, 'c01'), '301')), 'c10', 'a chain of 10 clients reaches the last');
  t.equal(a.plan.chain.length, 10);
  t.same(div(a.rings[0]!.diversion), { from: 'c09', reason: 'unconditional', counter: 9 }, 'Diversion counter = forwards so far');
  const eleven = load(Array.from({ length: 11 }, (_, i) => section(i + 1, 11)).join('\n'));
  const b = fake(eleven);
  const r = b.plan.startClient(get(eleven, 'c01'), '301');
  t.same(r, { final: { status: 482, reason: `Loop Detected (forward loop: ${['c01', 'c02', 'c03', 'c04', 'c05', 'c06', 'c07', 'c08', 'c09', 'c10', 'c11'].join(' -> ')})` } });
  t.same(b.rings, [], 'nobody rang');
});

t.test('a forward the forwarding client may not dial is noted and skipped', async (t) => {
  const { plan, gateways } = fake(office);
  const r = plan.startClient(get(office, 'nina'), '114');
  t.same(gateways, [], 'no gateway tried');
  t.same(plan.notes, ['forwarded by nina to 84991234567 refused: Forbidden (dialplan of [nina] does not allow 84991234567)']);
  t.same(r, { final: { status: 480, reason: 'Temporarily Unavailable (the forward of nina to 84991234567 is not allowed)' } }, '480 naming the refused forward, not "not registered"');
});

t.test('run-time forwards override sip.conf: *73 hides =F, *71 turns =F into ~F', async (t) => {
  const fw = new ForwardState();
  fw.clear('fred', 1);
  const a = fake(office, { forwards: fw });
  t.equal(labelOf(a.plan.startClient(get(office, 'fred'), '106')), 'fred', 'after *73 fred rings himself');
  t.equal(a.rings[0]!.timeout, undefined);
  fw.set('fred', 'unavailable', '101', 2);
  const b = fake(office, { forwards: fw });
  t.equal(labelOf(b.plan.startClient(get(office, 'fred'), '106')), 'fred');
  t.equal(b.rings[0]!.timeout, 5000);
  t.equal(labelOf(b.plan.next(outcome(480))), 'alice');
});

t.test('noanswer=0: no ring timeout even when something follows', async (t) => {
  const cfg = load(OFFICE.replace('noanswer=5', 'noanswer=0'));
  const { plan, rings } = fake(cfg);
  plan.startClient(get(cfg, 'bob'), '102');
  t.equal(rings[0]!.timeout, undefined);
});

t.test('diversionHeader: the forwarding client’s long number, else its short number, reason and counter', async (t) => {
  t.equal(diversionHeader({ from: get(office, 'bob'), reason: 'user-busy', counter: 1 }, '127.0.0.1'), '<sip:4955550102@127.0.0.1>;reason=user-busy;counter=1');
  t.equal(diversionHeader({ from: get(office, 'fred'), reason: 'unconditional', counter: 2 }, '[::1]'), '<sip:106@[::1]>;reason=unconditional;counter=2');
});
