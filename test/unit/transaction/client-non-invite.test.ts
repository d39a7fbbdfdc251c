import t from 'tap';
import { TransactionTransportError } from '../../../lib/transaction/errors.js';
import { RecordingHandler, request, response, setup, TCP_DEST, testFlow, UDP_DEST } from './support.js';

t.test('UDP Trying: Timer E doubles up to T2, Timer F times out at 64*T1', async (t) => {
  const { clock, layer, sendTimes } = setup();
  const h = new RecordingHandler(clock);
  const ctx = layer.sendRequest(request({ method: 'OPTIONS' }), UDP_DEST, h);
  t.equal(ctx.state, 'Trying');
  clock.advance(31_999);
  t.same(
    sendTimes.map((s) => s.at),
    [0, 500, 1500, 3500, 7500, 11500, 15500, 19500, 23500, 27500, 31500],
    'E = 500, 1000, 2000, 4000 (T2), 4000...',
  );
  t.same(h.events, []);
  clock.advance(1);
  t.equal(ctx.state, 'Terminated');
  t.same(h.events, ['timeout', 'terminated']);
  t.equal(h.errors[0]!.code, 'SIPD_ERR_TX_TIMEOUT');
  t.same(layer.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
});

t.test('T2 is configurable: E is capped at it', async (t) => {
  const { clock, transport, tu } = setup();
  const { TransactionLayer } = await import('../../../lib/transaction/layer.js');
  const layer = new TransactionLayer({ transport, clock, tu, timers: { t1: 100, t2: 250 } });
  const times: number[] = [];
  transport.peer = () => times.push(clock.now());
  layer.sendRequest(request({ method: 'OPTIONS' }), UDP_DEST, new RecordingHandler(clock));
  clock.advance(1200);
  t.same(times, [0, 100, 300, 550, 800, 1050]);
  clock.advance(6400);
  t.same(layer.size, { client: 0, server: 0 });
});

t.test('Timer F without onTimeout: a local 408', async (t) => {
  const { clock, layer } = setup();
  const h = new RecordingHandler(clock, { timeout: false });
  layer.sendRequest(request({ method: 'REGISTER' }), UDP_DEST, h);
  clock.advance(32_000);
  t.same(h.events, ['resp:408(local)', 'terminated']);
});

t.test('1xx → Proceeding: E continues, then every T2; F still applies', async (t) => {
  const { clock, layer, sendTimes } = setup();
  const h = new RecordingHandler(clock);
  const req = request({ method: 'OPTIONS' });
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  clock.advance(600); // sent at 0, 500; next E at 1500
  layer.receive(response(req, 100), testFlow());
  t.equal(ctx.state, 'Proceeding');
  layer.receive(response(req, 182), testFlow());
  t.same(h.events, ['resp:100', 'resp:182'], 'provisional responses reach the TU');
  clock.advance(31_399);
  t.same(
    sendTimes.map((s) => s.at),
    [0, 500, 1500, 5500, 9500, 13500, 17500, 21500, 25500, 29500],
    'in Proceeding E is reset to T2 each time it fires',
  );
  t.equal(ctx.state, 'Proceeding');
  clock.advance(1);
  t.same(h.events, ['resp:100', 'resp:182', 'timeout', 'terminated']);
});

t.test('UDP final → Completed: retransmissions absorbed, Timer K = T4', async (t) => {
  for (const status of [200, 202, 404, 500]) {
    const { clock, layer, transport } = setup();
    const h = new RecordingHandler(clock);
    const req = request({ method: 'BYE' });
    const ctx = layer.sendRequest(req, UDP_DEST, h);
    layer.receive(response(req, 100), testFlow());
    layer.receive(response(req, status), testFlow());
    t.equal(ctx.state, 'Completed');
    layer.receive(response(req, status), testFlow());
    layer.receive(response(req, 180), testFlow());
    t.same(h.events, ['resp:100', `resp:${status}`], 'retransmissions are not passed up');
    clock.advance(4999);
    t.equal(ctx.state, 'Completed');
    t.equal(transport.requests('BYE').length, 1, 'E and F stopped');
    clock.advance(1);
    t.equal(ctx.state, 'Terminated');
    t.same(h.events, ['resp:100', `resp:${status}`, 'terminated']);
    t.equal(clock.pending(), 0);
    t.same(layer.size, { client: 0, server: 0 });
  }
});

t.test('final straight from Trying → Completed', async (t) => {
  const { clock, layer } = setup();
  const h = new RecordingHandler(clock);
  const req = request({ method: 'MESSAGE' });
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  layer.receive(response(req, 200), testFlow());
  t.equal(ctx.state, 'Completed');
  t.equal(clock.pending(), 1, 'only Timer K');
});

t.test('TCP: no Timer E, F still fires; K = 0', async (t) => {
  const { clock, layer, sendTimes } = setup();
  const h = new RecordingHandler(clock);
  const ctx = layer.sendRequest(request({ method: 'OPTIONS', proto: 'tcp' }), TCP_DEST, h);
  clock.advance(31_999);
  t.equal(sendTimes.length, 1);
  t.equal(ctx.state, 'Trying');
  clock.advance(1);
  t.same(h.events, ['timeout', 'terminated']);

  const h2 = new RecordingHandler(clock);
  const req2 = request({ method: 'OPTIONS', proto: 'tcp' });
  const ctx2 = layer.sendRequest(req2, TCP_DEST, h2);
  layer.receive(response(req2, 100), testFlow('tcp'));
  t.equal(ctx2.state, 'Proceeding');
  layer.receive(response(req2, 200), testFlow('tcp'));
  t.equal(ctx2.state, 'Terminated', 'Completed lasts 0 s on TCP');
  t.same(h2.events, ['resp:100', 'resp:200', 'terminated']);
  t.equal(clock.pending(), 0);
  t.same(layer.size, { client: 0, server: 0 });
});

t.test('transport error: Terminated and reported (sync failure deferred to the next clock turn)', async (t) => {
  const { clock, layer, transport } = setup();
  transport.fail = true;
  const h = new RecordingHandler(clock);
  const ctx = layer.sendRequest(request({ method: 'OPTIONS' }), UDP_DEST, h);
  t.same(h.events, []);
  clock.advance(0);
  t.equal(ctx.state, 'Terminated');
  t.same(h.events, ['transport-error', 'terminated']);
  t.ok(h.errors[0] instanceof TransactionTransportError);
  t.equal(clock.pending(), 0);
  t.same(layer.size, { client: 0, server: 0 });
});

t.test('transport error in Proceeding (on a retransmission)', async (t) => {
  const { clock, layer, transport } = setup();
  const h = new RecordingHandler(clock, { transportError: false });
  const req = request({ method: 'OPTIONS' });
  const ctx = layer.sendRequest(req, UDP_DEST, h);
  layer.receive(response(req, 100), testFlow());
  transport.fail = true;
  clock.advance(500);
  t.equal(ctx.state, 'Terminated');
  t.same(h.events, ['resp:100', 'resp:503(local)', 'terminated']);
  t.equal(clock.pending(), 0);
});

t.test('a transport that throws instead of calling onError is treated as a transport error', async (t) => {
  const { clock, layer, transport } = setup();
  transport.send = () => {
    throw new Error('bad transport');
  };
  const h = new RecordingHandler(clock);
  t.doesNotThrow(() => layer.sendRequest(request({ method: 'OPTIONS' }), UDP_DEST, h));
  clock.advance(0);
  t.same(h.events, ['transport-error', 'terminated']);
});
