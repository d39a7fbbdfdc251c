// Forwarding and serial hunting through bin/sipd with SIPp (issue 6, "Tests"):
// =F to a phone and to a gateway, ~F on 486, 603, not registered and no answer
// (noanswer=1 keeps it fast), a forward loop, hunting (2) and (2-3), and the
// CDR rows of it all. Phones are SIPp UAS on 127.0.0.1 (each registered from
// the port its UAS listens on: the Request-URI user names the client), the
// gateway a SIPp UAS on 127.0.0.2. Every SIPp is bounded by -m and -timeout.
// Under CI=true a missing sipp fails this file instead of skipping it.
import t from 'tap';
import { requireSipp } from '../helpers/sipp.js';
import { runSipd } from '../helpers/sipd-process.js';
import { checkCaller, describe, finalInviteStatuses, freePort, office, REALM, received, sentInvites, type Office, type SippMessage } from '../helpers/sipp-calls.js';
import type { TapTest } from '../helpers/tap.js';

const skip = requireSipp();

const GW = '127.0.0.2';

// Group OFFICE ordered by section name: alice 1, bob 2, carol 3, ...; the hunt groups are their own.
function conf(gwPort: number): string {
  const phone = (name: string, group: string, exten: string, extra = ''): string =>
    `[${name}]\naccountcode=${group}\nsecret=pw-${name}\npermit=127.0.0.0/8\nexten=${exten}\n${extra}\n`;
  return [
    `[general]\nrealm=${REALM}\nnoanswer=1\n`,
    phone('alice', 'OFFICE', '4955550101#101'),
    phone('bob', 'OFFICE', '4955550102#102=103'),
    phone('carol', 'OFFICE', '4955550103#103'),
    phone('dave', 'OFFICE', '4955550104#104=84991234567'),
    phone('erin', 'OFFICE', '4955550105#105~103'),
    phone('fay', 'OFFICE', '4955550106#106~103'),
    phone('gus', 'OFFICE', '4955550107#107~103'),
    phone('hank', 'OFFICE', '4955550108#108~103'),
    phone('ivan', 'OFFICE', '4955550109#109=110'),
    phone('jane', 'OFFICE', '4955550110#110=109'),
    // (2): ha1 busy → position 2 (ha2) answers.
    phone('ha1', 'HUNTA', '4955550301#301(2)'),
    phone('ha2', 'HUNTA', '4955550302#302'),
    // (2-3): hb1 busy → position 2 (hb2) busy → position 3 (hb3) answers.
    phone('hb1', 'HUNTB', '4955550401#401(2-3)'),
    phone('hb2', 'HUNTB', '4955550402#402'),
    phone('hb3', 'HUNTB', '4955550403#403'),
    `[gw]\naccountcode=gateways\nhost=${GW}:${gwPort}\nexten=9995\n`,
  ].join('\n');
}

/** Answered calls from alice (call-uac.xml). */
async function call(t: TapTest, env: Office, name: string, dialled: string, count: number) {
  return env.run(t, {
    name,
    scenario: 'call-uac.xml',
    port: await freePort(),
    count,
    rate: 10,
    pauseMs: 50,
    timeoutS: 20,
    service: dialled,
    authUser: 'alice',
    authPass: 'pw-alice',
    keys: { caller: 'alice' },
  });
}

/** The INVITEs of `caller`'s calls that reached a UAS. */
function invitesOf(uasMsgs: SippMessage[], callerMsgs: SippMessage[]): SippMessage[] {
  const ids = sentInvites(callerMsgs);
  return received(uasMsgs, 'INVITE').filter((m) => ids.has(m.callId));
}

function reasonOf(m: SippMessage | undefined): string | undefined {
  return m?.startLine.replace(/^SIP\/2\.0 \d{3} /, '');
}

