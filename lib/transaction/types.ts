/**
 * The transaction layer's public surface towards the TU (proxy, registrar,
 * server): a TU object for incoming requests, an undici-style handler object per
 * client transaction, and the two transaction views. Callbacks are plain methods,
 * not events (STYLE §4.9).
 */
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { Destination, Flow } from '../transport/types.js';
import type { TransactionTimeoutError, TransactionTransportError } from './errors.js';

export interface TransactionUser {
  /**
   * A new request. `stx` is undefined only for an ACK that matches no transaction
   * (the ACK for a 2xx, RFC 3261 §13.2.2.4: the proxy forwards it statelessly) or
   * that matches an INVITE server transaction in Accepted (RFC 6026: "ACK / to TU" in Accepted). For a
   * CANCEL, `stx.cancelled` is the INVITE server transaction it matches, or
   * undefined (the TU answers 481, §9.2). The TU must answer every request it is
   * given a transaction for; if this throws, the layer answers 500.
   */
  onRequest(req: SipRequest, stx: ServerTransaction | undefined, flow: Flow): void;
  /** A response matching no client transaction (e.g. a 2xx retransmission after Timer M). */
  onStrayResponse(res: SipResponse, flow: Flow): void;
  /**
   * Optional first look at a new non-ACK request that matches no transaction
   * (RFC 3261 §8.2.7, stateless UAS behaviour): return a response to send it
   * statelessly and create no transaction (OPTIONS keep-alives, digest
   * challenges to unauthenticated requests — idempotent answers, so a
   * retransmitted request just gets the same kind of answer again), or
   * undefined to go on with a server transaction and `onRequest`. Asked for
   * INVITE too: a final response made at once needs no 100 Trying (§17.2.1);
   * the ACK for it then reaches `onRequest` without a transaction, and the TU
   * must absorb it (its To tag is the response's).
   */
  statelessResponse?(req: SipRequest, flow: Flow): SipResponse | undefined;
  /**
   * A retransmission of a request whose final response was sent with
   * `respond(res, { replayable: true })` and is still within timer J: build that
   * response again (the layer kept only the request's key, not the response's
   * text). Return undefined to send nothing. Without this method the layer keeps
   * the text of every response, replayable or not.
   */
  replayResponse?(req: SipRequest, flow: Flow): SipResponse | undefined;
}

/** Options of {@link ServerTransaction.respond}. */
export interface RespondOptions {
  /**
   * The TU can build this final response again for a retransmitted request
   * (`TransactionUser.replayResponse`), so a compact Completed state need not
   * keep its text: a registrar's 200 OK is the bindings of the AOR as they are.
   */
  readonly replayable?: boolean;
  /**
   * The TU recognises a retransmission of this request by itself and answers
   * it again (a registrar finds the REGISTER's branch, Call-ID and CSeq in the
   * bindings it made), so a compact Completed state is not kept at all: with
   * `compactCompleted` on UDP the transaction ends at its final response, and a
   * retransmission reaches the TU as a new request. Without `compactCompleted`
   * the transaction goes through Completed as usual.
   */
  readonly tuRecognisesRetransmissions?: boolean;
}

export interface ClientHandler {
  /**
   * Provisional and final responses; in RFC 6026 Accepted, every further 2xx
   * (retransmissions, forked answers). A proxy resets its Timer C on each
   * provisional response here. `flow` is undefined for a response the layer made
   * up: 408 on timeout or 503 on transport error when the matching callback below
   * is absent (RFC 3261 §8.1.3.1).
   */
  onResponse(res: SipResponse, flow: Flow | undefined): void;
  /** Timer B / F fired, or a cancelled INVITE got no final response in 64*T1 (§9.1). The TU acts as on a 408. */
  onTimeout?(err: TransactionTimeoutError): void;
  /** The request (or the ACK) could not be sent (§17.1.4). The TU acts as on a 503. */
  onTransportError?(err: TransactionTransportError): void;
  /** The transaction entered Terminated and left the table; always the last call. */
  onTerminated?(): void;
}

export type ClientInviteState = 'Calling' | 'Proceeding' | 'Completed' | 'Accepted' | 'Terminated';
export type ClientNonInviteState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';
export type ServerInviteState = 'Proceeding' | 'Completed' | 'Confirmed' | 'Accepted' | 'Terminated';
export type ServerNonInviteState = 'Trying' | 'Proceeding' | 'Completed' | 'Terminated';

export interface CancelOptions {
  /** Receives the CANCEL's own responses; by default they are dropped. */
  handler?: ClientHandler;
  /** Extra header fields for the CANCEL, e.g. `[['Reason', 'SIP;cause=200;text="Call completed elsewhere"']]`. */
  headers?: ReadonlyArray<readonly [string, string]>;
}

export interface ClientTransaction {
  readonly request: SipRequest;
  readonly state: ClientInviteState | ClientNonInviteState;
  readonly dest: Destination;
  /**
   * INVITE only (RFC 3261 §9.1): sends a CANCEL (built with `buildCancel`) in its
   * own client transaction to the same destination — at once in Proceeding, on
   * the first provisional response while Calling, never after a final response.
   * If no final response to the INVITE follows within 64*T1, the INVITE
   * transaction ends with `onTimeout`. Calling it again does nothing.
   */
  cancel?(opts?: CancelOptions): void;
}

export interface ServerTransaction {
  readonly request: SipRequest;
  readonly flow: Flow;
  /** Where responses go: `responseDestination(request, flow)` (§18.2.2), fixed at creation. */
  readonly dest: Destination;
  readonly state: ServerInviteState | ServerNonInviteState;
  /** For a CANCEL: the INVITE server transaction it matched (§9.2). */
  readonly cancelled?: ServerTransaction | undefined;
  /** True once a final response was sent. */
  readonly completed: boolean;
  /** The last response sent (provisional or final). */
  readonly lastResponse: SipResponse | undefined;
  /** Sends a response through the transaction; ignored when the state does not allow it (e.g. a second non-2xx final). */
  respond(res: SipResponse, opts?: RespondOptions): void;
  /** Set by the TU: called when a CANCEL matched this (INVITE) transaction before its final response, after the CANCEL went to `onRequest`. */
  onCancel?: (() => void) | undefined;
  /** Set by the TU: a response could not be sent (§17.2.4). */
  onTransportError?: ((err: TransactionTransportError) => void) | undefined;
  /** Set by the TU: Timer H fired, no ACK came for a non-2xx final response (§17.2.1). */
  onTimeout?: ((err: TransactionTimeoutError) => void) | undefined;
  /** Set by the TU: the transaction entered Terminated. */
  onTerminated?: (() => void) | undefined;
}
