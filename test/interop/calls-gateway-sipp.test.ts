// Calls to and from gateways through bin/sipd with SIPp (issue 5, "Tests"):
// the number and caller ID a gateway receives, sipd as the only hop, failover
// from a gateway answering 503 to the next one, DID from a gateway to a phone,
// and toll fraud (unknown or wrong credentials never reach a gateway).
// Gateways are SIPp UAS on their own loopback addresses (127.0.0.2, 127.0.0.3)
// so that phones on 127.0.0.1 are not taken for them. Under CI=true a missing
// sipp fails this file instead of skipping it.
import t from 'tap';
import { requireSipp } from '../helpers/sipp.js';
import { checkCallee, checkCaller, describe, finalInviteStatuses, freePort, office, REALM, received, rrOf, sentInvites, type Office, type SippMessage } from '../helpers/sipp-calls.js';
import type { TapTest } from '../helpers/tap.js';

const skip = requireSipp();

const GW1 = '127.0.0.2';
const GW2 = '127.0.0.3';

function conf(p1: number, p2: number): string {
  return `[general]
realm=${REALM}

[alice]
accountcode=OFFICE
secret=pw-alice
permit=127.0.0.0/8
exten=4955550101#101
callerid=4955550100

[bob]
accountcode=OFFICE
secret=pw-bob
permit=127.0.0.0/8
exten=4955550102#102

[gw1]
accountcode=gateways
host=${GW1}:${p1}
exten=9995

[gw2]
accountcode=gateways
host=${GW2}:${p2}
exten=7777
`;
}

/** Calls from a phone through sipd to whatever answers (call-uac.xml). */
async function call(t: TapTest, env: Office, o: { name: string; user: string; dialled: string; count: number; ip?: string; noAuth?: boolean }) {
  return env.run(t, {
    name: o.name,
    scenario: 'call-uac.xml',
    ...(o.ip !== undefined ? { ip: o.ip } : {}),
    port: await freePort(o.ip),
    count: o.count,
    rate: 20,
    pauseMs: 50,
    timeoutS: 20,
    service: o.dialled,
    ...(o.noAuth ? {} : { authUser: o.user, authPass: `pw-${o.user}` }),
    keys: { caller: o.user },
  });
}

