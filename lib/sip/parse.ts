/**
 * Parser from Buffer (RFC 3261 §7, §25). One pass: the header section is
 * decoded once as latin1, split into fields (folding undone, raw text kept),
 * then the eager fields are read. Datagram framing (§18.3): Content-Length may
 * cut the body short; a Content-Length larger than the datagram is an error.
 */
import { SipParseError, type PartialMessage } from './errors.js';
import { COMPACT, normalizeName } from './header-names.js';
import { SipRequest, SipResponse, type AnyMessage, type HeaderField } from './message.js';

export interface ParseOptions {
  /** True for UDP: the buffer is one datagram and Content-Length may be absent. Default true. */
  datagram?: boolean;
}

const METHOD_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const NAME_RE = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
/** Header names as seen on the wire → normalised name (bounded: only the first 512 distinct spellings are kept). */
const NAME_CACHE = new Map<string, string>();

/** Index just past the blank line ending the header section, and where the header text ends. */
export function findHeaderEnd(buf: Buffer, from = 0): { headEnd: number; bodyStart: number } | undefined {
  const crlf = buf.indexOf(CRLFCRLF, from);
  const firstLf = buf.indexOf(0x0a, from);
  if (crlf >= 0 && firstLf > from && buf[firstLf - 1] === 0x0d) return { headEnd: crlf, bodyStart: crlf + 4 };
  // Bare-LF line ends (tolerated on input).
  const lf = buf.indexOf(LFLF, from);
  if (lf >= 0 && (crlf < 0 || lf < crlf)) return { headEnd: lf, bodyStart: lf + 2 };
  if (crlf >= 0) return { headEnd: crlf, bodyStart: crlf + 4 };
  return undefined;
}

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const LFLF = Buffer.from('\n\n', 'latin1');

