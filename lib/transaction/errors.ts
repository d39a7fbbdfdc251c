/**
 * Transaction-layer errors (STYLE §4.4). The TU turns a timeout into a 408 and a
 * transport failure into a 503 (RFC 3261 §8.1.3.1, §16.7); `status` carries that
 * mapping so upper layers need no table of their own.
 */
import { SipdError } from '../util/errors.js';

/** Timer B or F fired (RFC 3261 §17.1.1.2, §17.1.2.2), or a cancelled INVITE got no final response (§9.1). */
export class TransactionTimeoutError extends SipdError {
  constructor(message: string) {
    super('SIPD_ERR_TX_TIMEOUT', message, { status: 408 });
  }
}

/** The transport could not send a request, ACK or response (RFC 3261 §17.1.4, §17.2.4). */
export class TransactionTransportError extends SipdError {
  constructor(message: string, cause?: unknown) {
    super('SIPD_ERR_TX_TRANSPORT', message, { status: 503, cause });
  }
}

/** Programming errors at the layer's API: bad timer values, an ACK or a branch-less request given to `sendRequest`. */
export class TransactionUsageError extends SipdError {
  constructor(message: string) {
    super('SIPD_ERR_TX_USAGE', message);
  }
}
