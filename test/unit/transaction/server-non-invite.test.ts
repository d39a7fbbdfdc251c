import t from 'tap';
import { createResponse } from '../../../lib/sip/build.js';
import { request, setup, testFlow } from './support.js';

const T1 = 500;

function incoming(proto: 'udp' | 'tcp' = 'udp', method = 'OPTIONS') {
  const s = setup();
  const req = request({ method, proto });
  const flow = testFlow(proto);
  s.layer.receive(req, flow);
  const stx = s.tu.requests[0]!.stx!;
  return { ...s, req, flow, stx };
}

t.test('new request → Trying, passed to the TU, no automatic 100', async (t) => {
  const { stx, transport, tu, req } = incoming('udp', 'REGISTER');
  t.equal(stx.state, 'Trying');
  t.same(tu.methods(), ['REGISTER']);
  t.equal(tu.requests[0]!.req, req);
  t.same(transport.log(), []);
  t.same(stx.dest, { proto: 'udp', address: '192.0.2.10', port: 5060 }, 'Via sent-by (§18.2.2)');
});

t.test('Trying absorbs retransmissions silently', async (t) => {
  const { layer, req, flow, tu, transport, stx } = incoming();
  layer.receive(req, flow);
  layer.receive(req, flow);
  t.equal(tu.requests.length, 1);
  t.same(transport.log(), []);
  t.equal(stx.state, 'Trying');
});

t.test('1xx → Proceeding: retransmissions get the last provisional response', async (t) => {
  const { layer, req, flow, tu, transport, stx } = incoming();
  stx.respond(createResponse(req, 100));
  t.equal(stx.state, 'Proceeding');
  stx.respond(createResponse(req, 183, { toTag: 'p' }));
  layer.receive(req, flow);
  t.same(transport.log(), ['100', '183', '183']);
  t.equal(tu.requests.length, 1);
});

t.test('UDP final → Completed: retransmissions re-send it, later responses dropped, Timer J = 64*T1', async (t) => {
  for (const first of [undefined, 100]) {
    const { clock, layer, req, flow, transport, stx } = incoming();
    if (first !== undefined) stx.respond(createResponse(req, first));
    stx.respond(createResponse(req, 200, { toTag: 'f' }));
    t.equal(stx.state, 'Completed');
    t.equal(stx.completed, true);
    layer.receive(req, flow);
    stx.respond(createResponse(req, 500, { toTag: 'f' }));
    stx.respond(createResponse(req, 180, { toTag: 'f' }));
    const log = transport.log();
    t.same(log.slice(log.indexOf('200')), ['200', '200']);
    clock.advance(64 * T1 - 1);
    t.equal(stx.state, 'Completed');
    clock.advance(1);
    t.equal(stx.state, 'Terminated');
    t.equal(clock.pending(), 0);
    t.same(layer.size, { client: 0, server: 0 });
  }
});

t.test('TCP final → Terminated at once (J = 0); responses go on the same connection', async (t) => {
  const { clock, layer, req, transport, stx } = incoming('tcp');
  let terminated = 0;
  stx.onTerminated = () => terminated++;
  stx.respond(createResponse(req, 200, { toTag: 'f' }));
  t.equal(stx.state, 'Terminated');
  t.equal(terminated, 1);
  t.same(transport.sent[0]!.dest, { proto: 'tcp', address: '192.0.2.10', port: 5060, connId: 1 });
  t.equal(clock.pending(), 0);
  t.same(layer.size, { client: 0, server: 0 });
});

t.test('a request after Terminated starts a new transaction', async (t) => {
  const { clock, layer, req, flow, tu, stx } = incoming();
  stx.respond(createResponse(req, 200, { toTag: 'f' }));
  clock.advance(64 * T1);
  layer.receive(req, flow);
  t.equal(tu.requests.length, 2);
  t.not(tu.requests[1]!.stx, stx);
});

t.test('a TU that never answers: the stale guard drops the transaction after 64*T1, sending nothing', async (t) => {
  const { clock, layer, transport, stx } = incoming();
  clock.advance(64 * T1 - 1);
  t.equal(stx.state, 'Trying');
  clock.advance(1);
  t.equal(stx.state, 'Terminated');
  t.same(transport.log(), []);
  t.equal(clock.pending(), 0);
  t.same(layer.size, { client: 0, server: 0 });
});

t.test('transport error sending a response: Terminated, TU informed', async (t) => {
  const { clock, transport, req, stx, layer } = incoming();
  const events: string[] = [];
  stx.onTransportError = (err) => events.push(err.code);
  stx.onTerminated = () => events.push('terminated');
  transport.fail = true;
  stx.respond(createResponse(req, 200, { toTag: 'f' }));
  clock.advance(0);
  t.equal(stx.state, 'Terminated');
  t.same(events, ['SIPD_ERR_TX_TRANSPORT', 'terminated']);
  t.equal(clock.pending(), 0);
  t.same(layer.size, { client: 0, server: 0 });
});

t.test('transport error while re-sending in Proceeding', async (t) => {
  const { clock, transport, req, flow, stx, layer } = incoming();
  stx.respond(createResponse(req, 100));
  transport.fail = true;
  layer.receive(req, flow);
  clock.advance(0);
  t.equal(stx.state, 'Terminated');
});