export function parseMessage(buf: Buffer, opts: ParseOptions = {}): AnyMessage {
  const datagram = opts.datagram ?? true;
  let start = 0;
  // RFC 3261 §7.5: ignore CRLFs before the start line.
  while (start < buf.length && (buf[start] === 0x0d || buf[start] === 0x0a)) start++;
  if (start >= buf.length) throw new SipParseError('SIPD_ERR_PARSE_EMPTY', 'empty message');
  const ends = findHeaderEnd(buf, start);
  let headEnd: number;
  let bodyStart: number;
  if (ends === undefined) {
    // A header section that runs to the end of the datagram with no blank line.
    const tail = buf.length >= 2 && buf[buf.length - 2] === 0x0d && buf[buf.length - 1] === 0x0a ? 2 : buf[buf.length - 1] === 0x0a ? 1 : 0;
    if (tail === 0) throw new SipParseError('SIPD_ERR_PARSE_HEADER', 'no end of header section');
    headEnd = buf.length - tail;
    bodyStart = buf.length;
  } else {
    headEnd = ends.headEnd;
    bodyStart = ends.bodyStart;
  }
  const head = buf.toString('latin1', start, headEnd);

  let lineEnd = head.indexOf('\n');
  if (lineEnd < 0) lineEnd = head.length;
  const startLine = head.charCodeAt(lineEnd - 1) === 0x0d ? head.slice(0, lineEnd - 1) : head.slice(0, lineEnd);
  const headers: HeaderField[] = [];

  // Start line (RFC 3261 §7.1, §7.2).
  let kind: 'request' | 'response';
  let method = '';
  let uri = '';
  let status = 0;
  let reason = '';
  let versionError: SipParseError | undefined;
  if (startLine.startsWith('SIP/') || startLine.startsWith('sip/')) {
    kind = 'response';
    const sp1 = startLine.indexOf(' ');
    const version = sp1 < 0 ? startLine : startLine.slice(0, sp1);
    checkVersion(version);
    const code = startLine.slice(sp1 + 1, sp1 + 4);
    if (sp1 < 0 || !/^[1-6]\d\d$/.test(code) || (startLine.length > sp1 + 4 && startLine.charCodeAt(sp1 + 4) !== 0x20)) {
      throw new SipParseError('SIPD_ERR_PARSE_START_LINE', 'bad status line');
    }
    status = Number(code);
    reason = startLine.slice(sp1 + 5);
  } else {
    kind = 'request';
    const sp1 = startLine.indexOf(' ');
    const sp2 = startLine.lastIndexOf(' ');
    if (sp1 <= 0 || sp2 <= sp1 + 1) throw new SipParseError('SIPD_ERR_PARSE_START_LINE', 'bad request line');
    method = startLine.slice(0, sp1);
    uri = startLine.slice(sp1 + 1, sp2);
    if (!METHOD_RE.test(method)) throw new SipParseError('SIPD_ERR_PARSE_START_LINE', 'bad method in request line');
    if (uri.length === 0 || uri.indexOf(' ') >= 0 || uri.indexOf('\t') >= 0) {
      throw new SipParseError('SIPD_ERR_PARSE_START_LINE', 'bad Request-URI in request line');
    }
    try {
      checkVersion(startLine.slice(sp2 + 1));
    } catch (err) {
      // 505 needs the header fields to be sent back (RFC 3261 §8.2.2.1 ... §21.5.6): read them first.
      if (!(err instanceof SipParseError) || err.status !== 505) throw err;
      versionError = err;
    }
  }
  const partial = (): PartialMessage => (kind === 'request' ? { kind, method, headers } : { kind, headers });

  // Header fields (RFC 3261 §7.3), with folding (§7.3.1).
  let pos = lineEnd + 1;
  const len = head.length;
  while (pos < len) {
    let e = head.indexOf('\n', pos);
    if (e < 0) e = len;
    let fieldEnd = e;
    // Fold continuation lines into this field.
    while (fieldEnd + 1 < len) {
      const c = head.charCodeAt(fieldEnd + 1);
      if (c !== 0x20 && c !== 0x09) break;
      const n = head.indexOf('\n', fieldEnd + 1);
      fieldEnd = n < 0 ? len : n;
    }
    const rawEnd = head.charCodeAt(fieldEnd - 1) === 0x0d ? fieldEnd - 1 : fieldEnd;
    const colon = head.indexOf(':', pos);
    if (colon <= pos || colon >= rawEnd) {
      throw new SipParseError('SIPD_ERR_PARSE_HEADER', 'malformed header line', { partial: partial() });
    }
    let nameEnd = colon;
    while (nameEnd > pos && isBlank(head.charCodeAt(nameEnd - 1))) nameEnd--;
    let name = knownName(head, pos, nameEnd);
    if (name === undefined) {
      const rawName = head.slice(pos, nameEnd);
      name = NAME_CACHE.get(rawName);
      if (name === undefined) {
        if (!NAME_RE.test(rawName)) {
          throw new SipParseError('SIPD_ERR_PARSE_HEADER', 'malformed header name', { partial: partial() });
        }
        name = normalizeName(rawName);
        if (NAME_CACHE.size < 512) NAME_CACHE.set(rawName, name);
      }
    }
    let vs = colon + 1;
    while (vs < rawEnd && isBlank(head.charCodeAt(vs))) vs++;
    let ve = rawEnd;
    while (ve > vs && isBlank(head.charCodeAt(ve - 1))) ve--;
    let value = head.slice(vs, ve);
    // A fold right after the colon or before the end leaves a blank at an edge: trim SP/HT only.
    if (fieldEnd !== e) value = value.replace(/\r?\n[ \t]*/g, ' ').replace(/^[ \t]+|[ \t]+$/g, '');
    headers.push({ name, value, raw: head.slice(pos, rawEnd) });
    pos = fieldEnd + 1;
  }

  if (versionError !== undefined) {
    throw new SipParseError('SIPD_ERR_PARSE_VERSION', versionError.reason, { status: 505, partial: partial() });
  }

  // Framing (RFC 3261 §18.3, §20.14).
  let contentLength: number | undefined;
  for (const h of headers) {
    if (h.name !== 'content-length') continue;
    if (!/^\d{1,10}$/.test(h.value)) {
      throw new SipParseError('SIPD_ERR_PARSE_CONTENT_LENGTH', 'bad Content-Length', { header: 'Content-Length', partial: partial() });
    }
    const n = Number(h.value);
    if (contentLength !== undefined && contentLength !== n) {
      throw new SipParseError('SIPD_ERR_PARSE_CONTENT_LENGTH', 'conflicting Content-Length headers', { header: 'Content-Length', partial: partial() });
    }
    contentLength = n;
  }
  const available = buf.length - bodyStart;
  let body: Buffer;
  if (contentLength === undefined) {
    if (!datagram && available > 0) {
      throw new SipParseError('SIPD_ERR_PARSE_CONTENT_LENGTH', 'missing Content-Length on a stream', { header: 'Content-Length', partial: partial() });
    }
    body = buf.subarray(bodyStart);
  } else if (contentLength > available) {
    throw new SipParseError('SIPD_ERR_PARSE_CONTENT_LENGTH', 'Content-Length larger than the message body', { header: 'Content-Length', partial: partial() });
  } else {
    body = buf.subarray(bodyStart, bodyStart + contentLength);
  }

  const msg: AnyMessage = kind === 'request' ? new SipRequest(method, uri, headers, body) : new SipResponse(status, reason, headers, body);
  if (contentLength !== undefined && bodyStart - headEnd === 4 && !lfOnly(head)) {
    msg.setSource(buf.subarray(start, bodyStart + body.length));
  }

  // Mandatory headers (RFC 3261 §8.1.1, §20) and the eagerly parsed ones.
  let present: number;
  try {
    present = msg.indexEager();
  } catch (err) {
    if (err instanceof SipParseError) {
      throw new SipParseError(err.code as never, err.reason, { header: err.header ?? '', partial: partial() });
    }
    throw err;
  }
  if (present !== 31) {
    for (let k = 0; k < MANDATORY.length; k++) {
      if ((present & (1 << k)) === 0) {
        const label = MANDATORY[k]!;
        throw new SipParseError('SIPD_ERR_PARSE_MISSING_HEADER', `missing ${label} header`, { header: label, partial: partial() });
      }
    }
  }
  if (msg.callId.length === 0) {
    throw new SipParseError('SIPD_ERR_PARSE_MISSING_HEADER', 'empty Call-ID', { header: 'Call-ID', partial: partial() });
  }
  if (kind === 'request' && msg.cseq.method !== method) {
    throw new SipParseError('SIPD_ERR_PARSE_CSEQ', 'CSeq method does not match the request method', { header: 'CSeq', partial: partial() });
  }
  return msg;
}

