/**
 * Transport-level types shared by the transport, transaction and upper layers.
 * A `Flow` says where a message came from (and, for TCP, on which connection);
 * a `Destination` says where to send one. Upper layers never see sockets.
 */
import type { AnyMessage } from '../sip/message.js';

export type Proto = 'udp' | 'tcp';

export interface Address {
  /** IP address without brackets. */
  readonly address: string;
  readonly port: number;
  readonly family: 4 | 6;
}

export interface Flow {
  readonly proto: Proto;
  /** The sipd socket the message arrived on. */
  readonly local: Address;
  /** The peer's address as seen by the socket. */
  readonly remote: Address;
  /** TCP connection id (stable for the connection's life); undefined for UDP. */
  readonly connId: number | undefined;
}

export interface Destination {
  readonly proto: Proto;
  readonly address: string;
  readonly port: number;
  /** Prefer this TCP connection while it is open (RFC 3261 §18.2.2, RFC 5626 flows). */
  readonly connId?: number | undefined;
}

/** What a transport delivers upwards: one parsed message with its flow. */
export interface Inbound {
  readonly msg: AnyMessage;
  readonly flow: Flow;
}

/** The sending side that the transaction layer and the proxy use. */
export interface Transport {
  /**
   * Serializes and sends `msg`. Failures (connection refused, no route, closed
   * connection) are reported through `onError`, never thrown: a transaction
   * turns them into its transport-error event (RFC 3261 §17.1.4).
   */
  send(msg: AnyMessage, dest: Destination, onError?: (err: Error) => void): void;
  /** True for transports where sipd must not retransmit (TCP). */
  isReliable(proto: Proto): boolean;
}

export function isReliable(proto: Proto): boolean {
  return proto !== 'udp';
}

export function formatAddress(a: { address: string; port: number }): string {
  return a.address.includes(':') ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}
