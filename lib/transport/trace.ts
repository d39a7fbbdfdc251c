/**
 * Message tracing for `-d` through `node:diagnostics_channel` (as undici does):
 * the transport publishes every message in and out; nobody pays anything
 * unless the CLI subscribes.
 */
import diagnostics from 'node:diagnostics_channel';
import type { Proto } from './types.js';

export interface TraceEvent {
  readonly direction: 'in' | 'out';
  readonly proto: Proto;
  readonly local: string;
  readonly remote: string;
  readonly data: Buffer;
  /** Wall-clock ms. */
  readonly time: number;
}

export const messageIn = diagnostics.channel('sipd:message:in');
export const messageOut = diagnostics.channel('sipd:message:out');
