import { Writable } from 'node:stream';
import t from 'tap';
import { createResponse, newBranch } from '../../../lib/sip/build.js';
import type { SipRequest } from '../../../lib/sip/message.js';
import { TransactionUsageError } from '../../../lib/transaction/errors.js';
import { TransactionLayer } from '../../../lib/transaction/layer.js';
import type { ClientTransaction, ServerTransaction } from '../../../lib/transaction/types.js';
import { createLogger } from '../../../lib/util/log.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { MemoryTransport } from '../../helpers/memory-transport.js';
import { ackFor2xx, ackForNon2xx, RecordingHandler, RecordingTu, request, response, setup, TCP_DEST, testFlow, UDP_DEST } from './support.js';

function cancelFor(invite: SipRequest, overrides: Parameters<typeof request>[0] = {}): SipRequest {
  return request({
    method: 'CANCEL',
    uri: invite.uri,
    callId: invite.callId,
    cseq: invite.cseq.seq,
    fromTag: invite.fromTag!,
    branch: invite.via.branch ?? null,
    ...overrides,
  });
}

function logCapture() {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, log: createLogger({ level: 'debug', destination: stream }) };
}

t.test('CANCEL matches the INVITE server transaction (same branch, method INVITE)', async (t) => {
  const { layer, tu, transport } = setup();
  const invite = request();
  layer.receive(invite, testFlow());
  const istx = tu.requests[0]!.stx!;
  const order: string[] = [];
  istx.onCancel = () => {
    order.push('onCancel');
    istx.respond(createResponse(invite, 487, { toTag: 'k' }));
  };
  tu.onReq = (req, stx) => {
    if (req.method !== 'CANCEL') return;
    order.push('onRequest');
    t.equal(stx!.cancelled, istx, 'stx.cancelled is the INVITE transaction');
    stx!.respond(createResponse(req, 200, { toTag: 'k' }));
  };
  const cancel = cancelFor(invite);
  layer.receive(cancel, testFlow());
  t.same(order, ['onRequest', 'onCancel']);
  t.same(transport.log(), ['100', '200', '487']);
  t.equal(istx.state, 'Completed');
  t.same(layer.size, { client: 0, server: 2 });
  // A retransmitted CANCEL is absorbed by its own transaction (200 re-sent).
  layer.receive(cancel, testFlow());
  t.same(transport.log(), ['100', '200', '487', '200']);
  t.equal(tu.requests.length, 2);
});

t.test('CANCEL for an unknown transaction: cancelled is undefined (the TU answers 481)', async (t) => {
  const { layer, tu } = setup();
  layer.receive(cancelFor(request()), testFlow());
  t.same(tu.methods(), ['CANCEL']);
  t.equal(tu.requests[0]!.stx!.cancelled, undefined);
});

t.test('CANCEL after the final response: still matched, onCancel not called', async (t) => {
  const { layer, tu } = setup();
  const invite = request();
  layer.receive(invite, testFlow());
  const istx = tu.requests[0]!.stx!;
  let called = 0;
  istx.onCancel = () => called++;
  istx.respond(createResponse(invite, 200, { toTag: 'x' }));
  layer.receive(cancelFor(invite), testFlow());
  t.equal(tu.requests[1]!.stx!.cancelled, istx);
  t.equal(called, 0);
});

t.test('a CANCEL from another sent-by does not match', async (t) => {
  const { layer, tu } = setup();
  const invite = request();
  layer.receive(invite, testFlow());
  layer.receive(cancelFor(invite, { host: '192.0.2.99' }), testFlow());
  t.equal(tu.requests[1]!.stx!.cancelled, undefined);
});

t.test('§17.2.3 matching: branch + sent-by + method', async (t) => {
  const { layer, tu } = setup();
  const branch = newBranch();
  const callId = 'same-call@test';
  layer.receive(request({ branch, callId, method: 'OPTIONS' }), testFlow());
  layer.receive(request({ branch, callId, method: 'OPTIONS' }), testFlow());
  t.equal(tu.requests.length, 1, 'same branch, sent-by and method: a retransmission');
  layer.receive(request({ branch, callId, method: 'OPTIONS', port: 5070 }), testFlow());
  t.equal(tu.requests.length, 2, 'other sent-by port: a new transaction');
  layer.receive(request({ branch, callId, method: 'OPTIONS', host: '192.0.2.11' }), testFlow());
  t.equal(tu.requests.length, 3, 'other sent-by host: a new transaction');
  layer.receive(request({ branch, callId, method: 'INFO' }), testFlow());
  t.equal(tu.requests.length, 4, 'other method: a new transaction');
  layer.receive(request({ branch: branch.toUpperCase().replace('Z9HG4BK', 'z9hG4bK'), callId, method: 'OPTIONS' }), testFlow());
  t.equal(tu.requests.length, 5, 'the branch compares exactly');
  t.same(layer.size, { client: 0, server: 5 });
});

