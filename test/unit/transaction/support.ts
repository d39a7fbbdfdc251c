/**
 * Builders and recorders shared by the transaction tests: requests with their own
 * Call-ID and branch per test (STYLE §4.8), a recording TU and client handler,
 * and a layer wired to a FakeClock and a MemoryTransport.
 */
import { createResponse, newBranch, newTag } from '../../../lib/sip/build.js';
import type { SipRequest, SipResponse } from '../../../lib/sip/message.js';
import { parseMessage } from '../../../lib/sip/parse.js';
import type { TransactionTimeoutError, TransactionTransportError } from '../../../lib/transaction/errors.js';
import { TransactionLayer } from '../../../lib/transaction/layer.js';
import type { ClientHandler, ServerTransaction, TransactionUser } from '../../../lib/transaction/types.js';
import type { Destination, Flow, Proto } from '../../../lib/transport/types.js';
import type { Logger } from '../../../lib/util/log.js';
import { FakeClock } from '../../helpers/fake-clock.js';
import { MemoryTransport, testFlow, wire } from '../../helpers/memory-transport.js';

let seq = 0;

export interface RequestOptions {
  method?: string;
  uri?: string;
  branch?: string | null;
  callId?: string;
  cseq?: number;
  fromTag?: string;
  toTag?: string;
  proto?: Proto;
  host?: string;
  port?: number;
  viaParams?: string;
  routes?: string[];
  maxForwards?: number;
}

/** A request as a UA would send it (parsed from text, like the transport delivers it). */
export function request(o: RequestOptions = {}): SipRequest {
  seq++;
  const method = o.method ?? 'INVITE';
  const proto = (o.proto ?? 'udp').toUpperCase();
  const branch = o.branch === null ? '' : `;branch=${o.branch ?? newBranch()}`;
  const lines = [
    `${method} ${o.uri ?? 'sip:bob@example.com'} SIP/2.0`,
    `Via: SIP/2.0/${proto} ${o.host ?? '192.0.2.10'}:${o.port ?? 5060}${branch}${o.viaParams ?? ''}`,
    `Via: SIP/2.0/UDP 198.51.100.7:5062;branch=z9hG4bKfar${seq}`,
    `Max-Forwards: ${o.maxForwards ?? 70}`,
    ...(o.routes ?? []).map((r) => `Route: ${r}`),
    `From: "Alice" <sip:alice@example.com>;tag=${o.fromTag ?? `ft${seq}`}`,
    `To: <sip:bob@example.com>${o.toTag !== undefined ? `;tag=${o.toTag}` : ''}`,
    `Call-ID: ${o.callId ?? `call-${seq}-${newTag()}@test`}`,
    `CSeq: ${o.cseq ?? 1} ${method}`,
    'Contact: <sip:alice@192.0.2.10:5060>',
    'Content-Length: 0',
    '',
    '',
  ];
  return parseMessage(Buffer.from(lines.join('\r\n'), 'latin1')) as SipRequest;
}

/** A response to `req` as the far end would send it (through the wire). */
export function response(req: SipRequest, status: number, toTag?: string): SipResponse {
  return wire(createResponse(req, status, toTag !== undefined ? { toTag } : {}));
}

/** The ACK a UAC sends for a 2xx (new branch: its own transaction). */
export function ackFor2xx(invite: SipRequest, res: SipResponse): SipRequest {
  return request({
    method: 'ACK',
    uri: invite.uri,
    callId: invite.callId,
    cseq: invite.cseq.seq,
    fromTag: invite.fromTag!,
    toTag: res.toTag!,
  });
}

/** The ACK a UAC's transaction sends for a non-2xx (same branch, same top Via). */
export function ackForNon2xx(invite: SipRequest, res: SipResponse): SipRequest {
  return request({
    method: 'ACK',
    uri: invite.uri,
    callId: invite.callId,
    cseq: invite.cseq.seq,
    fromTag: invite.fromTag!,
    toTag: res.toTag!,
    branch: invite.via.branch ?? null,
    host: invite.via.host,
    port: invite.via.port!,
    proto: invite.via.transport.toLowerCase() as Proto,
  });
}

export interface TuCall {
  readonly req: SipRequest;
  readonly stx: ServerTransaction | undefined;
  readonly flow: Flow;
}

export class RecordingTu implements TransactionUser {
  readonly requests: TuCall[] = [];
  readonly strays: SipResponse[] = [];
  /** Runs for every request after it was recorded (answer it, throw...). */
  onReq: ((req: SipRequest, stx: ServerTransaction | undefined, flow: Flow) => void) | undefined;

  onRequest(req: SipRequest, stx: ServerTransaction | undefined, flow: Flow): void {
    this.requests.push({ req, stx, flow });
    this.onReq?.(req, stx, flow);
  }

  onStrayResponse(res: SipResponse): void {
    this.strays.push(res);
  }

  methods(): string[] {
    return this.requests.map((c) => c.req.method);
  }
}

export class RecordingHandler implements ClientHandler {
  /** `resp:180`, `timeout`, `transport-error`, `terminated`, with local responses as `resp:408(local)`. */
  readonly events: string[] = [];
  readonly responses: SipResponse[] = [];
  readonly errors: Array<TransactionTimeoutError | TransactionTransportError> = [];
  times: number[] = [];

  constructor(
    private readonly clock?: FakeClock,
    opts: { timeout?: boolean; transportError?: boolean } = {},
  ) {
    if (opts.timeout === false) this.onTimeout = undefined;
    if (opts.transportError === false) this.onTransportError = undefined;
  }

  onResponse(res: SipResponse, flow: Flow | undefined): void {
    this.responses.push(res);
    this.events.push(`resp:${res.status}${flow === undefined ? '(local)' : ''}`);
    if (this.clock) this.times.push(this.clock.now());
  }

  onTimeout?: ((err: TransactionTimeoutError) => void) | undefined = (err) => {
    this.errors.push(err);
    this.events.push('timeout');
  };

  onTransportError?: ((err: TransactionTransportError) => void) | undefined = (err) => {
    this.errors.push(err);
    this.events.push('transport-error');
  };

  onTerminated(): void {
    this.events.push('terminated');
  }
}

export const UDP_DEST: Destination = Object.freeze({ proto: 'udp', address: '203.0.113.5', port: 5060 });
export const TCP_DEST: Destination = Object.freeze({ proto: 'tcp', address: '203.0.113.5', port: 5060 });

export function setup(opts: { autoTrying?: boolean; t1?: number; log?: Logger } = {}) {
  const clock = new FakeClock();
  const transport = new MemoryTransport();
  const tu = new RecordingTu();
  const layer = new TransactionLayer({
    transport,
    clock,
    tu,
    ...(opts.autoTrying !== undefined ? { autoTrying: opts.autoTrying } : {}),
    ...(opts.t1 !== undefined ? { timers: { t1: opts.t1 } } : {}),
    ...(opts.log !== undefined ? { log: opts.log } : {}),
  });
  /** Times (clock ms) at which each message was sent, by start line. */
  const sendTimes: Array<{ at: number; what: string }> = [];
  transport.peer = (msg) => sendTimes.push({ at: clock.now(), what: msg.isRequest ? msg.method : String(msg.status) });
  return { clock, transport, tu, layer, sendTimes };
}

export { testFlow, wire };
