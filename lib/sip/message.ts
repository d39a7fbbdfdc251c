/**
 * The SIP message model (RFC 3261 §7). A message keeps every header field as
 * received (`raw`) beside its unfolded value; `serialize()` writes untouched
 * fields byte for byte and re-encodes only fields that were added or changed
 * (resiprocate's DIRTY rule). The fields every message needs for transaction
 * matching and routing (top Via, Call-ID, CSeq, From/To tags, Max-Forwards,
 * Content-Length) are parsed eagerly; everything else on demand.
 *
 * Strings are latin1: one character per byte, so re-encoding is exact. Use
 * {@link latin1ToUtf8} to show a display name to a person.
 */
import { canonicalName, LIST_HEADERS, normalizeName } from './header-names.js';
import { parseNameAddr, extractTag, type NameAddr } from './name-addr.js';
import { splitOutside } from './split.js';
import { parseUri, type SipUri } from './uri.js';
import { parseVia, type Via } from './via.js';
import { SipParseError } from './errors.js';

export interface HeaderField {
  /** Lower-case long name (`v` → `via`). */
  readonly name: string;
  /** Value with folding undone and outer blanks trimmed. */
  readonly value: string;
  /** The field exactly as received (name, colon, value, folding), without the final CRLF; undefined when created or changed here. */
  readonly raw: string | undefined;
}

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** Headers whose value `indexEager` reads into fields (Content-Length is checked by the parser and rewritten by serialize). */
const EAGER = new Set(['via', 'call-id', 'cseq', 'from', 'to', 'max-forwards']);

export abstract class SipMessage {
  headers: HeaderField[];
  body: Buffer;

  /** Top Via (first element of the first Via field). */
  via!: Via;
  callId!: string;
  cseq!: CSeq;
  fromTag: string | undefined;
  toTag: string | undefined;
  /** undefined when absent. */
  maxForwards: number | undefined;

  #cache: Map<string, unknown> | undefined;
  /** The exact bytes this message was parsed from, while it is unchanged (see {@link serialize}). */
  #source: Buffer | undefined;
  #sourceHeaders: HeaderField[] | undefined;
  #sourceCount = 0;
  #sourceBody: Buffer | undefined;
  /** The start line's two variable parts when the source was set (method and URI, or status and reason). */
  #sourceA: string | number | undefined;
  #sourceB: string | undefined;

  constructor(headers: HeaderField[], body: Buffer) {
    this.headers = headers;
    this.body = body;
  }

  abstract readonly isRequest: boolean;
  abstract startLine(): string;

  /** First field value of `name` (any case, compact forms accepted), or undefined. */
  get(name: string): string | undefined {
    const n = normalizeName(name);
    for (const h of this.headers) if (h.name === n) return h.value;
    return undefined;
  }

  has(name: string): boolean {
    return this.get(name) !== undefined;
  }

  /** Every value of `name`, list headers split into elements (RFC 3261 §7.3.1). */
  getAll(name: string): string[] {
    const n = normalizeName(name);
    const out: string[] = [];
    const list = LIST_HEADERS.has(n);
    for (const h of this.headers) {
      if (h.name !== n) continue;
      if (list) for (const v of splitOutside(h.value)) out.push(v);
      else out.push(h.value);
    }
    return out;
  }

  /** `getAll(name)[0]` without splitting every field. */
  firstOf(name: string): string | undefined {
    const n = normalizeName(name);
    const list = LIST_HEADERS.has(n);
    for (const h of this.headers) {
      if (h.name !== n) continue;
      if (!list) return h.value;
      if (h.value.indexOf(',') < 0) {
        const v = h.value.trim();
        if (v.length > 0) return v;
        continue;
      }
      const parts = splitOutside(h.value);
      if (parts.length > 0) return parts[0];
    }
    return undefined;
  }

  /** Replaces every field of `name` by one field with `value` (at the first one's place, else appended). */
  set(name: string, value: string): this {
    const n = normalizeName(name);
    const field: HeaderField = { name: n, value, raw: undefined };
    const idx = this.headers.findIndex((h) => h.name === n);
    if (idx < 0) this.headers.push(field);
    else {
      this.headers = this.headers.filter((h, i) => i === idx || h.name !== n);
      this.headers[idx] = field;
    }
    this.#changed(n);
    return this;
  }

  /** Adds a field before the first field of the same name (Via, Record-Route), else at the top for Via, else at the end. */
  prepend(name: string, value: string): this {
    const n = normalizeName(name);
    const field: HeaderField = { name: n, value, raw: undefined };
    const idx = this.headers.findIndex((h) => h.name === n);
    if (idx >= 0) this.headers.splice(idx, 0, field);
    else if (n === 'via') this.headers.unshift(field);
    else this.headers.push(field);
    this.#changed(n);
    return this;
  }

