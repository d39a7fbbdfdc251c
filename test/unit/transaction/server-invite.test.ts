import t from 'tap';
import { createResponse } from '../../../lib/sip/build.js';
import { TransactionTimeoutError, TransactionTransportError } from '../../../lib/transaction/errors.js';
import type { ServerTransaction } from '../../../lib/transaction/types.js';
import { ackFor2xx, ackForNon2xx, request, setup, testFlow } from './support.js';

const T1 = 500;

function incoming(opts: Parameters<typeof setup>[0] = {}, proto: 'udp' | 'tcp' = 'udp') {
  const s = setup(opts);
  const req = request({ proto, viaParams: ';rport' });
  const flow = testFlow(proto, { address: '198.51.100.20', port: 40000 });
  // The transport stamps received/rport before the layer sees the request (RFC 3581).
  req.shift('via');
  req.prepend('via', `SIP/2.0/${proto.toUpperCase()} 192.0.2.10:5060;branch=${req.via.branch};received=198.51.100.20;rport=40000`);
  s.layer.receive(req, flow);
  const stx = s.tu.requests[0]!.stx!;
  return { ...s, req, flow, stx };
}

t.test('new INVITE: 100 Trying at once to the §18.2.2 destination, Proceeding, passed to the TU', async (t) => {
  const { transport, tu, stx, req } = incoming();
  t.same(tu.methods(), ['INVITE']);
  t.equal(stx.state, 'Proceeding');
  t.equal(stx.request, req);
  t.same(transport.log(), ['100']);
  t.same(transport.sent[0]!.dest, { proto: 'udp', address: '198.51.100.20', port: 40000 }, 'received + rport');
  t.same(stx.dest, transport.sent[0]!.dest);
  const trying = transport.sent[0]!.msg;
  t.equal(trying.isRequest ? '' : trying.toTag, undefined, '100 carries no To tag');
  t.equal(stx.completed, false);
});

t.test('autoTrying: false sends nothing until the TU answers; a retransmission then gets nothing', async (t) => {
  const { transport, layer, req, flow, tu } = incoming({ autoTrying: false });
  t.same(transport.log(), []);
  layer.receive(req, flow);
  t.same(transport.log(), [], 'nothing to retransmit yet');
  t.equal(tu.requests.length, 1, 'the retransmission is absorbed');
});

t.test('Proceeding: a retransmitted INVITE re-sends the last provisional response', async (t) => {
  const { transport, layer, req, flow, stx, tu } = incoming();
  layer.receive(req, flow);
  t.same(transport.log(), ['100', '100']);
  stx.respond(createResponse(req, 180, { toTag: 'u' }));
  stx.respond(createResponse(req, 183, { toTag: 'u' }));
  layer.receive(req, flow);
  t.same(transport.log(), ['100', '100', '180', '183', '183']);
  t.equal(stx.state, 'Proceeding');
  t.equal(tu.requests.length, 1);
  t.equal(stx.lastResponse!.status, 183);
});

