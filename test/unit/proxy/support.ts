/**
 * A proxy under test: the real TransactionLayer over the MemoryTransport and
 * the FakeClock, a small TU that validates and forwards initial requests to
 * the group the test gives, answers CANCEL (200/481) and hands stray responses
 * to `forwardStrayResponse`. Callees are played by the test: it answers the
 * requests the proxy sent (`answer`), as if they had crossed the wire.
 */
import { createResponse, newBranch, newTag } from '../../../lib/sip/build.js';
import type { SipRequest, SipResponse } from '../../../lib/sip/message.js';
import { parseMessage } from '../../../lib/sip/parse.js';
import { Proxy } from '../../../lib/proxy/proxy.js';
import type { CallHooks, Target, TargetGroup } from '../../../lib/proxy/types.js';
import { TransactionLayer } from '../../../lib/transaction/layer.js';
import type { ServerTransaction } from '../../../lib/transaction/types.js';
import type { Destination, Flow, Proto } from '../../../lib/transport/types.js';
import { silentLogger } from '../../../lib/util/log.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { MemoryTransport, wire } from '../../helpers/memory-transport.js';

/** sipd's address in these tests. */
export const SELF = Object.freeze({ host: '192.0.2.1', port: 5060 });
export const SECRET = Buffer.alloc(32, 7);
/** Where the caller's requests come from (its Via says 10.0.0.5:5060, NAT maps it to this). */
export const CALLER: Destination = Object.freeze({ proto: 'udp', address: '192.0.2.10', port: 5070 });
export const A: Destination = Object.freeze({ proto: 'udp', address: '203.0.113.5', port: 5060 });
export const B: Destination = Object.freeze({ proto: 'udp', address: '203.0.113.6', port: 5062 });
export const C: Destination = Object.freeze({ proto: 'udp', address: '203.0.113.7', port: 5060 });

export const SDP = Buffer.from(
  'v=0\r\no=alice 2890844526 2890844526 IN IP4 10.0.0.5\r\ns=-\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\nm=audio 49170 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n',
  'latin1',
);
export const SDP_ANSWER = Buffer.from('v=0\r\no=bob 1 1 IN IP4 203.0.113.5\r\ns=-\r\nc=IN IP4 203.0.113.5\r\nt=0 0\r\nm=audio 3456 RTP/AVP 0\r\n', 'latin1');

export function flowFrom(d: Destination, connId?: number): Flow {
  const family = d.address.includes(':') ? 6 : 4;
  return {
    proto: d.proto,
    local: { address: family === 6 ? '2001:db8::1' : SELF.host, port: SELF.port, family },
    remote: { address: d.address, port: d.port, family },
    connId: d.proto === 'tcp' ? (connId ?? d.connId ?? 1) : undefined,
  };
}

export function target(dest: Destination, label = `${dest.address}:${dest.port}`, uri?: string): Target {
  return { uri: uri ?? `sip:bob@${dest.address}:${dest.port}`, dest, label };
}

let seq = 0;

export interface InviteOptions {
  method?: string;
  uri?: string;
  callId?: string;
  fromTag?: string;
  toTag?: string;
  cseq?: number;
  maxForwards?: number;
  routes?: string[];
  extra?: string[];
  body?: Buffer;
  branch?: string;
  /** Top Via (default: the caller behind NAT with rport/received filled in as the transport would). */
  via?: string;
}

