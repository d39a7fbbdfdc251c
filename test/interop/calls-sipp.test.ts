// Calls between phones through bin/sipd with SIPp callers and callees
// (issue 5, "Tests"): short/long/name numbers, UDP and TCP, busy, CANCEL,
// refusals, loop, forking, and the CDRs of it all. Every SIPp runs on
// loopback, bounded by -m and -timeout. Under CI=true a missing sipp fails
// this file instead of skipping it.
import t from 'tap';
import { requireSipp } from '../helpers/sipp.js';
import { runSipd } from '../helpers/sipd-process.js';
import { checkCallee, checkCaller, describe, finalInviteStatuses, freePort, office, REALM, received, rrOf, sentInvites, until } from '../helpers/sipp-calls.js';

const skip = requireSipp();

const PHONES: Array<[name: string, group: string, exten: string, extra?: string]> = [
  ['alice', 'OFFICE', '4955550101#101'],
  ['bob', 'OFFICE', '4955550102#102'],
  ['carol', 'SALES', '4955550201#101'],
  ['dave', 'OFFICE', '4955550103#103'],
  ['erin', 'OFFICE', '4955550104#104'],
  ['frank', 'OFFICE', '4955550105#105'],
  ['fork', 'OFFICE', '4955550106#106'],
  ['tina', 'OFFICE', '4955550107#107'],
  ['intern', 'OFFICE', '4955550108#108', 'context=internal'],
];

function officeConf(): string {
  let conf = `[general]\nrealm=${REALM}\n\n`;
  for (const [name, group, exten, extra] of PHONES) {
    conf += `[${name}]\naccountcode=${group}\nsecret=pw-${name}\npermit=127.0.0.0/8\nexten=${exten}\n${extra !== undefined ? `${extra}\n` : ''}\n`;
  }
  return conf;
}