/** What a gateway must see in every INVITE: sipd's single hop, and the caller ID. */
function checkGatewayInvites(t: TapTest, env: Office, invites: SippMessage[], o: { ruri: string; callerId: string; callerPort: number; what: string }): void {
  const { what } = o;
  t.ok(invites.length > 0, `${what}: INVITEs reached the gateway`);
  t.same([...new Set(invites.map((m) => m.requestUri))], [o.ruri], `${what}: Request-URI user is the prefix and the normalised number`);
  t.same([...new Set(invites.map((m) => /^(?:"[^"]*"\s*)?<sip:([^@>]+)@/.exec(m.header('from') ?? '')?.[1]))], [o.callerId], `${what}: From user is the caller ID`);
  t.same([...new Set(invites.map((m) => m.header('p-asserted-identity')))], [`<sip:${o.callerId}@127.0.0.1>`], `${what}: P-Asserted-Identity`);
  const viaShapes = new Set(
    invites.map((m) => {
      const v = m.vias;
      if (v.length !== 2) return `${v.length} Vias: ${v.join(' | ')}`;
      const top = new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${env.sipd.port};branch=z9hG4bK[^;]+;rport$`).test(v[0]!);
      const caller = new RegExp(`^SIP/2\\.0/UDP 127\\.0\\.0\\.1:${o.callerPort};branch=z9hG4bK-`).test(v[1]!);
      return top && caller ? 'sipd over the caller' : `unexpected: ${v.join(' | ')}`;
    }),
  );
  t.same([...viaShapes], ['sipd over the caller'], `${what}: exactly one Via of sipd on top of the caller's`);
  t.ok(
    invites.every((m) => m.headers('record-route').length === 1 && rrOf(env.sipd.port, false).test(m.header('record-route')!)),
    `${what}: exactly one Record-Route, sipd's`,
  );
  t.ok(invites.every((m) => m.header('proxy-authorization') === undefined), `${what}: the caller's credentials stay at sipd`);
}

t.test('calls to and from gateways', { skip }, async (t) => {
  const p1 = await freePort(GW1);
  const p2 = await freePort(GW2);
  const env = await office(t, conf(p1, p2));

  await t.test('to a gateway: the first answers 503, sipd tries the second, which answers', async (t) => {
    const gw1 = env.sipp(t, { name: 'gw1-503', scenario: 'call-uas-503.xml', ip: GW1, port: p1, count: 5, timeoutS: 20 });
    const gw2 = env.sipp(t, { name: 'gw2-200', scenario: 'call-uas.xml', ip: GW2, port: p2, count: 5, timeoutS: 20, set: { answerdelay: '0' } });
    await gw1.listening();
    await gw2.listening();
    const caller = await call(t, env, { name: 'alice-to-gw', user: 'alice', dialled: '84951234567', count: 5 });
    t.equal(caller.successful, 5, `5 answered calls (${describe(caller)})`);
    checkCaller(t, caller.messages, 5, 'gateway call');
    t.same([...finalInviteStatuses(caller.messages).values()].map((s) => [...new Set(s.filter((x) => x !== 407))]), Array(5).fill([200]), 'the 503 is not relayed: the caller sees only the 200');
    const r1 = await gw1.done;
    t.equal(r1.successful, 5, `gw1 got every INVITE, answered 503 and got sipd's ACK (${describe(r1)})`);
    const r2 = await gw2.done;
    t.equal(r2.successful, 5, `gw2 answered every call (${describe(r2)})`);
    const callerPort = Number(/127\.0\.0\.1:(\d+)/.exec(caller.messages.find((m) => m.method === 'INVITE')!.vias[0]!)![1]);
    const ids = sentInvites(caller.messages);
    const inv1 = received(gw1.messages(), 'INVITE').filter((m) => ids.has(m.callId));
    const inv2 = received(gw2.messages(), 'INVITE').filter((m) => ids.has(m.callId));
    t.equal(new Set(inv1.map((m) => m.callId)).size, 5, 'every call tried gw1 first');
    checkGatewayInvites(t, env, inv1, { ruri: `sip:999574951234567@${GW1}:${p1}`, callerId: '4955550100', callerPort, what: 'gw1' });
    checkGatewayInvites(t, env, inv2, { ruri: `sip:777774951234567@${GW2}:${p2}`, callerId: '4955550100', callerPort, what: 'gw2' });
    checkCallee(t, gw2.messages(), caller.messages, 5, [rrOf(env.sipd.port, false)], 'gw2');
  });

  await t.test('to a gateway: a caller without callerid presents its long number; a local number is normalised', async (t) => {
    const gw1 = env.sipp(t, { name: 'gw1-200', scenario: 'call-uas.xml', ip: GW1, port: p1, count: 3, timeoutS: 20, set: { answerdelay: '0' } });
    await gw1.listening();
    const caller = await call(t, env, { name: 'bob-to-gw', user: 'bob', dialled: '1234567', count: 3 });
    t.equal(caller.successful, 3, describe(caller));
    const r = await gw1.done;
    t.equal(r.successful, 3, describe(r));
    const callerPort = Number(/127\.0\.0\.1:(\d+)/.exec(caller.messages.find((m) => m.method === 'INVITE')!.vias[0]!)![1]);
    const ids = sentInvites(caller.messages);
    checkGatewayInvites(t, env, received(gw1.messages(), 'INVITE').filter((m) => ids.has(m.callId)), { ruri: `sip:999574951234567@${GW1}:${p1}`, callerId: '4955550102', callerPort, what: 'gw1' });
  });

  await t.test('from a gateway (DID): the long number reaches the registered phone, unchallenged', async (t) => {
    const port = await freePort();
    await env.register(t, 'bob', port);
    const bob = env.sipp(t, { name: 'bob-did', scenario: 'call-uas.xml', port, count: 5, timeoutS: 20, set: { answerdelay: '0' } });
    await bob.listening();
    const caller = await call(t, env, { name: 'gw1-did', user: 'gw1', dialled: '4955550102', count: 5, ip: GW1, noAuth: true });
    t.equal(caller.successful, 5, describe(caller));
    t.equal(caller.messages.filter((m) => m.status === 407).length, 0, 'a gateway is recognised by its address, never challenged');
    checkCaller(t, caller.messages, 5, 'DID');
    const r = await bob.done;
    t.equal(r.successful, 5, describe(r));
    checkCallee(t, bob.messages(), caller.messages, 5, [rrOf(env.sipd.port, false)], 'DID');
    // No transit: a gateway's call to an outside number goes nowhere.
    const transit = await env.run(t, {
      name: 'gw1-transit',
      scenario: 'call-uac-reject.xml',
      ip: GW1,
      port: await freePort(GW1),
      count: 2,
      rate: 20,
      timeoutS: 15,
      service: '84951234567',
      keys: { caller: 'gw1', maxfwd: '70' },
    });
    t.same([...finalInviteStatuses(transit.messages).values()], [[404], [404]], 'gateway to gateway (transit): 404');
  });

  await t.test('toll fraud: unknown users and wrong passwords are challenged and never reach a gateway', async (t) => {
    // The gateways listen for 3 s and must receive nothing at all.
    const gw1 = env.sipp(t, { name: 'gw1-idle', scenario: 'call-uas.xml', ip: GW1, port: p1, count: 1, timeoutS: 3, set: { answerdelay: '0' } });
    const gw2 = env.sipp(t, { name: 'gw2-idle', scenario: 'call-uas.xml', ip: GW2, port: p2, count: 1, timeoutS: 3, set: { answerdelay: '0' } });
    await gw1.listening();
    await gw2.listening();
    const attempts: Array<[ip: string, user: string, password: string, what: string]> = [
      ['127.0.0.9', 'mallory', 'guess', 'an unknown user from an unknown address'],
      ['127.0.0.1', 'alice', 'wrong', 'a client with a wrong password'],
      ['127.0.0.9', 'gw1', 'guess', "a gateway's name from another address"],
    ];
    for (const [ip, user, password, what] of attempts) {
      const r = await env.run(t, {
        name: `fraud-${user}`,
        scenario: 'call-uac-reject.xml',
        ip,
        port: await freePort(ip),
        count: 3,
        rate: 20,
        timeoutS: 15,
        service: '84951234567',
        authUser: user,
        authPass: password,
        keys: { caller: user, maxfwd: '70' },
      });
      t.equal(r.successful, 3, `${what}: ${describe(r)}`);
      t.same([...finalInviteStatuses(r.messages).values()], Array(3).fill([407, 407]), `${what}: 407, and 407 again with the credentials`);
      t.ok(r.messages.filter((m) => m.status === 407).every((m) => /^Digest realm="sipd\.test"/.test(m.header('proxy-authenticate') ?? '')), `${what}: a digest challenge`);
    }
    for (const gw of [gw1, gw2]) {
      const r = await gw.done;
      t.equal(r.created, 0, `${gw.name}: no call reached the gateway`);
      t.same(gw.messages().filter((m) => m.direction === 'received'), [], `${gw.name}: not a single message`);
    }
  });
});
