// compactCompleted: the Completed state of non-INVITE server transactions on
// UDP kept as compact records. Same wire behaviour as the live FSM (timer J,
// retransmissions answered with the same bytes), table empty afterwards.
import t from 'tap';
import { TransactionLayer } from '../../../lib/transaction/layer.js';
import { createResponse } from '../../../lib/sip/build.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { MemoryTransport, testFlow } from '../../helpers/memory-transport.js';
import type { SipRequest, SipResponse } from '../../../lib/sip/message.js';
import { RecordingHandler, RecordingTu, UDP_DEST, ackFor2xx, ackForNon2xx, request, response } from './support.js';

/**
 * A layer with compactCompleted (or compactAccepted) on a fake clock and a memory transport.
 * `onReq` answers requests (default: 200 with To tag `fixed`); `tu` replaces the recording TU.
 */
function setup(o: { compactAccepted?: boolean; tu?: RecordingTu; onReq?: RecordingTu['onReq'] } = {}) {
  const clock = new FakeClock();
  const transport = new MemoryTransport();
  const tu = o.tu ?? new RecordingTu();
  tu.onReq = 'onReq' in o ? o.onReq : (req, stx) => stx?.respond(createResponse(req, 200, { toTag: 'fixed' }));
  const layer = new TransactionLayer({ transport, clock, tu, ...(o.compactAccepted === true ? { compactAccepted: true } : { compactCompleted: true }) });
  return { clock, transport, tu, layer };
}

t.test('UDP: the final response is re-sent byte for byte for retransmissions until timer J', async (t) => {
  const { clock, transport, tu, layer } = setup();
  const req = request({ method: 'REGISTER', proto: 'udp' });
  layer.receive(req, testFlow('udp'));
  t.equal(tu.requests.length, 1);
  t.equal(tu.requests[0]!.stx!.state, 'Terminated', 'the live transaction ended; a record holds Completed');
  t.same(layer.size, { client: 0, server: 1 }, 'the record counts as a server transaction');
  const first = transport.sent[0]!.msg.serialize();
  clock.advance(500);
  layer.receive(req, testFlow('udp'));
  clock.advance(20_000);
  layer.receive(req, testFlow('udp'));
  t.equal(tu.requests.length, 1, 'retransmissions never reach the TU');
  t.equal(transport.sent.length, 3);
  for (const s of transport.sent) t.same(s.msg.serialize(), first, 'same bytes');
  t.same(transport.sent[2]!.dest, transport.sent[0]!.dest, 'to the same destination');
  clock.advance(64 * 500 - 20_500);
  t.same(layer.size, { client: 0, server: 0 }, 'gone after timer J (64*T1)');
  t.equal(clock.pending(), 0, 'no timer left');
  layer.receive(req, testFlow('udp'));
  t.equal(tu.requests.length, 2, 'after J the same request is new again');
});

t.test('replayable final responses: the record keeps no text, the TU builds the response again for each retransmission', async (t) => {
  const replays: SipRequest[] = [];
  let replayWith: ((req: SipRequest) => SipResponse | undefined) | undefined = (req) => createResponse(req, 200, { toTag: 'fixed', reason: `Again ${replays.length}` });
  const tu = Object.assign(new RecordingTu(), {
    replayResponse(req: SipRequest): SipResponse | undefined {
      replays.push(req);
      if (replayWith === undefined) throw new Error('replay failed');
      return replayWith(req);
    },
  });
  const { clock, transport, layer } = setup({
    tu,
    onReq: (req, stx) => stx?.respond(createResponse(req, 200, { toTag: 'fixed', reason: 'First' }), { replayable: true }),
  });
  const req = request({ method: 'REGISTER', proto: 'udp' });
  layer.receive(req, testFlow('udp'));
  t.same(layer.size, { client: 0, server: 1 }, 'parked as usual');
  t.equal(replays.length, 0, 'nothing replayed for the request itself');
  clock.advance(500);
  layer.receive(req, testFlow('udp'));
  t.equal(tu.requests.length, 1, 'the retransmission does not reach onRequest');
  t.equal(replays.length, 1, 'replayResponse is asked');
  t.equal(replays[0], req, 'with the retransmitted request');
  t.equal(transport.sent.length, 2);
  t.equal((transport.sent[1]!.msg as SipResponse).reason, 'Again 1', 'what replayResponse built is sent');
  t.same(transport.sent[1]!.dest, transport.sent[0]!.dest, 'to the destination of the first response');
  replayWith = () => undefined;
  layer.receive(req, testFlow('udp'));
  t.equal(transport.sent.length, 2, 'undefined from replayResponse: nothing is sent');
  replayWith = undefined;
  layer.receive(req, testFlow('udp'));
  t.equal(transport.sent.length, 2, 'a throwing replayResponse: nothing is sent, the layer goes on');
  t.equal(tu.requests.length, 1, 'and the retransmission still does not become a new request');
  clock.advance(64 * 500);
  t.same(layer.size, { client: 0, server: 0 }, 'gone after timer J');
});