t.test('ACK for a 2xx (its own branch) goes to the TU with stx undefined', async (t) => {
  const { layer, tu, transport } = setup();
  const invite = request();
  layer.receive(invite, testFlow());
  const ok = createResponse(invite, 200, { toTag: 'two' });
  tu.requests[0]!.stx!.respond(ok);
  layer.receive(ackFor2xx(invite, ok), testFlow());
  layer.receive(ackFor2xx(request(), ok), testFlow());
  t.same(tu.methods(), ['INVITE', 'ACK', 'ACK']);
  t.equal(tu.requests[1]!.stx, undefined);
  t.equal(tu.requests[2]!.stx, undefined);
  t.same(transport.log(), ['100', '200'], 'nothing is sent for an ACK');
  t.same(layer.size, { client: 0, server: 1 }, 'no transaction for an ACK');
});

t.test('stray responses go to onStrayResponse', async (t) => {
  const { layer, tu } = setup();
  const orphan = response(request({ method: 'INVITE' }), 200, 'a');
  layer.receive(orphan, testFlow());
  const noBranch = response(request({ branch: null }), 180);
  layer.receive(noBranch, testFlow());
  t.same(tu.strays, [orphan, noBranch]);
  tu.onStrayResponse = () => {
    throw new Error('TU bug');
  };
  t.doesNotThrow(() => layer.receive(orphan, testFlow()));
});

t.test('RFC 2543 fallback: no magic cookie', async (t) => {
  for (const branch of [null, 'old-style-branch-1']) {
    const { layer, tu, transport, clock } = setup();
    const invite = request({ branch });
    const flow = testFlow();
    layer.receive(invite, flow);
    const stx = tu.requests[0]!.stx!;
    layer.receive(request({ branch, uri: invite.uri, callId: invite.callId, fromTag: invite.fromTag!, cseq: 1 }), flow);
    t.same(tu.methods(), ['INVITE'], 'a retransmission matches on R-URI, tags, Call-ID, CSeq, top Via');
    t.same(transport.log(), ['100', '100']);
    // CANCEL matches it (CSeq method ignored).
    layer.receive(cancelFor(invite), flow);
    t.equal(tu.requests[1]!.stx!.cancelled, stx);
    // Changing any of the elements makes a new transaction.
    layer.receive(request({ branch, uri: 'sip:carol@example.com', callId: invite.callId, fromTag: invite.fromTag!, cseq: 1 }), flow);
    layer.receive(request({ branch, uri: invite.uri, callId: invite.callId, fromTag: invite.fromTag!, cseq: 2 }), flow);
    layer.receive(request({ branch, uri: invite.uri, callId: invite.callId, fromTag: 'other', cseq: 1 }), flow);
    layer.receive(request({ branch, uri: invite.uri, callId: invite.callId, fromTag: invite.fromTag!, cseq: 1, toTag: 'tt' }), flow);
    layer.receive(request({ branch, uri: invite.uri, callId: invite.callId, fromTag: invite.fromTag!, cseq: 1, port: 5099 }), flow);
    t.equal(tu.requests.length, 7);
    t.same(layer.size, { client: 0, server: 7 });
    // ACK: matches when its To tag is the one of the final response.
    const final = createResponse(invite, 486, { toTag: 'final-tag' });
    stx.respond(final);
    layer.receive(ackForNon2xx(invite, createResponse(invite, 486, { toTag: 'wrong-tag' })), flow);
    t.equal(stx.state, 'Completed', 'an ACK with another To tag does not match');
    t.equal(tu.requests.at(-1)!.req.method, 'ACK');
    t.equal(tu.requests.at(-1)!.stx, undefined);
    layer.receive(ackForNon2xx(invite, final), flow);
    t.equal(stx.state, 'Confirmed');
    t.equal(tu.requests.length, 8, 'the matching ACK is absorbed');
    for (const c of tu.requests) if (c.stx && !c.stx.completed) c.stx.respond(createResponse(c.req, 500));
    clock.advance(5 * 60_000);
    t.same(layer.size, { client: 0, server: 0 }, 'legacy transactions leave the table too');
    t.equal(clock.pending(), 0);
  }
});