t.test('UDP 300-699 → Completed: Timer G doubles up to T2, Timer H ends it without ACK', async (t) => {
  const { clock, transport, req, stx, layer } = incoming();
  const events: string[] = [];
  stx.onTimeout = (err) => {
    t.ok(err instanceof TransactionTimeoutError);
    events.push('timeout');
  };
  stx.onTerminated = () => events.push('terminated');
  const times: number[] = [];
  transport.peer = (m) => {
    if (!m.isRequest && m.status === 486) times.push(clock.now());
  };
  clock.advance(100);
  stx.respond(createResponse(req, 486, { toTag: 'b' }));
  t.equal(stx.state, 'Completed');
  t.equal(stx.completed, true);
  clock.advance(64 * T1 - 1);
  t.same(
    times,
    [100, 600, 1600, 3600, 7600, 11600, 15600, 19600, 23600, 27600, 31600],
    'G = 500, 1000, 2000, 4000 (T2), 4000...',
  );
  t.equal(stx.state, 'Completed');
  clock.advance(1);
  t.equal(stx.state, 'Terminated');
  t.same(events, ['timeout', 'terminated']);
  t.same(layer.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
});

t.test('Completed: a retransmitted INVITE re-sends the final response; later TU responses are dropped', async (t) => {
  const { transport, layer, req, flow, stx, tu } = incoming();
  stx.respond(createResponse(req, 404, { toTag: 'n' }));
  layer.receive(req, flow);
  t.same(transport.log(), ['100', '404', '404']);
  stx.respond(createResponse(req, 200, { toTag: 'n' }));
  stx.respond(createResponse(req, 180, { toTag: 'n' }));
  stx.respond(createResponse(req, 500, { toTag: 'n' }));
  t.same(transport.log(), ['100', '404', '404']);
  t.equal(stx.state, 'Completed');
  t.equal(tu.requests.length, 1);
});

t.test('ACK in Completed → Confirmed: G and H stop, ACKs absorbed, Timer I = T4', async (t) => {
  const { clock, transport, layer, req, flow, stx, tu } = incoming();
  const final = createResponse(req, 486, { toTag: 'c' });
  stx.respond(final);
  clock.advance(700); // one G retransmission at 500
  const ack = ackForNon2xx(req, final);
  layer.receive(ack, flow);
  t.equal(stx.state, 'Confirmed');
  t.same(tu.methods(), ['INVITE'], 'the ACK is absorbed by the transaction');
  layer.receive(ack, flow);
  layer.receive(req, flow);
  t.same(tu.methods(), ['INVITE']);
  t.same(transport.log(), ['100', '486', '486'], 'nothing sent in Confirmed');
  clock.advance(4999);
  t.equal(stx.state, 'Confirmed');
  clock.advance(1);
  t.equal(stx.state, 'Terminated');
  t.equal(clock.pending(), 0);
  t.same(layer.size, { client: 0, server: 0 });
});

t.test('2xx → Accepted (RFC 6026): no retransmission by the transaction, INVITE absorbed, TU 2xx sent, Timer L', async (t) => {
  const { clock, transport, layer, req, flow, stx, tu } = incoming();
  const ok = createResponse(req, 200, { toTag: 'ok' });
  stx.respond(ok);
  t.equal(stx.state, 'Accepted');
  t.equal(stx.completed, true);
  clock.advance(10_000);
  t.same(transport.log(), ['100', '200'], 'the transaction never retransmits a 2xx');
  layer.receive(req, flow);
  t.same(transport.log(), ['100', '200'], 'a retransmitted INVITE is absorbed');
  t.same(tu.methods(), ['INVITE'], '... and not passed up as a new request');
  stx.respond(ok); // the TU's own 2xx retransmission
  stx.respond(createResponse(req, 200, { toTag: 'fork2' })); // another fork's answer
  stx.respond(createResponse(req, 486, { toTag: 'x' }));
  stx.respond(createResponse(req, 180, { toTag: 'x' }));
  t.same(transport.log(), ['100', '200', '200', '200'], '2xx pass, others dropped');
  // An ACK with the INVITE's branch in Accepted belongs to the TU.
  layer.receive(ackForNon2xx(req, ok), flow);
  t.same(tu.methods(), ['INVITE', 'ACK']);
  t.equal(tu.requests[1]!.stx, undefined);
  // The usual ACK for a 2xx has its own branch: also to the TU.
  layer.receive(ackFor2xx(req, ok), flow);
  t.same(tu.methods(), ['INVITE', 'ACK', 'ACK']);
  clock.advance(64 * T1 - 10_001);
  t.equal(stx.state, 'Accepted');
  clock.advance(1);
  t.equal(stx.state, 'Terminated');
  t.equal(clock.pending(), 0);
  t.same(layer.size, { client: 0, server: 0 });
});

t.test('ACK in Proceeding (before any final) is dropped', async (t) => {
  const { layer, req, flow, stx, tu } = incoming();
  layer.receive(ackForNon2xx(req, createResponse(req, 486, { toTag: 'z' })), flow);
  t.equal(stx.state, 'Proceeding');
  t.same(tu.methods(), ['INVITE']);
});

t.test('TCP: no Timer G; H still applies; ACK → Confirmed → Terminated at once (I = 0)', async (t) => {
  const a = incoming({}, 'tcp');
  t.same(a.stx.dest, { proto: 'tcp', address: '198.51.100.20', port: 40000, connId: 1 }, 'same connection');
  a.stx.respond(createResponse(a.req, 503, { toTag: 'q' }));
  a.clock.advance(31_999);
  t.same(a.transport.log(), ['100', '503'], 'no retransmission on TCP');
  t.equal(a.stx.state, 'Completed');
  a.clock.advance(1);
  t.equal(a.stx.state, 'Terminated', 'Timer H on TCP too');

  const b = incoming({}, 'tcp');
  const final = createResponse(b.req, 486, { toTag: 'w' });
  b.stx.respond(final);
  b.layer.receive(ackForNon2xx(b.req, final), b.flow);
  t.equal(b.stx.state, 'Terminated');
  t.equal(b.clock.pending(), 0);
  t.same(b.layer.size, { client: 0, server: 0 });

  const c = incoming({}, 'tcp');
  c.stx.respond(createResponse(c.req, 200, { toTag: 'w' }));
  t.equal(c.stx.state, 'Accepted');
  c.clock.advance(64 * T1);
  t.equal(c.stx.state, 'Terminated', 'Timer L on TCP too');
});

t.test('transport error in Proceeding or Completed: Terminated, TU informed', async (t) => {
  for (const status of [180, 486]) {
    const { clock, transport, req, stx, layer } = incoming();
    const events: string[] = [];
    stx.onTransportError = (err) => {
      t.ok(err instanceof TransactionTransportError);
      events.push('transport-error');
    };
    stx.onTerminated = () => events.push('terminated');
    transport.fail = true;
    stx.respond(createResponse(req, status, { toTag: 'e' }));
    t.same(events, [], 'not inside respond()');
    clock.advance(0);
    t.equal(stx.state, 'Terminated');
    t.same(events, ['transport-error', 'terminated']);
    t.equal(clock.pending(), 0);
    t.same(layer.size, { client: 0, server: 0 });
  }
});

t.test('transport error in Accepted: TU informed, the transaction stays until Timer L (RFC 6026)', async (t) => {
  const { clock, transport, req, flow, stx, layer, tu } = incoming();
  let errors = 0;
  stx.onTransportError = () => errors++;
  transport.fail = true;
  stx.respond(createResponse(req, 200, { toTag: 'e' }));
  clock.advance(0);
  t.equal(errors, 1);
  t.equal(stx.state, 'Accepted');
  layer.receive(req, flow);
  t.equal(tu.requests.length, 1, 'INVITE retransmissions still absorbed');
  clock.advance(64 * T1);
  t.equal(stx.state, 'Terminated');
});

t.test('a TU that sets no hooks is fine; hooks that throw are contained', async (t) => {
  const { clock, req, stx } = incoming();
  (stx as ServerTransaction).onTimeout = () => {
    throw new Error('hook bug');
  };
  stx.respond(createResponse(req, 486, { toTag: 'h' }));
  t.doesNotThrow(() => clock.advance(64 * T1));
  t.equal(stx.state, 'Terminated');
});
