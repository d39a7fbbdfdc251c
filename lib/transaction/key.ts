/**
 * Transaction matching keys. Matching is a hash lookup on a string key
 * (DESIGN §6), never a scan:
 * - client side (RFC 3261 §17.1.3): top-Via branch + CSeq method of the response;
 * - server side (§17.2.3): branch + sent-by + method, where an ACK looks for the
 *   INVITE transaction; a CANCEL has its own transaction and finds the INVITE it
 *   cancels with the same branch and method INVITE (§9.2);
 * - RFC 2543 fallback (§17.2.3), when the branch lacks the magic cookie:
 *   Request-URI, From tag, Call-ID, CSeq number and method, top Via. The To tag is
 *   checked after the lookup ({@link legacyToTagMatches}) because an ACK carries the
 *   tag of the response, which the key of the INVITE cannot know.
 */
import type { SipRequest, SipResponse } from '../sip/message.js';
import { MAGIC_COOKIE } from '../sip/via.js';

const SEP = '\x00';

/** RFC 3261 §8.1.1.7: a branch minted by an RFC 3261 element starts with the magic cookie. */
export function isRfc3261Branch(branch: string | undefined): branch is string {
  return branch !== undefined && branch.length > MAGIC_COOKIE.length && branch.startsWith(MAGIC_COOKIE);
}

/** §17.2.3: the method a request is matched on (an ACK belongs to the INVITE transaction). */
export function matchMethod(method: string): string {
  return method === 'ACK' ? 'INVITE' : method;
}

/** RFC 3261 §17.1.3: branch + CSeq method. */
export function clientKey(branch: string, cseqMethod: string): string {
  return branch + SEP + cseqMethod;
}

/** The client key a response matches, or undefined when its top Via has no branch. */
export function responseKey(res: SipResponse): string | undefined {
  const b = res.via.branch;
  return b === undefined ? undefined : clientKey(b, res.cseq.method);
}

/**
 * RFC 3261 §17.2.3 key of a request whose branch has the magic cookie, or
 * undefined (then use {@link legacyKey}). `method` overrides the matched method
 * (CANCEL → INVITE to find the transaction it cancels).
 */
export function serverKey(req: SipRequest, method: string = matchMethod(req.method)): string | undefined {
  const v = req.via;
  if (!isRfc3261Branch(v.branch)) return undefined;
  return v.branch + SEP + v.host.toLowerCase() + ':' + (v.port ?? '') + SEP + method;
}

/** The top Via compared as a whole (§20.42: protocol, sent-by and every parameter). */
function viaIdentity(req: SipRequest): string {
  const v = req.via;
  let s = `${v.transport}/${v.host.toLowerCase()}:${v.port ?? ''}`;
  for (const [k, val] of v.params) s += `;${k.toLowerCase()}=${val ?? ''}`;
  return s;
}

/** RFC 3261 §17.2.3 fallback for RFC 2543 requests (no magic cookie); the To tag is checked separately. */
export function legacyKey(req: SipRequest, method: string = matchMethod(req.method)): string {
  return [req.uri, req.fromTag ?? '', req.callId, String(req.cseq.seq), method, viaIdentity(req)].join(SEP);
}

/**
 * The To-tag part of the RFC 2543 rule: a request (INVITE retransmission, CANCEL)
 * carries the To tag of the original request; an ACK carries the To tag of the
 * response it acknowledges.
 */
export function legacyToTagMatches(
  candidate: SipRequest,
  original: SipRequest,
  lastResponse: SipResponse | undefined,
): boolean {
  if (candidate.method === 'ACK' && original.method !== 'ACK') {
    const expected = lastResponse?.toTag ?? original.toTag;
    return candidate.toTag === expected;
  }
  return candidate.toTag === original.toTag;
}
