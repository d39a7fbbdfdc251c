/**
 * Record-Route flow tokens (after RFC 5626 §5.3, and Kamailio's `ftag`).
 *
 * sipd record-routes every dialog it proxies. The user part of its
 * Record-Route URI carries a token with the two flows of the dialog — where
 * the caller's requests came from and where the callee was reached — and the
 * caller's From tag, signed with a server secret and bound to the Call-ID:
 *
 *     <sip:TOKEN@192.0.2.1:5060;lr>        TOKEN = base64url(payload) "." mac
 *
 * An in-dialog request that routes through sipd goes to the flow on the other
 * side (the From tag tells the direction), not to the Request-URI: a phone
 * behind NAT that put a private Contact into its INVITE or 200 OK stays
 * reachable, over the same TCP connection while it is open. A request whose
 * token does not verify is not relayed at all, so sipd is no open relay for
 * forged in-dialog requests.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { Destination, Proto } from '../transport/types.js';
import { detach } from '../util/strings.js';
import { KeyFifo } from '../util/fifo.js';

/** One side of a dialog: where its requests come from / where it is reached. */
export interface FlowRef {
  readonly proto: Proto;
  readonly address: string;
  readonly port: number;
  /** TCP connection id (valid while that connection is open, in this process). */
  readonly connId?: number | undefined;
}

export interface DialogRoute {
  /** From tag of the dialog-creating request (the caller's side). */
  readonly ftag: string;
  readonly caller: FlowRef;
  readonly callee: FlowRef;
}

const MAC_BYTES = 12;
/** Tokens minted or verified lately, so the ACK and BYE of a call cost no HMAC (bounded, oldest dropped first). */
const CACHE_SIZE = 8192;

export class FlowTokens {
  readonly #key: Buffer;
  readonly #cache = new Map<string, DialogRoute>();
  /** The cache's keys, oldest first (see KeyFifo: a Map's own iterator is slow at evicting). */
  readonly #order = new KeyFifo<string>();

  constructor(secret: Uint8Array) {
    if (secret.length < 16) throw new RangeError('the flow-token secret needs at least 16 bytes');
    this.#key = Buffer.from(secret);
  }

  /** The user part for a Record-Route of the dialog `callId`. */
  encode(callId: string, route: DialogRoute): string {
    const payload = `${route.ftag}|${flowText(route.caller)}|${flowText(route.callee)}`;
    const token = `${Buffer.from(payload, 'latin1').toString('base64url')}.${this.#mac(callId, payload).toString('base64url')}`;
    // Remember it as decode() would read it (a flow decode() refuses is never cached).
    const caller = parseFlow(flowText(route.caller));
    const callee = parseFlow(flowText(route.callee));
    if (caller !== undefined && callee !== undefined && !route.ftag.includes('|')) {
      this.#remember(`${callId}\u0000${token}`, { ftag: detach(route.ftag), caller, callee });
    }
    return token;
  }

  /** The dialog route in `token`, or undefined when it is malformed or not ours for this Call-ID. */
  decode(callId: string, token: string): DialogRoute | undefined {
    const cached = this.#cache.get(`${callId}\u0000${token}`);
    if (cached !== undefined) return cached;
    const dot = token.indexOf('.');
    if (dot <= 0 || token.length > 512) return undefined;
    const payload = Buffer.from(token.slice(0, dot), 'base64url').toString('latin1');
    const mac = Buffer.from(token.slice(dot + 1), 'base64url');
    if (mac.length !== MAC_BYTES || !timingSafeEqual(mac, this.#mac(callId, payload))) return undefined;
    const parts = payload.split('|');
    if (parts.length !== 3) return undefined;
    const caller = parseFlow(parts[1]!);
    const callee = parseFlow(parts[2]!);
    if (caller === undefined || callee === undefined) return undefined;
    const route = { ftag: parts[0]!, caller, callee };
    this.#remember(`${callId}\u0000${token}`, route);
    return route;
  }

  #remember(key: string, route: DialogRoute): void {
    if (!this.#cache.has(key)) {
      if (this.#cache.size >= CACHE_SIZE) this.#cache.delete(this.#order.shift()!);
      // The Call-ID in the key is a slice of the INVITE's text: a copy keeps the
      // cache from holding 8,192 whole packets (about 6 MB) alive.
      key = detach(key);
      this.#order.push(key);
    }
    this.#cache.set(key, route);
  }

  #mac(callId: string, payload: string): Buffer {
    return createHmac('sha256', this.#key).update(callId, 'latin1').update('\u0000').update(payload, 'latin1').digest().subarray(0, MAC_BYTES);
  }
}

function flowText(f: FlowRef): string {
  return `${f.proto === 'tcp' ? 't' : 'u'}${f.address}~${f.port}~${f.connId ?? ''}`;
}

function parseFlow(s: string): FlowRef | undefined {
  const m = /^([ut])([0-9A-Fa-f.:]+)~(\d{1,5})~(\d*)$/.exec(s);
  if (m === null) return undefined;
  const port = Number(m[3]);
  if (port === 0 || port > 65535) return undefined;
  const proto: Proto = m[1] === 't' ? 'tcp' : 'udp';
  return m[4] !== '' ? { proto, address: m[2]!, port, connId: Number(m[4]) } : { proto, address: m[2]!, port };
}

export function flowDestination(f: FlowRef): Destination {
  return f.connId !== undefined ? { proto: f.proto, address: f.address, port: f.port, connId: f.connId } : { proto: f.proto, address: f.address, port: f.port };
}
