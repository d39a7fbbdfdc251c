/**
 * Non-INVITE client transaction: RFC 3261 §17.1.2.
 *
 *   Trying --1xx--> Proceeding --200-699--> Completed --Timer K--> Terminated
 *      \---------------200-699---------------/
 *
 * Timer E (UDP only) retransmits in Trying with a doubling interval capped at T2,
 * and in Proceeding every T2; Timer F ends both states with a timeout. Completed
 * absorbs retransmitted final responses for T4 (UDP) or not at all (TCP).
 */
import { createResponse } from '../sip/build.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { Destination, Flow } from '../transport/types.js';
import { TransactionTimeoutError, TransactionTransportError } from './errors.js';
import { Transaction, type TxEnv, type TxEvent } from './fsm.js';
import { timerFor } from './timers.js';
import type { ClientHandler, ClientNonInviteState, ClientTransaction } from './types.js';

export class ClientNonInviteTransaction extends Transaction<ClientNonInviteState> implements ClientTransaction {
  readonly request: SipRequest;
  readonly dest: Destination;
  readonly #handler: ClientHandler;
  #intervalE: number;

  constructor(env: TxEnv, key: string, request: SipRequest, dest: Destination, handler: ClientHandler) {
    super(env, 'Trying', env.transport.isReliable(dest.proto), key);
    this.request = request;
    this.dest = dest;
    this.#handler = handler;
    this.#intervalE = env.timers.E;
  }

  /** Sends the request (the layer calls this once, right after filing the transaction). */
  start(): void {
    this.handle({ type: 'tu-send', msg: this.request });
  }

  protected step(ev: TxEvent): void {
    const t = this.env.timers;
    switch (ev.type) {
      case 'tu-send':
        if (this.state !== 'Trying') return;
        this.send(this.request, this.dest);
        if (!this.reliable) this.startTimer('E', this.#intervalE);
        this.startTimer('F', t.F);
        return;
      case 'timer:E':
        // §17.1.2.2: Trying doubles up to T2; Proceeding retransmits every T2.
        if (this.state !== 'Trying' && this.state !== 'Proceeding') return;
        this.send(this.request, this.dest);
        this.#intervalE = this.state === 'Trying' ? Math.min(2 * this.#intervalE, t.t2) : t.t2;
        this.startTimer('E', this.#intervalE);
        return;
      case 'timer:F':
        if (this.state === 'Trying' || this.state === 'Proceeding') {
          this.enter('Terminated');
          const err = new TransactionTimeoutError(`Timer F: no final response to ${this.request.method}`);
          if (this.#handler.onTimeout !== undefined) this.callTu('onTimeout', () => this.#handler.onTimeout!(err));
          else this.#deliver(createResponse(this.request, 408), undefined);
        }
        return;
      case 'timer:K':
        if (this.state === 'Completed') this.enter('Terminated');
        return;
      case 'rx-msg':
        if (!ev.msg.isRequest) this.#onResponse(ev.msg, ev.flow);
        return;
      case 'transport-error':
        if (this.state === 'Trying' || this.state === 'Proceeding') {
          // §17.1.4
          this.enter('Terminated');
          const err = new TransactionTransportError(`could not send ${this.request.method}: ${ev.err.message}`, ev.err);
          if (this.#handler.onTransportError !== undefined) this.callTu('onTransportError', () => this.#handler.onTransportError!(err));
          else this.#deliver(createResponse(this.request, 503), undefined);
        }
        return;
      default:
        return;
    }
  }

  #onResponse(res: SipResponse, flow: Flow): void {
    const s = this.state;
    if (s !== 'Trying' && s !== 'Proceeding') return; // Completed absorbs retransmissions
    if (res.status < 200) {
      if (s === 'Trying') this.enter('Proceeding', ['E', 'F']);
      this.#deliver(res, flow);
      return;
    }
    if (!this.reliable && this.env.park !== undefined) {
      // Compact mode (TransactionLayerOptions.compactCompleted): no Completed state. The
      // retransmissions of this final response that Timer K would absorb reach the TU as
      // stray responses, which it drops; the request and its transaction are freed now.
      this.#deliver(res, flow);
      this.enter('Terminated');
      return;
    }
    this.enter('Completed');
    this.#deliver(res, flow);
    this.startTimer('K', timerFor(this.env.timers.K, this.reliable));
  }

  #deliver(res: SipResponse, flow: Flow | undefined): void {
    this.callTu('onResponse', () => this.#handler.onResponse(res, flow));
  }

  protected onEnded(): void {
    if (this.#handler.onTerminated !== undefined) this.callTu('onTerminated', () => this.#handler.onTerminated!());
  }
}
