/**
 * Two transaction layers talking through MemoryTransports on one FakeClock, with
 * 1 ms of "network" and optional loss: the client side of one layer against the
 * server side of the other, end to end.
 */
import t from 'tap';
import { createResponse } from '../../../lib/sip/build.js';
import type { AnyMessage } from '../../../lib/sip/message.js';
import { TransactionLayer } from '../../../lib/transaction/layer.js';
import type { Proto } from '../../../lib/transport/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { MemoryTransport, testFlow } from '../../helpers/memory-transport.js';
import { ackFor2xx, RecordingHandler, RecordingTu, request } from './support.js';

/** Events without `terminated` (which comes at once on TCP, after T4 on UDP). */
function responses(h: RecordingHandler): string[] {
  return h.events.filter((e) => e !== 'terminated');
}

function pair(proto: Proto = 'udp') {
  const clock = new FakeClock();
  const ta = new MemoryTransport();
  const tb = new MemoryTransport();
  const tuA = new RecordingTu();
  const tuB = new RecordingTu();
  const a = new TransactionLayer({ transport: ta, clock, tu: tuA });
  const b = new TransactionLayer({ transport: tb, clock, tu: tuB });
  /** Return true to lose a message. */
  const loss = { aToB: (_m: AnyMessage) => false, bToA: (_m: AnyMessage) => false };
  ta.peer = (m) => {
    if (!loss.aToB(m)) clock.setTimer(1, () => b.receive(m, testFlow(proto, { address: '192.0.2.10', port: 5060 })));
  };
  tb.peer = (m) => {
    if (!loss.bToA(m)) clock.setTimer(1, () => a.receive(m, testFlow(proto, { address: '203.0.113.5', port: 5060 })));
  };
  const dest = { proto, address: '203.0.113.5', port: 5060 } as const;
  return { clock, ta, tb, tuA, tuB, a, b, loss, dest };
}

for (const proto of ['udp', 'tcp'] as const) {
  t.test(`${proto}: INVITE rejected: 100, 180, 486, ACK absorbed by the server transaction`, async (t) => {
    const { clock, a, b, tuB, ta, dest } = pair(proto);
    tuB.onReq = (req, stx) => {
      if (req.method !== 'INVITE') return;
      stx!.respond(createResponse(req, 180, { toTag: 'b' }));
      clock.setTimer(2000, () => stx!.respond(createResponse(req, 486, { toTag: 'b' })));
    };
    const h = new RecordingHandler(clock);
    const ctx = a.sendRequest(request({ proto }), dest, h);
    clock.advance(10);
    t.equal(ctx.state, 'Proceeding');
    clock.advance(2000);
    t.same(responses(h), ['resp:100', 'resp:180', 'resp:486']);
    t.same(ta.log(), ['INVITE', 'ACK']);
    t.same(tuB.methods(), ['INVITE'], 'the ACK never reaches the server TU');
    clock.advance(64_000);
    t.same(a.size, { client: 0, server: 0 });
    t.same(b.size, { client: 0, server: 0 });
    t.equal(clock.pending(), 0);
  });

  t.test(`${proto}: INVITE cancelled: CANCEL 200, INVITE 487, ACK`, async (t) => {
    const { clock, a, b, tuB, ta, tb, dest } = pair(proto);
    tuB.onReq = (req, stx) => {
      if (req.method === 'INVITE') {
        stx!.respond(createResponse(req, 180, { toTag: 'c' }));
        stx!.onCancel = () => stx!.respond(createResponse(req, 487, { toTag: 'c' }));
      }
      if (req.method === 'CANCEL') stx!.respond(createResponse(req, stx!.cancelled ? 200 : 481, { toTag: 'c' }));
    };
    const h = new RecordingHandler(clock);
    const ch = new RecordingHandler(clock);
    const ctx = a.sendRequest(request({ proto }), dest, h);
    clock.advance(5);
    ctx.cancel!({ handler: ch });
    clock.advance(10);
    t.same(responses(ch), ['resp:200']);
    t.same(responses(h), ['resp:100', 'resp:180', 'resp:487']);
    t.same(ta.log(), ['INVITE', 'CANCEL', 'ACK']);
    t.same(tb.log(), ['100', '180', '200', '487']);
    t.same(tuB.methods(), ['INVITE', 'CANCEL']);
    clock.advance(64_000);
    t.same(a.size, { client: 0, server: 0 });
    t.same(b.size, { client: 0, server: 0 });
    t.equal(clock.pending(), 0);
  });

  t.test(`${proto}: INVITE answered 200; the ACK for it reaches the server TU with no transaction`, async (t) => {
    const { clock, a, b, tuB, ta, dest } = pair(proto);
    tuB.onReq = (req, stx) => {
      if (req.method === 'INVITE') stx!.respond(createResponse(req, 200, { toTag: 'ok' }));
    };
    const h = new RecordingHandler(clock);
    const inv = request({ proto });
    a.sendRequest(inv, dest, h);
    clock.advance(5);
    t.same(h.events, ['resp:100', 'resp:200']);
    // The UAC core acknowledges the 2xx outside any transaction.
    ta.send(ackFor2xx(inv, h.responses[1]!), dest);
    clock.advance(5);
    t.same(tuB.methods(), ['INVITE', 'ACK']);
    t.equal(tuB.requests[1]!.stx, undefined);
    clock.advance(64_000);
    t.same(a.size, { client: 0, server: 0 });
    t.same(b.size, { client: 0, server: 0 });
  });
}

t.test('udp with loss: the client retransmits, the server absorbs and re-answers', async (t) => {
  const { clock, a, b, tuB, ta, tb, loss, dest } = pair('udp');
  let sentAB = 0;
  let sentBA = 0;
  loss.aToB = () => ++sentAB <= 2; // the first two copies of the request are lost
  loss.bToA = () => ++sentBA === 1; // the first 200 is lost
  tuB.onReq = (req, stx) => stx!.respond(createResponse(req, 200, { toTag: 'r' }));
  const h = new RecordingHandler(clock);
  a.sendRequest(request({ method: 'OPTIONS' }), dest, h);
  clock.advance(5000);
  t.same(h.events, ['resp:200']);
  t.equal(tuB.requests.length, 1, 'the server TU saw the request once');
  t.same(ta.log(), ['OPTIONS', 'OPTIONS', 'OPTIONS', 'OPTIONS'], 'sent at 0, 500, 1500 (first answer lost), 3500');
  t.same(tb.log(), ['200', '200'], 'the retransmission got the stored response');
  clock.advance(64_000);
  t.same(a.size, { client: 0, server: 0 });
  t.same(b.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
});

t.test('udp with loss of the 486: the server retransmits on Timer G until the ACK', async (t) => {
  const { clock, a, b, tuB, tb, loss, dest } = pair('udp');
  let finals = 0;
  loss.bToA = (m) => !m.isRequest && m.status === 486 && ++finals <= 2;
  tuB.onReq = (req, stx) => {
    if (req.method === 'INVITE') stx!.respond(createResponse(req, 486, { toTag: 'g' }));
  };
  const h = new RecordingHandler(clock);
  a.sendRequest(request(), dest, h);
  clock.advance(5000);
  t.same(h.events, ['resp:100', 'resp:486']);
  t.same(tb.log(), ['100', '486', '486', '486'], 'G fired at 500 and 1500, the third copy arrived');
  t.equal(b.size.server, 1);
  clock.advance(64_000);
  t.same(a.size, { client: 0, server: 0 });
  t.same(b.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
});
