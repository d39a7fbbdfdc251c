/**
 * Via processing on the receiving side (RFC 3261 §18.2.1, RFC 3581 §4) and the
 * response destination (RFC 3261 §18.2.2, RFC 3581 §4). Pure functions over the
 * parsed message and its flow.
 */
import type { SipRequest } from '../sip/message.js';
import { bareHost } from '../sip/uri.js';
import { formatVia, stampViaText, viaParamText, type Via } from '../sip/via.js';
import type { Destination, Flow } from './types.js';

/**
 * The top Via as §18.2.1 wants it: `received` added when the sent-by host differs
 * from the source address, an empty `rport` filled in (RFC 3581 §4: then
 * `received` is always added). Returns undefined when nothing changes.
 */
export function stampedVia(v: Via, flow: Flow): Via | undefined {
  const src = flow.remote.address;
  const needRport = v.rport === null;
  const needReceived = needRport || bareHost(v.host) !== src.toLowerCase();
  if (!needReceived) return undefined;
  const params = new Map(v.params);
  params.set('received', src);
  if (needRport) params.set('rport', String(flow.remote.port));
  return { ...v, params, received: src, rport: needRport ? flow.remote.port : v.rport };
}

/**
 * Applies {@link stampedVia} to a request: rewrites only the top Via element;
 * other fields keep their raw bytes.
 */
export function stampVia(req: SipRequest, flow: Flow): void {
  const v = req.via;
  const text = viaParamText(v);
  if (text !== undefined) {
    const src = flow.remote.address;
    const needRport = v.rport === null;
    if (!needRport && bareHost(v.host) === src.toLowerCase()) return;
    const st = stampViaText(v, text, src, needRport ? flow.remote.port : undefined);
    req.replaceTopVia(st.text, st.via);
    return;
  }
  const s = stampedVia(v, flow);
  if (s === undefined) return;
  req.shift('via');
  req.prepend('via', formatVia(s));
}

/**
 * Where a response goes (RFC 3261 §18.2.2 with RFC 3581): reliable transports
 * reuse the connection the request came on; otherwise maddr, then
 * received+rport, then received + sent-by port, then sent-by.
 */
export function responseDestinationFor(v: Via, flow: Flow): Destination {
  const proto = flow.proto;
  if (proto === 'tcp') {
    const host = v.received !== undefined ? bareHost(v.received) : flow.remote.address;
    const port = typeof v.rport === 'number' ? v.rport : flow.remote.port;
    return { proto, address: host, port, connId: flow.connId };
  }
  if (v.maddr !== undefined) return { proto, address: bareHost(v.maddr), port: v.port ?? 5060 };
  if (v.received !== undefined) {
    const port = typeof v.rport === 'number' ? v.rport : (v.port ?? 5060);
    return { proto, address: bareHost(v.received), port };
  }
  return { proto, address: bareHost(v.host), port: v.port ?? 5060 };
}

/** {@link responseDestinationFor} for a request whose top Via was already stamped. */
export function responseDestination(req: SipRequest, flow: Flow): Destination {
  return responseDestinationFor(req.via, flow);
}