/** In the bit order of `SipMessage.indexEager`'s result. */
const MANDATORY: readonly string[] = ['Via', 'From', 'To', 'Call-ID', 'CSeq'];

/**
 * Header names seen in nearly every message, looked up without slicing the
 * name out of the header text: by length and first letter, then compared
 * case-insensitively in place.
 */
const KNOWN_NAMES = [
  'via', 'from', 'to', 'call-id', 'cseq', 'contact', 'max-forwards', 'content-length', 'content-type',
  'user-agent', 'server', 'allow', 'supported', 'require', 'proxy-require', 'unsupported', 'expires',
  'min-expires', 'authorization', 'proxy-authorization', 'www-authenticate', 'proxy-authenticate',
  'route', 'record-route', 'accept', 'accept-encoding', 'accept-language', 'event', 'allow-events',
  'subscription-state', 'date', 'timestamp', 'session-expires', 'min-se', 'p-asserted-identity',
  'p-preferred-identity', 'privacy', 'refer-to', 'referred-by', 'replaces', 'reason', 'diversion',
  'history-info', 'path', 'organization', 'rseq', 'rack', 'subject', 'priority', 'warning',
];
const KNOWN_TABLE: Array<Array<string[] | undefined> | undefined> = [];
for (const n of KNOWN_NAMES) {
  const byFirst = (KNOWN_TABLE[n.length] ??= []);
  (byFirst[n.charCodeAt(0)] ??= []).push(n);
}

function knownName(s: string, start: number, end: number): string | undefined {
  const len = end - start;
  let first = s.charCodeAt(start);
  if (first >= 0x41 && first <= 0x5a) first += 0x20;
  if (len === 1) {
    const c = COMPACT_BY_CODE[first];
    return c;
  }
  const cands = KNOWN_TABLE[len]?.[first];
  if (cands === undefined) return undefined;
  outer: for (const cand of cands) {
    for (let i = 1; i < len; i++) {
      let c = s.charCodeAt(start + i);
      if (c >= 0x41 && c <= 0x5a) c += 0x20;
      if (c !== cand.charCodeAt(i)) continue outer;
    }
    return cand;
  }
  return undefined;
}

const COMPACT_BY_CODE: Array<string | undefined> = [];
for (const [k, v] of Object.entries(COMPACT)) COMPACT_BY_CODE[k.charCodeAt(0)] = v;

/** True when the start line ends with a bare LF (then serialize() normalises line ends). */
function lfOnly(head: string): boolean {
  const nl = head.indexOf('\n');
  return nl >= 0 && head.charCodeAt(nl - 1) !== 0x0d;
}

function isBlank(c: number): boolean {
  return c === 0x20 || c === 0x09;
}

function checkVersion(v: string): void {
  if (v === 'SIP/2.0' || v.toUpperCase() === 'SIP/2.0') return;
  if (/^SIP\/\d+\.\d+$/i.test(v)) throw new SipParseError('SIPD_ERR_PARSE_VERSION', 'SIP version not supported', { status: 505 });
  throw new SipParseError('SIPD_ERR_PARSE_START_LINE', 'bad SIP version');
}
