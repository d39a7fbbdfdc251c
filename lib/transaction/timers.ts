/**
 * RFC 3261 §17 timer values (Table 4 of Appendix A) and RFC 6026 Timers L and M,
 * computed once per layer from T1/T2/T4 and frozen: there are no global timer
 * settings, so two layers in one process (tests) can run on different values.
 * Timers that depend on the transport come as a pair and are read with
 * {@link timerFor}; a 0 ms value means "fire at once" (reliable transports).
 */
import { TransactionUsageError } from './errors.js';

/** A timer whose value depends on whether the transport is reliable. */
export interface TransportTimer {
  readonly unreliable: number;
  readonly reliable: number;
}

export interface TimerConfig {
  /** RTT estimate, default 500 ms (§17.1.1.1). */
  readonly t1: number;
  /** Maximum retransmit interval for non-INVITE requests and INVITE responses, default 4 s. */
  readonly t2: number;
  /** Maximum time a message stays in the network, default 5 s. */
  readonly t4: number;
  /** INVITE request retransmit interval, initially T1 (UDP only). */
  readonly A: number;
  /** INVITE transaction timeout, 64*T1. */
  readonly B: number;
  /** Wait time for response retransmissions after a non-2xx to INVITE: at least 32 s (UDP), 0 (TCP). */
  readonly D: TransportTimer;
  /** Non-INVITE request retransmit interval, initially T1 (UDP only). */
  readonly E: number;
  /** Non-INVITE transaction timeout, 64*T1. */
  readonly F: number;
  /** INVITE response retransmit interval, initially T1 (UDP only). */
  readonly G: number;
  /** Wait time for ACK receipt, 64*T1. */
  readonly H: number;
  /** Wait time for ACK retransmissions: T4 (UDP), 0 (TCP). */
  readonly I: TransportTimer;
  /** Wait time for non-INVITE request retransmissions: 64*T1 (UDP), 0 (TCP). */
  readonly J: TransportTimer;
  /** Wait time for non-INVITE response retransmissions: T4 (UDP), 0 (TCP). */
  readonly K: TransportTimer;
  /** RFC 6026: INVITE server transaction in Accepted, 64*T1. */
  readonly L: number;
  /** RFC 6026: INVITE client transaction in Accepted, 64*T1. */
  readonly M: number;
}

export interface TimerOptions {
  t1?: number;
  t2?: number;
  t4?: number;
}

function check(name: string, v: number): number {
  if (!Number.isFinite(v) || v <= 0 || v > 3_600_000) {
    throw new TransactionUsageError(`timer ${name} must be a number of milliseconds in (0, 3600000], got ${v}`);
  }
  return v;
}

/** Builds the frozen timer table; throws {@link TransactionUsageError} on a non-positive or T2 < T1 value. */
export function createTimerConfig(opts: TimerOptions = {}): TimerConfig {
  const t1 = check('t1', opts.t1 ?? 500);
  const t2 = check('t2', opts.t2 ?? 4000);
  const t4 = check('t4', opts.t4 ?? 5000);
  if (t2 < t1) throw new TransactionUsageError(`timer t2 (${t2} ms) must not be smaller than t1 (${t1} ms)`);
  const t64 = 64 * t1;
  return Object.freeze({
    t1,
    t2,
    t4,
    A: t1,
    B: t64,
    // RFC 3261 §17.1.1.2: "at least 32 seconds for unreliable transports"; never shorter than
    // the server's 64*T1 window (Timer H) during which it may retransmit the final response.
    D: Object.freeze({ unreliable: Math.max(32_000, t64), reliable: 0 }),
    E: t1,
    F: t64,
    G: t1,
    H: t64,
    I: Object.freeze({ unreliable: t4, reliable: 0 }),
    J: Object.freeze({ unreliable: t64, reliable: 0 }),
    K: Object.freeze({ unreliable: t4, reliable: 0 }),
    L: t64,
    M: t64,
  });
}

/** The value of a transport-dependent timer. */
export function timerFor(t: TransportTimer, reliable: boolean): number {
  return reliable ? t.reliable : t.unreliable;
}
