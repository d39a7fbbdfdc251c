// CANCEL from the caller (§16.10), the ring timeout of a group and Timer C
// (§16.6 step 11, §16.8).
import t from 'tap';
import type { GroupOutcome } from '../../../lib/proxy/types.js';
import { A, B, C, cancelOf, harness, invite, target } from './support.js';

t.test('caller CANCEL: branches with a provisional get CANCEL, silent ones are given up; the caller gets 487', async (t) => {
  const h = harness();
  const failed: Array<[number, boolean]> = [];
  let asked = 0;
  let done = 0;
  h.group = () => ({ targets: [target(A), target(B)] });
  h.hooks = {
    next: () => {
      asked++;
      return { targets: [target(C)] };
    },
    onFailure: (res, cancelled) => failed.push([res.status, cancelled]),
    onDone: () => done++,
  };
  const inv = invite();
  h.send(inv);
  h.reply(A, 180);
  h.send(cancelOf(inv));
  t.same(h.statusesTo(), [100, 180, 200], 'the CANCEL is answered 200');
  t.equal(h.responsesTo()[2]!.cseq.method, 'CANCEL');
  const cancels = h.sentTo(A, 'CANCEL');
  t.equal(cancels.length, 1, 'the ringing branch gets CANCEL');
  t.equal(cancels[0]!.via.branch, h.sentTo(A, 'INVITE')[0]!.via.branch);
  t.equal(h.sentTo(B, 'CANCEL').length, 0, 'no CANCEL before a provisional response (§9.1)');
  t.same(h.statusesTo(), [100, 180, 200], 'no 487 while the ringing branch has not answered');
  h.answer(cancels[0]!, 200, { from: A });
  h.reply(A, 487);
  t.same(h.statusesTo(), [100, 180, 200, 487], '487 to the caller');
  const r487 = h.responsesTo()[3]!;
  t.equal(r487.cseq.method, 'INVITE');
  t.same(r487.getAll('via'), inv.getAll('via'), 'with the caller’s Vias only');
  t.equal(asked, 0, 'no next group after a CANCEL');
  t.same(failed, [[487, true]]);

  // The silent branch wakes up: its CANCEL goes out now, nothing more upstream.
  h.reply(B, 180);
  t.equal(h.sentTo(B, 'CANCEL').length, 1, 'the deferred CANCEL goes on the first provisional');
  t.same(h.statusesTo(), [100, 180, 200, 487], 'its 180 is not forwarded any more');
  h.reply(B, 487);
  t.equal(h.sentTo(B, 'ACK').length, 1);
  t.equal(h.sentTo(C).length, 0);
  h.clock.advance(64 * 500 + 1);
  t.equal(done, 1);
  t.equal(h.proxy.size, 0);
  t.same(h.layer.size, { client: 0, server: 0 });
  t.equal(h.clock.pending(), 0);
});

t.test('caller CANCEL before any response: 487 at once, with the caller’s Via on top', async (t) => {
  const h = harness();
  h.group = () => ({ targets: [target(A), target(B)] });
  const inv = invite();
  h.send(inv);
  h.send(cancelOf(inv));
  t.same(h.statusesTo(), [100, 200, 487], 'nobody to wait for');
  const r487 = h.responsesTo()[2]!;
  t.equal(r487.cseq.method, 'INVITE');
  t.same(r487.getAll('via'), inv.getAll('via'), 'the response matches the caller’s transaction');
  t.equal(r487.toString().match(/^Via:/gim)?.length, 2);
  t.equal(h.sentTo(A, 'CANCEL').length + h.sentTo(B, 'CANCEL').length, 0);
  // The caller ACKs the 487 (same branch): absorbed by the server transaction.
  h.clock.advance(64 * 500 + 1);
  t.equal(h.proxy.size, 0, 'released when the silent branches time out (Timer B)');
  t.same(h.layer.size, { client: 0, server: 0 });
});

t.test('a CANCEL after the 200 does nothing', async (t) => {
  const h = harness();
  const inv = invite();
  h.send(inv);
  h.reply(A, 180);
  h.reply(A, 200);
  h.send(cancelOf(inv));
  t.same(h.statusesTo(), [100, 180, 200, 200]);
  t.equal(h.responsesTo()[3]!.cseq.method, 'CANCEL');
  t.equal(h.sentTo(A, 'CANCEL').length, 0);
});

