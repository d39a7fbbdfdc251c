/**
 * Building messages: responses to a request (RFC 3261 §8.2.6), and the random
 * identifiers sipd mints (branch, tag, Call-ID).
 */
import { randomBytes } from 'node:crypto';
import { SipRequest, SipResponse, type HeaderField } from './message.js';
import { reasonPhrase, safeReason } from './status.js';
import { MAGIC_COOKIE, parseVia, type Via } from './via.js';
import type { PartialMessage } from './errors.js';
import { normalizeName } from './header-names.js';
import { extractTag } from './name-addr.js';
import { splitOutside } from './split.js';

// Random bytes are drawn from a pool refilled 4 KiB at a time: one system call
// per few hundred tags/branches instead of one each.
let pool = Buffer.alloc(0);
let poolPos = 0;

/** Random token of `bytes` random bytes, base64url (safe in tokens and params). */
export function randomToken(bytes = 8): string {
  if (poolPos + bytes > pool.length) {
    pool = randomBytes(Math.max(4096, bytes));
    poolPos = 0;
  }
  const s = pool.toString('base64url', poolPos, poolPos + bytes);
  poolPos += bytes;
  return s;
}

/** A new RFC 3261 branch: magic cookie + random. */
export function newBranch(): string {
  return MAGIC_COOKIE + randomToken(9);
}

export function newTag(): string {
  return randomToken(6);
}

/**
 * A To tag that is the same for every retransmission of a request (Call-ID,
 * From tag, top Via branch), so a stateless answer (RFC 3261 §8.2.7) to a
 * retransmitted request carries the tag of the first one. Two 32-bit FNV-1a
 * hashes, hex.
 */
export function statelessTag(req: SipRequest): string {
  const s = `${req.callId}\u0000${req.fromTag ?? ''}\u0000${req.via.branch ?? ''}\u0000${req.cseq.seq}`;
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

export function newCallId(host?: string): string {
  return host ? `${randomToken(12)}@${host}` : randomToken(12);
}

export interface ResponseOptions {
  reason?: string;
  /** To tag to add when the request has none (a final response to a dialog-less request needs one). */
  toTag?: string;
  /** Extra header fields, `[name, value]`, written in this order after the copied ones. */
  headers?: ReadonlyArray<readonly [string, string]>;
  body?: Buffer;
  contentType?: string;
}

/**
 * RFC 3261 §8.2.6.2: copies Via (all, in order, as received), From, To, Call-ID,
 * CSeq; adds a To tag for responses other than 100 when the request has none;
 * Record-Route is copied for 2xx/18x to dialog-creating requests by the caller
 * (proxy/UAS), not here.
 */
export function createResponse(req: SipRequest, status: number, opts: ResponseOptions = {}): SipResponse {
  const toTag = status !== 100 && req.toTag === undefined ? (opts.toTag ?? newTag()) : undefined;
  const headers = copiedFields(req.headers, toTag);
  if (status === 100) {
    const ts = req.get('timestamp');
    if (ts !== undefined) headers.push({ name: 'timestamp', value: ts, raw: undefined }); // RFC 3261 §8.2.6.1
  }
  for (const [name, value] of opts.headers ?? []) headers.push({ name: normalizeName(name), value, raw: undefined });
  const body = opts.body ?? Buffer.alloc(0);
  if (opts.contentType !== undefined) headers.push({ name: 'content-type', value: opts.contentType, raw: undefined });
  headers.push({ name: 'content-length', value: String(body.length), raw: undefined });
  const res = new SipResponse(status, safeReason(opts.reason ?? reasonPhrase(status)), headers, body);
  res.indexEager();
  return res;
}

/**
 * A final response sipd makes up itself (a challenge, a refusal, an answer to
 * OPTIONS): the To tag derived from the request (`statelessTag`, so a
 * retransmission gets the same tag), `headers`, then `Server: server`.
 */
export function createLocalResponse(
  req: SipRequest,
  status: number,
  server: string,
  reason?: string,
  headers: ReadonlyArray<readonly [string, string]> = [],
): SipResponse {
  return createResponse(req, status, {
    toTag: statelessTag(req),
    ...(reason !== undefined ? { reason } : {}),
    headers: [...headers, ['Server', server]],
  });
}

/**
 * RFC 3261 §8.2.6.2: the fields a response copies from its request, in the
 * request's order — every Via, From, To, Call-ID, CSeq — with `toTag` added to
 * To when given.
 */
function copiedFields(fields: readonly HeaderField[], toTag: string | undefined): HeaderField[] {
  const out: HeaderField[] = [];
  for (const h of fields) {
    if (h.name === 'via' || h.name === 'from' || h.name === 'call-id' || h.name === 'cseq') out.push(h);
    else if (h.name === 'to') out.push(toTag === undefined ? h : { name: 'to', value: `${h.value};tag=${toTag}`, raw: undefined });
  }
  return out;
}

/**
 * A response to a request that did not parse completely (RFC 3261 §21.4.1 400,
 * §21.5.6 505): built from the fields read before the error. Returns undefined
 * when the request had no usable Via (then nothing can be sent: drop it) or
 * was an ACK (never answered).
 */
export function createResponseFromPartial(
  partial: PartialMessage,
  status: number,
  reason: string,
): { response: SipResponse; via: Via } | undefined {
  if (partial.kind !== 'request' || partial.method === 'ACK') return undefined;
  const viaField = partial.headers.find((h) => h.name === 'via');
  if (viaField === undefined) return undefined;
  let via: Via;
  try {
    const first = splitOutside(viaField.value)[0];
    if (first === undefined) return undefined;
    via = parseVia(first);
  } catch {
    return undefined; // a Via we cannot read gives no address to answer to
  }
  const to = partial.headers.find((h) => h.name === 'to');
  const headers = copiedFields(partial.headers, to !== undefined && extractTag(to.value) === undefined ? newTag() : undefined);
  headers.push({ name: 'content-length', value: '0', raw: undefined });
  const res = new SipResponse(status, safeReason(reason), headers, Buffer.alloc(0));
  res.via = via;
  return { response: res, via };
}
