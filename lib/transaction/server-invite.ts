/**
 * INVITE server transaction: RFC 3261 §17.2.1 with the RFC 6026 Accepted state.
 *
 *   Proceeding --300-699--> Completed --ACK--> Confirmed --Timer I--> Terminated
 *        |                      \--Timer H (no ACK)--> Terminated
 *        \--2xx--> Accepted --Timer L--> Terminated
 *
 * Proceeding answers a retransmitted INVITE with the last provisional response;
 * Completed retransmits the final response on Timer G (UDP only, doubling up to
 * T2) and on every retransmitted INVITE. In Accepted the transaction never
 * retransmits the 2xx itself (the TU does, RFC 6026): it passes every 2xx
 * the TU gives it (retransmissions, other forks' answers) and silently absorbs
 * INVITE retransmissions, so they never reach the TU as new requests. An ACK that
 * matches in Accepted belongs to the TU; the layer routes it there.
 */
import { createResponse } from '../sip/build.js';
import type { SipRequest } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import type { TxEnv, TxEvent } from './fsm.js';
import { ServerTransactionBase } from './server-base.js';
import { timerFor } from './timers.js';
import type { ServerInviteState } from './types.js';

export class ServerInviteTransaction extends ServerTransactionBase<ServerInviteState> {
  #intervalG: number;

  constructor(env: TxEnv, key: string, request: SipRequest, flow: Flow) {
    super(env, 'Proceeding', key, request, flow);
    this.#intervalG = env.timers.G;
  }

  /** §17.2.1: a 100 Trying at once, unless the TU is known to answer within 200 ms. */
  start(autoTrying: boolean): void {
    if (autoTrying) this.respond(createResponse(this.request, 100));
  }

  protected step(ev: TxEvent): void {
    switch (ev.type) {
      case 'tu-send': {
        const res = ev.msg;
        if (res.isRequest) return;
        const s = this.state;
        if (s === 'Proceeding') {
          if (res.status < 200) {
            this.sendResponse(res);
          } else if (res.status < 300) {
            this.sendResponse(res);
            if (this.env.parkAccepted !== undefined) {
              this.env.parkAccepted(this.key, this.dest);
              this.enter('Terminated');
              return;
            }
            this.enter('Accepted');
            this.startTimer('L', this.env.timers.L);
          } else {
            this.sendResponse(res);
            this.enter('Completed');
            if (!this.reliable) this.startTimer('G', this.#intervalG);
            this.startTimer('H', this.env.timers.H);
          }
        } else if (s === 'Accepted' && res.status >= 200 && res.status < 300) {
          // RFC 6026: 2xx from the TU in Accepted go to the transport.
          this.sendResponse(res);
        } else {
          this.env.log.debug({ key: this.key, state: s, status: res.status }, 'response not allowed in this state; dropped');
        }
        return;
      }
      case 'rx-msg': {
        const req = ev.msg;
        if (!req.isRequest) return;
        if (req.method === 'ACK') {
          if (this.state === 'Completed') {
            if (!this.reliable && this.env.parkConfirmed?.(this.key, this.request, this.dest) === true) {
              this.enter('Terminated');
              return;
            }
            this.enter('Confirmed');
            this.startTimer('I', timerFor(this.env.timers.I, this.reliable));
          }
          return; // Confirmed absorbs ACK retransmissions
        }
        // A retransmitted INVITE (§17.2.1): Proceeding and Completed answer it, Accepted and Confirmed absorb it.
        if (this.state === 'Proceeding' || this.state === 'Completed') this.resendLast();
        return;
      }
      case 'timer:G':
        if (this.state !== 'Completed') return;
        this.resendLast();
        this.#intervalG = Math.min(2 * this.#intervalG, this.env.timers.t2);
        this.startTimer('G', this.#intervalG);
        return;
      case 'timer:H':
        if (this.state !== 'Completed') return;
        this.enter('Terminated');
        this.notifyTimeout('Timer H: no ACK for the final response');
        return;
      case 'timer:I':
        if (this.state === 'Confirmed') this.enter('Terminated');
        return;
      case 'timer:L':
        if (this.state === 'Accepted') this.enter('Terminated');
        return;
      case 'transport-error':
        if (this.state === 'Proceeding' || this.state === 'Completed') {
          // §17.2.4
          this.enter('Terminated');
          this.notifyTransportError(ev.err);
        } else if (this.state === 'Accepted') {
          // RFC 6026 (INVITE server, Figure 7 as amended): inform the TU but stay, so INVITE retransmissions stay absorbed until Timer L.
          this.notifyTransportError(ev.err);
        }
        return;
      default:
        return;
    }
  }
}