/** A request as the caller sends it (parsed from text, like the transport delivers it). */
export function invite(o: InviteOptions = {}): SipRequest {
  seq++;
  const method = o.method ?? 'INVITE';
  const body = o.body ?? Buffer.alloc(0);
  const head = [
    `${method} ${o.uri ?? 'sip:109@192.0.2.1'} SIP/2.0`,
    o.via ?? `Via: SIP/2.0/UDP 10.0.0.5:5060;branch=${o.branch ?? newBranch()};rport=5070;received=192.0.2.10`,
    `Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKfar${seq}`,
    `Max-Forwards: ${o.maxForwards ?? 70}`,
    ...(o.routes ?? []).map((r) => `Route: ${r}`),
    `From: "Alice" <sip:alice@example.com>;tag=${o.fromTag ?? `ft${seq}`}`,
    `To: <sip:109@example.com>${o.toTag !== undefined ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId ?? `call-${seq}-${newTag()}@test`}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    'Contact: <sip:alice@10.0.0.5:5060>',
    ...(o.extra ?? []),
    ...(body.length > 0 ? ['Content-Type: application/sdp'] : []),
    `Content-Length: ${body.length}`,
    '',
    '',
  ].join('\r\n');
  return parseMessage(Buffer.concat([Buffer.from(head, 'latin1'), body])) as SipRequest;
}

/** The CANCEL the caller's UA sends for `inv` (same branch and top Via). */
export function cancelOf(inv: SipRequest): SipRequest {
  const text = inv.toString().split('\r\n\r\n')[0]!;
  const lines = text.split('\r\n').filter((l) => !/^(content-type|content-length|contact|route):/i.test(l));
  lines[0] = `CANCEL ${inv.uri} SIP/2.0`;
  const i = lines.findIndex((l) => /^cseq:/i.test(l));
  lines[i] = `CSeq: ${inv.cseq.seq} CANCEL`;
  return parseMessage(Buffer.from([...lines, 'Content-Length: 0', '', ''].join('\r\n'), 'latin1')) as SipRequest;
}

export interface Harness {
  clock: FakeClock;
  transport: MemoryTransport;
  layer: TransactionLayer;
  proxy: Proxy;
  /** Server transactions the TU saw (initial requests), by Call-ID. */
  stx: Map<string, ServerTransaction>;
  /** Responses the TU sent for requests it refused in validate(). */
  refused: SipResponse[];
  /** Stray responses and whether forwardStrayResponse took them. */
  strays: Array<{ res: SipResponse; forwarded: boolean }>;
  /** The group for the next initial request. */
  group: (req: SipRequest) => TargetGroup;
  hooks: CallHooks | undefined;
  /** Caller sends `req` (from CALLER unless `from` says otherwise). */
  send(req: SipRequest, from?: Destination): void;
  /** Requests the proxy sent to `dest` (optionally of one method). */
  sentTo(dest: Destination, method?: string): SipRequest[];
  /** Responses that went to `dest` (default: the caller). */
  responsesTo(dest?: Destination): SipResponse[];
  /** Statuses sent to `dest` (default: the caller). */
  statusesTo(dest?: Destination): number[];
  /** The callee at `dest` answers `req` (a request the proxy sent there) with `status`. */
  answer(req: SipRequest, status: number, o?: { toTag?: string; body?: Buffer; headers?: Array<[string, string]>; from?: Destination }): SipResponse;
  /** The callee answers the last INVITE the proxy sent to `dest`. */
  reply(dest: Destination, status: number, o?: { toTag?: string; body?: Buffer; headers?: Array<[string, string]> }): SipResponse;
}

export function harness(opts: { timerC?: number; forward?: (h: Harness, req: SipRequest, stx: ServerTransaction, flow: Flow) => void } = {}): Harness {
  const clock = new FakeClock();
  const transport = new MemoryTransport();
  const h = {} as Harness;
  const layer = new TransactionLayer({
    transport,
    clock,
    tu: {
      onRequest(req, stx, flow) {
        if (stx === undefined) return; // an ACK for a 2xx: not the subject here
        if (req.method === 'CANCEL') {
          stx.respond(createResponse(req, stx.cancelled === undefined ? 481 : 200));
          return;
        }
        if (opts.forward !== undefined) {
          opts.forward(h, req, stx, flow);
          return;
        }
        h.stx.set(req.callId, stx);
        const bad = h.proxy.validate(req);
        if (bad !== undefined) {
          h.refused.push(bad);
          stx.respond(bad);
          return;
        }
        h.proxy.forward(stx, h.group(req), { recordRoute: true, ...(h.hooks !== undefined ? { hooks: h.hooks } : {}) });
      },
      onStrayResponse(res) {
        h.strays.push({ res, forwarded: h.proxy.forwardStrayResponse(res) });
      },
    },
  });
  const proxy = new Proxy({
    transport,
    sendRequest: (req, dest, handler) => layer.sendRequest(req, dest, handler),
    clock,
    log: silentLogger,
    self: (_proto: Proto, family: 4 | 6) => (family === 6 ? { host: '[2001:db8::1]', port: SELF.port } : SELF),
    isSelf: (host, port) => (host === SELF.host || host === '[2001:db8::1]') && (port ?? 5060) === SELF.port,
    routeSecret: SECRET,
    ...(opts.timerC !== undefined ? { timerC: opts.timerC } : {}),
  });
  const same = (a: Destination, b: Destination) => a.proto === b.proto && a.address === b.address && a.port === b.port;
  Object.assign(h, {
    clock,
    transport,
    layer,
    proxy,
    stx: new Map(),
    refused: [],
    strays: [],
    group: () => ({ targets: [target(A)] }),
    hooks: undefined,
    send(req: SipRequest, from: Destination = CALLER) {
      layer.receive(req, flowFrom(from));
    },
    sentTo(dest: Destination, method?: string) {
      return transport.sent.filter((s) => s.msg.isRequest && same(s.dest, dest) && (method === undefined || s.msg.method === method)).map((s) => s.msg as SipRequest);
    },
    responsesTo(dest: Destination = CALLER) {
      return transport.sent.filter((s) => !s.msg.isRequest && same(s.dest, dest)).map((s) => s.msg as SipResponse);
    },
    statusesTo(dest: Destination = CALLER) {
      return h.responsesTo(dest).map((r) => r.status);
    },
    answer(req: SipRequest, status: number, o: { toTag?: string; body?: Buffer; headers?: Array<[string, string]>; from?: Destination } = {}) {
      const seen = wire(req);
      const dest = o.from ?? transport.sent.find((s) => s.msg === req)?.dest ?? A;
      const res = createResponse(seen, status, {
        ...(status !== 100 ? { toTag: o.toTag ?? `tt-${dest.address}` } : {}),
        headers: [
          ...(status > 100 && status < 300 && seen.method === 'INVITE' ? seen.getAll('record-route').map((rr): [string, string] => ['Record-Route', rr]) : []),
          ...(status >= 200 && status < 300 ? [['Contact', `<sip:bob@${dest.address}:${dest.port}>`] as [string, string]] : []),
          ...(o.headers ?? []),
        ],
        ...(o.body !== undefined ? { body: o.body, contentType: 'application/sdp' } : {}),
      });
      layer.receive(wire(res), flowFrom(dest));
      return wire(res); // a copy the proxy has not touched (it removes its Via from what it receives)
    },
    reply(dest: Destination, status: number, o: { toTag?: string; body?: Buffer; headers?: Array<[string, string]> } = {}) {
      const sent = h.sentTo(dest, 'INVITE');
      const last = sent[sent.length - 1];
      if (last === undefined) throw new Error(`no INVITE went to ${dest.address}:${dest.port}`);
      return h.answer(last, status, { ...o, from: dest });
    },
  } satisfies Omit<Harness, 'clock'> & { clock: FakeClock });
  return h;
}

export { wire };
