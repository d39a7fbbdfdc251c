// A real softphone call through sipd: two baresip instances (Debian package,
// temporary configuration directories, loopback only, no audio device) register
// to bin/sipd; alice dials bob's short number, bob answers automatically
// (answermode=auto), alice hangs up after about a second, and `sipd --cdr --csv`
// shows the call as answered and ended.
// Under CI=true a missing baresip fails this file instead of skipping it.
import t from 'tap';
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { runSipd, startSipd, workDir } from '../helpers/sipd-process.js';

function requireBaresip(): string | undefined {
  if (spawnSync('baresip', ['-h'], { stdio: 'ignore' }).error === undefined) return undefined;
  if (process.env.CI === 'true') throw new Error('baresip is not installed (apt-get install -y baresip); CI=true forbids skipping');
  return 'baresip not installed (apt-get install -y baresip)';
}

// baresip 1.0 needs MD5-only challenges (see baresip.test.ts).
const CONF = `[general]
realm=sipd.test
digestalgorithms=MD5

[alice]
accountcode=OFFICE
secret=pw-alice
permit=127.0.0.1
exten=4955550108#108

[bob]
accountcode=OFFICE
secret=pw-bob
permit=127.0.0.1
exten=4955550109#109
`;

/** 20 s of 8 kHz 16-bit mono silence: baresip's aufile source wants 8000 Hz. */
function silenceWav(file: string): void {
  const data = Buffer.alloc(8000 * 2 * 20);
  const h = Buffer.alloc(44);
  h.write('RIFF', 0, 'latin1');
  h.writeUInt32LE(36 + data.length, 4);
  h.write('WAVEfmt ', 8, 'latin1');
  h.writeUInt32LE(16, 16);
  h.writeUInt16LE(1, 20); // PCM
  h.writeUInt16LE(1, 22); // mono
  h.writeUInt32LE(8000, 24);
  h.writeUInt32LE(16000, 28);
  h.writeUInt16LE(2, 32);
  h.writeUInt16LE(16, 34);
  h.write('data', 36, 'latin1');
  h.writeUInt32LE(data.length, 40);
  fs.writeFileSync(file, Buffer.concat([h, data]));
}

/**
 * A baresip configuration directory: loopback only (no STUN/ICE modules,
 * net_interface 127.0.0.1), G.711, audio from a silent WAV file into an
 * aubridge device nobody reads (no sound card), commands on stdin (stdio + menu).
 */
function phoneDir(base: string, user: string, account: string, wav: string, stdin: boolean): string {
  const dir = path.join(base, `baresip-${user}`);
  fs.mkdirSync(dir);
  const lines = [
    ['poll_method', 'epoll'],
    ['sip_listen', '127.0.0.1:0'],
    ['net_interface', '127.0.0.1'],
    ['module_path', '/usr/lib/baresip/modules'],
    ...(stdin ? [['module', 'stdio.so']] : []),
    ['module', 'g711.so'],
    ['module', 'aufile.so'],
    ['module', 'aubridge.so'],
    ['module_app', 'account.so'],
    ['module_app', 'menu.so'],
    ['audio_source', `aufile,${wav}`],
    ['audio_player', `aubridge,${user}-sink`],
    ['audio_alert', `aubridge,${user}-alert`],
  ];
  fs.writeFileSync(path.join(dir, 'config'), lines.map(([k, v]) => `${k}\t\t${v}`).join('\n') + '\n');
  fs.writeFileSync(path.join(dir, 'accounts'), `${account}\n`);
  return dir;
}

interface Phone {
  child: ChildProcessWithoutNullStreams;
  out(): string;
  exited: Promise<void>;
}

