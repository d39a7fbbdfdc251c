/**
 * Stream framing for SIP over TCP (RFC 3261 §18.3): a sans-IO cursor in the
 * manner of pg-protocol. `push(chunk)` returns the complete messages and
 * keep-alive events found so far; partial data is kept under a hard cap, so a
 * peer that sends an endless header (or a huge Content-Length) gets a
 * `FrameError` and only its own connection is closed.
 *
 * Keep-alives (RFC 5626 §4.4.1): a double CRLF between messages is a ping,
 * answered by the caller with a single CRLF pong; a lone CRLF is the pong. A
 * lone CRLF at the end of the data is held until more arrives, so a ping split
 * over two segments is still one ping.
 */
import { SipParseError } from './errors.js';
import { findHeaderEnd } from './parse.js';

export type FrameEvent = { type: 'message'; data: Buffer } | { type: 'ping' } | { type: 'pong' };

export class FrameError extends SipParseError {}

export interface FramerOptions {
  /** Largest message (headers + body) accepted; default 65,535 bytes. */
  maxMessageSize?: number;
}

export class StreamFramer {
  readonly #max: number;
  #buf: Buffer = Buffer.alloc(0);
  /** Bytes of #buf already scanned for the end of headers (no need to rescan). */
  #scanned = 0;
  /** Body size once the header section of the current message has been found. */
  #need = -1;

  constructor(opts: FramerOptions = {}) {
    this.#max = opts.maxMessageSize ?? 65535;
  }

  /** Bytes held waiting for the rest of a message. */
  get buffered(): number {
    return this.#buf.length;
  }

  push(chunk: Buffer): FrameEvent[] {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    const out: FrameEvent[] = [];
    for (;;) {
      if (this.#need < 0) {
        // Leading CRLFs: keep-alive ping/pong (RFC 5626 §4.4.1) or stray line ends (§7.5).
        let i = 0;
        while (i < this.#buf.length && (this.#buf[i] === 0x0d || this.#buf[i] === 0x0a)) i++;
        if (i > 0) {
          if (i === this.#buf.length) {
            // Only line ends so far: a run longer than any keep-alive is a flood, not a ping.
            if (i > this.#max) throw new FrameError('SIPD_ERR_PARSE_TOO_LARGE', 'too many line ends', { status: 513 });
            // Wait for the LF of a split CRLF, and keep a lone CRLF: it may be the first half of a
            // ping split over two segments (a pong is reported once something follows it).
            if (this.#buf[i - 1] !== 0x0a || countCrlf(this.#buf, i) < 2) return out;
          }
          const crlfs = countCrlf(this.#buf, i);
          if (crlfs >= 2) out.push({ type: 'ping' });
          else if (crlfs === 1) out.push({ type: 'pong' });
          this.#buf = this.#buf.subarray(i);
          this.#scanned = 0;
        }
        if (this.#buf.length === 0) return out;
        const from = Math.max(0, this.#scanned - 3);
        const ends = findHeaderEnd(this.#buf, from);
        if (ends === undefined) {
          if (this.#buf.length > this.#max) {
            throw new FrameError('SIPD_ERR_PARSE_TOO_LARGE', 'header section too large', { status: 513 });
          }
          this.#scanned = this.#buf.length;
          return out;
        }
        const cl = contentLength(this.#buf.toString('latin1', 0, ends.headEnd));
        if (cl < 0) throw new FrameError('SIPD_ERR_PARSE_CONTENT_LENGTH', 'bad Content-Length', { header: 'Content-Length' });
        if (ends.bodyStart + cl > this.#max) {
          throw new FrameError('SIPD_ERR_PARSE_TOO_LARGE', 'message too large', { status: 513 });
        }
        this.#need = ends.bodyStart + cl;
      }
      if (this.#buf.length < this.#need) return out;
      const msg = this.#buf.subarray(0, this.#need);
      this.#buf = this.#buf.subarray(this.#need);
      if (this.#buf.length === 0) this.#buf = Buffer.alloc(0);
      else this.#buf = Buffer.from(this.#buf); // do not pin the large chunk
      this.#need = -1;
      this.#scanned = 0;
      out.push({ type: 'message', data: Buffer.from(msg) });
    }
  }
}

function countCrlf(b: Buffer, n: number): number {
  let c = 0;
  for (let i = 0; i < n; i++) if (b[i] === 0x0a) c++;
  return c;
}

/** Content-Length (or `l`) from a header section; 0 when absent (RFC 3261 §18.3 requires it on streams; absent = no body); -1 when malformed. */
function contentLength(head: string): number {
  const re = /(?:^|\n)(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*)/gi;
  let m: RegExpExecArray | null;
  let found = -2;
  while ((m = re.exec(head)) !== null) {
    const v = m[1]!.trim();
    if (!/^\d{1,10}$/.test(v)) return -1;
    const n = Number(v);
    if (found >= 0 && found !== n) return -1;
    found = n;
  }
  return found === -2 ? 0 : found;
}
