// SIPp (sip-tester) against bin/sipd over real UDP and TCP sockets on loopback.
// Under CI=true a missing sipp fails this file instead of skipping it.
import t from 'tap';
import { requireSipp, runSipp } from '../helpers/sipp.js';
import { startSipd } from '../helpers/sipd-process.js';

const skip = requireSipp();

t.test('SIPp OPTIONS: 1,000 requests over UDP and over TCP, 0 failures', { skip }, async (t) => {
  const sipd = await startSipd(['-b', '127.0.0.1:0']);
  t.teardown(() => sipd.stop());
  for (const transport of ['u1', 't1'] as const) {
    const r = await runSipp({ scenario: 'uac-options-200.xml', target: `127.0.0.1:${sipd.port}`, transport, count: 1000, rate: 1000, timeoutS: 60 });
    t.equal(r.code, 0, `sipp exit code over ${transport} (${r.stderr.slice(-300)})`);
    t.equal(r.successful, 1000, `1000 successful over ${transport}`);
    t.equal(r.failed, 0, `0 failed over ${transport}`);
  }
});

t.test('SIPp: an unknown method gets 501, never silence', { skip }, async (t) => {
  const sipd = await startSipd(['-b', '127.0.0.1:0']);
  t.teardown(() => sipd.stop());
  const r = await runSipp({ scenario: 'uac-unknown-method-501.xml', target: `127.0.0.1:${sipd.port}`, count: 10, rate: 100, timeoutS: 30 });
  t.equal(r.code, 0, r.stderr.slice(-300));
  t.equal(r.successful, 10);
});

t.test('SIPp OPTIONS over IPv6 loopback', { skip }, async (t) => {
  const sipd = await startSipd(['-b', '[::1]:0']);
  t.teardown(() => sipd.stop());
  const r = await runSipp({ scenario: 'uac-options-200.xml', target: `[::1]:${sipd.port}`, transport: 'u1', count: 50, rate: 200, localIp: '::1', timeoutS: 30 });
  t.equal(r.code, 0, r.stderr.slice(-300));
  t.equal(r.successful, 50);
});