t.test('the TU throws: the layer answers 500 "Server Internal Error" and logs once', async (t) => {
  const { lines, log } = logCapture();
  const { layer, tu, transport } = setup({ log });
  tu.onReq = () => {
    throw new Error('secret internals at /srv/app.js:42');
  };
  for (const method of ['INVITE', 'OPTIONS']) {
    transport.clear();
    lines.length = 0;
    const req = request({ method });
    t.doesNotThrow(() => layer.receive(req, testFlow()));
    const res = transport.responses(500)[0]!;
    t.ok(res, `${method}: 500 sent`);
    t.equal(res.reason, 'Server Internal Error');
    const text = res.serialize().toString('latin1');
    t.notMatch(text, /secret|app\.js|Error:/, 'no exception text or stack on the wire');
    t.equal(res.callId, req.callId);
    t.ok(res.toTag, 'the 500 carries a To tag');
    const errors = lines.filter((l) => (l.level as number) >= 50);
    t.equal(errors.length, 1, 'logged once');
    t.match(errors[0]!.msg, /onRequest threw/);
    t.equal(tu.requests.at(-1)!.stx!.completed, true);
  }
});

t.test('the TU throws after answering: no second final response', async (t) => {
  const { layer, tu, transport } = setup();
  tu.onReq = (req, stx) => {
    stx!.respond(createResponse(req, 404, { toTag: 'n' }));
    throw new Error('late bug');
  };
  layer.receive(request({ method: 'OPTIONS' }), testFlow());
  t.same(transport.log(), ['404']);
});

t.test('the TU throws on an ACK or on onCancel: logged, nothing breaks', async (t) => {
  const { layer, tu } = setup();
  const invite = request();
  layer.receive(invite, testFlow());
  tu.requests[0]!.stx!.onCancel = () => {
    throw new Error('cancel bug');
  };
  tu.onReq = (req) => {
    if (req.method === 'ACK') throw new Error('ack bug');
  };
  t.doesNotThrow(() => layer.receive(ackFor2xx(invite, createResponse(invite, 200, { toTag: 'a' })), testFlow()));
  t.doesNotThrow(() => layer.receive(cancelFor(invite), testFlow()));
});

t.test('sendRequest validates its input', async (t) => {
  const { layer } = setup();
  const h = new RecordingHandler();
  t.throws(() => layer.sendRequest(request({ method: 'ACK' }), UDP_DEST, h), TransactionUsageError);
  t.throws(() => layer.sendRequest(request({ branch: null }), UDP_DEST, h), { code: 'SIPD_ERR_TX_USAGE' });
  t.throws(() => layer.sendRequest(request({ branch: 'no-cookie' }), UDP_DEST, h), /z9hG4bK/);
  const req = request();
  layer.sendRequest(req, UDP_DEST, h);
  t.throws(() => layer.sendRequest(req, UDP_DEST, h), /already exists/);
  t.same(layer.size, { client: 1, server: 0 });
});

t.test('timer options are validated', async (t) => {
  const base = { transport: new MemoryTransport(), clock: new FakeClock(), tu: new RecordingTu() };
  t.throws(() => new TransactionLayer({ ...base, timers: { t1: 0 } }), { code: 'SIPD_ERR_TX_USAGE' });
  t.throws(() => new TransactionLayer({ ...base, timers: { t1: 500, t2: 100 } }), /t2/);
  t.throws(() => new TransactionLayer({ ...base, timers: { t4: Number.NaN } }), /t4/);
});

