/**
 * The transaction user: one switch over the request method (as aedes does per
 * packet type). For now sipd answers OPTIONS addressed to itself and gives
 * every request it does not handle yet a proper final response; the registrar,
 * proxy and PBX issues add their handlers here.
 */
import type { Logger } from '../util/log.js';
import { createResponse } from '../sip/build.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { Flow } from '../transport/types.js';
import type { ServerTransaction, TransactionUser } from '../transaction/layer.js';

/** Methods sipd answers itself; written into Allow. */
export const ALLOWED_METHODS = ['OPTIONS', 'ACK', 'CANCEL'] as const;

export interface RouterOptions {
  log: Logger;
  /** Value of the Server header. */
  serverName: string;
}

export class Router implements TransactionUser {
  readonly #log: Logger;
  readonly #serverName: string;

  constructor(opts: RouterOptions) {
    this.#log = opts.log;
    this.#serverName = opts.serverName;
  }

  onRequest(req: SipRequest, stx: ServerTransaction | undefined, _flow: Flow): void {
    if (stx === undefined) return; // ACK for a 2xx sipd never sent: nothing to do (RFC 3261 §17.2.3)
    switch (req.method) {
      case 'OPTIONS':
        this.#options(req, stx);
        return;
      case 'CANCEL':
        // RFC 3261 §9.2: 481 when no transaction matches; otherwise 200 (the INVITE was answered at once, nothing is pending).
        stx.respond(this.#response(req, stx.cancelled === undefined ? 481 : 200));
        return;
      default:
        stx.respond(this.#response(req, 501, 'Not Implemented', [['Allow', ALLOWED_METHODS.join(', ')]]));
    }
  }

  onStrayResponse(res: SipResponse, flow: Flow): void {
    this.#log.debug({ msg: res.summary(), peer: `${flow.remote.address}:${flow.remote.port}` }, 'response matches no transaction; dropped');
  }

  /** RFC 3261 §11.2: OPTIONS to sipd itself (no user part) gets 200 with what sipd accepts. */
  #options(req: SipRequest, stx: ServerTransaction): void {
    let user: string | undefined;
    try {
      user = req.requestUri().user;
    } catch {
      stx.respond(this.#response(req, 400, 'Bad Request-URI'));
      return;
    }
    if (user !== undefined) {
      stx.respond(this.#response(req, 501, 'Not Implemented'));
      return;
    }
    stx.respond(
      this.#response(req, 200, undefined, [
        ['Allow', ALLOWED_METHODS.join(', ')],
        ['Accept', 'application/sdp'],
        ['Accept-Encoding', 'identity'],
        ['Accept-Language', 'en'],
        ['Supported', ''],
      ]),
    );
  }

  #response(req: SipRequest, status: number, reason?: string, headers: Array<[string, string]> = []): SipResponse {
    return createResponse(req, status, {
      ...(reason !== undefined ? { reason } : {}),
      headers: [...headers, ['Server', this.#serverName]],
    });
  }
}