  append(name: string, value: string): this {
    const n = normalizeName(name);
    this.headers.push({ name: n, value, raw: undefined });
    this.#changed(n);
    return this;
  }

  remove(name: string): this {
    const n = normalizeName(name);
    this.headers = this.headers.filter((h) => h.name !== n);
    this.#changed(n);
    return this;
  }

  /**
   * Removes the first element of a list header (the top Via, the first Route),
   * keeping the rest of that field. Returns the removed element.
   */
  shift(name: string): string | undefined {
    const n = normalizeName(name);
    const idx = this.headers.findIndex((h) => h.name === n);
    if (idx < 0) return undefined;
    const parts = splitOutside(this.headers[idx]!.value);
    const first = parts.shift();
    if (parts.length === 0) this.headers.splice(idx, 1);
    else this.headers[idx] = { name: n, value: parts.join(', '), raw: undefined };
    this.#changed(n);
    return first;
  }

  /**
   * `shift('via')` then `prepend('via', value)`, with `via` the parsed form of
   * `value` (so the top Via is not parsed again).
   */
  replaceTopVia(value: string, via: Via): void {
    const hs = this.headers;
    let idx = -1;
    for (let i = 0; i < hs.length; i++) {
      if (hs[i]!.name === 'via') {
        idx = i;
        break;
      }
    }
    if (idx < 0 || hs[idx]!.value.indexOf(',') >= 0) {
      this.shift('via');
      this.prepend('via', value);
      return;
    }
    // A single-element field: it goes; the new one lands before the next Via field, else at the top.
    const field: HeaderField = { name: 'via', value, raw: undefined };
    let next = -1;
    for (let i = idx + 1; i < hs.length; i++) {
      if (hs[i]!.name === 'via') {
        next = i;
        break;
      }
    }
    if (next < 0 && idx === 0) hs[0] = field;
    else {
      hs.splice(idx, 1);
      if (next < 0) hs.unshift(field);
      else hs.splice(next - 1, 0, field);
    }
    this.#source = undefined;
    this.#forget('via');
    this.via = via;
  }

  /** Sets the body and its Content-Length (and Content-Type when given). */
  setBody(body: Buffer, contentType?: string): this {
    this.#source = undefined;
    this.body = body;
    if (contentType !== undefined) this.set('content-type', contentType);
    this.set('content-length', String(body.length));
    return this;
  }

  /** From header, parsed on first use (throws SipParseError, cached, when malformed). */
  from(): NameAddr {
    return this.#parsed('from', () => parseNameAddr(this.get('from') ?? ''));
  }

  to(): NameAddr {
    return this.#parsed('to', () => parseNameAddr(this.get('to') ?? ''));
  }

