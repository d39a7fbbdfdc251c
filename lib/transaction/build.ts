/**
 * Requests the transaction layer derives from an INVITE: the ACK for a non-2xx
 * final response (RFC 3261 §17.1.1.3), which the INVITE client transaction sends
 * itself, and CANCEL (§9.1), which the TU or proxy builds and sends in its own
 * non-INVITE client transaction. Both reuse the INVITE's header fields as
 * received, so the copied values stay byte-identical on the wire.
 */
import { SipRequest, type HeaderField, type SipResponse } from '../sip/message.js';

function first(req: SipRequest, name: string): HeaderField | undefined {
  for (const h of req.headers) if (h.name === name) return h;
  return undefined;
}

/** The top Via element as one field: the INVITE's own field when it holds a single element. */
function topViaField(req: SipRequest): HeaderField {
  const f = first(req, 'via');
  const top = req.getAll('via')[0];
  if (f !== undefined && top !== undefined && f.value === top) return f;
  return { name: 'via', value: top ?? '', raw: undefined };
}

function derive(
  invite: SipRequest,
  method: 'ACK' | 'CANCEL',
  to: HeaderField | undefined,
  extra: ReadonlyArray<readonly [string, string]>,
): SipRequest {
  const headers: HeaderField[] = [topViaField(invite)];
  headers.push({ name: 'max-forwards', value: String(invite.maxForwards ?? 70), raw: undefined });
  for (const h of invite.headers) if (h.name === 'route') headers.push(h);
  if (to !== undefined) headers.push(to);
  const from = first(invite, 'from');
  if (from !== undefined) headers.push(from);
  headers.push({ name: 'call-id', value: invite.callId, raw: undefined });
  headers.push({ name: 'cseq', value: `${invite.cseq.seq} ${method}`, raw: undefined });
  for (const [name, value] of extra) headers.push({ name: name.toLowerCase(), value, raw: undefined });
  headers.push({ name: 'content-length', value: '0', raw: undefined });
  const req = new SipRequest(method, invite.uri, headers, Buffer.alloc(0));
  req.indexEager();
  return req;
}

/**
 * RFC 3261 §9.1: a CANCEL for `invite` with the same Request-URI, Call-ID, To,
 * From and CSeq number (method CANCEL), only the INVITE's top Via (same branch),
 * its Route header fields and its Max-Forwards. `headers` adds fields such as
 * `Reason` (RFC 3326). Send it with `TransactionLayer.sendRequest` to the
 * INVITE's destination, or use `ClientTransaction.cancel()`.
 */
export function buildCancel(invite: SipRequest, headers: ReadonlyArray<readonly [string, string]> = []): SipRequest {
  return derive(invite, 'CANCEL', first(invite, 'to'), headers);
}

/**
 * RFC 3261 §17.1.1.3: the ACK for a 300–699 response to `invite`: Request-URI,
 * Call-ID, From, top Via, Route and CSeq number of the INVITE, the To field of
 * the response (it carries the tag).
 */
export function buildAckForNon2xx(invite: SipRequest, response: SipResponse): SipRequest {
  let to: HeaderField | undefined;
  for (const h of response.headers) {
    if (h.name === 'to') {
      to = h;
      break;
    }
  }
  return derive(invite, 'ACK', to ?? first(invite, 'to'), []);
}
