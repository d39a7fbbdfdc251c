/**
 * A `Transport` for tests (pjsip's loop transport): records every send, and can
 * fail sends (synchronously or on the next microtask), drop them, or hand them to
 * a peer as if they had crossed the wire (serialized and parsed again).
 */
import type { AnyMessage, SipRequest, SipResponse } from '../../lib/sip/message.js';
import { parseMessage } from '../../lib/sip/parse.js';
import type { Destination, Flow, Proto, Transport } from '../../lib/transport/types.js';

export interface Sent {
  readonly msg: AnyMessage;
  readonly dest: Destination;
}

export class MemoryTransport implements Transport {
  readonly sent: Sent[] = [];
  /** Report every send as failed through `onError`. */
  fail: boolean | Error = false;
  /** With `fail`: report the error on a microtask instead of inside `send`. */
  failAsync = false;
  /** Record sends but do not deliver them to `peer`. */
  drop = false;
  /** Overrides which protocols count as reliable (default: everything but UDP). */
  reliable: ((proto: Proto) => boolean) | undefined;
  /** Receives a re-parsed copy of every message that is not dropped. */
  peer: ((msg: AnyMessage, dest: Destination) => void) | undefined;

  send(msg: AnyMessage, dest: Destination, onError?: (err: Error) => void): void {
    this.sent.push({ msg, dest });
    if (this.fail !== false) {
      const err = this.fail === true ? new Error('memory transport: send failed') : this.fail;
      if (this.failAsync) queueMicrotask(() => onError?.(err));
      else onError?.(err);
      return;
    }
    if (!this.drop && this.peer !== undefined) this.peer(wire(msg), dest);
  }

  isReliable(proto: Proto): boolean {
    return this.reliable !== undefined ? this.reliable(proto) : proto !== 'udp';
  }

  /** Sent requests (optionally of one method). */
  requests(method?: string): SipRequest[] {
    const out: SipRequest[] = [];
    for (const s of this.sent) if (s.msg.isRequest && (method === undefined || s.msg.method === method)) out.push(s.msg);
    return out;
  }

  /** Sent responses (optionally with one status). */
  responses(status?: number): SipResponse[] {
    const out: SipResponse[] = [];
    for (const s of this.sent) if (!s.msg.isRequest && (status === undefined || s.msg.status === status)) out.push(s.msg);
    return out;
  }

  /** Start lines of everything sent, in order: `INVITE`, `100`, `ACK`... (compact assertions). */
  log(): string[] {
    return this.sent.map((s) => (s.msg.isRequest ? s.msg.method : String(s.msg.status)));
  }

  clear(): void {
    this.sent.length = 0;
  }
}

/** A message as the far end would see it: serialized and parsed again. */
export function wire<T extends AnyMessage>(msg: T): T {
  return parseMessage(msg.serialize()) as T;
}

/** A flow for tests. */
export function testFlow(proto: Proto = 'udp', remote = { address: '192.0.2.10', port: 5060 }, connId?: number): Flow {
  return {
    proto,
    local: { address: '192.0.2.1', port: 5060, family: 4 },
    remote: { address: remote.address, port: remote.port, family: 4 },
    connId: proto === 'udp' ? undefined : (connId ?? 1),
  };
}
