// CallRecords (lib/pbx/cdr.ts): answered calls in progress and their rows in a
// real SQLite file. A call whose BYE never comes through sipd is written
// without an end after maxDialogMs; one timer serves every call in progress.
import path from 'node:path';
import t, { type Test } from 'tap';
import { CallRecords } from '../../../lib/pbx/cdr.js';
import { loadConfig } from '../../../lib/config/load.js';
import { createResponse } from '../../../lib/sip/build.js';
import { parseMessage } from '../../../lib/sip/parse.js';
import type { SipRequest } from '../../../lib/sip/message.js';
import { openReadOnly, openStore } from '../../../lib/store/sqlite.js';
import { silentLogger } from '../../../lib/util/log.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { testFlow } from '../../helpers/memory-transport.js';

const CONF = '[general]\nrealm=sipd.test\n\n[alice]\nsecret=a\nexten=#101\n\n[bob]\nsecret=b\nexten=#102\n';
const MAX = 60_000;

function setup(t: Test) {
  const clock = new FakeClock();
  const file = path.join(t.testdir(), 'sipd.sqlite3');
  const store = openStore(file, { clock, flushIntervalMs: 200 });
  t.teardown(() => store.close());
  const records = new CallRecords({ store, clock, log: silentLogger, maxDialogMs: MAX });
  const cfg = loadConfig(CONF, 'sip.conf', { countryCode: '7', cityCode: '495' }).config;
  const alice = cfg.clients.get('alice')!;
  const bob = { uri: 'sip:bob@192.0.2.20:5060', dest: { proto: 'udp' as const, address: '192.0.2.20', port: 5060 }, label: 'bob' };
  /** An answered call with Call-ID `id`. */
  const answer = (id: string): SipRequest => {
    const invite = parseMessage(
      Buffer.from(
        `INVITE sip:102@sipd.test SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-${id}\r\nFrom: <sip:alice@sipd.test>;tag=f-${id}\r\nTo: <sip:102@sipd.test>\r\nCall-ID: ${id}\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n`,
        'latin1',
      ),
    ) as SipRequest;
    const rec = records.start(invite, testFlow('udp'), { kind: 'client', client: alice }, '102');
    records.answered(rec, bob, createResponse(invite, 200, { toTag: `t-${id}` }));
    return invite;
  };
  const bye = (invite: SipRequest): SipRequest =>
    parseMessage(
      Buffer.from(
        `BYE sip:alice@192.0.2.10 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-bye-${invite.callId}\r\nFrom: <sip:alice@sipd.test>;tag=f-${invite.callId}\r\nTo: <sip:102@sipd.test>;tag=t-${invite.callId}\r\nCall-ID: ${invite.callId}\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n`,
        'latin1',
      ),
    ) as SipRequest;
  const rows = () => {
    clock.advance(200); // the store's batch
    const reader = openReadOnly(file);
    try {
      return reader.listCdrs().map((c) => [c.callId, c.reason, c.endedAt !== undefined]);
    } finally {
      reader.close();
    }
  };
  return { clock, records, answer, bye, rows };
}

t.test('a BYE ends the call; a call without one is written after maxDialogMs, each at its own deadline', async (t) => {
  const { clock, records, answer, bye, rows } = setup(t);
  const a = answer('a');
  clock.advance(10_000);
  answer('b');
  clock.advance(10_000);
  answer('c');
  t.equal(records.size, 3);
  t.equal(clock.pending(), 1, 'one timer for the three calls, not one per call');
  records.ended(bye(a));
  t.same(rows(), [['a', 'answered; the caller hung up', true]]);
  // Now 20,200 ms. a's deadline (60,000) passes with nothing to do; b's is 70,000, c's 80,000.
  clock.advance(70_000 - 20_200 - 1);
  t.equal(records.size, 2, "b's deadline is not reached yet");
  clock.advance(1);
  t.equal(records.size, 1, 'b written at its deadline (a, ended by its BYE, is skipped)');
  clock.advance(10_000 - 1);
  t.equal(records.size, 1);
  clock.advance(1);
  t.equal(records.size, 0, 'c written at its own deadline');
  t.same(rows().slice(1), [
    ['b', 'answered; no BYE seen', false],
    ['c', 'answered; no BYE seen', false],
  ]);
  t.equal(clock.pending(), 0, 'no timer left once no call is in progress');
});

t.test('the same Call-ID answered again replaces the older call, which is written at once', async (t) => {
  const { clock, records, answer, rows } = setup(t);
  answer('x');
  clock.advance(30_000);
  answer('y');
  answer('x');
  t.equal(records.size, 2);
  t.same(rows(), [['x', 'answered; replaced by a new call with the same Call-ID', false]]);
  clock.advance(MAX - 30_000 - 200);
  t.equal(records.size, 2, 'the new x keeps its own deadline, after y');
  clock.advance(30_000);
  t.equal(records.size, 0);
  t.same(rows().slice(1).map((r) => r[0]), ['y', 'x'], 'y first, then the new x');
});

t.test('close() writes the calls in progress and leaves no timer', async (t) => {
  const { clock, records, answer } = setup(t);
  answer('p');
  answer('q');
  records.close();
  t.equal(records.size, 0);
  t.equal(clock.pending(), 1, 'only the store batch for the two rows is left');
  clock.advance(200);
  t.equal(clock.pending(), 0);
});
