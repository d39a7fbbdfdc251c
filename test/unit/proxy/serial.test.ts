// Serial forking through hooks.next and the choice of the response the caller
// gets when nobody answers (RFC 3261 §16.7 step 6), with bestResponse alone.
import t from 'tap';
import { bestResponse } from '../../../lib/proxy/proxy.js';
import type { GroupOutcome } from '../../../lib/proxy/types.js';
import { createResponse } from '../../../lib/sip/build.js';
import type { Destination } from '../../../lib/transport/types.js';
import { A, B, C, harness, invite, target } from './support.js';

t.test('a group failing with 503 hands over to the next group; its answer reaches the caller', async (t) => {
  const h = harness();
  const outcomes: GroupOutcome[] = [];
  let failures = 0;
  h.group = () => ({ targets: [target(A, 'gw1')] });
  h.hooks = {
    next: (o) => {
      outcomes.push(o);
      return o.attempt === 1 ? { targets: [target(B, 'gw2')] } : undefined;
    },
    onFailure: () => failures++,
  };
  const inv = invite();
  h.send(inv);
  h.reply(A, 100);
  h.reply(A, 503);
  t.equal(outcomes.length, 1);
  t.equal(outcomes[0]!.best.status, 503);
  t.equal(outcomes[0]!.attempt, 1);
  t.equal(outcomes[0]!.noAnswer, false);
  t.same(outcomes[0]!.labels, ['gw1']);
  t.same(outcomes[0]!.best.getAll('via'), inv.getAll('via'), 'the outcome is without our Via');
  t.equal(h.sentTo(A, 'ACK').length, 1, 'the 503 is ACKed hop by hop');
  t.same(h.statusesTo(), [100], 'the 503 is not forwarded');
  const second = h.sentTo(B, 'INVITE');
  t.equal(second.length, 1, 'the next group is tried');
  t.equal(second[0]!.maxForwards, 69);
  t.not(second[0]!.via.branch, h.sentTo(A, 'INVITE')[0]!.via.branch);
  h.reply(B, 200);
  t.same(h.statusesTo(), [100, 200]);
  t.equal(failures, 0);
  h.clock.advance(64 * 500 + 1);
  t.equal(h.proxy.size, 0);
  t.same(h.layer.size, { client: 0, server: 0 });
});

t.test('the last group failing: the best response goes upstream, 503 as 500 (§16.7 step 6)', async (t) => {
  const h = harness();
  const failed: Array<[number, boolean, string | undefined]> = [];
  h.group = () => ({ targets: [target(A, 'gw1')] });
  h.hooks = {
    next: (o) => (o.attempt === 1 ? { targets: [target(B, 'gw2')] } : undefined),
    onFailure: (res, cancelled, last) => failed.push([res.status, cancelled, last?.label]),
  };
  const inv = invite();
  h.send(inv);
  h.reply(A, 503);
  h.reply(B, 503, { headers: [['Retry-After', '30']] });
  t.same(h.statusesTo(), [100, 500], '503 becomes 500');
  const res = h.responsesTo()[1]!;
  t.same(res.getAll('via'), inv.getAll('via'));
  t.ok(res.toString().startsWith('SIP/2.0 500 '), 'the start line is re-encoded');
  t.same(failed, [[500, false, 'gw2']]);
  t.equal(h.sentTo(B, 'ACK').length, 1);
  h.clock.advance(64 * 500 + 1);
  t.equal(h.proxy.size, 0);
  t.same(h.layer.size, { client: 0, server: 0 });
});

t.test('a 6xx ends the group: pending branches cancelled; the hook is told it was global and a plain proxy stops', async (t) => {
  const h = harness();
  const asked: boolean[] = [];
  h.group = () => ({ targets: [target(A), target(B)] });
  h.hooks = {
    next: (o) => {
      asked.push(o.global);
      return o.global ? undefined : { targets: [target(C)] };
    },
  };
  h.send(invite());
  h.reply(A, 180);
  h.reply(B, 180);
  h.reply(A, 603);
  t.same(asked, [true], 'hooks.next is asked once, with global=true (RFC 3261 §16.7: the search ends unless the PBX says otherwise)');
  t.same(h.statusesTo(), [100, 180, 180, 603], 'the 603 goes upstream');
  t.equal(h.sentTo(B, 'CANCEL').length, 1, 'the other branch is cancelled');
  t.equal(h.sentTo(B, 'CANCEL')[0]!.get('reason'), undefined, 'without Reason: cause=200');
  t.equal(h.sentTo(C).length, 0, 'no new branch');
  h.reply(B, 487);
  t.same(h.statusesTo(), [100, 180, 180, 603], 'the 487 of the cancelled branch stays here');
  h.clock.advance(64 * 500 + 1);
  t.equal(h.proxy.size, 0);
  t.same(h.layer.size, { client: 0, server: 0 });
});

t.test('a 6xx from the second group stops a longer search', async (t) => {
  const h = harness();
  const groups = [[target(B)], [target(C)]];
  h.group = () => ({ targets: [target(A)] });
  h.hooks = { next: (o) => (!o.global && groups.length > 0 ? { targets: groups.shift()! } : undefined) };
  h.send(invite());
  h.reply(A, 480);
  h.reply(B, 600);
  t.equal(h.sentTo(C).length, 0);
  t.same(h.statusesTo(), [100, 600]);
});

