// Real UDP and TCP sockets on loopback (port 0): framing, keep-alives, limits,
// received/rport, responses over the same connection, IPv6.
import t from 'tap';
import type { TapTest } from '../helpers/tap.js';
import { TransportManager } from '../../lib/transport/manager.js';
import { systemClock } from '../../lib/util/clock.js';
import { silentLogger } from '../../lib/util/log.js';
import { createResponse } from '../../lib/sip/build.js';
import type { AnyMessage, SipRequest } from '../../lib/sip/message.js';
import type { SipParseError } from '../../lib/sip/errors.js';
import type { Flow } from '../../lib/transport/types.js';
import { responseDestination } from '../../lib/transport/routing.js';
import { TcpPeer, UdpPeer, request } from '../helpers/udp-peer.js';

interface Got { msg: AnyMessage; flow: Flow }

async function start(t: TapTest, opts: Partial<Parameters<typeof TransportManager.listen>[0]> = {}) {
  const got: Got[] = [];
  const invalid: Array<{ err: SipParseError; flow: Flow }> = [];
  const waiters: Array<() => void> = [];
  const tm = await TransportManager.listen({
    host: '127.0.0.1',
    port: 0,
    clock: systemClock,
    log: silentLogger,
    onMessage: (msg, flow) => {
      got.push({ msg, flow });
      for (const w of waiters.splice(0)) w();
    },
    onInvalid: (err, flow) => {
      invalid.push({ err, flow });
      for (const w of waiters.splice(0)) w();
    },
    ...opts,
  });
  t.teardown(() => tm.close());
  const waitFor = async (n: number, which: 'got' | 'invalid' = 'got') => {
    const arr = which === 'got' ? got : invalid;
    const deadline = Date.now() + 3000;
    while (arr.length < n) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${n} ${which}`);
      await new Promise<void>((r) => {
        const timer = setTimeout(r, 100);
        waiters.push(() => {
          clearTimeout(timer);
          r();
        });
      });
    }
  };
  return { tm, got, invalid, waitFor };
}


t.test('UDP: a request gets received and rport (RFC 3261 §18.2.1, RFC 3581)', async (t) => {
  const { tm, got, waitFor } = await start(t);
  const peer = await UdpPeer.open();
  t.teardown(() => peer.close());
  // sent-by claims another host: received must be added, rport filled in.
  peer.send(request({ port: 5999, host: '192.0.2.7' }), tm.local.port);
  await waitFor(1);
  const req = got[0]!.msg as SipRequest;
  t.equal(req.via.received, '127.0.0.1');
  t.equal(req.via.rport, peer.port);
  t.match(req.get('via')!, /;received=127\.0\.0\.1/);
  t.equal(got[0]!.flow.proto, 'udp');
  // the response goes to received:rport, i.e. back to the peer
  const dest = responseDestination(req, got[0]!.flow);
  t.same([dest.address, dest.port], ['127.0.0.1', peer.port]);
  tm.send(createResponse(req, 200), dest);
  t.match(await peer.nth(1), /^SIP\/2\.0 200 OK\r\n/);
});

t.test('UDP: keep-alives and oversize datagrams are dropped silently; garbage reaches onInvalid', async (t) => {
  const { tm, got, invalid, waitFor } = await start(t, { maxMessageSize: 2000 });
  const peer = await UdpPeer.open();
  t.teardown(() => peer.close());
  peer.send('\r\n\r\n', tm.local.port);
  peer.send('\r\n', tm.local.port);
  peer.send(Buffer.alloc(4), tm.local.port);
  peer.send(request({ port: peer.port, extra: [`X-Big: ${'a'.repeat(3000)}`] }), tm.local.port);
  peer.send('GARBAGE\r\n\r\n', tm.local.port);
  await waitFor(1, 'invalid');
  peer.send(request({ port: peer.port }), tm.local.port);
  await waitFor(1);
  t.equal(got.length, 1, 'only the good request arrived');
  t.equal(invalid.length, 1, 'the garbage was reported once; keep-alives and the oversize datagram were not');
});

t.test('TCP: framing of several messages per segment and one message over many segments', async (t) => {
  const { tm, got, waitFor } = await start(t);
  const peer = await TcpPeer.connect(tm.local.port);
  t.teardown(() => peer.close());
  const a = request({ port: 5060, transport: 'TCP', body: 'hello' });
  const b = request({ port: 5060, transport: 'TCP' });
  peer.write(a + b);
  await waitFor(2);
  const c = request({ port: 5060, transport: 'TCP', body: 'v=0\r\n' });
  for (let i = 0; i < c.length; i += 7) {
    peer.write(c.slice(i, i + 7));
    await new Promise((r) => setImmediate(r));
  }
  await waitFor(3);
  t.equal(got[0]!.msg.body.toString(), 'hello');
  t.equal(got[2]!.msg.body.toString(), 'v=0\r\n');
  t.equal(got[0]!.flow.proto, 'tcp');
  t.equal(got[0]!.flow.connId, got[2]!.flow.connId, 'same connection');
  // response goes back over the same connection
  const req = got[2]!.msg as SipRequest;
  tm.send(createResponse(req, 200), responseDestination(req, got[2]!.flow));
  await peer.until((d) => d.includes('SIP/2.0 200 OK'));
  t.pass('response came back on the connection');
});

t.test('TCP: double-CRLF ping gets a CRLF pong (RFC 5626 §4.4.1)', async (t) => {
  const { tm } = await start(t);
  const peer = await TcpPeer.connect(tm.local.port);
  t.teardown(() => peer.close());
  peer.write('\r\n\r\n');
  await peer.until((d) => d === '\r\n');
  t.equal(peer.data, '\r\n');
});

t.test('TCP: an endless header is cut off; other connections are unaffected', async (t) => {
  const { tm, got, waitFor } = await start(t, { maxMessageSize: 4096 });
  const bad = await TcpPeer.connect(tm.local.port);
  const good = await TcpPeer.connect(tm.local.port);
  t.teardown(() => {
    bad.close();
    good.close();
  });
  bad.write('OPTIONS sip:x SIP/2.0\r\n');
  for (let i = 0; i < 100; i++) bad.write(`X-Junk-${i}: ${'z'.repeat(60)}\r\n`);
  t.ok(await bad.waitClosed(), 'the flooding connection was closed');
  good.write(request({ port: 5060, transport: 'TCP' }));
  await waitFor(1);
  t.equal(got.length, 1);
  t.equal(tm.connectionCount, 1, 'only the good connection is left');
});

t.test('TCP: a Content-Length over the limit closes the connection', async (t) => {
  const { tm } = await start(t, { maxMessageSize: 4096 });
  const peer = await TcpPeer.connect(tm.local.port);
  t.teardown(() => peer.close());
  peer.write(request({ port: 5060, transport: 'TCP' }).replace('Content-Length: 0', 'Content-Length: 999999'));
  t.ok(await peer.waitClosed());
});

t.test('TCP: idle connections are closed', async (t) => {
  const { tm } = await start(t, { idleTimeoutMs: 150 });
  const peer = await TcpPeer.connect(tm.local.port);
  t.teardown(() => peer.close());
  t.ok(await peer.waitClosed(2000), 'closed after the idle time-out');
  for (let i = 0; i < 50 && tm.connectionCount > 0; i++) await new Promise((r) => setTimeout(r, 10));
  t.equal(tm.connectionCount, 0, 'and forgotten by the transport');
});

t.test('TCP: sending to a peer opens a connection; a refused connect reports an error', async (t) => {
  const { tm } = await start(t);
  const { tm: other, got, waitFor } = await start(t);
  const req = (await (async () => {
    const { parseMessage } = await import('../../lib/sip/parse.js');
    return parseMessage(Buffer.from(request({ port: tm.local.port, transport: 'TCP' }), 'latin1')) as SipRequest;
  })());
  tm.send(req, { proto: 'tcp', address: '127.0.0.1', port: other.local.port });
  await waitFor(1);
  t.equal(got[0]!.msg.callId, req.callId);
  const err = await new Promise<Error>((resolve) => tm.send(req, { proto: 'tcp', address: '127.0.0.1', port: 1 }, resolve));
  t.match(err.message, /tcp connect to 127\.0\.0\.1:1 failed/);
});

t.test('IPv6 loopback: UDP and TCP on [::1]', async (t) => {
  const { tm, got, waitFor } = await start(t, { host: '::1' });
  t.equal(tm.local.family, 6);
  const peer = await UdpPeer.open(6);
  t.teardown(() => peer.close());
  peer.send(request({ port: peer.port, host: '::1' }), tm.local.port, '::1');
  await waitFor(1);
  const req = got[0]!.msg as SipRequest;
  t.equal(got[0]!.flow.remote.address, '::1');
  tm.send(createResponse(req, 200), responseDestination(req, got[0]!.flow));
  t.match(await peer.nth(1), /^SIP\/2\.0 200 OK/);
  const tcp = await TcpPeer.connect(tm.local.port, '::1');
  t.teardown(() => tcp.close());
  tcp.write(request({ port: 5060, transport: 'TCP', host: '::1' }));
  await waitFor(2);
  t.equal(got[1]!.flow.proto, 'tcp');
});

t.test('listening twice on one port fails with a clear error', async (t) => {
  const { tm } = await start(t);
  await t.rejects(
    TransportManager.listen({ host: '127.0.0.1', port: tm.local.port, clock: systemClock, log: silentLogger, onMessage: () => {} }),
    { message: `cannot listen on 127.0.0.1:${tm.local.port} (udp): address already in use` },
  );
});