function startPhone(dir: string, extra: string[] = []): Phone {
  const child = spawn('baresip', [...extra, '-f', dir, '-t', '30'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  child.stdin.on('error', () => {}); // a phone that already quit
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, out: () => out, exited };
}

async function waitFor(what: string, text: () => string, re: RegExp, ms: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + ms;
  for (;;) {
    const m = re.exec(text());
    if (m !== null) return m;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (${re}):\n${text().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** RFC 4180 rows (no quoted line breaks in sipd's CDR fields). */
function csvRows(text: string): Array<Record<string, string>> {
  const lines = text.split(/\r?\n/).filter((l) => l !== '');
  const split = (l: string) => {
    const out: string[] = [];
    let cur = '';
    let q = false;
    for (let i = 0; i < l.length; i++) {
      const c = l[i]!;
      if (q) {
        if (c === '"' && l[i + 1] === '"') (cur += '"'), i++;
        else if (c === '"') q = false;
        else cur += c;
      } else if (c === '"') q = true;
      else if (c === ',') out.push(cur), (cur = '');
      else cur += c;
    }
    out.push(cur);
    return out;
  };
  const head = split(lines[0] ?? '');
  return lines.slice(1).map((l) => Object.fromEntries(split(l).map((v, i) => [head[i] ?? String(i), v])));
}

t.test('baresip calls baresip by short number through sipd; the CDR shows the answered call', { skip: requireBaresip(), timeout: 40_000 }, async (t) => {
  const dir = workDir(CONF);
  const sipd = await startSipd(['-b', '127.0.0.1:0', '-s', dir]);
  t.teardown(() => sipd.stop());
  const wav = path.join(dir, 'silence.wav');
  silenceWav(wav);
  const aor = (user: string) => `<sip:${user}@127.0.0.1:${sipd.port};transport=udp>;auth_pass=pw-${user};regint=600`;

  const bob = startPhone(phoneDir(dir, 'bob', `${aor('bob')};answermode=auto`, wav, false));
  t.teardown(() => {
    bob.child.kill('SIGKILL');
  });
  await waitFor('bob to register', bob.out, /bob@127\.0\.0\.1: \{0\/UDP\/v4\} 200 OK \(sipd\/[\d.]+\)/, 8_000);

  // -s: alice prints her SIP traffic, so the test can see where her BYE went.
  const alice = startPhone(phoneDir(dir, 'alice', aor('alice'), wav, true), ['-s']);
  t.teardown(() => {
    alice.child.kill('SIGKILL');
  });
  await waitFor('alice to register', alice.out, /alice@127\.0\.0\.1: \{0\/UDP\/v4\} 200 OK \(sipd\/[\d.]+\)/, 8_000);

  alice.child.stdin.write('/dial 109\n');
  await waitFor('the call to be established (alice)', alice.out, /Call established: sip:109@127\.0\.0\.1/, 8_000);
  await waitFor('the call to be established (bob)', bob.out, /Call established: sip:alice@127\.0\.0\.1/, 3_000);
  t.match(bob.out(), /answering call on line \d+ from sip:alice@127\.0\.0\.1/, 'bob answered by itself');
  t.match(alice.out(), /407 Proxy Authentication Required/, 'alice was challenged and authenticated');
  t.match(alice.out(), /SIP\/2\.0 200 OK\r?\n[^]*?Record-Route: <sip:[A-Za-z0-9_.-]+@127\.0\.0\.1:\d+;lr>/, 'the 200 OK carries sipd’s Record-Route');

  await new Promise((r) => setTimeout(r, 1_000));
  alice.child.stdin.write('/hangup\n');
  await waitFor('alice to end the call', alice.out, /Call with sip:109@127\.0\.0\.1\S* terminated/, 5_000);
  await waitFor('bob to see the BYE', bob.out, /Call with sip:alice@127\.0\.0\.1\S* terminated/, 5_000);
  t.match(alice.out(), new RegExp(`-> 127\\.0\\.0\\.1:${sipd.port}\\r?\\nBYE sip:`), 'the BYE goes through sipd');
  alice.child.stdin.write('/quit\n');
  bob.child.kill('SIGTERM');
  await Promise.all([alice.exited, bob.exited]);

  let row: Record<string, string> | undefined;
  let listed = '';
  const deadline = Date.now() + 8_000;
  while (Date.now() < deadline) {
    const r = await runSipd(['--cdr', '--csv', '-s', dir]);
    listed = r.stdout;
    row = csvRows(listed).find((x) => x.status === '200' && x.ended_at !== '');
    if (row !== undefined) break;
    await new Promise((res) => setTimeout(res, 200));
  }
  t.ok(row, 'an answered, ended call in sipd --cdr --csv');
  if (row === undefined) {
    t.comment(listed, sipd.stdout());
    return;
  }
  t.equal(row.caller, 'alice');
  t.equal(row.caller_number, '4955550108');
  t.equal(row.accountcode, 'OFFICE');
  t.equal(row.dialled, '109');
  t.equal(row.destination, 'bob');
  t.equal(row.status, '200');
  t.match(row.answered_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'answered_at set');
  t.match(row.ended_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'ended_at set');
  const talk = Date.parse(row.ended_at!) - Date.parse(row.answered_at!);
  t.ok(talk >= 900 && talk < 10_000, `about a second of talk time (${talk} ms)`);
  t.ok(Date.parse(row.answered_at!) >= Date.parse(row.started_at!), 'answered after it started');
  t.equal(csvRows(listed).length, 1, 'one call attempt');
});