t.test('forwarding and hunting', { skip }, async (t) => {
  const gwPort = await freePort(GW);
  const env = await office(t, conf(gwPort));
  const answerPort = await freePort();
  const busyPort = await freePort();
  // One SIPp per phone a call tries: the hunt's steps share the Call-ID, which SIPp takes for one call.
  const busy2Port = await freePort();
  const declinePort = await freePort();
  const ringPort = await freePort();
  for (const u of ['carol', 'ha2', 'hb3']) await env.register(t, u, answerPort);
  for (const u of ['erin', 'ha1', 'hb1']) await env.register(t, u, busyPort);
  await env.register(t, 'hb2', busy2Port);
  await env.register(t, 'fay', declinePort);
  await env.register(t, 'hank', ringPort);
  // bob, dave (=F: never rung), gus (not registered) and ivan/jane (loop) have no phone.

  /** carol's UAS answers `n` calls; returns it started. */
  const answering = async (t: TapTest, name: string, n: number) => {
    const s = env.sipp(t, { name, scenario: 'call-uas.xml', port: answerPort, count: n, timeoutS: 20, set: { answerdelay: '0' } });
    await s.listening();
    return s;
  };

  /** Checks carol received alice's calls with alice's From and the Diversion of `from` (long number) with `reason`. */
  const checkForwarded = (t: TapTest, uas: SippMessage[], caller: SippMessage[], n: number, from: string, reason: string, what: string): void => {
    const invites = invitesOf(uas, caller);
    t.equal(new Set(invites.map((m) => m.callId)).size, n, `${what}: carol received ${n} calls`);
    const sent = sentInvites(caller);
    t.ok(invites.length > 0 && invites.every((m) => m.requestUri === `sip:carol@127.0.0.1:${answerPort}`), `${what}: the INVITE goes to carol's contact`);
    t.ok(invites.every((m) => m.header('from') === sent.get(m.callId)!.header('from')), `${what}: the caller's From is kept (${invites[0]?.header('from')})`);
    t.ok(invites.every((m) => m.header('p-asserted-identity') === undefined), `${what}: no P-Asserted-Identity towards a phone`);
    t.same([...new Set(invites.map((m) => m.headers('diversion').join(' | ')))], [`<sip:${from}@127.0.0.1>;reason=${reason};counter=1`], `${what}: Diversion names the forwarding client`);
  };

  await t.test('=F to a phone: the target gets the call with the caller’s From and Diversion reason=unconditional', async (t) => {
    const carol = await answering(t, 'carol-eqF', 2);
    const caller = await call(t, env, 'alice-102', '102', 2);
    t.equal(caller.successful, 2, describe(caller));
    checkCaller(t, caller.messages, 2, '=F');
    const r = await carol.done;
    t.equal(r.successful, 2, describe(r));
    checkForwarded(t, carol.messages(), caller.messages, 2, '4955550102', 'unconditional', '=F');
  });

  await t.test('=F to a gateway: prefix + normalised number, the forwarding client’s caller ID, Diversion', async (t) => {
    const gw = env.sipp(t, { name: 'gw-eqF', scenario: 'call-uas.xml', ip: GW, port: gwPort, count: 2, timeoutS: 20, set: { answerdelay: '0' } });
    await gw.listening();
    const caller = await call(t, env, 'alice-104', '104', 2);
    t.equal(caller.successful, 2, describe(caller));
    checkCaller(t, caller.messages, 2, '=F to a gateway');
    const r = await gw.done;
    t.equal(r.successful, 2, describe(r));
    const invites = invitesOf(gw.messages(), caller.messages);
    t.equal(new Set(invites.map((m) => m.callId)).size, 2, 'the gateway received both calls');
    t.same([...new Set(invites.map((m) => m.requestUri))], [`sip:999574991234567@${GW}:${gwPort}`], 'Request-URI: prefix 9995 + 74991234567');
    t.same([...new Set(invites.map((m) => /<sip:([^@>]+)@/.exec(m.header('from') ?? '')?.[1]))], ['4955550104'], "From: dave's caller ID, not alice's");
    t.same([...new Set(invites.map((m) => m.header('p-asserted-identity')))], ['<sip:4955550104@127.0.0.1>'], "P-Asserted-Identity: dave's caller ID");
    t.same([...new Set(invites.map((m) => m.headers('diversion').join(' | ')))], ['<sip:4955550104@127.0.0.1>;reason=unconditional;counter=1'], 'Diversion reason=unconditional');
    t.ok(invites.every((m) => m.header('proxy-authorization') === undefined), "alice's credentials stay at sipd");
  });

  await t.test('~F on 486 and on 603: the busy or declining phone, then the forward target answers', async (t) => {
    const cases: Array<[dialled: string, port: number, scenario: string, from: string, reason: string, status: number]> = [
      ['105', busyPort, 'call-uas-busy.xml', '4955550105', 'user-busy', 486],
      ['106', declinePort, 'feat-uas-decline.xml', '4955550106', 'do-not-disturb', 603],
    ];
    for (const [dialled, port, scenario, from, reason, status] of cases) {
      const what = `~F on ${status}`;
      const first = env.sipp(t, { name: `first-${dialled}`, scenario, port, count: 2, timeoutS: 20 });
      await first.listening();
      const carol = await answering(t, `carol-${dialled}`, 2);
      const caller = await call(t, env, `alice-${dialled}`, dialled, 2);
      t.equal(caller.successful, 2, `${what}: ${describe(caller)}`);
      checkCaller(t, caller.messages, 2, what);
      t.same([...finalInviteStatuses(caller.messages).values()].map((s) => [...new Set(s.filter((x) => x !== 407))]), [[200], [200]], `${what}: the ${status} is not relayed`);
      const f = await first.done;
      t.equal(f.successful, 2, `${what}: the first phone got both INVITEs and sipd's ACK for its ${status} (${describe(f)})`);
      const c = await carol.done;
      t.equal(c.successful, 2, `${what}: ${describe(c)}`);
      checkForwarded(t, carol.messages(), caller.messages, 2, from, reason, what);
    }
  });

  await t.test('~F when not registered: straight to the forward target', async (t) => {
    const carol = await answering(t, 'carol-107', 2);
    const caller = await call(t, env, 'alice-107', '107', 2);
    t.equal(caller.successful, 2, describe(caller));
    checkCaller(t, caller.messages, 2, '~F not registered');
    const c = await carol.done;
    t.equal(c.successful, 2, describe(c));
    checkForwarded(t, carol.messages(), caller.messages, 2, '4955550107', 'unavailable', '~F not registered');
  });

  await t.test('~F on no answer (noanswer=1): the first phone rings, gets CANCEL, the forward target answers', async (t) => {
    const ringing = env.sipp(t, { name: 'hank-ring', scenario: 'call-uas-ring.xml', port: ringPort, count: 2, timeoutS: 20 });
    await ringing.listening();
    const carol = await answering(t, 'carol-108', 2);
    const started = Date.now();
    const caller = await call(t, env, 'alice-108', '108', 2);
    t.equal(caller.successful, 2, describe(caller));
    t.ok(Date.now() - started >= 1000, 'hank rang for noanswer=1 s first');
    checkCaller(t, caller.messages, 2, '~F no answer');
    const r = await ringing.done;
    t.equal(r.successful, 2, `hank got CANCEL for both calls and answered 200 + 487 (${describe(r)})`);
    t.equal(received(ringing.messages(), 'CANCEL').length, 2, 'one CANCEL per call');
    const c = await carol.done;
    t.equal(c.successful, 2, describe(c));
    checkForwarded(t, carol.messages(), caller.messages, 2, '4955550108', 'no-answer', '~F no answer');
  });

  await t.test('forward loop (ivan =F jane, jane =F ivan): 482 naming the loop', async (t) => {
    const caller = await env.run(t, {
      name: 'alice-109-loop',
      scenario: 'call-uac-reject.xml',
      port: await freePort(),
      count: 2,
      rate: 10,
      timeoutS: 15,
      service: '109',
      authUser: 'alice',
      authPass: 'pw-alice',
      keys: { caller: 'alice', maxfwd: '70' },
    });
    t.equal(caller.successful, 2, describe(caller));
    t.same([...finalInviteStatuses(caller.messages).values()].map((s) => s.filter((x) => x !== 407)), [[482], [482]], '482 for both calls');
    const res = caller.messages.filter((m) => m.direction === 'received' && m.status === 482);
    t.same([...new Set(res.map(reasonOf))], ['Loop Detected (forward loop: ivan -> jane -> ivan)'], 'the reason names the loop');
  });

  await t.test('hunt (2): the client busy, position 2 answers; hunt (2-3): the client and position 2 busy, position 3 answers', async (t) => {
    const cases: Array<[dialled: string, busy: string[], answerer: string]> = [
      ['4955550301', ['ha1'], 'ha2'],
      ['4955550401', ['hb1', 'hb2'], 'hb3'],
    ];
    for (const [dialled, busy, answerer] of cases) {
      const busyUas = [];
      for (const [i, port] of [busyPort, busy2Port].slice(0, busy.length).entries()) {
        const s = env.sipp(t, { name: `busy-${dialled}-${busy[i]}`, scenario: 'call-uas-busy.xml', port, count: 2, timeoutS: 20 });
        await s.listening();
        busyUas.push(s);
      }
      const ans = await answering(t, `answer-${dialled}`, 2);
      const caller = await call(t, env, `alice-${dialled}`, dialled, 2);
      t.equal(caller.successful, 2, `${dialled}: ${describe(caller)}`);
      checkCaller(t, caller.messages, 2, `hunt ${dialled}`);
      for (const [i, s] of busyUas.entries()) {
        const b = await s.done;
        t.equal(b.successful, 2, `${dialled}: ${busy[i]} got both INVITEs, answered 486 and got the ACK (${describe(b)})`);
        const users = invitesOf(s.messages(), caller.messages).map((m) => /^sip:([^@]+)@/.exec(m.requestUri ?? '')?.[1]);
        t.same(users, [busy[i], busy[i]], `${dialled}: ${busy[i]} rang once per call`);
      }
      const a = await ans.done;
      t.equal(a.successful, 2, describe(a));
      const inv = invitesOf(ans.messages(), caller.messages);
      t.same([...new Set(inv.map((m) => m.requestUri))], [`sip:${answerer}@127.0.0.1:${answerPort}`], `${dialled}: ${answerer} answers`);
      t.ok(inv.every((m) => m.header('from') === sentInvites(caller.messages).get(m.callId)!.header('from')), `${dialled}: the caller's From is kept`);
    }
  });

  await t.test('CDR: forwards and hunts with the final destination and the reason', async (t) => {
    await new Promise((r) => setTimeout(r, 500)); // records are written in batches every 200 ms
    const r = await runSipd(['--cdr', '--csv', '-s', env.dir]);
    t.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\r\n');
    const head = lines[0]!.split(',');
    // Reasons hold no commas here, so a plain split is enough; quoted fields are unquoted.
    const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i]!, v.replace(/^"|"$/g, '')])) as Record<string, string>);
    const by = (dialled: string) => rows.filter((x) => x.dialled === dialled);
    const expect: Array<[dialled: string, status: string, destination: string, reason: RegExp]> = [
      ['102', '200', 'carol', /^answered; forwarded by bob to 103; the caller hung up$/],
      ['104', '200', 'gw 999574991234567', /^answered; forwarded by dave to 84991234567; the caller hung up$/],
      ['105', '200', 'carol', /^answered; forwarded \(busy\) by erin to 103; the caller hung up$/],
      ['106', '200', 'carol', /^answered; forwarded \(declined\) by fay to 103; the caller hung up$/],
      ['107', '200', 'carol', /^answered; forwarded \(unavailable\) by gus to 103; the caller hung up$/],
      ['108', '200', 'carol', /^answered; forwarded \(no answer\) by hank to 103; the caller hung up$/],
      ['109', '482', '', /^Loop Detected \(forward loop: ivan -> jane -> ivan\); forwarded by ivan to 110; forwarded by jane to 109$/],
      ['4955550301', '200', 'ha2', /^answered; hunt: ha2; the caller hung up$/],
      ['4955550401', '200', 'hb3', /^answered; hunt: hb2; hunt: hb3; the caller hung up$/],
    ];
    for (const [dialled, status, destination, reason] of expect) {
      const got = by(dialled);
      t.equal(got.length, 2, `${dialled}: two rows`);
      for (const row of got) {
        t.equal(row.status, status, `${dialled}: status`);
        t.equal(row.destination, destination, `${dialled}: destination`);
        t.match(row.reason, reason, `${dialled}: reason`);
        t.equal(row.caller, 'alice');
      }
    }
  });
});
