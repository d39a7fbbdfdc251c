// Memory (issue 5 item 5): after a burst of proxied calls — answered, forked,
// cancelled, refused, unanswered — and enough clock time, the proxy and the
// transaction layer hold nothing and no timer is left.
import t from 'tap';
import type { SipRequest } from '../../../lib/sip/message.js';
import type { Destination } from '../../../lib/transport/types.js';
import { A, B, C, cancelOf, harness, invite, target } from './support.js';

t.test('200 calls of every outcome leave no state behind', async (t) => {
  const h = harness({ timerC: 60_000 });
  const targets = new Map<string, Destination[]>();
  h.group = (req) => ({ targets: (targets.get(req.callId) ?? [A]).map((d) => target(d)) });
  let done = 0;
  h.hooks = {
    next: (o) => (o.attempt === 1 && o.best.status === 503 ? { targets: [target(C)] } : undefined),
    onDone: () => done++,
  };

  const lastTo = (dest: Destination, callId: string, method = 'INVITE'): SipRequest => {
    const all = h.sentTo(dest, method).filter((r) => r.callId === callId);
    return all[all.length - 1]!;
  };
  const outcomes = new Map<string, number>();
  const N = 200;
  for (let i = 0; i < N; i++) {
    const kind = i % 7;
    const inv = invite({ callId: `burst-${i}@test`, body: Buffer.from('v=0\r\n') });
    if (kind === 1) targets.set(inv.callId, [A, B]);
    h.send(inv);
    h.clock.advance(5);
    const id = inv.callId;
    switch (kind) {
      case 0: // answered
        h.answer(lastTo(A, id), 180, { from: A });
        h.answer(lastTo(A, id), 200, { from: A });
        break;
      case 1: // forked: B answers, A is cancelled and says 487
        h.answer(lastTo(A, id), 180, { from: A });
        h.answer(lastTo(B, id), 200, { from: B });
        h.answer(lastTo(A, id, 'CANCEL'), 200, { from: A });
        h.answer(lastTo(A, id), 487, { from: A });
        break;
      case 2: // the caller cancels while it rings
        h.answer(lastTo(A, id), 180, { from: A });
        h.send(cancelOf(inv));
        h.answer(lastTo(A, id, 'CANCEL'), 200, { from: A });
        h.answer(lastTo(A, id), 487, { from: A });
        break;
      case 3: // busy
        h.answer(lastTo(A, id), 486, { from: A });
        break;
      case 4: // 503 → failover to C, which answers
        h.answer(lastTo(A, id), 503, { from: A });
        h.answer(lastTo(C, id), 200, { from: C });
        break;
      case 5: // caller CANCEL before any response; the callee never answers
        h.send(cancelOf(inv));
        break;
      case 6: // rings until Timer C
        h.answer(lastTo(A, id), 180, { from: A });
        break;
    }
    outcomes.set(id, kind);
  }
  t.ok(h.proxy.size > 0, 'calls hold state during the burst');
  h.clock.advance(5 * 60_000);
  t.equal(h.proxy.size, 0, 'proxy.size is 0');
  t.same(h.layer.size, { client: 0, server: 0 }, 'no transaction left');
  t.equal(h.clock.pending(), 0, 'no timer left');
  t.equal(done, N, 'onDone for every call');

  // Every caller got one final response to its INVITE.
  const finals = new Map<string, number[]>();
  for (const r of h.responsesTo()) {
    if (r.cseq.method !== 'INVITE' || r.status < 200) continue;
    const l = finals.get(r.callId) ?? [];
    if (r.status >= 300 && l.includes(r.status)) continue; // Timer G retransmissions (these callers never ACK)
    l.push(r.status);
    finals.set(r.callId, l);
  }
  const want: Record<number, number[]> = { 0: [200], 1: [200], 2: [487], 3: [486], 4: [200], 5: [487], 6: [408] };
  let wrong = 0;
  for (const [id, kind] of outcomes) {
    if (JSON.stringify(finals.get(id)) === JSON.stringify(want[kind])) continue;
    wrong++;
    if (wrong < 5) t.comment(id, kind, finals.get(id));
  }
  t.equal(wrong, 0, 'the expected final response for each call');
});