t.test('replayable without a replayResponse in the TU: the text is kept as for any response', async (t) => {
  const { clock, transport, tu, layer } = setup();
  tu.onReq = (req, stx) => stx?.respond(createResponse(req, 200, { toTag: 'fixed' }), { replayable: true });
  const req = request({ method: 'REGISTER', proto: 'udp' });
  layer.receive(req, testFlow('udp'));
  clock.advance(500);
  layer.receive(req, testFlow('udp'));
  t.equal(transport.sent.length, 2);
  t.same(transport.sent[1]!.msg.serialize(), transport.sent[0]!.msg.serialize(), 'the same bytes again');
});

t.test('tuRecognisesRetransmissions: nothing is parked, a retransmission reaches the TU as a new request', async (t) => {
  const { clock, transport, tu, layer } = setup();
  tu.onReq = (req, stx) => stx?.respond(createResponse(req, 200, { toTag: 'fixed' }), { replayable: true, tuRecognisesRetransmissions: true });
  const req = request({ method: 'REGISTER', proto: 'udp' });
  layer.receive(req, testFlow('udp'));
  t.equal(tu.requests[0]!.stx!.state, 'Terminated', 'the transaction ended at its final response');
  t.same(layer.size, { client: 0, server: 0 }, 'and left no record');
  t.equal(clock.pending(), 0, 'nor a timer');
  clock.advance(500);
  layer.receive(req, testFlow('udp'));
  t.equal(tu.requests.length, 2, 'the retransmission goes to the TU');
  t.equal(transport.sent.length, 2, 'which answered it again');
  const plain = setup({ compactAccepted: true });
  plain.tu.onReq = (req, stx) => stx?.respond(createResponse(req, 200, { toTag: 'fixed' }), { tuRecognisesRetransmissions: true });
  plain.layer.receive(req, testFlow('udp'));
  t.equal(plain.tu.requests[0]!.stx!.state, 'Completed', 'without compactCompleted the transaction goes through Completed as usual');
  plain.layer.receive(req, testFlow('udp'));
  t.equal(plain.tu.requests.length, 1, 'and absorbs the retransmission');
  t.equal(plain.transport.sent.length, 2, 'with the same response');
});

t.test('TCP transactions are not parked (J is 0 there); INVITE server transactions keep their FSM', async (t) => {
  const { tu, layer } = setup();
  layer.receive(request({ method: 'OPTIONS', proto: 'tcp' }), testFlow('tcp', undefined, 7));
  t.same(layer.size, { client: 0, server: 0 });
  layer.receive(request({ method: 'INVITE', proto: 'udp' }), testFlow('udp'));
  t.equal(tu.requests.at(-1)!.stx!.state, 'Accepted', 'INVITE: RFC 6026 Accepted, as without compaction');
});