t.test('calls between phones through sipd', { skip }, async (t) => {
  const env = await office(t, officeConf());
  const uasPort = await freePort();
  await env.register(t, 'bob', uasPort);
  await env.register(t, 'carol', uasPort);

  await t.test('phone to phone by short number, long number across groups and section name, over UDP and TCP', async (t) => {
    const callee = env.sipp(t, { name: 'callee-bob-carol', scenario: 'call-uas.xml', port: uasPort, count: 20, timeoutS: 30, set: { answerdelay: '0' } });
    await callee.listening();
    const cases: Array<[dialled: string, transport: 'u1' | 't1', contactUser: string, what: string]> = [
      ['102', 'u1', 'bob', 'short number 102 in the same group'],
      ['4955550201', 'u1', 'carol', 'long number of another group'],
      ['bob', 'u1', 'bob', 'section name'],
      ['102', 't1', 'bob', 'short number from a TCP caller'],
    ];
    for (const [dialled, transport, contactUser, what] of cases) {
      const caller = await env.run(t, {
        name: `caller-${dialled}-${transport}`,
        scenario: 'call-uac.xml',
        transport,
        port: await freePort(),
        count: 5,
        rate: 20,
        pauseMs: 50,
        timeoutS: 20,
        service: dialled,
        authUser: 'alice',
        authPass: 'pw-alice',
        keys: { caller: 'alice' },
      });
      t.equal(caller.successful, 5, `${what}: 5 answered calls (${describe(caller)})`);
      t.equal(caller.failed, 0, `${what}: no failed call`);
      checkCaller(t, caller.messages, 5, what);
      const invites = received(callee.messages(), 'INVITE').filter((m) => sentInvites(caller.messages).has(m.callId));
      t.ok(invites.length > 0 && invites.every((m) => m.requestUri === `sip:${contactUser}@127.0.0.1:${uasPort}`), `${what}: reaches ${contactUser}'s contact`);
      checkCallee(t, callee.messages(), caller.messages, 5, transport === 'u1' ? [rrOf(env.sipd.port, false)] : [rrOf(env.sipd.port, false), rrOf(env.sipd.port, true)], what);
    }
    const r = await callee.done;
    t.equal(r.successful, 20, `the callee's checks (Record-Route, SDP) passed on all 20 calls (${describe(r)})`);
    t.equal(r.failed, 0);
  });

  await t.test('TCP callee: from a TCP caller and from a UDP caller', async (t) => {
    const port = await freePort();
    // Registers over TCP and keeps the connection; call-uas.xml answers on it as the out-of-call scenario.
    const tina = env.sipp(t, {
      name: 'callee-tina-tcp',
      scenario: 'call-register-hold.xml',
      oocsf: 'call-uas.xml',
      transport: 't1',
      port,
      count: 1,
      timeoutS: 40,
      service: 'tina',
      authPass: 'pw-tina',
      keys: { contact: `127.0.0.1:${port};transport=tcp`, expires: '600' },
      set: { hold: '30000', answerdelay: '0' },
    });
    await until(() => new RegExp(`tina registered .*source=tcp:127\\.0\\.0\\.1:${port}`).test(env.sipd.stdout()), 'tina registered over TCP');
    for (const transport of ['t1', 'u1'] as const) {
      const what = `${transport === 't1' ? 'TCP' : 'UDP'} caller to a TCP callee`;
      const caller = await env.run(t, {
        name: `caller-107-${transport}`,
        scenario: 'call-uac.xml',
        transport,
        port: await freePort(),
        count: 5,
        rate: 20,
        pauseMs: 50,
        timeoutS: 20,
        service: '107',
        authUser: 'alice',
        authPass: 'pw-alice',
        keys: { caller: 'alice' },
      });
      t.equal(caller.successful, 5, `${what}: 5 answered calls (${describe(caller)})`);
      t.equal(caller.failed, 0);
      checkCaller(t, caller.messages, 5, what);
      const msgs = tina.messages();
      t.ok(received(msgs, 'INVITE').every((m) => m.proto === 'TCP'), `${what}: the INVITE arrives over TCP`);
      // One Record-Route when the transport stays, two (TCP side first) when it changes.
      checkCallee(t, msgs, caller.messages, 5, transport === 't1' ? [rrOf(env.sipd.port, true)] : [rrOf(env.sipd.port, true), rrOf(env.sipd.port, false)], what);
    }
    tina.kill();
  });

  await t.test('busy: the callee answers 486, the caller gets 486', async (t) => {
    const port = await freePort();
    await env.register(t, 'dave', port);
    const callee = env.sipp(t, { name: 'callee-dave-busy', scenario: 'call-uas-busy.xml', port, count: 5, timeoutS: 20 });
    await callee.listening();
    const caller = await env.run(t, {
      name: 'caller-103-busy',
      scenario: 'call-uac-reject.xml',
      port: await freePort(),
      count: 5,
      rate: 20,
      timeoutS: 20,
      service: '103',
      authUser: 'alice',
      authPass: 'pw-alice',
      keys: { caller: 'alice', maxfwd: '70' },
    });
    t.equal(caller.successful, 5, describe(caller));
    t.same([...finalInviteStatuses(caller.messages).values()].map((s) => s.filter((x) => x !== 407)), Array(5).fill([486]), '486 relayed for every call');
    const r = await callee.done;
    t.equal(r.successful, 5, `the busy callee got every INVITE and its ACK (${describe(r)})`);
  });

  await t.test('no answer: the caller cancels, gets 487, the callee gets CANCEL and answers 200 + 487', async (t) => {
    const port = await freePort();
    await env.register(t, 'erin', port);
    const callee = env.sipp(t, { name: 'callee-erin-ring', scenario: 'call-uas-ring.xml', port, count: 5, timeoutS: 20 });
    await callee.listening();
    const caller = await env.run(t, {
      name: 'caller-104-cancel',
      scenario: 'call-uac-cancel.xml',
      port: await freePort(),
      count: 5,
      rate: 20,
      timeoutS: 20,
      service: '104',
      authUser: 'alice',
      authPass: 'pw-alice',
      keys: { caller: 'alice' },
    });
    t.equal(caller.successful, 5, `INVITE, 180, CANCEL, 200, 487, ACK for every call (${describe(caller)})`);
    t.same([...finalInviteStatuses(caller.messages).values()].map((s) => s.filter((x) => x !== 407)), Array(5).fill([487]));
    const r = await callee.done;
    t.equal(r.successful, 5, `the callee received every CANCEL and the ACK for its 487 (${describe(r)})`);
    t.equal(received(callee.messages(), 'CANCEL').length, 5);
  });

  await t.test('refusals: not registered 480, unknown 404, dialplan 403, Max-Forwards 0 483', async (t) => {
    const cases: Array<[dialled: string, user: string, maxfwd: string, status: number, reason: RegExp]> = [
      ['105', 'alice', '70', 480, /^Temporarily Unavailable \(frank is not registered\)$/],
      ['nobody', 'alice', '70', 404, /^Not Found \(nobody is neither a client nor a phone number\)$/],
      ['89161234567', 'intern', '70', 403, /^Forbidden \(dialplan of \[intern\] does not allow 89161234567\)$/],
      ['102', 'alice', '0', 483, /^Too Many Hops$/],
    ];
    for (const [dialled, user, maxfwd, status, reason] of cases) {
      const caller = await env.run(t, {
        name: `caller-${dialled}-${status}`,
        scenario: 'call-uac-reject.xml',
        port: await freePort(),
        count: 3,
        rate: 20,
        timeoutS: 15,
        service: dialled,
        authUser: user,
        authPass: `pw-${user}`,
        keys: { caller: user, maxfwd },
      });
      t.equal(caller.successful, 3, `${dialled} from ${user}: ${describe(caller)}`);
      const finals = [...finalInviteStatuses(caller.messages).values()].map((s) => s.filter((x) => x !== 407));
      t.same(finals, Array(3).fill([status]), `${dialled} from ${user} (Max-Forwards ${maxfwd}): ${status}`);
      const res = caller.messages.find((m) => m.direction === 'received' && m.status === status);
      t.match(res?.startLine.replace(/^SIP\/2\.0 \d{3} /, ''), reason, 'reason phrase');
    }
  });

  await t.test('forking: two contacts ring, the second answers, the first gets CANCEL, the caller gets one 200', async (t) => {
    const first = await freePort();
    const second = await freePort();
    await env.register(t, 'fork', first);
    await env.register(t, 'fork', second);
    const ringer = env.sipp(t, { name: 'callee-fork-first', scenario: 'call-uas-ring.xml', port: first, count: 5, timeoutS: 20 });
    const answerer = env.sipp(t, { name: 'callee-fork-second', scenario: 'call-uas.xml', port: second, count: 5, timeoutS: 20, set: { answerdelay: '300' } });
    await ringer.listening();
    await answerer.listening();
    const caller = await env.run(t, {
      name: 'caller-106-fork',
      scenario: 'call-uac.xml',
      port: await freePort(),
      count: 5,
      rate: 10,
      pauseMs: 50,
      timeoutS: 20,
      service: '106',
      authUser: 'alice',
      authPass: 'pw-alice',
      keys: { caller: 'alice' },
    });
    t.equal(caller.successful, 5, describe(caller));
    checkCaller(t, caller.messages, 5, 'forked call');
    const a = await answerer.done;
    t.equal(a.successful, 5, `the second contact answered every call (${describe(a)})`);
    checkCallee(t, answerer.messages(), caller.messages, 5, [rrOf(env.sipd.port, false)], 'answering fork');
    const r = await ringer.done;
    t.equal(r.successful, 5, `the first contact got CANCEL for every call and answered 200 + 487 (${describe(r)})`);
    const cancels = received(ringer.messages(), 'CANCEL');
    t.equal(cancels.length, 5);
    t.ok(cancels.every((c) => /cause=200/.test(c.header('reason') ?? '')), 'CANCEL says "Call completed elsewhere" (Reason cause=200)');
  });

  await t.test('CDR: answered, busy, cancelled and unavailable calls', async (t) => {
    await new Promise((r) => setTimeout(r, 500)); // records are written in batches every 200 ms
    const r = await runSipd(['--cdr', '--csv', '-s', env.dir]);
    t.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\r\n');
    const head = lines[0]!.split(',');
    const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((v, i) => [head[i]!, v])) as Record<string, string>);
    const by = (dialled: string, status: string) => rows.filter((x) => x.dialled === dialled && x.status === status);
    const answered = by('102', '200');
    t.ok(answered.length >= 10, `answered calls to 102 recorded (${answered.length})`);
    t.ok(answered.every((x) => x.caller === 'alice' && x.destination === 'bob' && x.answered_at !== '' && x.ended_at !== '' && x.ended_at >= x.answered_at), 'answered_at and ended_at set');
    t.equal(by('103', '486').length, 5, 'busy calls: 486');
    t.equal(by('104', '487').length, 5, 'cancelled calls: 487');
    t.ok(by('104', '487').every((x) => x.answered_at === '' && x.ended_at !== ''), 'a cancelled call has no answer time');
    t.equal(by('105', '480').length, 3, 'not registered: 480');
    t.equal(by('106', '200').length, 5, 'forked calls: one record each, answered');
  });
});

t.test('loop: a static client whose host is sipd itself gets 482', { skip }, async (t) => {
  const port = await freePort();
  // The only section on 127.0.0.1: every caller from there is [loopy], and a call
  // to loopy goes to its host, sipd itself, which routes it to loopy again.
  const env = await office(t, `[general]\nrealm=${REALM}\n\n[loopy]\nhost=127.0.0.1:${port}\nexten=#301\n`, port);
  const caller = await env.run(t, {
    name: 'caller-loopy',
    scenario: 'call-uac-reject.xml',
    port: await freePort(),
    count: 3,
    rate: 10,
    timeoutS: 15,
    service: 'loopy',
    keys: { caller: 'loopy', maxfwd: '70' },
  });
  t.equal(caller.successful, 3, describe(caller));
  t.same([...finalInviteStatuses(caller.messages).values()], Array(3).fill([482]), 'the caller gets 482 Loop Detected, unchallenged');
});