  /** Contacts (`*` is returned as the string '*'). */
  contacts(): Array<NameAddr | '*'> {
    return this.#parsed('contact', () =>
      this.getAll('contact').map((c) => (c.trim() === '*' ? '*' : parseNameAddr(c))),
    );
  }

  /** Every Via element, parsed. */
  vias(): Via[] {
    return this.#parsed('via*', () => this.getAll('via').map(parseVia));
  }

  /** Parses a header with the given parser once and caches the result or the error. */
  protected parsedHeader<T>(key: string, fn: () => T): T {
    return this.#parsed(key, fn);
  }

  #parsed<T>(key: string, fn: () => T): T {
    this.#cache ??= new Map<string, unknown>();
    const c = this.#cache.get(key) as { v?: T; e?: unknown } | undefined;
    if (c !== undefined) {
      if ('e' in c) throw c.e;
      return c.v as T;
    }
    try {
      const v = fn();
      this.#cache!.set(key, { v });
      return v;
    } catch (e) {
      this.#cache!.set(key, { e });
      throw e;
    }
  }

  /**
   * Parser hook (and `serialize()`'s own cache): `bytes` are exactly this message as received (start line to
   * the end of the body, CRLF line ends, a Content-Length that matches). While
   * nothing changes, `serialize()` returns them as they are.
   */
  setSource(bytes: Buffer): void {
    this.#source = bytes;
    this.#sourceHeaders = this.headers;
    this.#sourceCount = this.headers.length;
    this.#sourceBody = this.body;
    this.#sourceA = this.lineA();
    this.#sourceB = this.lineB();
  }

  /** Method or status: with {@link lineB}, what the start line is made of (compared without building it). */
  protected abstract lineA(): string | number;
  /** Request-URI or reason phrase. */
  protected abstract lineB(): string;

  #changed(n: string): void {
    this.#source = undefined;
    this.#forget(n);
    if (EAGER.has(n)) this.indexEager(n);
  }

  #forget(n: string): void {
    if (this.#cache !== undefined && this.#cache.size > 0) {
      for (const k of [...this.#cache.keys()]) if (k === n || k.startsWith(`${n}*`)) this.#cache.delete(k);
    }
  }

  /** (Re)computes the eagerly parsed fields; `only` limits it to one header. */
  indexEager(only?: string): number {
    // One pass over the fields: the first value of each eagerly parsed header.
    let via: string | undefined;
    let callId: string | undefined;
    let cseq: string | undefined;
    let from: string | undefined;
    let to: string | undefined;
    let mf: string | undefined;
    for (const h of this.headers) {
      const n = h.name;
      if (only !== undefined && n !== only) continue;
      if (n === 'via') via ??= h.value;
      else if (n === 'call-id') callId ??= h.value;
      else if (n === 'cseq') cseq ??= h.value;
      else if (n === 'from') from ??= h.value;
      else if (n === 'to') to ??= h.value;
      else if (n === 'max-forwards') mf ??= h.value;
    }
    const all = only === undefined;
    if (all || only === 'via') {
      if (via !== undefined) {
        const first = via.indexOf(',') < 0 ? via : splitOutside(via)[0];
        if (first === undefined) throw new SipParseError('SIPD_ERR_PARSE_VIA', 'empty Via', { header: 'Via' });
        this.via = parseVia(first);
      }
    }
    if ((all || only === 'call-id') && callId !== undefined) this.callId = callId;
    if ((all || only === 'cseq') && cseq !== undefined) this.cseq = parseCSeq(cseq);
    if (all || only === 'from') this.fromTag = from === undefined ? undefined : extractTag(from);
    if (all || only === 'to') this.toTag = to === undefined ? undefined : extractTag(to);
    if (all || only === 'max-forwards') {
      if (mf === undefined) this.maxForwards = undefined;
      else {
        // 1*DIGIT (RFC 3261 §20.22): leading zeros are allowed (RFC 4475 §3.1.1.1 `0068`).
        const n = mf.length > 0 && mf.length <= 10 ? Number(mf) : NaN;
        if (!(n >= 0 && n <= 255) || !isDigits(mf)) {
          throw new SipParseError('SIPD_ERR_PARSE_MAX_FORWARDS', 'bad Max-Forwards', { header: 'Max-Forwards' });
        }
        this.maxForwards = n;
      }
    }
    // Bit mask of the mandatory fields present: via 1, from 2, to 4, call-id 8, cseq 16.
    return (via !== undefined ? 1 : 0) | (from !== undefined ? 2 : 0) | (to !== undefined ? 4 : 0) | (callId !== undefined ? 8 : 0) | (cseq !== undefined ? 16 : 0);
  }


  /**
   * Writes the message: untouched fields as received, changed ones re-encoded;
   * Content-Length always matches the body. A message not changed since it was
   * parsed (through the mutation API, `body`, or the start-line fields) is
   * returned as the very bytes received; a built one, once written, as the same Buffer
   * until it changes. The returned Buffer must not be modified.
   */
  serialize(): Buffer {
    const src = this.#source;
    if (
      src !== undefined &&
      this.headers === this.#sourceHeaders &&
      this.headers.length === this.#sourceCount &&
      this.body === this.#sourceBody &&
      this.lineA() === this.#sourceA &&
      this.lineB() === this.#sourceB
    ) {
      return src; // untouched since parsing (or since the last serialize): the same bytes
    }
    let head = this.startLine() + '\r\n';
    let sawLength = false;
    const bodyLen = this.body.length;
    for (const h of this.headers) {
      if (h.name === 'content-length') {
        if (sawLength) continue;
        sawLength = true;
        if (h.raw !== undefined && Number(h.value) === bodyLen) head += h.raw + '\r\n';
        else head += `Content-Length: ${bodyLen}\r\n`;
        continue;
      }
      head += (h.raw ?? `${canonicalName(h.name)}: ${h.value}`) + '\r\n';
    }
    if (!sawLength) head += `Content-Length: ${bodyLen}\r\n`;
    head += '\r\n';
    let out: Buffer;
    if (bodyLen === 0) out = Buffer.from(head, 'latin1');
    else {
      out = Buffer.allocUnsafe(head.length + bodyLen);
      out.write(head, 0, 'latin1');
      this.body.copy(out, head.length);
    }
    // Kept until the next change: a response sent and then parked, or retransmitted, is written once.
    this.setSource(out);
    return out;
  }

  toString(): string {
    return this.serialize().toString('latin1');
  }

  /** One-line summary for logs: method/status, Call-ID, CSeq, branch. */
  summary(): string {
    const first = this.isRequest ? (this as unknown as SipRequest).method : String((this as unknown as SipResponse).status);
    return `${first} cseq=${this.cseq?.seq ?? '?'} ${this.cseq?.method ?? ''} call-id=${this.callId ?? '?'} branch=${this.via?.branch ?? '-'}`;
  }
}

