/**
 * The transaction user: one switch over the request method (as aedes does per
 * packet type). REGISTER goes to the registrar, calls (INVITE, MESSAGE) and
 * every request inside a dialog to the call router (calls.ts), OPTIONS to sipd
 * itself is answered here; every other request gets a proper final response.
 */
import type { Logger } from '../util/log.js';
import { createLocalResponse, statelessTag } from '../sip/build.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import type { ServerTransaction, TransactionUser } from '../transaction/layer.js';
import type { Registrar } from '../registrar/register.js';
import type { Proxy } from '../proxy/proxy.js';
import type { CallRouter } from './calls.js';

/** Methods sipd handles (answers or proxies); written into Allow. */
export const ALLOWED_METHODS = ['INVITE', 'ACK', 'CANCEL', 'BYE', 'OPTIONS', 'REGISTER', 'MESSAGE', 'UPDATE', 'PRACK', 'INFO', 'REFER', 'NOTIFY'] as const;

/** Methods that only exist inside a dialog: without a To tag they match no call (481). */
const DIALOG_ONLY = new Set(['BYE', 'UPDATE', 'PRACK', 'INFO', 'NOTIFY']);

export interface RouterOptions {
  log: Logger;
  /** Value of the Server header. */
  serverName: string;
  registrar: Registrar;
  calls: CallRouter;
  proxy: Proxy;
}

export class Router implements TransactionUser {
  readonly #log: Logger;
  readonly #serverName: string;
  readonly #registrar: Registrar;
  readonly #calls: CallRouter;
  readonly #proxy: Proxy;

  constructor(opts: RouterOptions) {
    this.#log = opts.log;
    this.#serverName = opts.serverName;
    this.#registrar = opts.registrar;
    this.#calls = opts.calls;
    this.#proxy = opts.proxy;
  }

  onRequest(req: SipRequest, stx: ServerTransaction | undefined, flow: Flow): void {
    if (stx === undefined) {
      if (req.method !== 'ACK') return;
      // The ACK for a challenge sipd answered statelessly (statelessResponse): its To tag is sipd's own.
      if (req.toTag !== undefined && req.toTag === statelessTag(req)) return;
      // An ACK for a 2xx (RFC 3261 §17.2.3, §16.11): relayed along the dialog's route.
      this.#calls.inDialog(req, undefined, flow);
      return;
    }
    if (req.toTag !== undefined && req.method !== 'REGISTER' && req.method !== 'CANCEL') {
      this.#calls.inDialog(req, stx, flow);
      return;
    }
    switch (req.method) {
      case 'INVITE':
      case 'MESSAGE':
        this.#calls.initial(req, stx, flow);
        return;
      case 'REGISTER':
        this.#registrar.handle(req, stx, flow);
        return;
      case 'OPTIONS':
        this.#options(req, stx);
        return;
      case 'SUBSCRIBE':
        // Phones subscribe to message-summary and dialog right after registering:
        // a prompt 489 (RFC 6665 §8.3.1) until sipd has event packages, never silence.
        stx.respond(this.#response(req, 489, 'Bad Event'));
        return;
      case 'PUBLISH':
        stx.respond(this.#response(req, 405, 'Method Not Allowed', [['Allow', ALLOWED_METHODS.join(', ')]]));
        return;
      case 'CANCEL':
        // RFC 3261 §9.2: 481 when no transaction matches; otherwise 200 (the INVITE was answered at once, nothing is pending).
        stx.respond(this.#response(req, stx.cancelled === undefined ? 481 : 200));
        return;
      default:
        if (DIALOG_ONLY.has(req.method)) {
          stx.respond(this.#response(req, 481, 'Call/Transaction Does Not Exist'));
          return;
        }
        stx.respond(this.#response(req, 501, 'Not Implemented', [['Allow', ALLOWED_METHODS.join(', ')]]));
    }
  }

  /** A retransmitted REGISTER answered with a 200 OK within timer J: the registrar builds it again. */
  replayResponse(req: SipRequest): SipResponse | undefined {
    return req.method === 'REGISTER' ? this.#registrar.replay(req) : undefined;
  }

  /**
   * Answers without a transaction (RFC 3261 §8.2.7) what needs no state: OPTIONS
   * to sipd itself, REGISTERs without credentials (the 401 challenge) and new
   * calls without credentials from anyone but a gateway or static host (the
   * 407 challenge that starts nearly every call: no 100 Trying, no transaction).
   */
  statelessResponse(req: SipRequest, flow: Flow): SipResponse | undefined {
    switch (req.method) {
      case 'OPTIONS':
        return this.#optionsResponse(req);
      case 'REGISTER':
        return this.#registrar.statelessResponse(req);
      case 'INVITE':
      case 'MESSAGE':
        return req.toTag === undefined ? this.#calls.statelessChallenge(req, flow) : undefined;
      default:
        return undefined;
    }
  }

  onStrayResponse(res: SipResponse, flow: Flow): void {
    // A 2xx retransmitted after its client transaction ended is still the caller's (§16.7 step 5).
    if (this.#proxy.forwardStrayResponse(res)) return;
    this.#log.debug({ msg: res.summary(), peer: `${flow.remote.address}:${flow.remote.port}` }, 'response matches no transaction; dropped');
  }

  /** RFC 3261 §11.2: OPTIONS to sipd itself (no user part) gets 200 with what sipd accepts. */
  #options(req: SipRequest, stx: ServerTransaction): void {
    stx.respond(this.#optionsResponse(req));
  }

  #optionsResponse(req: SipRequest): SipResponse {
    let user: string | undefined;
    try {
      user = req.requestUri().user;
    } catch {
      return this.#response(req, 400, 'Bad Request-URI');
    }
    if (user !== undefined) return this.#response(req, 501, 'Not Implemented');
    return this.#response(req, 200, undefined, [
      ['Allow', ALLOWED_METHODS.join(', ')],
      ['Accept', 'application/sdp'],
      ['Accept-Encoding', 'identity'],
      ['Accept-Language', 'en'],
      ['Supported', ''],
    ]);
  }

  #response(req: SipRequest, status: number, reason?: string, headers: Array<[string, string]> = []): SipResponse {
    return createLocalResponse(req, status, this.#serverName, reason, headers);
  }
}
