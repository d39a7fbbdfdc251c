import t from 'tap';
import { TransactionTimeoutError, TransactionTransportError } from '../../../lib/transaction/errors.js';
import { RecordingHandler, request, response, setup, TCP_DEST, testFlow, UDP_DEST } from './support.js';

const T1 = 500;

t.test('UDP Calling: Timer A doubles from T1 with no cap, Timer B times out at 64*T1', async (t) => {
  const { clock, layer, sendTimes } = setup();
  const h = new RecordingHandler(clock);
  const ctx = layer.sendRequest(request(), UDP_DEST, h);
  t.equal(ctx.state, 'Calling');
  t.same(layer.size, { client: 1, server: 0 });
  clock.advance(64 * T1 - 1);
  t.same(sendTimes.map((s) => s.at), [0, 500, 1500, 3500, 7500, 15500, 31500], 'A = 500, 1000, 2000, 4000, 8000, 16000');
  t.equal(ctx.state, 'Calling');
  t.same(h.events, []);
  clock.advance(1);
  t.equal(ctx.state, 'Terminated');
  t.same(h.events, ['timeout', 'terminated'], 'timeout first, terminated last');
  t.ok(h.errors[0] instanceof TransactionTimeoutError);
  t.equal(h.errors[0]!.code, 'SIPD_ERR_TX_TIMEOUT');
  t.equal(h.errors[0]!.status, 408);
  t.same(layer.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
  clock.advance(100_000);
  t.equal(sendTimes.length, 7, 'no send after Terminated');
});

t.test('Timer B without onTimeout: the handler gets a local 408', async (t) => {
  const { clock, layer } = setup();
  const h = new RecordingHandler(clock, { timeout: false });
  const req = request();
  layer.sendRequest(req, UDP_DEST, h);
  clock.advance(32_000);
  t.same(h.events, ['resp:408(local)', 'terminated']);
  t.equal(h.responses[0]!.callId, req.callId);
  t.equal(h.responses[0]!.cseq.method, 'INVITE');
});

t.test('T1 is configurable: A and B scale with it', async (t) => {
  const { clock, layer, sendTimes } = setup({ t1: 100 });
  const h = new RecordingHandler(clock);
  layer.sendRequest(request(), UDP_DEST, h);
  clock.advance(6400);
  t.same(sendTimes.map((s) => s.at), [0, 100, 300, 700, 1500, 3100, 6300]);
  t.same(h.events, ['timeout', 'terminated']);
});

t.test('1xx in Calling → Proceeding: A and B stop, every provisional reaches the handler (C-hook)', async (t) => {
  const { clock, layer, transport } = setup();
  const h = new RecordingHandler(clock);
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  clock.advance(700);
  layer.receive(response(req, 100), testFlow());
  t.equal(ctx.state, 'Proceeding');
  t.equal(clock.pending(), 0, 'no timer runs in Proceeding (Timer C belongs to the proxy)');
  layer.receive(response(req, 180, 'a'), testFlow());
  layer.receive(response(req, 183, 'a'), testFlow());
  layer.receive(response(req, 180, 'a'), testFlow());
  t.same(h.events, ['resp:100', 'resp:180', 'resp:183', 'resp:180']);
  t.same(h.times, [700, 700, 700, 700]);
  clock.advance(10 * 60_000);
  t.equal(transport.requests('INVITE').length, 2, 'sent at 0 and 500 only');
  t.equal(ctx.state, 'Proceeding', 'Proceeding lasts until a final response');
  t.same(layer.size, { client: 1, server: 0 });
});

for (const status of [300, 404, 486, 503, 603]) {
  t.test(`UDP ${status} → ACK sent, Completed, retransmissions re-ACKed, Timer D`, async (t) => {
    const { clock, layer, transport } = setup();
    const h = new RecordingHandler(clock);
    const req = request({ routes: ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>'], maxForwards: 69 });
    const ctx = layer.sendRequest(req, UDP_DEST, h);
    layer.receive(response(req, 180, 'xyz'), testFlow());
    const final = response(req, status, 'xyz');
    layer.receive(final, testFlow());
    t.equal(ctx.state, 'Completed');
    t.same(h.events, ['resp:180', `resp:${status}`]);
    const acks = transport.sent.filter((s) => s.msg.isRequest && s.msg.method === 'ACK');
    t.equal(acks.length, 1);
    const ack = acks[0]!.msg as typeof req;
    t.same(acks[0]!.dest, UDP_DEST, 'ACK goes where the INVITE went');
    t.equal(ack.uri, req.uri);
    t.equal(ack.callId, req.callId);
    t.equal(ack.fromTag, req.fromTag);
    t.equal(ack.toTag, 'xyz', 'To of the response');
    t.same(ack.cseq, { seq: req.cseq.seq, method: 'ACK' });
    t.equal(ack.via.branch, req.via.branch, 'same branch as the INVITE');
    t.equal(ack.getAll('via').length, 1, 'only the top Via');
    t.same(ack.getAll('route'), ['<sip:p1.example.com;lr>', '<sip:p2.example.com;lr>']);
    t.equal(ack.maxForwards, 69);
    // Retransmitted finals: re-ACK, not passed up.
    layer.receive(response(req, status, 'xyz'), testFlow());
    layer.receive(response(req, status, 'xyz'), testFlow());
    t.equal(transport.requests('ACK').length, 3);
    t.same(h.events, ['resp:180', `resp:${status}`]);
    // Provisional or 2xx in Completed: ignored.
    layer.receive(response(req, 180, 'xyz'), testFlow());
    layer.receive(response(req, 200, 'other'), testFlow());
    t.same(h.events, ['resp:180', `resp:${status}`]);
    clock.advance(32_000 - 1);
    t.equal(ctx.state, 'Completed', 'D is 32 s on UDP');
    clock.advance(1);
    t.equal(ctx.state, 'Terminated');
    t.same(h.events, ['resp:180', `resp:${status}`, 'terminated']);
    t.equal(clock.pending(), 0);
    t.same(layer.size, { client: 0, server: 0 });
  });
}

t.test('final response straight in Calling → Completed (A and B cleared)', async (t) => {
  const { clock, layer, transport } = setup();
  const h = new RecordingHandler(clock);
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  clock.advance(600);
  layer.receive(response(req, 404), testFlow());
  t.equal(ctx.state, 'Completed');
  clock.advance(31_999);
  t.equal(transport.requests('INVITE').length, 2, 'no retransmission after the final response');
  t.same(h.events, ['resp:404']);
  clock.advance(1);
  t.same(h.events, ['resp:404', 'terminated']);
});

t.test('2xx → Accepted (RFC 6026), every 2xx passes up, Timer M ends it, then 2xx are stray', async (t) => {
  const { clock, layer, transport, tu } = setup();
  const h = new RecordingHandler(clock);
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  layer.receive(response(req, 180, 'a'), testFlow());
  layer.receive(response(req, 200, 'a'), testFlow());
  t.equal(ctx.state, 'Accepted');
  t.equal(transport.requests('ACK').length, 0, 'the ACK for a 2xx is the TU’s');
  layer.receive(response(req, 200, 'a'), testFlow());
  layer.receive(response(req, 200, 'b'), testFlow());
  layer.receive(response(req, 486, 'c'), testFlow());
  layer.receive(response(req, 183, 'c'), testFlow());
  t.same(h.events, ['resp:180', 'resp:200', 'resp:200', 'resp:200'], 'retransmitted and forked 2xx, nothing else');
  t.same(h.responses.slice(1).map((r) => r.toTag), ['a', 'a', 'b']);
  clock.advance(64 * T1 - 1);
  t.equal(ctx.state, 'Accepted');
  clock.advance(1);
  t.equal(ctx.state, 'Terminated');
  t.same(h.events.at(-1), 'terminated');
  layer.receive(response(req, 200, 'a'), testFlow());
  t.equal(tu.strays.length, 1, 'a 2xx after Timer M is a stray response');
  t.equal(clock.pending(), 0);
});

t.test('2xx in Calling → Accepted (no 1xx first)', async (t) => {
  const { clock, layer } = setup();
  const h = new RecordingHandler(clock);
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  layer.receive(response(req, 200), testFlow());
  t.equal(ctx.state, 'Accepted');
  t.equal(clock.pending(), 1, 'only Timer M');
});

t.test('TCP: no Timer A, Timer B still fires; D = 0', async (t) => {
  const { clock, layer, sendTimes, transport } = setup();
  const h = new RecordingHandler(clock);
  const req = request({ proto: 'tcp' });
  layer.sendRequest(req, TCP_DEST, h);
  clock.advance(31_999);
  t.equal(sendTimes.length, 1, 'no retransmission on a reliable transport');
  clock.advance(1);
  t.same(h.events, ['timeout', 'terminated']);

  const h2 = new RecordingHandler(clock);
  const req2 = request({ proto: 'tcp' });
  const ctx2 = layer.sendRequest(req2, TCP_DEST, h2);
  layer.receive(response(req2, 180, 't'), testFlow('tcp', undefined, 7));
  layer.receive(response(req2, 486, 't'), testFlow('tcp', undefined, 7));
  t.equal(ctx2.state, 'Terminated', 'Completed lasts 0 s on TCP');
  t.same(h2.events, ['resp:180', 'resp:486', 'terminated']);
  const ack = transport.sent.at(-1)!;
  t.equal(ack.msg.isRequest && ack.msg.method, 'ACK');
  t.same(ack.dest, { ...TCP_DEST, connId: 7 }, 'ACK on the connection the response came on');
  t.same(layer.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
});

t.test('TCP 2xx → Accepted keeps Timer M (forked 2xx may still come)', async (t) => {
  const { clock, layer } = setup();
  const h = new RecordingHandler(clock);
  const req = request({ proto: 'tcp' });
  const ctx = layer.sendRequest(req, TCP_DEST, h);
  layer.receive(response(req, 200, 'a'), testFlow('tcp'));
  t.equal(ctx.state, 'Accepted');
  clock.advance(32_000);
  t.equal(ctx.state, 'Terminated');
});

t.test('transport error on the INVITE: Terminated, reported on the next clock turn, never inside sendRequest', async (t) => {
  const { clock, layer, transport } = setup();
  transport.fail = new Error('ECONNREFUSED');
  const h = new RecordingHandler(clock);
  const ctx = layer.sendRequest(request({ proto: 'tcp' }), TCP_DEST, h);
  t.same(h.events, [], 'nothing happens inside sendRequest');
  t.equal(ctx.state, 'Calling');
  clock.advance(0);
  t.equal(ctx.state, 'Terminated');
  t.same(h.events, ['transport-error', 'terminated']);
  const err = h.errors[0]!;
  t.ok(err instanceof TransactionTransportError);
  t.equal(err.code, 'SIPD_ERR_TX_TRANSPORT');
  t.equal(err.status, 503);
  t.match(err.message, /ECONNREFUSED/);
  t.equal((err.cause as Error).message, 'ECONNREFUSED');
  t.same(layer.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
});

t.test('asynchronous transport error on a retransmission (UDP), without onTransportError → local 503', async (t) => {
  const { clock, layer, transport } = setup();
  const h = new RecordingHandler(clock, { transportError: false });
  const ctx = layer.sendRequest(request(), UDP_DEST, h);
  transport.fail = true;
  transport.failAsync = true;
  clock.advance(500);
  t.equal(ctx.state, 'Calling');
  await new Promise((r) => setImmediate(r));
  t.equal(ctx.state, 'Terminated');
  t.same(h.events, ['resp:503(local)', 'terminated']);
  t.equal(clock.pending(), 0);
});

t.test('transport error on the ACK in Completed terminates and informs the TU', async (t) => {
  const { clock, layer, transport } = setup();
  const h = new RecordingHandler(clock);
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  transport.fail = true;
  layer.receive(response(req, 486, 'x'), testFlow());
  t.equal(ctx.state, 'Completed');
  clock.advance(0);
  t.equal(ctx.state, 'Terminated');
  t.same(h.events, ['resp:486', 'transport-error', 'terminated']);
  t.equal(clock.pending(), 0);
});

t.test('cancel() in Proceeding sends a CANCEL at once, in its own transaction to the same destination', async (t) => {
  const { clock, layer, transport } = setup();
  const h = new RecordingHandler(clock);
  const ch = new RecordingHandler(clock);
  const req = request({ routes: ['<sip:edge.example.com;lr>'] });
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  layer.receive(response(req, 180, 'r'), testFlow());
  ctx.cancel!({ handler: ch, headers: [['Reason', 'SIP;cause=200;text="Call completed elsewhere"']] });
  ctx.cancel!({ handler: ch });
  const cancels = transport.requests('CANCEL');
  t.equal(cancels.length, 1, 'a second cancel() does nothing');
  const c = cancels[0]!;
  t.equal(c.via.branch, req.via.branch);
  t.same(c.cseq, { seq: req.cseq.seq, method: 'CANCEL' });
  t.equal(c.get('reason'), 'SIP;cause=200;text="Call completed elsewhere"');
  t.same(c.getAll('route'), ['<sip:edge.example.com;lr>']);
  t.same(transport.sent.at(-1)!.dest, UDP_DEST);
  t.same(layer.size, { client: 2, server: 0 });
  layer.receive(response(c, 200), testFlow());
  t.same(ch.events, ['resp:200'], 'the CANCEL response goes to the CANCEL handler');
  layer.receive(response(req, 487, 'r'), testFlow());
  t.same(h.events, ['resp:180', 'resp:487']);
  t.equal(transport.requests('ACK').length, 1);
  clock.advance(32_000);
  t.same(layer.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
  t.same(ch.events, ['resp:200', 'terminated']);
});

t.test('cancel() while Calling waits for the first provisional response (§9.1)', async (t) => {
  const { clock, layer, transport } = setup();
  const h = new RecordingHandler(clock);
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  ctx.cancel!();
  clock.advance(600);
  t.equal(transport.requests('CANCEL').length, 0, 'no CANCEL before a provisional response');
  layer.receive(response(req, 100), testFlow());
  t.equal(transport.requests('CANCEL').length, 1);
});

t.test('cancel() while Calling: a final response first means no CANCEL at all', async (t) => {
  const { clock, layer, transport } = setup();
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, new RecordingHandler(clock));
  ctx.cancel!();
  layer.receive(response(req, 486), testFlow());
  ctx.cancel!();
  layer.receive(response(req, 486), testFlow());
  t.equal(transport.requests('CANCEL').length, 0);
});

t.test('a cancelled INVITE without a final response ends after 64*T1 (§9.1)', async (t) => {
  const { clock, layer, transport } = setup();
  transport.drop = true;
  const h = new RecordingHandler(clock);
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  layer.receive(response(req, 180, 'q'), testFlow());
  clock.advance(1000);
  ctx.cancel!();
  clock.advance(64 * T1 - 1);
  t.equal(ctx.state, 'Proceeding');
  clock.advance(1);
  t.equal(ctx.state, 'Terminated');
  t.same(h.events, ['resp:180', 'timeout', 'terminated']);
  t.same(layer.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
});

t.test('cancel() after the final response does nothing', async (t) => {
  const { clock, layer, transport } = setup();
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, new RecordingHandler(clock));
  layer.receive(response(req, 200), testFlow());
  ctx.cancel!();
  t.equal(transport.requests('CANCEL').length, 0);
});

t.test('a response for another method with the same branch does not match (§17.1.3)', async (t) => {
  const { clock, layer, tu } = setup();
  const h = new RecordingHandler(clock);
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  const res = response(req, 200);
  res.set('cseq', `${req.cseq.seq} CANCEL`);
  layer.receive(res, testFlow());
  t.equal(ctx.state, 'Calling');
  t.equal(tu.strays.length, 1);
});

t.test('a throwing handler does not break the transaction or the layer', async (t) => {
  const { clock, layer, transport } = setup();
  const req = request();
  const ctx = layer.sendRequest(req, UDP_DEST, {
    onResponse() {
      throw new Error('handler bug');
    },
    onTerminated() {
      throw new Error('handler bug 2');
    },
  });
  t.doesNotThrow(() => layer.receive(response(req, 486), testFlow()));
  t.equal(ctx.state, 'Completed');
  t.equal(transport.requests('ACK').length, 1);
  t.doesNotThrow(() => clock.advance(32_000));
  t.equal(ctx.state, 'Terminated');
  t.same(layer.size, { client: 0, server: 0 });
});
