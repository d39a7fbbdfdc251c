/**
 * What both server transaction kinds share: the request, its flow and the
 * response destination fixed at creation (RFC 3261 §18.2.2), the last response
 * for answering retransmissions, and the hooks a TU may set.
 */
import type { SipRequest, SipResponse } from '../sip/message.js';
import { responseDestination } from '../transport/routing.js';
import type { Destination, Flow } from '../transport/types.js';
import { TransactionTimeoutError, TransactionTransportError } from './errors.js';
import { Transaction, type TxEnv } from './fsm.js';
import type { RespondOptions, ServerInviteState, ServerNonInviteState, ServerTransaction } from './types.js';

export abstract class ServerTransactionBase<S extends ServerInviteState | ServerNonInviteState> extends Transaction<S> implements ServerTransaction {
  readonly request: SipRequest;
  readonly flow: Flow;
  readonly dest: Destination;
  cancelled: ServerTransaction | undefined;
  onCancel: (() => void) | undefined;
  onTransportError: ((err: TransactionTransportError) => void) | undefined;
  onTimeout: ((err: TransactionTimeoutError) => void) | undefined;
  onTerminated: (() => void) | undefined;
  protected last: SipResponse | undefined;
  protected finalSent = false;
  /** The final response can be built again by the TU (`RespondOptions.replayable`). */
  protected replayable = false;
  /** The TU answers retransmissions itself: nothing is parked (`RespondOptions.tuRecognisesRetransmissions`). */
  protected tuRecognises = false;

  protected constructor(env: TxEnv, initial: S, key: string, request: SipRequest, flow: Flow) {
    const dest = responseDestination(request, flow);
    super(env, initial, env.transport.isReliable(dest.proto), key);
    this.request = request;
    this.flow = flow;
    this.dest = dest;
  }

  get completed(): boolean {
    return this.finalSent;
  }

  get lastResponse(): SipResponse | undefined {
    return this.last;
  }

  respond(res: SipResponse, opts?: RespondOptions): void {
    if (opts !== undefined && res.status >= 200 && !this.finalSent) {
      if (opts.replayable === true) this.replayable = true;
      if (opts.tuRecognisesRetransmissions === true) this.tuRecognises = true;
    }
    this.handle({ type: 'tu-send', msg: res });
  }

  /** Sends `res` and remembers it for retransmissions. */
  protected sendResponse(res: SipResponse): void {
    this.last = res;
    if (res.status >= 200) this.finalSent = true;
    this.send(res, this.dest);
  }

  /** Re-sends the last response (request retransmission, Timer G). */
  protected resendLast(): void {
    if (this.last !== undefined) this.send(this.last, this.dest);
  }

  protected notifyTransportError(cause: Error): void {
    const err = new TransactionTransportError(`could not send a response to ${this.request.method}: ${cause.message}`, cause);
    this.env.log.debug({ err, key: this.key, state: this.state }, 'response not sent');
    const hook = this.onTransportError;
    if (hook !== undefined) this.callTu('onTransportError', () => hook(err));
  }

  protected notifyTimeout(message: string): void {
    const err = new TransactionTimeoutError(message);
    const hook = this.onTimeout;
    if (hook !== undefined) this.callTu('onTimeout', () => hook(err));
  }

  protected onEnded(): void {
    const hook = this.onTerminated;
    if (hook !== undefined) this.callTu('onTerminated', hook);
  }
}
