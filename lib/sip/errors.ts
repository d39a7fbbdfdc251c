/**
 * Parse errors. A `SipParseError` carries the SIP status that answers it (400,
 * 413, 505, 513), a stable code and a short reason that is safe to put into a
 * reason phrase. When the start line and some header fields were read before the
 * problem was found, `partial` holds them so the server can still answer a
 * malformed request that carries a usable Via (RFC 3261 §8.2, §21.4.1).
 */
import { SipdError } from '../util/errors.js';
import type { HeaderField } from './message.js';

export type ParseErrorCode =
  | 'SIPD_ERR_PARSE_EMPTY'
  | 'SIPD_ERR_PARSE_START_LINE'
  | 'SIPD_ERR_PARSE_VERSION'
  | 'SIPD_ERR_PARSE_HEADER'
  | 'SIPD_ERR_PARSE_MISSING_HEADER'
  | 'SIPD_ERR_PARSE_CONTENT_LENGTH'
  | 'SIPD_ERR_PARSE_TOO_LARGE'
  | 'SIPD_ERR_PARSE_URI'
  | 'SIPD_ERR_PARSE_VIA'
  | 'SIPD_ERR_PARSE_CSEQ'
  | 'SIPD_ERR_PARSE_NAME_ADDR'
  | 'SIPD_ERR_PARSE_MAX_FORWARDS';

export interface PartialMessage {
  readonly kind: 'request' | 'response';
  readonly method?: string;
  readonly headers: readonly HeaderField[];
}

export class SipParseError extends SipdError {
  /** Text safe for a reason phrase: no CR/LF, bounded length, no stack. */
  readonly reason: string;
  readonly header: string | undefined;
  readonly partial: PartialMessage | undefined;
  declare readonly status: number;

  constructor(
    code: ParseErrorCode,
    reason: string,
    opts: { status?: number; header?: string; partial?: PartialMessage } = {},
  ) {
    const safe = reason.replace(/[\r\n\t]+/g, ' ').slice(0, 120);
    super(code, safe, { status: opts.status ?? 400 });
    this.reason = safe;
    this.header = opts.header;
    this.partial = opts.partial;
  }
}