t.test('within a group the best response wins: lowest class, real 4xx over made-up 408', async (t) => {
  const h = harness({ timerC: 10_000 });
  h.group = () => ({ targets: [target(A), target(B), target(C)] });
  const inv = invite();
  h.send(inv);
  h.reply(A, 503);
  h.reply(C, 180);
  h.reply(B, 486);
  t.same(h.statusesTo(), [100, 180], 'no final response before every branch ended');
  h.clock.advance(10_000); // Timer C on C: CANCEL and a made-up 408
  t.equal(h.sentTo(C, 'CANCEL').length, 1);
  t.same(h.statusesTo(), [100, 180, 486], '486 beats 503 and the made-up 408');
  t.same(h.responsesTo()[2]!.getAll('via'), inv.getAll('via'));
});

t.test('empty group: 480 to the caller', async (t) => {
  const h = harness();
  h.group = () => ({ targets: [] });
  h.send(invite());
  t.same(h.statusesTo(), [100, 480]);
  t.equal(h.proxy.size, 0, 'nothing held');
});

t.test('a target that cannot be reached (transport error) counts as 480, not 503', async (t) => {
  const h = harness();
  const dead: Destination = { proto: 'tcp', address: '203.0.113.66', port: 5060 };
  const send = h.transport.send.bind(h.transport);
  h.transport.send = (msg, dest, onError) => {
    if (dest.address === dead.address) {
      h.transport.sent.push({ msg, dest });
      onError?.(new Error('connection refused'));
      return;
    }
    send(msg, dest, onError);
  };
  const outcomes: GroupOutcome[] = [];
  h.group = () => ({ targets: [target(dead)] });
  h.hooks = {
    next: (o) => {
      outcomes.push(o);
      return undefined;
    },
  };
  const inv = invite();
  h.send(inv);
  h.clock.advance(0); // the layer reports a synchronous send error on the next clock turn
  t.equal(outcomes.length, 1);
  t.equal(outcomes[0]!.best.status, 480);
  t.same(h.statusesTo(), [100, 480]);
  t.same(h.responsesTo()[1]!.getAll('via'), inv.getAll('via'));
  h.clock.advance(64 * 500 + 1);
  t.equal(h.proxy.size, 0);
  t.same(h.layer.size, { client: 0, server: 0 });
});

t.test('bestResponse (§16.7 step 6)', async (t) => {
  const req = invite();
  const r = (status: number) => createResponse(req, status);
  const pick = (...s: number[]) => bestResponse(s.map(r)).status;
  t.equal(pick(486), 486);
  t.equal(pick(503, 486, 404), 486, 'lowest class; first within the class');
  t.equal(pick(404, 486), 404, 'the first of a class wins');
  t.equal(pick(486, 603, 302), 603, '6xx wins whatever came before');
  t.equal(pick(603, 302, 600), 603, 'the first 6xx stays');
  t.equal(pick(503, 302), 302, '3xx beats 4xx and 5xx');
  t.equal(pick(408, 486), 486, 'a made-up 408 loses to a real 4xx');
  t.equal(pick(408, 503), 408, 'but beats a 5xx');
  t.equal(pick(500, 408, 480), 480);
  const first = r(404);
  const list = [first, r(404)];
  t.equal(bestResponse(list), first, 'the object itself');
});

t.test('the PBX may end a search with a final answer of its own (e.g. a forward loop)', async (t) => {
  const h = harness();
  h.group = () => ({ targets: [target(A)] });
  h.hooks = { next: () => ({ final: { status: 482, reason: 'Loop Detected (forward loop)' } }) };
  h.send(invite());
  h.reply(A, 486);
  t.same(h.statusesTo(), [100, 482]);
  t.equal(h.responsesTo()[1]!.reason, 'Loop Detected (forward loop)');
});

t.test('a final response that lost the caller\'s Via (a broken next hop) is not relayed as it is; the caller gets one built by sipd', async (t) => {
  const h = harness();
  h.group = () => ({ targets: [target(A)] });
  const inv = invite();
  h.send(inv);
  const sent = h.sentTo(A, 'INVITE')[0]!;
  // The callee echoes only the top Via (sipd's): nothing is left to route the response by.
  const res = createResponse(sent, 486, { toTag: 'busy-tag' });
  const firstVia = res.getAll('via')[0]!;
  res.remove('via');
  res.prepend('via', firstVia);
  h.layer.receive(res, { proto: 'udp', local: { address: '127.0.0.1', port: 5060, family: 4 }, remote: { address: A.address, port: A.port, family: 4 }, connId: undefined });
  const finals = h.responsesTo().filter((r) => r.status >= 200);
  t.same(finals.map((r) => r.status), [486], 'the caller still gets the 486');
  t.same(finals[0]!.getAll('via'), inv.getAll('via'), 'with its own Via, built from its request');
  t.equal(finals[0]!.toTag, 'busy-tag', 'and the callee\'s To tag');
});

t.test('noResponseMs: a silent target counts as a 408 and the next group is asked; the last one gives the caller a 408 with its own Via', async (t) => {
  const h = harness();
  const outcomes: GroupOutcome[] = [];
  h.group = () => ({ targets: [target(A, 'gw1')], noResponseMs: 4000 });
  h.hooks = {
    next: (o) => {
      outcomes.push(o);
      return o.attempt === 1 ? { targets: [target(B, 'gw2')], noResponseMs: 4000 } : undefined;
    },
  };
  const inv = invite();
  h.send(inv);
  h.clock.advance(3999);
  t.equal(outcomes.length, 0, 'not before the limit');
  h.clock.advance(1);
  t.equal(outcomes.length, 1);
  t.equal(outcomes[0]!.best.status, 408);
  t.equal(h.sentTo(B, 'INVITE').length, 1, 'the second gateway is tried');
  h.clock.advance(4000);
  const finals = h.responsesTo().filter((r) => r.status >= 200);
  t.same(finals.map((r) => r.status), [408]);
  t.same(finals[0]!.getAll('via'), inv.getAll('via'), 'built from the caller\'s request, not from a branch');
});
