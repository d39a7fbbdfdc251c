// Feature codes and pickup through bin/sipd with SIPp (issue 6, "Tests"):
// *72F then a call forwards, through a restart and `sipd -r`, *73 clears it;
// every code's documented response without a media gateway
// (docs/features.md); with one (a SIPp UAS on 127.0.0.4, added by `sipd -r`)
// the code reaches it as the outcome (*72F, *73, *70, *00); `sipd --forwards`;
// *11 while a group member rings: the caller gets the picker's INVITE with
// Replaces, the ringing phone gets CANCEL; the CDR rows. Every SIPp is bounded
// by -m and -timeout. Under CI=true a missing sipp fails this file instead of
// skipping it.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { requireSipp } from '../helpers/sipp.js';
import { runSipd, startSipd, type SipdProcess } from '../helpers/sipd-process.js';
import { checkCaller, describe, finalInviteStatuses, freePort, office, REALM, received, responses, sentInvites, until, type SippMessage } from '../helpers/sipp-calls.js';
import type { TapTest } from '../helpers/tap.js';

const skip = requireSipp();

const MG = '127.0.0.4';

const CONF = [
  `[general]\nrealm=${REALM}\n`,
  ...(['alice', 'bob', 'carol', 'dave'] as const).map((n, i) => `[${n}]\naccountcode=OFFICE\nsecret=pw-${n}\npermit=127.0.0.0/8\nexten=495555010${i + 1}#10${i + 1}\n`),
  '[erin]\naccountcode=SALES\nsecret=pw-erin\npermit=127.0.0.0/8\nexten=4955550201#201\n',
].join('\n');

function reasonOf(m: SippMessage | undefined): string | undefined {
  return m?.startLine.replace(/^SIP\/2\.0 \d{3} /, '');
}

function tagOf(header: string | undefined): string | undefined {
  return /;tag=([^;>\s]+)/.exec(header ?? '')?.[1];
}

