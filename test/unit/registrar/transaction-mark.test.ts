// transactionMark: the small integer a binding keeps of the REGISTER that made it.
import t from 'tap';
import { parseMessage } from '../../../lib/sip/parse.js';
import type { SipRequest } from '../../../lib/sip/message.js';
import { transactionMark } from '../../../lib/registrar/register.js';

function register(branch: string): SipRequest {
  const text = [
    'REGISTER sip:127.0.0.1 SIP/2.0',
    `Via: SIP/2.0/UDP 127.0.0.1:5062;branch=${branch}`,
    'From: <sip:alice@127.0.0.1>;tag=1',
    'To: <sip:alice@127.0.0.1>',
    'Call-ID: c1',
    'CSeq: 1 REGISTER',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.from(text, 'latin1')) as SipRequest;
}

t.test('a non-zero small integer per RFC 3261 branch; 0 for an RFC 2543 branch', async (t) => {
  const marks = new Set<number>();
  for (let i = 0; i < 10_000; i++) {
    const m = transactionMark(register(`z9hG4bK-${i}`));
    if (!(Number.isInteger(m) && m > 0 && m < 2 ** 30)) t.fail(`mark ${m} out of range`);
    marks.add(m);
  }
  t.ok(marks.size >= 9_990, `10,000 branches give (almost) as many marks (${marks.size})`);
  t.equal(transactionMark(register('z9hG4bK-7')), transactionMark(register('z9hG4bK-7')), 'the same branch, the same mark');
  t.equal(transactionMark(register('1234abcd')), 0, 'an RFC 2543 branch names no transaction');
});