t.test('ring timeout: the ringing group is cancelled and the next group asked (noAnswer)', async (t) => {
  const h = harness();
  const outcomes: GroupOutcome[] = [];
  h.group = () => ({ targets: [target(A, 'desk'), target(B, 'mobile')], ringTimeoutMs: 20_000 });
  h.hooks = {
    next: (o) => {
      outcomes.push(o);
      return o.attempt === 1 ? { targets: [target(C, 'voicemail')], ringTimeoutMs: 20_000 } : undefined;
    },
  };
  const inv = invite();
  h.send(inv);
  h.reply(A, 180);
  h.clock.advance(19_999);
  t.equal(outcomes.length, 0);
  h.clock.advance(1);
  t.equal(outcomes.length, 1, 'the group rang out');
  t.equal(outcomes[0]!.noAnswer, true);
  t.equal(outcomes[0]!.best.status, 408);
  t.same(outcomes[0]!.labels, ['desk', 'mobile']);
  t.equal(h.sentTo(A, 'CANCEL').length, 1, 'the ringing branch is cancelled');
  t.equal(h.sentTo(C, 'INVITE').length, 1, 'the next group rings');
  // The old branch answers its CANCEL with 487: nothing upstream.
  h.reply(A, 487);
  t.same(h.statusesTo(), [100, 180]);
  h.reply(C, 180);
  h.clock.advance(20_000);
  t.equal(outcomes.length, 2);
  t.equal(outcomes[1]!.attempt, 2);
  t.same(h.statusesTo(), [100, 180, 180, 408], 'no next group: 408 upstream');
  t.same(h.responsesTo()[3]!.getAll('via'), inv.getAll('via'));
  h.reply(C, 487);
  h.clock.advance(64 * 500 + 1);
  t.equal(h.proxy.size, 0);
  t.same(h.layer.size, { client: 0, server: 0 });
});

t.test('an answer before the ring timeout clears it', async (t) => {
  const h = harness();
  let asked = 0;
  h.group = () => ({ targets: [target(A)], ringTimeoutMs: 5_000 });
  h.hooks = { next: () => (asked++, undefined) };
  h.send(invite());
  h.reply(A, 180);
  h.clock.advance(4_000);
  h.reply(A, 200);
  h.clock.advance(10_000);
  t.equal(asked, 0);
  t.equal(h.sentTo(A, 'CANCEL').length, 0);
  t.same(h.statusesTo(), [100, 180, 200]);
});

t.test('Timer C after a provisional: CANCEL to the branch, 408 to the caller', async (t) => {
  const h = harness({ timerC: 10_000 });
  const inv = invite();
  h.send(inv);
  h.reply(A, 180);
  h.clock.advance(8_000);
  h.reply(A, 183);
  h.clock.advance(9_999);
  t.equal(h.sentTo(A, 'CANCEL').length, 0, 'each provisional response restarts Timer C');
  h.clock.advance(1);
  t.equal(h.sentTo(A, 'CANCEL').length, 1, 'Timer C: CANCEL');
  t.same(h.statusesTo(), [100, 180, 183, 408]);
  t.same(h.responsesTo()[3]!.getAll('via'), inv.getAll('via'), 'the 408 is the caller’s');
  h.reply(A, 487);
  t.same(h.statusesTo(), [100, 180, 183, 408]);
  h.clock.advance(64 * 500 + 1);
  t.equal(h.proxy.size, 0);
  t.same(h.layer.size, { client: 0, server: 0 });
});

t.test('Timer C without any response: 408 to the caller, no CANCEL', async (t) => {
  const h = harness({ timerC: 10_000 });
  const inv = invite();
  h.send(inv);
  h.clock.advance(10_000);
  t.equal(h.sentTo(A, 'CANCEL').length, 0, 'nothing to cancel');
  t.same(h.statusesTo(), [100, 408]);
  t.same(h.responsesTo()[1]!.getAll('via'), inv.getAll('via'), 'the 408 is the caller’s');
  h.clock.advance(64 * 500 + 1);
  t.equal(h.proxy.size, 0);
  t.same(h.layer.size, { client: 0, server: 0 });
});

t.test('Timer C firing in a group asks for the next group', async (t) => {
  const h = harness({ timerC: 10_000 });
  const seen: number[] = [];
  h.group = () => ({ targets: [target(A)] });
  h.hooks = { next: (o) => (seen.push(o.best.status), o.attempt === 1 ? { targets: [target(B)] } : undefined) };
  h.send(invite());
  h.reply(A, 180);
  h.clock.advance(10_000);
  t.same(seen, [408]);
  t.equal(h.sentTo(B, 'INVITE').length, 1);
});
