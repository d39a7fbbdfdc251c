/** Transport errors: stable codes; the message names the address and what happened. */
import { SipdError } from '../util/errors.js';

export class TransportError extends SipdError {
  constructor(code: 'SIPD_ERR_TRANSPORT_SEND' | 'SIPD_ERR_TRANSPORT_CONNECT' | 'SIPD_ERR_TRANSPORT_CLOSED' | 'SIPD_ERR_TRANSPORT_LISTEN' | 'SIPD_ERR_TRANSPORT_FAMILY', message: string, cause?: unknown) {
    super(code, message, { status: 503, cause });
  }
}