export class SipRequest extends SipMessage {
  readonly isRequest = true as const;
  method: string;
  /** Request-URI text. Use {@link requestUri} for the parsed form. */
  uri: string;

  constructor(method: string, uri: string, headers: HeaderField[], body: Buffer) {
    super(headers, body);
    this.method = method;
    this.uri = uri;
  }

  startLine(): string {
    return `${this.method} ${this.uri} SIP/2.0`;
  }

  protected lineA(): string {
    return this.method;
  }

  protected lineB(): string {
    return this.uri;
  }

  /**
   * The copy a proxy forwards (§16.6): what `new SipRequest(method, uri,
   * headers.slice(), body)` followed by `set('max-forwards', …)` and
   * `prepend('via', viaText)` gives, with the eagerly parsed fields carried
   * over instead of parsed again (`via` is `viaText` parsed).
   */
  forwardCopy(uri: string, maxForwards: number, viaText: string, via: Via): SipRequest {
    const src = this.headers;
    const hs: HeaderField[] = [];
    const mf: HeaderField = { name: 'max-forwards', value: String(maxForwards), raw: undefined };
    let sawMf = false;
    let sawVia = false;
    for (let i = 0; i < src.length; i++) {
      const h = src[i]!;
      if (h.name === 'max-forwards') {
        if (sawMf) continue;
        sawMf = true;
        hs.push(mf);
        continue;
      }
      if (h.name === 'via' && !sawVia) {
        sawVia = true;
        hs.push({ name: 'via', value: viaText, raw: undefined });
      }
      hs.push(h);
    }
    if (!sawMf) hs.push(mf);
    if (!sawVia) hs.unshift({ name: 'via', value: viaText, raw: undefined });
    const out = new SipRequest(this.method, uri, hs, this.body);
    out.via = via;
    out.callId = this.callId;
    out.cseq = this.cseq;
    out.fromTag = this.fromTag;
    out.toTag = this.toTag;
    out.maxForwards = maxForwards;
    return out;
  }

  /** Parsed Request-URI (throws SipParseError, cached, when malformed). */
  requestUri(): SipUri {
    return this.parsedHeader(`ruri:${this.uri}`, () => parseUri(this.uri));
  }
}

export class SipResponse extends SipMessage {
  readonly isRequest = false as const;
  status: number;
  reason: string;

  constructor(status: number, reason: string, headers: HeaderField[], body: Buffer) {
    super(headers, body);
    this.status = status;
    this.reason = reason;
  }

  startLine(): string {
    return `SIP/2.0 ${this.status} ${this.reason}`;
  }

  protected lineA(): number {
    return this.status;
  }

  protected lineB(): string {
    return this.reason;
  }
}

export type AnyMessage = SipRequest | SipResponse;

function isDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return s.length > 0;
}

const KNOWN_CSEQ_METHODS = new Set(['INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE']);

const CSEQ_RE = /^(\d{1,10})\s+([A-Za-z0-9\-.!%*_+`'~]+)$/;

/** RFC 3261 §20.16: `CSeq: 4711 INVITE`, sequence number below 2**31. */
export function parseCSeq(v: string): CSeq {
  // Fast path: digits, one space, a method token.
  const sp = v.indexOf(' ');
  if (sp > 0 && sp <= 10) {
    let ok = true;
    for (let i = 0; i < sp; i++) {
      const c = v.charCodeAt(i);
      if (c < 0x30 || c > 0x39) {
        ok = false;
        break;
      }
    }
    const method = v.slice(sp + 1);
    if (ok && method.length > 0 && KNOWN_CSEQ_METHODS.has(method)) {
      const seq = Number(v.slice(0, sp));
      if (seq < 2 ** 31) return { seq, method };
    }
  }
  const m = CSEQ_RE.exec(v);
  if (m === null) throw new SipParseError('SIPD_ERR_PARSE_CSEQ', 'malformed CSeq', { header: 'CSeq' });
  const seq = Number(m[1]);
  if (seq >= 2 ** 31) throw new SipParseError('SIPD_ERR_PARSE_CSEQ', 'CSeq number out of range', { header: 'CSeq' });
  return { seq, method: m[2]! };
}

/** Decodes latin1-held bytes as UTF-8 (display names, reason phrases for people). */
export function latin1ToUtf8(s: string): string {
  return Buffer.from(s, 'latin1').toString('utf8');
}
