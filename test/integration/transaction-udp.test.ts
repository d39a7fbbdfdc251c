/**
 * The transaction layer on real UDP sockets on 127.0.0.1 (port 0) with the real
 * clock and T1 = 20 ms. A tiny dgram adapter stands in for lib/transport, so the
 * test depends only on the Transport interface.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import t from 'tap';
import { createResponse, newBranch } from '../../lib/sip/build.js';
import type { AnyMessage, SipRequest, SipResponse } from '../../lib/sip/message.js';
import { parseMessage } from '../../lib/sip/parse.js';
import { TransactionLayer } from '../../lib/transaction/layer.js';
import type { ServerTransaction } from '../../lib/transaction/types.js';
import type { Destination, Flow, Proto, Transport } from '../../lib/transport/types.js';
import { systemClock } from '../../lib/util/clock.js';

const TIMERS = { t1: 20, t2: 160, t4: 100 };

class DgramTransport implements Transport {
  constructor(private readonly sock: dgram.Socket) {}
  send(msg: AnyMessage, dest: Destination, onError?: (err: Error) => void): void {
    this.sock.send(msg.serialize(), dest.port, dest.address, (err) => {
      if (err) onError?.(err);
    });
  }
  isReliable(proto: Proto): boolean {
    return proto !== 'udp';
  }
}

async function bind(t: { teardown(fn: () => void): void }): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  s.bind(0, '127.0.0.1');
  await once(s, 'listening');
  t.teardown(() => s.close());
  return s;
}

function flowOf(sock: dgram.Socket, rinfo: dgram.RemoteInfo): Flow {
  const local = sock.address();
  return {
    proto: 'udp',
    local: { address: local.address, port: local.port, family: 4 },
    remote: { address: rinfo.address, port: rinfo.port, family: 4 },
    connId: undefined,
  };
}

/** Feeds a socket's datagrams into a layer. */
function attach(sock: dgram.Socket, layer: TransactionLayer): void {
  sock.on('message', (buf, rinfo) => layer.receive(parseMessage(buf), flowOf(sock, rinfo)));
}

function text(lines: string[]): Buffer {
  return Buffer.from([...lines, '', ''].join('\r\n'), 'latin1');
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await sleep(5);
  }
}

t.test('client non-INVITE retransmits on Timer E until the peer answers, then ends on Timer K', async (t) => {
  const sockA = await bind(t);
  const peer = await bind(t);
  const layer = new TransactionLayer({
    transport: new DgramTransport(sockA),
    clock: systemClock,
    timers: TIMERS,
    tu: { onRequest: () => {}, onStrayResponse: () => {} },
  });
  t.teardown(() => layer.close());
  attach(sockA, layer);

  const arrivals: number[] = [];
  peer.on('message', (buf, rinfo) => {
    arrivals.push(Date.now());
    if (arrivals.length < 3) return; // ignore the first two copies
    const req = parseMessage(buf) as SipRequest;
    peer.send(createResponse(req, 200, { toTag: 'peer' }).serialize(), rinfo.port, rinfo.address);
  });

  const a = sockA.address();
  const p = peer.address();
  const req = parseMessage(
    text([
      `OPTIONS sip:peer@127.0.0.1:${p.port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${a.port};branch=${newBranch()};rport`,
      'Max-Forwards: 70',
      `From: <sip:a@127.0.0.1>;tag=a1`,
      `To: <sip:peer@127.0.0.1>`,
      `Call-ID: it-udp-${Date.now()}@127.0.0.1`,
      'CSeq: 1 OPTIONS',
      'Content-Length: 0',
    ]),
  ) as SipRequest;
  const events: string[] = [];
  let got: SipResponse | undefined;
  const ctx = layer.sendRequest(req, { proto: 'udp', address: '127.0.0.1', port: p.port }, {
    onResponse(res) {
      got = res;
      events.push(`resp:${res.status}`);
    },
    onTimeout: () => events.push('timeout'),
    onTransportError: () => events.push('transport-error'),
    onTerminated: () => events.push('terminated'),
  });
  await until(() => got !== undefined);
  t.equal(got!.status, 200);
  t.equal(got!.toTag, 'peer');
  t.equal(arrivals.length, 3, 'the third copy was answered');
  t.ok(arrivals[1]! - arrivals[0]! >= 10, `first retransmission after ~T1 (${arrivals[1]! - arrivals[0]!} ms)`);
  t.ok(arrivals[2]! - arrivals[1]! >= 20, `second after ~2*T1 (${arrivals[2]! - arrivals[1]!} ms)`);
  t.equal(ctx.state, 'Completed');
  await until(() => events.includes('terminated'));
  t.same(events, ['resp:200', 'terminated']);
  await sleep(60);
  t.equal(arrivals.length, 3, 'no retransmission after the final response');
  t.same(layer.size, { client: 0, server: 0 });
});

t.test('server INVITE: retransmitted request answered from the transaction, Timer G until the ACK', async (t) => {
  const sockB = await bind(t);
  const uac = await bind(t);
  const seen: string[] = [];
  const layer = new TransactionLayer({
    transport: new DgramTransport(sockB),
    clock: systemClock,
    timers: TIMERS,
    tu: {
      onRequest(req: SipRequest, stx: ServerTransaction | undefined) {
        seen.push(req.method);
        if (req.method === 'INVITE') stx!.respond(createResponse(req, 486, { toTag: 'busy' }));
      },
      onStrayResponse: () => {},
    },
  });
  t.teardown(() => layer.close());
  attach(sockB, layer);

  const got: SipResponse[] = [];
  uac.on('message', (buf) => got.push(parseMessage(buf) as SipResponse));
  const b = sockB.address();
  const u = uac.address();
  const branch = newBranch();
  const common = [
    'Max-Forwards: 70',
    `From: <sip:u@127.0.0.1>;tag=u1`,
    `Call-ID: it-ist-${Date.now()}@127.0.0.1`,
  ];
  const invite = text([
    `INVITE sip:b@127.0.0.1:${b.port} SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:${u.port};branch=${branch}`,
    ...common,
    `To: <sip:b@127.0.0.1>`,
    'CSeq: 7 INVITE',
    'Content-Length: 0',
  ]);
  uac.send(invite, b.port, '127.0.0.1');
  await until(() => got.some((r) => r.status === 486));
  uac.send(invite, b.port, '127.0.0.1'); // a retransmission
  await until(() => got.filter((r) => r.status === 486).length >= 3);
  t.same(seen, ['INVITE'], 'the TU saw the INVITE once');
  t.equal(got[0]!.status, 100, '100 Trying first');
  t.ok(got.filter((r) => r.status === 486).every((r) => r.toTag === 'busy'), 'the same final response each time');
  uac.send(
    text([
      `ACK sip:b@127.0.0.1:${b.port} SIP/2.0`,
      `Via: SIP/2.0/UDP 127.0.0.1:${u.port};branch=${branch}`,
      ...common,
      `To: <sip:b@127.0.0.1>;tag=busy`,
      'CSeq: 7 ACK',
      'Content-Length: 0',
    ]),
    b.port,
    '127.0.0.1',
  );
  await sleep(40);
  const afterAck = got.length;
  await sleep(250);
  t.equal(got.length, afterAck, 'Timer G stopped by the ACK');
  t.same(seen, ['INVITE'], 'the ACK was absorbed');
  await until(() => layer.size.server === 0, 1000); // Timer I = T4 = 100 ms
  t.same(layer.size, { client: 0, server: 0 });
});
