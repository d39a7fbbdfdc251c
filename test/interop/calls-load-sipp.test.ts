// Call load through sipd with SIPp (issue 5, "Tests" and "Memory and timers"):
// a call load running across ten `sipd -r` reloads with 0 failed calls, and,
// on an in-process server, every transaction and call record freed after a
// load run. Under CI=true a missing sipp fails this file instead of skipping it.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { Writable } from 'node:stream';
import { requireSipp } from '../helpers/sipp.js';
import { runSipd, workDir } from '../helpers/sipd-process.js';
import { describe, freePort, office, REALM, Sipp, sleep, until } from '../helpers/sipp-calls.js';
import { SipdServer } from '../../lib/server.js';
import { createLogger } from '../../lib/util/log.js';

const skip = requireSipp();

const CONF = `[general]
realm=${REALM}

[alice]
accountcode=OFFICE
secret=pw-alice
permit=127.0.0.0/8
exten=4955550101#101

[bob]
accountcode=OFFICE
secret=pw-bob
permit=127.0.0.0/8
exten=4955550102#102
`;

t.test('a call load across ten sipd -r reloads: 0 failed calls', { skip }, async (t) => {
  const env = await office(t, CONF);
  const port = await freePort();
  await env.register(t, 'bob', port);
  const calls = 400;
  const callee = env.sipp(t, { name: 'callee-load', scenario: 'call-uas.xml', port, count: calls, timeoutS: 45, set: { answerdelay: '0' } });
  await callee.listening();
  const caller = env.sipp(t, {
    name: 'caller-load',
    scenario: 'call-uac.xml',
    port: await freePort(),
    count: calls,
    rate: 40,
    pauseMs: 200,
    timeoutS: 45,
    service: '102',
    authUser: 'alice',
    authPass: 'pw-alice',
    keys: { caller: 'alice' },
  });
  let finished = false;
  void caller.done.then(() => (finished = true));
  const file = path.join(env.dir, 'sip.conf');
  const reloads: string[] = [];
  for (let i = 1; i <= 10; i++) {
    await sleep(300);
    // A real change each time: a client comes and goes, so every reload swaps the configuration.
    // Written as editors and deployment tools do, to a temporary file renamed over sip.conf: sipd
    // also watches the file, and a watcher reload between the truncation and the write of an
    // in-place rewrite would load an empty sip.conf (and drop every registration with it).
    fs.writeFileSync(`${file}.tmp`, i % 2 === 1 ? `${CONF}\n[extra${i}]\naccountcode=OFFICE\nsecret=pw-extra\nexten=#2${String(i).padStart(2, '0')}\n` : CONF);
    fs.renameSync(`${file}.tmp`, file);
    const r = await runSipd(['-r', '-s', env.dir]);
    t.equal(r.code, 0, `reload ${i}: ${r.stdout}${r.stderr}`);
    reloads.push(r.stdout);
  }
  t.notOk(finished, 'the ten reloads happened while the calls were running');
  t.equal(reloads.filter((s) => /reloaded .*sip\.conf: .*extra/.test(s)).length, 10, 'each reload applied a change');
  const r = await caller.done;
  t.equal(r.successful, calls, `${calls} answered calls (${describe(r)})`);
  t.equal(r.failed, 0, '0 failed calls');
  const c = await callee.done;
  t.equal(c.successful, calls, `the callee answered ${calls} calls (${describe(c)})`);
  t.equal(c.failed, 0);
});

t.test('after a load run every transaction, call and dialog record is freed', { skip }, async (t) => {
  const dir = workDir(CONF);
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString().split('\n').filter((l) => l !== ''));
      cb();
    },
  });
  // Short RFC 3261 timers (T1 50 ms: Timers J, L and the 64*T1 guards 3.2 s; T4 500 ms: Timer K) keep the wait short.
  const server = await SipdServer.start({
    bind: { address: '127.0.0.1', port: 0 },
    log: createLogger({ level: 'info', destination: sink }),
    workDir: dir,
    numbering: { countryCode: '7', cityCode: '495' },
    timers: { t1: 50, t2: 400, t4: 500 },
  });
  t.teardown(() => server.close());
  const remote = `127.0.0.1:${server.address.port}`;
  const port = await freePort();
  const reg = await Sipp.run({
    dir,
    remote,
    name: 'register-bob',
    scenario: 'call-register.xml',
    port,
    count: 1,
    timeoutS: 10,
    service: 'bob',
    authPass: 'pw-bob',
    keys: { contact: `127.0.0.1:${port}`, expires: '600' },
  });
  t.equal(reg.successful, 1, describe(reg));
  const calls = 300;
  const callee = Sipp.start({ dir, name: 'callee', scenario: 'call-uas.xml', port, count: calls, timeoutS: 40, set: { answerdelay: '0' } });
  t.teardown(() => callee.kill());
  await callee.listening();
  const common = { dir, remote, count: 0, timeoutS: 30, authUser: 'alice', authPass: 'pw-alice', keys: { caller: 'alice', maxfwd: '70' } };
  // Answered calls and refused ones (404), at once; the peak of live state is sampled meanwhile.
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, server.transactionCount.server + server.callCount.proxied + server.callCount.dialogs)), 50);
  const [answered, refused] = await Promise.all([
    Sipp.run({ ...common, name: 'caller', scenario: 'call-uac.xml', port: await freePort(), count: calls, rate: 60, pauseMs: 100, service: '102' }),
    Sipp.run({ ...common, name: 'refused', scenario: 'call-uac-reject.xml', port: await freePort(), count: 20, rate: 20, service: 'nobody' }),
  ]);
  clearInterval(sampler);
  t.equal(answered.successful, calls, describe(answered));
  t.equal(refused.successful, 20, describe(refused));
  t.ok(peak > 0, `state existed during the run (peak ${peak})`);
  const c = await callee.done;
  t.equal(c.successful, calls, describe(c));
  await until(
    () => {
      const tx = server.transactionCount;
      const calls = server.callCount;
      return tx.client === 0 && tx.server === 0 && calls.proxied === 0 && calls.dialogs === 0;
    },
    'empty tables',
    8000,
  ).catch(() => undefined);
  t.same(server.transactionCount, { client: 0, server: 0 }, 'no transaction left');
  t.same(server.callCount, { proxied: 0, dialogs: 0, ringing: 0 }, 'no proxied call, answered-call record or pickup candidate left');
  const dropped = lines.filter((l) => /never answered/.test(l));
  t.same(dropped.slice(0, 3), [], 'no transaction was left for its timeout to clean up');
});
