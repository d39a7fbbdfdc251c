/**
 * INVITE client transaction: RFC 3261 §17.1.1 with the RFC 6026 Accepted state.
 *
 *   Calling --1xx--> Proceeding --2xx--> Accepted --Timer M--> Terminated
 *      \--300-699: ACK--> Completed --Timer D--> Terminated
 *
 * Timer A (UDP only) retransmits while Calling, doubling each time; Timer B ends
 * Calling. Proceeding has no timer of its own: the proxy's Timer C (§16.6 step
 * 11) lives above, reset by the provisional responses handed to `onResponse`.
 * The ACK for a non-2xx is built here and re-sent for every retransmitted final
 * response (§17.1.1.3); the ACK for a 2xx belongs to the TU.
 */
import { createResponse } from '../sip/build.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { Destination, Flow } from '../transport/types.js';
import { buildAckForNon2xx, buildCancel } from './build.js';
import { TransactionTimeoutError, TransactionTransportError } from './errors.js';
import { Transaction, type TxEnv, type TxEvent } from './fsm.js';
import { timerFor } from './timers.js';
import type { CancelOptions, ClientHandler, ClientInviteState, ClientTransaction } from './types.js';

/** How the transaction starts the CANCEL's own client transaction (the layer's `sendRequest`). */
export type SendRequestFn = (req: SipRequest, dest: Destination, handler: ClientHandler) => ClientTransaction;

const NOOP_HANDLER: ClientHandler = { onResponse: () => {} };

export class ClientInviteTransaction extends Transaction<ClientInviteState> implements ClientTransaction {
  readonly request: SipRequest;
  readonly dest: Destination;
  readonly #handler: ClientHandler;
  readonly #sendRequest: SendRequestFn;
  #intervalA: number;
  #ack: SipRequest | undefined;
  #ackDest: Destination | undefined;
  /** Set once cancel() was asked for; `sent` once the CANCEL went out. */
  #cancel: { readonly opts: CancelOptions; sent: boolean } | undefined;

  constructor(env: TxEnv, key: string, request: SipRequest, dest: Destination, handler: ClientHandler, sendRequest: SendRequestFn) {
    super(env, 'Calling', env.transport.isReliable(dest.proto), key);
    this.request = request;
    this.dest = dest;
    this.#handler = handler;
    this.#sendRequest = sendRequest;
    this.#intervalA = env.timers.A;
  }

  /** Sends the INVITE (the layer calls this once, right after filing the transaction). */
  start(): void {
    this.handle({ type: 'tu-send', msg: this.request });
  }

  cancel(opts: CancelOptions = {}): void {
    this.handle({ type: 'tu-cancel', opts });
  }

