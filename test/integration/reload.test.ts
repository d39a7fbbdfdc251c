// Reload without disruption: SIGHUP, `sipd -r` and a rewrite of sip.conf each
// swap the running config (seen in the log's change summary); an invalid edit
// keeps the running config; `-r` without a server, or with a stale pid file,
// says so. Real processes, real files.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { runSipd, startSipd, workDir, EXAMPLE_CONF, type SipdProcess } from '../helpers/sipd-process.js';
import { requireSipp, runSipp } from '../helpers/sipp.js';

const EXAMPLE = fs.readFileSync(EXAMPLE_CONF, 'utf8');
const EXTRA = '\n[newguy]\naccountcode=OFFICE\nsecret=pw-newguy\nexten=4955550177#177\n';

async function until(p: SipdProcess, re: RegExp, timeoutMs = 5000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = re.exec(p.stdout());
    if (m) return m[0];
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`log never matched ${re}:\n${p.stdout()}`);
}

function count(s: string, re: RegExp): number {
  return [...s.matchAll(new RegExp(re.source, 'g'))].length;
}

t.test('SIGHUP reloads and logs what changed', async (t) => {
  const dir = workDir();
  const p = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.teardown(() => p.stop());
  fs.appendFileSync(path.join(dir, 'sip.conf'), EXTRA);
  p.child.kill('SIGHUP');
  t.match(await until(p, /sip\.conf reloaded \(SIGHUP\): [^\n]*/), /clients added: newguy/);
});

t.test('sipd -r validates, signals the server found through sipd.pid and prints what changed', async (t) => {
  const dir = workDir();
  const p = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.teardown(() => p.stop());
  t.equal(fs.readFileSync(path.join(dir, 'sipd.pid'), 'utf8').trim(), String(p.child.pid), 'sipd.pid holds the pid');
  fs.writeFileSync(path.join(dir, 'sip.conf'), EXAMPLE.replace('[bob]', '[robert]'));
  const r = await runSipd(['-r', '-s', dir]);
  t.equal(r.code, 0, r.stderr);
  // The file watcher may have applied the edit a moment earlier; -r then reports that reload.
  t.match(r.stdout, new RegExp(`^sipd \\(pid ${p.child.pid}\\) reloaded .*sip\\.conf: .*clients added: robert; removed: bob`));
});

t.test('an invalid edit keeps the running config; sipd -r prints the errors and exits 1 without signalling', async (t) => {
  const dir = workDir();
  const p = await startSipd(['-b', '127.0.0.1:0', '-s', dir, '--log-json']);
  t.teardown(() => p.stop());
  const bad = EXAMPLE.replace('context=international', 'contxt=international');
  fs.writeFileSync(path.join(dir, 'sip.conf'), bad);
  const line = bad.split('\n').findIndex((l) => l.startsWith('contxt=')) + 1;
  const r = await runSipd(['-r', '-s', dir]);
  t.equal(r.code, 1);
  t.match(r.stderr, new RegExp(`sip\\.conf:${line}: \\[alice\\] unknown key 'contxt' \\(did you mean 'context'\\?\\)`));
  // the watcher saw the bad file too and kept the running config
  await until(p, /sip\.conf not reloaded \(file changed\): 1 error; the running configuration stays/);
  t.notMatch(p.stdout(), /sip\.conf reloaded/, 'nothing was swapped in');
  // SIGHUP on the bad file: same
  p.child.kill('SIGHUP');
  await until(p, /sip\.conf not reloaded \(SIGHUP\): 1 error/);
  // after a fix the file equals the running config again
  fs.writeFileSync(path.join(dir, 'sip.conf'), EXAMPLE);
  const r2 = await runSipd(['-r', '-s', dir]);
  t.equal(r2.code, 0, r2.stderr);
  t.match(r2.stdout, /reloaded .*sip\.conf: no changes/);
});

t.test('a rewrite on disk (save by rename) reloads once; a burst of writes gives one reload', async (t) => {
  const dir = workDir();
  const p = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.teardown(() => p.stop());
  const conf = path.join(dir, 'sip.conf');
  fs.writeFileSync(`${conf}.tmp`, EXAMPLE + EXTRA);
  fs.renameSync(`${conf}.tmp`, conf);
  t.match(await until(p, /sip\.conf reloaded \(file changed\): [^\n]*/), /clients added: newguy/);
  for (let i = 0; i < 5; i++) {
    fs.writeFileSync(conf, EXAMPLE + EXTRA.replace('177#177', `17${i}#17${i}`));
    await new Promise((r) => setTimeout(r, 20));
  }
  await until(p, /reloaded \(file changed\): clients changed: newguy/);
  await new Promise((r) => setTimeout(r, 700));
  t.equal(count(p.stdout(), /sip\.conf reloaded \(file changed\)/), 2, 'one reload for the rename, one for the burst');
});