t.test('a burst of 1,000 parked records expires with one timer', async (t) => {
  const { clock, layer } = setup();
  for (let i = 0; i < 1000; i++) {
    layer.receive(request({ method: 'REGISTER', proto: 'udp' }), testFlow('udp'));
    clock.advance(3);
  }
  t.same(layer.size, { client: 0, server: 1000 });
  t.equal(clock.pending(), 1, 'one timer for all records');
  clock.advance(32_000);
  t.same(layer.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
  layer.close();
});

// compactAccepted: INVITE transactions keep no Accepted state of their own.
t.test('compactAccepted: a 2xx ends the INVITE server transaction; a record absorbs INVITE retransmissions for timer L', async (t) => {
  const { clock, transport, tu, layer } = setup({
    compactAccepted: true,
    onReq: (req, stx) => {
      if (req.method === 'INVITE') stx?.respond(createResponse(req, 200, { toTag: 'callee' }));
    },
  });
  const invite = request({ method: 'INVITE', proto: 'udp' });
  layer.receive(invite, testFlow('udp'));
  t.equal(tu.requests[0]!.stx!.state, 'Terminated', 'no live Accepted state');
  t.same(layer.size, { client: 0, server: 1 }, 'a compact record stands in for it');
  const sent = transport.sent.length;
  clock.advance(1000);
  layer.receive(invite, testFlow('udp'));
  t.equal(tu.requests.length, 1, 'the retransmitted INVITE does not start a second call');
  t.equal(transport.sent.length, sent, 'and gets no answer from the layer (the TU retransmits the 2xx)');
  const ack = ackFor2xx(invite, transport.sent.find((s) => !s.msg.isRequest && s.msg.status === 200)!.msg as SipResponse);
  layer.receive(ack, testFlow('udp'));
  t.equal(tu.requests.at(-1)!.req.method, 'ACK', 'the ACK for the 2xx goes to the TU');
  t.equal(tu.requests.at(-1)!.stx, undefined);
  clock.advance(64 * 500);
  t.same(layer.size, { client: 0, server: 0 }, 'gone after timer L (64*T1)');
  t.equal(clock.pending(), 0, 'no timer left');
});

t.test('compactAccepted: after a non-2xx and its ACK (such as the 407 of every call), a record absorbs ACK and INVITE retransmissions', async (t) => {
  const { clock, transport, tu, layer } = setup({
    compactAccepted: true,
    onReq: (req, stx) => {
      if (req.method === 'INVITE') stx?.respond(createResponse(req, 407, { toTag: 'proxy' }));
    },
  });
  const invite = request({ method: 'INVITE', proto: 'udp' });
  layer.receive(invite, testFlow('udp'));
  const stx = tu.requests[0]!.stx!;
  t.equal(stx.state, 'Completed', 'waits for the ACK as usual (Timer G retransmits the 407)');
  const challenge = transport.sent.find((s) => !s.msg.isRequest && s.msg.status === 407)!.msg as SipResponse;
  const ack = ackForNon2xx(invite, challenge);
  layer.receive(ack, testFlow('udp'));
  t.equal(stx.state, 'Terminated', 'no live Confirmed state');
  t.same(layer.size, { client: 0, server: 1 }, 'a compact record stands in for it');
  const sent = transport.sent.length;
  layer.receive(ack, testFlow('udp'));
  layer.receive(invite, testFlow('udp'));
  t.equal(tu.requests.length, 1, 'neither the retransmitted ACK nor the INVITE reaches the TU');
  t.equal(transport.sent.length, sent, 'and nothing is sent (the 407 is not repeated after the ACK)');
  clock.advance(1000);
  t.equal(transport.sent.length, sent, 'no Timer G after the ACK');
  clock.advance(64 * 500);
  t.same(layer.size, { client: 0, server: 0 }, 'gone after 64*T1');
  t.equal(clock.pending(), 0, 'no timer left');
  // RFC 2543 (no magic cookie): its ACK cannot be matched by key alone, so the FSM keeps Confirmed
  const old = request({ method: 'INVITE', proto: 'udp', branch: null });
  layer.receive(old, testFlow('udp'));
  const oldStx = tu.requests.at(-1)!.stx!;
  const oldChallenge = transport.sent.filter((s) => !s.msg.isRequest && s.msg.status === 407).at(-1)!.msg as SipResponse;
  layer.receive(ackForNon2xx(old, oldChallenge), testFlow('udp'));
  t.equal(oldStx.state, 'Confirmed', 'an RFC 2543 transaction stays in Confirmed');
  clock.advance(5000);
  t.equal(oldStx.state, 'Terminated', 'until Timer I (T4)');
});

t.test('compactAccepted: an INVITE client transaction ends on its first 2xx; later 2xx are stray responses for the TU', async (t) => {
  const { clock, tu, layer } = setup({ compactAccepted: true, onReq: undefined });
  const invite = request({ method: 'INVITE', proto: 'udp' });
  const h = new RecordingHandler(clock);
  const ctx = layer.sendRequest(invite, UDP_DEST, h);
  const ok = response(invite, 200, 'callee');
  layer.receive(ok, testFlow('udp'));
  t.same(h.events, ['resp:200', 'terminated'], 'the 2xx is delivered, then the transaction ends');
  t.equal(ctx.state, 'Terminated');
  t.same(layer.size, { client: 0, server: 0 });
  layer.receive(response(invite, 200, 'callee'), testFlow('udp'));
  t.equal(tu.strays.length, 1, 'a retransmitted 2xx reaches the TU as a stray response (the proxy forwards it statelessly)');
  t.equal(clock.pending(), 0, 'no timer M');
});

t.test('compactCompleted: a non-INVITE client transaction on UDP ends at its final response; retransmissions are stray', async (t) => {
  const { clock, tu, layer } = setup({ onReq: undefined });
  const bye = request({ method: 'BYE', proto: 'udp' });
  const h = new RecordingHandler(clock);
  const ctx = layer.sendRequest(bye, UDP_DEST, h);
  layer.receive(response(bye, 200, 'x'), testFlow('udp'));
  t.same(h.events, ['resp:200', 'terminated'], 'the response first, then the end');
  t.equal(ctx.state, 'Terminated');
  t.same(layer.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0, 'no timer K');
  layer.receive(response(bye, 200, 'x'), testFlow('udp'));
  t.equal(tu.strays.length, 1, 'a retransmitted final response goes to the TU as stray');
  const tcp = layer.sendRequest(request({ method: 'BYE', proto: 'tcp' }), { proto: 'tcp', address: '203.0.113.5', port: 5060 }, new RecordingHandler(clock));
  layer.receive(response(tcp.request, 200, 'x'), testFlow('tcp'));
  t.equal(tcp.state, 'Terminated', 'TCP: K is 0 anyway');
});
