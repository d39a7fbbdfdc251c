// SIPp REGISTER with digest authentication against bin/sipd over UDP and TCP,
// `kill -9` persistence, and `sipd --registrations`. Under CI=true a missing
// sipp fails this file instead of skipping it.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { requireSipp, runSipp } from '../helpers/sipp.js';
import { runSipd, startSipd, workDir } from '../helpers/sipd-process.js';

const skip = requireSipp();

function users(n: number, prefix = 'u'): { conf: string; csv: string } {
  let conf = '[general]\nrealm=sipd.test\n\n';
  let csv = 'SEQUENTIAL\n';
  for (let i = 0; i < n; i++) {
    const name = `${prefix}${String(i).padStart(3, '0')}`;
    conf += `[${name}]\naccountcode=TEST\nsecret=pw-${name}\npermit=127.0.0.0/8\nexten=49555${String(10000 + i)}\n\n`;
    csv += `${name};pw-${name};[authentication username=${name} password=pw-${name}]\n`;
  }
  return { conf, csv };
}

t.test('SIPp REGISTER with [authentication] for 100 users over UDP and over TCP: all 200', { skip }, async (t) => {
  const { conf, csv } = users(100);
  const dir = workDir(conf);
  fs.writeFileSync(path.join(dir, 'users.csv'), csv);
  const sipd = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.teardown(() => sipd.stop());
  for (const transport of ['u1', 't1'] as const) {
    const r = await runSipp({
      scenario: 'uac-register-digest-200.xml',
      target: `127.0.0.1:${sipd.port}`,
      transport,
      count: 100,
      rate: 200,
      timeoutS: 60,
      extra: ['-inf', path.join(dir, 'users.csv'), '-key', 'domain', 'sipd.test', '-key', 'expires', '600'],
    });
    t.equal(r.code, 0, `sipp over ${transport}: ${r.stderr.slice(-300)}`);
    t.equal(r.successful, 100, `100 registrations over ${transport}`);
    t.equal(r.failed, 0);
  }
  // The database copy is written in batches (every 200 ms): the last registrations may reach it
  // a moment after SIPp has its 200 OKs. Read again until they are there, for up to 3 s.
  let list = await runSipd(['--registrations', '-s', dir]);
  for (const deadline = Date.now() + 3000; !/\n200 registrations\n$/.test(list.stdout) && Date.now() < deadline; ) {
    await new Promise((res) => setTimeout(res, 100));
    list = await runSipd(['--registrations', '-s', dir]);
  }
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /^CLIENT\s+NUMBERS\s+CONTACT\s+SOURCE\s+TRANSPORT\s+USER AGENT\s+EXPIRES IN/);
  t.match(list.stdout, /\n200 registrations\n$/, 'each AOR holds its UDP and its TCP contact');
  const tcpRows = (list.stdout.match(/ TCP /g) ?? []).length;
  // (the whole table goes into the message so a failure can be read)
  t.equal(tcpRows, 100, tcpRows === 100 ? 'transport recorded per binding' : `transport recorded per binding; the table was:\n${list.stdout}`);
  t.match(list.stdout, /u042\s+4955510042\s+sip:u042@127\.0\.0\.1:\d+;transport=(?:UDP|TCP)\s+127\.0\.0\.1:\d+\s+(?:UDP|TCP)\s+sipp-test\s+\d+ s/);
});

t.test('kill -9 keeps every binding acknowledged more than a second before; a restart restores them', { skip }, async (t) => {
  const { conf, csv } = users(500);
  const dir = workDir(conf);
  fs.writeFileSync(path.join(dir, 'users.csv'), csv);
  const sipd = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  const r = await runSipp({
    scenario: 'uac-register-digest-200.xml',
    target: `127.0.0.1:${sipd.port}`,
    count: 500,
    rate: 500,
    timeoutS: 60,
    extra: ['-inf', path.join(dir, 'users.csv'), '-key', 'domain', 'sipd.test', '-key', 'expires', '3600'],
  });
  t.equal(r.successful, 500, r.stderr.slice(-300));
  await new Promise((res) => setTimeout(res, 1200));
  t.equal(await sipd.stop('SIGKILL'), null, 'killed');
  const again = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.teardown(() => again.stop());
  t.match(again.stdout(), /registrations restored from sipd\.sqlite3 bindings=500/);
  const list = await runSipd(['--registrations', '-s', dir]);
  t.match(list.stdout, /\n500 registrations\n$/);
});