t.test('a sip.conf emptied on disk (an editor truncating, `> sip.conf`) is not applied by the watcher', async (t) => {
  const dir = workDir();
  const p = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.teardown(() => p.stop());
  const conf = path.join(dir, 'sip.conf');
  fs.writeFileSync(conf, '');
  t.match(await until(p, /sip\.conf is empty on disk[^\n]*/), /the running configuration stays/);
  t.notMatch(p.stdout(), /sip\.conf reloaded \(file changed\)/, 'nothing reloaded');
  fs.writeFileSync(conf, EXAMPLE + EXTRA);
  t.match(await until(p, /sip\.conf reloaded \(file changed\): [^\n]*/), /clients added: newguy/, 'the next real save applies, against the config that stayed');
});

t.test('sipd -r without a running server says so and exits 1; a stale pid file is detected', async (t) => {
  const dir = workDir();
  const none = await runSipd(['-r', '-s', dir]);
  t.equal(none.code, 1);
  t.match(none.stderr, /^sipd: no running sipd found: there is no sipd\.pid in /);
  fs.writeFileSync(path.join(dir, 'sipd.pid'), '999999\n');
  const stale = await runSipd(['-r', '-s', dir]);
  t.equal(stale.code, 1);
  t.match(stale.stderr, /names process 999999, which is not running \(a stale pid file\)/);
  // and a server starting there replaces the stale file
  const p = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.teardown(() => p.stop());
  t.equal(fs.readFileSync(path.join(dir, 'sipd.pid'), 'utf8').trim(), String(p.child.pid));
  t.match(p.stdout(), /replaced a stale sipd\.pid/);
  const second = await runSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.equal(second.code, 1, 'a second sipd in the same directory is refused');
  t.match(second.stderr, new RegExp(`another sipd \\(pid ${p.child.pid}\\) is already running`));
  await p.stop();
  t.notOk(fs.existsSync(path.join(dir, 'sipd.pid')), 'a clean stop removes sipd.pid');
});

t.test('sipd refuses to start on an invalid sip.conf and lists every error', async (t) => {
  const conf = '[a]\nsecrte=x\n[b]\nhost=nope\n[c]\naccountcode=gateways\n[d]\ncontext=galactic\n[e]\npermit=10.0.0/33\n';
  const r = await runSipd(['-b', '127.0.0.1:0', '-s', workDir(conf)]);
  t.equal(r.code, 1);
  const lines = r.stderr.trim().split('\n');
  t.match(lines.at(-1), /^sipd: 5 errors in /);
  t.equal(lines.filter((l) => /sip\.conf:\d+: /.test(l) && !/warning/.test(l)).length, 5);
  t.match(r.stderr, /sip\.conf:2: \[a\] unknown key 'secrte' \(did you mean 'secret'\?\)/);
  const missing = await runSipd(['-b', '127.0.0.1:0', '-s', path.join(workDir(), 'nowhere')]);
  t.equal(missing.code, 1);
  t.match(missing.stderr, /sip\.conf: cannot read the file: no such file/);
});

t.test('sipd --check prints how sipd understood the file', async (t) => {
  const dir = workDir();
  const r = await runSipd(['--check', '-s', dir]);
  t.equal(r.code, 0, r.stderr);
  t.match(r.stdout, /group OFFICE/);
  t.match(r.stdout, /gateways \(tried in this order\)/);
  t.match(r.stdout, /sip\.conf: OK/);
  const bad = await runSipd(['--check', path.join(workDir('[x]\nexten=12a\n'), 'sip.conf')]);
  t.equal(bad.code, 1);
  t.match(bad.stderr, /sip\.conf:2: \[x\]/);
});

t.test('SIPp OPTIONS load across ten reloads: 0 failures', { skip: requireSipp() }, async (t) => {
  const dir = workDir();
  const p = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.teardown(() => p.stop());
  const load = runSipp({ scenario: 'uac-options-200.xml', target: `127.0.0.1:${p.port}`, count: 3000, rate: 1000, timeoutS: 60 });
  for (let i = 0; i < 10; i++) {
    await new Promise((r) => setTimeout(r, 200));
    fs.writeFileSync(path.join(dir, 'sip.conf'), i % 2 === 0 ? EXAMPLE + EXTRA : EXAMPLE);
    p.child.kill('SIGHUP');
  }
  const r = await load;
  t.equal(r.code, 0, r.stderr.slice(-300));
  t.equal(r.successful, 3000);
  t.equal(r.failed, 0);
  t.ok(count(p.stdout(), /sip\.conf reloaded \(SIGHUP\)/) >= 10, 'ten SIGHUP reloads happened during the load');
});