  protected step(ev: TxEvent): void {
    const t = this.env.timers;
    switch (ev.type) {
      case 'tu-send':
        if (this.state !== 'Calling') return;
        this.send(this.request, this.dest);
        if (!this.reliable) this.startTimer('A', this.#intervalA);
        this.startTimer('B', t.B);
        return;
      case 'timer:A':
        // RFC 3261 §17.1.1.2: retransmit, then double the interval (no cap: Timer B bounds it).
        if (this.state !== 'Calling') return;
        this.send(this.request, this.dest);
        this.#intervalA *= 2;
        this.startTimer('A', this.#intervalA);
        return;
      case 'timer:B':
        if (this.state === 'Calling') this.#timeout('Timer B: no response to INVITE');
        return;
      case 'timer:cancel':
        // RFC 3261 §9.1: no final response 64*T1 after the CANCEL.
        if (this.state === 'Proceeding') this.#timeout('no final response to a cancelled INVITE');
        return;
      case 'timer:D':
        if (this.state === 'Completed') this.enter('Terminated');
        return;
      case 'timer:M':
        if (this.state === 'Accepted') this.enter('Terminated');
        return;
      case 'tu-cancel':
        this.#onCancelRequest(ev.opts);
        return;
      case 'rx-msg':
        if (!ev.msg.isRequest) this.#onResponse(ev.msg, ev.flow);
        return;
      case 'transport-error':
        // §17.1.4; in Accepted nothing of ours is in flight any more.
        if (this.state === 'Accepted') return;
        this.#transportError(ev.err);
        return;
      default:
        return;
    }
  }

  #onResponse(res: SipResponse, flow: Flow): void {
    const s = this.state;
    const status = res.status;
    if (status < 200) {
      if (s === 'Calling') {
        this.enter('Proceeding');
        this.#deliver(res, flow);
        this.#maybeSendCancel();
      } else if (s === 'Proceeding') {
        this.#deliver(res, flow);
      }
      return;
    }
    if (status < 300) {
      // RFC 6026 (INVITE client, Figure 5 as amended): 2xx → Accepted; every 2xx seen there goes to the TU.
      if (s === 'Calling' || s === 'Proceeding') {
        if (this.env.parkAccepted !== undefined) {
          // Compact mode: no Accepted state here; later 2xx reach the TU as stray responses.
          this.#deliver(res, flow);
          this.enter('Terminated');
          return;
        }
        this.enter('Accepted');
        this.startTimer('M', this.env.timers.M);
        this.#deliver(res, flow);
      } else if (s === 'Accepted') {
        this.#deliver(res, flow);
      }
      return;
    }
    if (s === 'Calling' || s === 'Proceeding') {
      // RFC 3261 §17.1.1.2: ACK, hand the response up, wait out retransmissions.
      this.enter('Completed');
      this.#ack = buildAckForNon2xx(this.request, res);
      this.#ackDest = this.#ackDestination(flow);
      this.send(this.#ack, this.#ackDest);
      this.#deliver(res, flow);
      this.startTimer('D', timerFor(this.env.timers.D, this.reliable));
    } else if (s === 'Completed' && this.#ack !== undefined && this.#ackDest !== undefined) {
      // A retransmitted final response: ACK again, do not bother the TU.
      this.send(this.#ack, this.#ackDest);
    }
  }

  /** §17.1.1.3: the ACK goes where the INVITE went; on TCP over the connection the response came on. */
  #ackDestination(flow: Flow): Destination {
    if (this.dest.proto === 'tcp' && flow.proto === 'tcp' && this.dest.connId === undefined && flow.connId !== undefined) {
      return { ...this.dest, connId: flow.connId };
    }
    return this.dest;
  }

  #onCancelRequest(opts: CancelOptions): void {
    if (this.#cancel !== undefined) return;
    const s = this.state;
    if (s !== 'Calling' && s !== 'Proceeding') return;
    this.#cancel = { opts, sent: false };
    // §9.1: a CANCEL must wait for a provisional response.
    if (s === 'Proceeding') this.#maybeSendCancel();
  }

  #maybeSendCancel(): void {
    const c = this.#cancel;
    if (c === undefined || c.sent || this.state !== 'Proceeding') return;
    c.sent = true;
    const cancel = buildCancel(this.request, c.opts.headers ?? []);
    this.startTimer('cancel', 64 * this.env.timers.t1);
    try {
      this.#sendRequest(cancel, this.dest, c.opts.handler ?? NOOP_HANDLER);
    } catch (err) {
      this.env.log.warn({ err, key: this.key }, 'could not send CANCEL');
    }
  }

  #deliver(res: SipResponse, flow: Flow | undefined): void {
    this.callTu('onResponse', () => this.#handler.onResponse(res, flow));
  }

  #timeout(message: string): void {
    this.enter('Terminated');
    const err = new TransactionTimeoutError(message);
    if (this.#handler.onTimeout !== undefined) this.callTu('onTimeout', () => this.#handler.onTimeout!(err));
    else this.#deliver(createResponse(this.request, 408), undefined);
  }

  #transportError(cause: Error): void {
    this.enter('Terminated');
    const err = new TransactionTransportError(`could not send ${this.request.method}: ${cause.message}`, cause);
    if (this.#handler.onTransportError !== undefined) this.callTu('onTransportError', () => this.#handler.onTransportError!(err));
    else this.#deliver(createResponse(this.request, 503), undefined);
  }

  protected onEnded(): void {
    if (this.#handler.onTerminated !== undefined) this.callTu('onTerminated', () => this.#handler.onTerminated!());
  }
}