t.test('close() clears every timer and empties the tables; later input is ignored', async (t) => {
  const { layer, clock, tu, transport } = setup();
  const h = new RecordingHandler(clock);
  layer.sendRequest(request(), UDP_DEST, h);
  layer.sendRequest(request({ method: 'OPTIONS' }), TCP_DEST, h);
  layer.receive(request(), testFlow());
  layer.receive(request({ method: 'BYE' }), testFlow());
  layer.receive(request({ branch: null, method: 'BYE' }), testFlow());
  t.ok(clock.pending() > 0);
  layer.close();
  t.same(layer.size, { client: 0, server: 0 });
  t.equal(clock.pending(), 0);
  const sent = transport.sent.length;
  layer.receive(request(), testFlow());
  t.equal(tu.requests.length, 3);
  t.equal(transport.sent.length, sent);
  t.throws(() => layer.sendRequest(request(), UDP_DEST, h), /closed/);
  clock.advance(100_000);
  t.same(h.events, [], 'no callbacks after close');
});

t.test('late timers after termination are harmless', async (t) => {
  const { layer, clock } = setup();
  const req = request({ method: 'OPTIONS' });
  const h = new RecordingHandler(clock);
  layer.sendRequest(req, UDP_DEST, h);
  layer.receive(response(req, 200), testFlow());
  // Deliver the same final many times and advance well past every timer.
  for (let i = 0; i < 5; i++) layer.receive(response(req, 200), testFlow());
  clock.advance(600_000);
  t.same(h.events, ['resp:200', 'terminated']);
  t.equal(clock.pending(), 0);
});

t.test('burst: 1,000 mixed transactions over UDP and TCP all leave the tables', async (t) => {
  const { layer, clock, tu, transport } = setup();
  transport.peer = undefined;
  const handlers: RecordingHandler[] = [];
  const answered: ServerTransaction[] = [];
  const proceeding: ClientTransaction[] = [];
  tu.onReq = (req, stx) => {
    if (stx === undefined) return;
    const n = tu.requests.length;
    const status = req.method === 'INVITE' ? [180, 200, 486, 603][n % 4]! : [200, 404, 100][n % 3]!;
    stx.respond(createResponse(req, status, { toTag: `t${n}` }));
    if (status < 200) answered.push(stx);
  };
  for (let i = 0; i < 1000; i++) {
    const proto = i % 2 === 0 ? 'udp' : 'tcp';
    const dest = proto === 'udp' ? UDP_DEST : TCP_DEST;
    const kind = i % 4;
    const method = i % 8 < 4 ? 'INVITE' : ['OPTIONS', 'REGISTER', 'BYE', 'MESSAGE'][i % 4]!;
    if (kind < 2) {
      // client side
      const req = request({ method, proto });
      const h = new RecordingHandler();
      handlers.push(h);
      const ctx = layer.sendRequest(req, dest, h);
      const fate = i % 5;
      if (fate === 1) layer.receive(response(req, 180), testFlow(proto));
      if (fate === 2) layer.receive(response(req, 200, 'x'), testFlow(proto));
      if (fate === 3) layer.receive(response(req, 486, 'x'), testFlow(proto));
      if (fate === 4) {
        layer.receive(response(req, 100), testFlow(proto));
        layer.receive(response(req, 404, 'y'), testFlow(proto));
      }
      // An INVITE left in Proceeding has no timer of its own (Timer C is the proxy's): the TU cancels it.
      if (fate === 1 && method === 'INVITE') proceeding.push(ctx);
    } else {
      // server side, with a retransmission and (for INVITE) an ACK
      const req = request({ method, proto });
      layer.receive(req, testFlow(proto));
      layer.receive(req, testFlow(proto));
      const stx = tu.requests.at(-1)!.stx!;
      const last = stx.lastResponse;
      if (method === 'INVITE' && last !== undefined && last.status >= 300) layer.receive(ackForNon2xx(req, last), testFlow(proto));
    }
  }
  t.ok(layer.size.client > 0 && layer.size.server > 0);
  // Provisional-only server transactions get their final now; INVITE clients left in Proceeding are cancelled.
  t.ok(answered.length > 0 && proceeding.length > 0);
  for (const stx of answered) stx.respond(createResponse(stx.request, 480, { toTag: 'late' }));
  for (const ctx of proceeding) ctx.cancel!();
  clock.advance(600_000);
  t.same(layer.size, { client: 0, server: 0 }, 'every transaction is gone');
  t.equal(clock.pending(), 0, 'no timer left');
  t.ok(handlers.every((h) => h.events.at(-1) === 'terminated' && h.events.filter((e) => e === 'terminated').length === 1), 'each handler ended exactly once');
});
