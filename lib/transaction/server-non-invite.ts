/**
 * Non-INVITE server transaction: RFC 3261 §17.2.2.
 *
 *   Trying --1xx--> Proceeding --200-699--> Completed --Timer J--> Terminated
 *      \---------------200-699---------------/
 *
 * Trying absorbs request retransmissions; Proceeding and Completed answer them
 * with the last response. Timer J is 64*T1 on UDP, 0 on TCP. Not in the RFC: a
 * `stale` guard of 64*T1 ends a transaction whose TU never answered (by then the
 * client's Timer F has given up), so a TU bug cannot leak transactions.
 */
import type { SipRequest } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import type { TxEnv, TxEvent } from './fsm.js';
import { ServerTransactionBase } from './server-base.js';
import { timerFor } from './timers.js';
import type { ServerNonInviteState } from './types.js';

export class ServerNonInviteTransaction extends ServerTransactionBase<ServerNonInviteState> {
  constructor(env: TxEnv, key: string, request: SipRequest, flow: Flow) {
    super(env, 'Trying', key, request, flow);
  }

  /** Arms the guard against a TU that never answers. */
  start(): void {
    this.startTimer('stale', this.env.timers.F);
  }

  protected step(ev: TxEvent): void {
    switch (ev.type) {
      case 'tu-send': {
        const res = ev.msg;
        if (res.isRequest) return;
        const s = this.state;
        if (s !== 'Trying' && s !== 'Proceeding') {
          this.env.log.debug({ key: this.key, state: s, status: res.status }, 'response after the final one; dropped');
          return;
        }
        this.sendResponse(res);
        if (res.status < 200) {
          if (s === 'Trying') this.enter('Proceeding', ['stale']);
        } else if (!this.reliable && this.env.park !== undefined) {
          // Completed lives on as a compact record in the layer (timer J there),
          // or not at all when the TU recognises retransmissions itself.
          if (!this.tuRecognises) this.env.park(this.key, res, this.dest, this.replayable);
          this.enter('Terminated');
        } else {
          this.enter('Completed');
          this.startTimer('J', timerFor(this.env.timers.J, this.reliable));
        }
        return;
      }
      case 'rx-msg':
        // A retransmitted request: Trying absorbs it, the others re-send the last response.
        if (ev.msg.isRequest && this.state !== 'Trying') this.resendLast();
        return;
      case 'timer:stale':
        if (this.state === 'Trying' || this.state === 'Proceeding') {
          this.env.log.warn({ key: this.key, method: this.request.method, callId: this.request.callId }, 'transaction user never answered; transaction dropped');
          this.enter('Terminated');
        }
        return;
      case 'timer:J':
        if (this.state === 'Completed') this.enter('Terminated');
        return;
      case 'transport-error':
        if (this.state !== 'Trying') {
          // §17.2.4 (in Trying nothing was sent yet)
          this.enter('Terminated');
          this.notifyTransportError(ev.err);
        }
        return;
      default:
        return;
    }
  }
}