t.test('feature codes', { skip }, async (t) => {
  const top = t;
  const port = await freePort();
  const env = await office(t, CONF, port);
  let sipd: SipdProcess = env.sipd;
  const answerPort = await freePort();
  await env.register(t, 'carol', answerPort);

  /** One call from `user` to `dialled` that ends in a failure response; its status and reason. */
  const code = async (t: TapTest, user: string, dialled: string): Promise<[number | undefined, string | undefined]> => {
    const r = await env.run(t, {
      name: `${user}-${dialled.replace('*', 'star')}-${Date.now()}`,
      scenario: 'call-uac-reject.xml',
      port: await freePort(),
      count: 1,
      timeoutS: 10,
      service: dialled,
      authUser: user,
      authPass: `pw-${user}`,
      keys: { caller: user, maxfwd: '70' },
    });
    t.equal(r.successful, 1, `${dialled} from ${user}: ${describe(r)}`);
    const final = r.messages.filter((m) => m.direction === 'received' && m.cseqMethod === 'INVITE' && (m.status ?? 0) >= 200 && m.status !== 407).pop();
    return [final?.status, reasonOf(final)];
  };

  /** bob calls alice (101): carol answers with alice's Diversion. */
  const forwardedToCarol = async (t: TapTest, what: string): Promise<void> => {
    const carol = env.sipp(t, { name: `carol-${what}`, scenario: 'call-uas.xml', port: answerPort, count: 1, timeoutS: 15, set: { answerdelay: '0' } });
    await carol.listening();
    const caller = await env.run(t, {
      name: `bob-101-${what}`,
      scenario: 'call-uac.xml',
      port: await freePort(),
      count: 1,
      pauseMs: 50,
      timeoutS: 15,
      service: '101',
      authUser: 'bob',
      authPass: 'pw-bob',
      keys: { caller: 'bob' },
    });
    t.equal(caller.successful, 1, `${what}: ${describe(caller)}`);
    checkCaller(t, caller.messages, 1, what);
    const r = await carol.done;
    t.equal(r.successful, 1, `${what}: carol answered (${describe(r)})`);
    const inv = received(carol.messages(), 'INVITE').filter((m) => sentInvites(caller.messages).has(m.callId));
    t.equal(inv.length, 1, `${what}: the call reached carol`);
    t.equal(inv[0]?.header('diversion'), '<sip:4955550101@127.0.0.1>;reason=unconditional;counter=1', `${what}: Diversion from alice`);
  };

  const forwardsList = async (t: TapTest): Promise<string> => {
    const r = await runSipd(['--forwards', '-s', env.dir]);
    t.equal(r.code, 0, r.stderr);
    return r.stdout;
  };

  await t.test('*72F then a call forwards; still after a restart and after sipd -r; *73 clears it', async (t) => {
    t.same(await code(t, 'alice', '*72103'), [480, 'Forward set to 103'], '*72103: 480 Forward set to 103');
    await forwardedToCarol(t, 'after *72');
    t.match(await forwardsList(t), /^alice\s+4955550101, 101\s+always\s+103\s+\*72 at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\s*$/m, 'sipd --forwards shows it');

    await sipd.stop();
    sipd = await startSipd(['-b', `127.0.0.1:${port}`, '-s', env.dir]);
    top.teardown(() => sipd.stop()); // the whole file's sipd from here on
    await env.register(t, 'carol', answerPort);
    await forwardedToCarol(t, 'after a restart');

    fs.appendFileSync(path.join(env.dir, 'sip.conf'), '\n[frank]\naccountcode=OFFICE\nsecret=pw-frank\nexten=4955550105#105\n');
    const rl = await runSipd(['-r', '-s', env.dir]);
    t.equal(rl.code, 0, rl.stderr);
    t.match(rl.stdout, /reloaded .*clients added: frank/, `sipd -r reloaded (${rl.stdout.trim()})`);
    await forwardedToCarol(t, 'after sipd -r');

    t.same(await code(t, 'alice', '*73'), [480, 'Forward cancelled'], '*73: 480 Forward cancelled');
    t.same(await code(t, 'bob', '101'), [480, 'Temporarily Unavailable (alice is not registered)'], 'a call to alice no longer forwards');
    t.match(await forwardsList(t), /^alice\s+4955550101, 101\s+none\s+-\s+\*73 at /m, 'sipd --forwards: alice cancelled');
  });

  await t.test('without a media gateway: the documented responses (docs/features.md)', async (t) => {
    const rows: Array<[user: string, dialled: string, status: number, reason: string]> = [
      ['alice', '*72', 480, 'No forward'],
      ['alice', '*73', 480, 'No forward'],
      ['alice', '*71103', 480, 'Forward if unavailable set to 103'],
      ['alice', '*71', 480, 'Forward if unavailable to 103'],
      ['alice', '*72', 480, 'Forward if unavailable to 103'],
      ['alice', '*72101', 403, 'Wrong forwarding command (cannot forward to yourself)'],
      ['alice', '*7284991234567', 403, 'Wrong forwarding command (no gateway is configured for 84991234567)'],
      ['alice', '*7281044123456789', 403, 'Forbidden (dialplan of [alice] does not allow *7281044123456789)'],
      ['alice', '*74', 403, 'Wrong forwarding command (*74)'],
      ['alice', '*12', 403, 'Wrong forwarding command (*12)'],
      ['alice', '*99', 404, 'Invalid feature code *99'],
      ['alice', '*55', 404, 'Invalid feature code *55 (no media gateway)'],
      ['alice', '*11', 404, 'No call to pick up'],
      ['erin', '*11', 404, 'No call to pick up'],
    ];
    for (const [user, dialled, status, reason] of rows) t.same(await code(t, user, dialled), [status, reason], `${dialled} from ${user}`);
    // *71103 is in force (the refused codes changed nothing): alice is not registered, so carol gets the call.
    const carol = env.sipp(t, { name: 'carol-71', scenario: 'call-uas.xml', port: answerPort, count: 1, timeoutS: 15, set: { answerdelay: '0' } });
    await carol.listening();
    const caller = await env.run(t, { name: 'bob-101-71', scenario: 'call-uac.xml', port: await freePort(), count: 1, pauseMs: 50, timeoutS: 15, service: '101', authUser: 'bob', authPass: 'pw-bob', keys: { caller: 'bob' } });
    t.equal(caller.successful, 1, describe(caller));
    await carol.done;
    t.equal(received(carol.messages(), 'INVITE')[0]?.header('diversion'), '<sip:4955550101@127.0.0.1>;reason=unavailable;counter=1', '*71: forwarded when not registered');
    t.same(await code(t, 'alice', '*73'), [480, 'Forward cancelled']);
  });

  await t.test('*11 while a group member rings: the caller gets the pickup INVITE with Replaces, the ringing phone CANCEL', async (t) => {
    const bobPort = await freePort();
    await env.register(t, 'bob', bobPort);
    const ringing = env.sipp(t, { name: 'bob-ringing', scenario: 'call-uas-ring.xml', port: bobPort, count: 1, timeoutS: 20 });
    await ringing.listening();
    const caller = env.sipp(t, {
      name: 'alice-102-picked',
      scenario: 'feat-uac-pickup.xml',
      oocsf: 'feat-uas-replaces.xml',
      port: await freePort(),
      count: 1,
      pauseMs: 1500,
      timeoutS: 20,
      service: '102',
      authUser: 'alice',
      authPass: 'pw-alice',
      keys: { caller: 'alice' },
    });
    await until(() => responses(caller.messages(), 180).length > 0, "alice's call rings at bob");
    const picker = await env.run(t, {
      name: 'dave-pickup',
      scenario: 'call-uac.xml',
      port: await freePort(),
      count: 1,
      pauseMs: 100,
      timeoutS: 15,
      service: '*11',
      authUser: 'dave',
      authPass: 'pw-dave',
      keys: { caller: 'dave' },
    });
    t.equal(picker.successful, 1, `dave's *11 was answered by alice's phone (${describe(picker)})`);
    const c = await caller.done;
    t.equal(c.successful, 1, `alice's ringing call ended in 487 (${describe(c)})`);
    const r = await ringing.done;
    t.equal(r.successful, 1, `bob's phone got CANCEL and answered 200 + 487 (${describe(r)})`);

    const am = caller.messages();
    const original = [...sentInvites(am).values()].find((m) => m.requestUri?.startsWith('sip:102@'))!;
    const callId = original.callId;
    const aliceTag = tagOf(original.header('from'));
    const ringingRes = responses(am, 180).find((m) => m.callId === callId);
    const bobTag = tagOf(ringingRes?.header('to'));
    t.ok(aliceTag !== undefined && bobTag !== undefined, `tags: alice ${aliceTag}, bob ${bobTag}`);
    t.equal(tagOf(received(ringing.messages(), 'INVITE')[0]?.header('from')), aliceTag, "bob's phone saw alice's From tag");
    const pick = received(am, 'INVITE').filter((m) => m.callId !== callId);
    t.equal(pick.length, 1, 'alice received one pickup INVITE (its own Call-ID)');
    const dm = picker.messages;
    const daveInvite = [...sentInvites(dm).values()][0]!;
    t.equal(pick[0]?.callId, daveInvite.callId, "the pickup INVITE is dave's call");
    t.equal(pick[0]?.header('replaces'), `${callId};to-tag=${aliceTag};from-tag=${bobTag};early-only`, "Replaces: alice's call, to-tag = alice's own tag, from-tag = bob's");
    t.equal(pick[0]?.requestUri, original.header('contact')?.replace(/^<|>$/g, ''), "sent to alice's Contact");
    t.equal(pick[0]?.header('from'), daveInvite.header('from'), "dave's From");
    t.same(finalInviteStatuses(am).get(callId)?.filter((s) => s !== 407), [487], "alice's original INVITE: 487 (once: her ACK matched)");
    t.same(responses(am, 487).map((m) => m.vias.length), [1], 'the 487 carries only her own Via');
    t.equal(received(am, 'ACK').filter((m) => m.callId === daveInvite.callId).length, 1, "alice got dave's ACK");
    t.equal(received(am, 'BYE').filter((m) => m.callId === daveInvite.callId).length, 1, "alice got dave's BYE");
    const cancels = received(ringing.messages(), 'CANCEL');
    t.equal(cancels.length, 1, 'bob got CANCEL');
    t.equal(cancels[0]?.callId, callId);
    const answeredAt = stamps(caller.messageFile, /^UDP message sent[^\n]*\n\nSIP\/2\.0 200 OK\r\n[\s\S]*?CSeq: 2 INVITE/m)[0];
    const cancelAt = stamps(ringing.messageFile, /^UDP message received[^\n]*\n\nCANCEL /m)[0];
    // Two SIPp processes stamp their logs, each after its own send or receive: the stamps of
    // causally ordered packets can cross by a fraction of a millisecond. Alice waits 150 ms
    // before answering, so a CANCEL sent at the pickup rather than at the answer is 150 ms early.
    t.ok(
      answeredAt !== undefined && cancelAt !== undefined && secondsOf(cancelAt) > secondsOf(answeredAt) - 0.05,
      `bob's CANCEL (${cancelAt}) came with alice's answer to the pickup (${answeredAt}), not 150 ms before it`,
    );
    t.match(sipd.stdout(), /dave picks up the call ringing at bob/, 'logged');
  });

  await t.test('with a media gateway (added by sipd -r): the code reaches it as the outcome', async (t) => {
    const mgPort = await freePort(MG);
    fs.appendFileSync(path.join(env.dir, 'sip.conf'), `\n[mg]\naccountcode=mediagates\nhost=${MG}:${mgPort}\n`);
    const rl = await runSipd(['-r', '-s', env.dir]);
    t.equal(rl.code, 0, rl.stderr);
    const dialled = ['*72103', '*72', '*71', '*73', '*72', '*74', '*72101', '*99', '*55', '*11', '*71102', '*72'];
    const expected = ['*72103', '*72103', '*72103', '*73', '*73', '*70', '*70', '*00', '*55', '*00', '*71102', '*71102'];
    const mg = env.sipp(t, { name: 'mg', scenario: 'call-uas.xml', ip: MG, port: mgPort, count: dialled.length, timeoutS: 30, set: { answerdelay: '0' } });
    await mg.listening();
    const seen: Array<string | undefined> = [];
    for (const d of dialled) {
      const caller = await env.run(t, {
        name: `alice-mg-${d.replace('*', 'star')}-${seen.length}`,
        scenario: 'call-uac.xml',
        port: await freePort(),
        count: 1,
        pauseMs: 20,
        timeoutS: 15,
        service: d,
        authUser: 'alice',
        authPass: 'pw-alice',
        keys: { caller: 'alice' },
      });
      t.equal(caller.successful, 1, `${d}: answered by the media gateway (${describe(caller)})`);
      const inv = received(mg.messages(), 'INVITE').filter((m) => sentInvites(caller.messages).has(m.callId));
      seen.push(inv[0]?.requestUri);
    }
    t.same(seen, expected.map((u) => `sip:${u}@${MG}:${mgPort}`), 'the media gateway is called as the outcome');
    const r = await mg.done;
    t.equal(r.successful, dialled.length, describe(r));
    t.match(await forwardsList(t), /^alice\s+4955550101, 101\s+when unavailable\s+102\s+\*71 at /m, 'sipd --forwards: *71102');
  });

  await t.test('CDR: the forwarded calls, the codes, the pickup', async (t) => {
    await new Promise((r) => setTimeout(r, 500)); // records are written in batches every 200 ms
    const r = await runSipd(['--cdr', '--csv', '-s', env.dir]);
    t.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\r\n');
    const head = lines[0]!.split(',');
    const rows = lines.slice(1).map((l) => Object.fromEntries(splitCsv(l).map((v, i) => [head[i]!, v])) as Record<string, string>);
    const fwd = rows.filter((x) => x.caller === 'bob' && x.dialled === '101' && x.status === '200');
    t.equal(fwd.length, 4, 'four forwarded calls from bob to alice');
    t.ok(fwd.every((x) => x.destination === 'carol'), 'destination: carol');
    t.equal(fwd.filter((x) => /^answered; forwarded by alice to 103; the caller hung up$/.test(x.reason!)).length, 3, '*72: forwarded by alice');
    t.equal(fwd.filter((x) => /^answered; forwarded \(unavailable\) by alice to 103; the caller hung up$/.test(x.reason!)).length, 1, '*71: forwarded (unavailable)');
    const set = rows.find((x) => x.dialled === '*72103' && x.status === '480');
    t.match(set?.reason, /^Forward set to 103; forward set to 103 \(\*72\)$/, 'the *72 row');
    const pick = rows.find((x) => x.caller === 'dave' && x.dialled === '*11' && x.status === '200');
    t.match(pick?.reason, /^answered; picks up the call ringing at bob \(.+\)/, "dave's *11 row");
    t.equal(pick?.destination, 'pickup of bob');
    const picked = rows.find((x) => x.caller === 'alice' && x.dialled === '102');
    t.equal(picked?.status, '487', "alice's picked-up call: 487");
    t.equal(picked?.reason, 'picked up by dave', "alice's picked-up call: picked up by dave (not cancelled by her)");
    t.equal(picked?.destination, 'bob', "alice's picked-up call: it rang at bob");
  });
});

/** The times (SIPp's `YYYY-MM-DD HH:MM:SS.micro` stamps, comparable as text) of the messages in a -trace_msg file that match `re`. */
/** Seconds since midnight of a SIPp log stamp (`2026-11-24 04:59:14.014655`). */
function secondsOf(stamp: string): number {
  const [h, m, sec] = stamp.slice(11).split(':').map(Number) as [number, number, number];
  return h * 3600 + m * 60 + sec;
}

function stamps(file: string, re: RegExp): string[] {
  const out: string[] = [];
  for (const chunk of fs.readFileSync(file, 'latin1').split(/^-{20,} /m).slice(1)) {
    const nl = chunk.indexOf('\n');
    if (re.test(chunk.slice(nl + 1))) out.push(chunk.slice(0, nl).trim());
  }
  return out;
}

/** One CSV line (RFC 4180 quoting). */
function splitCsv(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i]!;
    if (q) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') q = false;
      else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === ',') {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}
