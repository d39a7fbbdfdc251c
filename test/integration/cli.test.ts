// bin/sipd as a user runs it: flags, start-up errors, -d, clean shutdown.
import t from 'tap';
import os from 'node:os';
import { runSipd, startSipd, workDir } from '../helpers/sipd-process.js';
import { UdpPeer, request } from '../helpers/udp-peer.js';
import { VERSION } from '../../lib/version.js';

t.test('-v prints name, version and host name', async (t) => {
  const r = await runSipd(['-v']);
  t.equal(r.code, 0);
  t.equal(r.stdout, `sipd ${VERSION} @ ${os.hostname()}\n`);
});

t.test('-a prints about; --help lists the original flags', async (t) => {
  const a = await runSipd(['-a']);
  t.equal(a.code, 0);
  t.match(a.stdout, /SIP registrar, stateful proxy/);
  const h = await runSipd(['--help']);
  t.equal(h.code, 0);
  for (const f of ['-a', '-b', '-c', '-cc', '-d', '-s', '-r', '-v']) t.match(h.stdout, f, `help mentions ${f}`);
});

t.test('a malformed listen address is one clear line and exit code 1', async (t) => {
  const r = await runSipd(['-b', 'localhost:99999']);
  t.equal(r.code, 1);
  t.equal(r.stderr, "sipd: bad listen address 'localhost:99999' (-b): expected IP:PORT, e.g. 127.0.0.1:5060 or [::1]:5060\n");
  const u = await runSipd(['--no-such-flag']);
  t.equal(u.code, 1);
  t.match(u.stderr, /^sipd: unknown option '--no-such-flag'/);
});

t.test('address in use is one clear line and exit code 1', async (t) => {
  const peer = await UdpPeer.open();
  t.teardown(() => peer.close());
  const r = await runSipd(['-b', `127.0.0.1:${peer.port}`, '-s', workDir()]);
  t.equal(r.code, 1);
  t.equal(r.stderr, `sipd: cannot listen on 127.0.0.1:${peer.port} (udp): address already in use\n`);
});

t.test('runs with the original flags (-cc, -c, -s), answers OPTIONS, -d dumps messages, SIGTERM exits 0', async (t) => {
  const p = await startSipd(['-b', '127.0.0.1:0', '-c', '7', '-cc', '812', '-s', workDir(), '-d']);
  const peer = await UdpPeer.open();
  t.teardown(() => peer.close());
  peer.send(request({ port: peer.port }), p.port);
  t.match(await peer.nth(1), /^SIP\/2\.0 200 OK/);
  const code = await p.stop('SIGTERM');
  t.equal(code, 0, 'clean exit');
  t.match(p.stdout(), /RECV UDP 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ \(\d+ bytes\)\nOPTIONS sip:127\.0\.0\.1 SIP\/2\.0/);
  t.match(p.stdout(), /SEND UDP 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ \(\d+ bytes\)\nSIP\/2\.0 200 OK/);
  t.match(p.stdout(), /shutting down signal=SIGTERM/);
  t.match(p.stdout(), /V8 garbage collector set for a server .*flags="--no-allocation-site-pretenuring --heap-growing-percent=300"/, 'the GC flags, in the debug log');
  t.match(p.stdout(), /heap collected after start-up beforeMB=[\d.]+ afterMB=[\d.]+ ms=\d+/, 'the collection after start-up, in the debug log');
});

t.test('SIGINT exits 0 too', async (t) => {
  const p = await startSipd(['-b', '127.0.0.1:0']);
  t.equal(await p.stop('SIGINT'), 0);
});
