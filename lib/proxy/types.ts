/**
 * The proxy core's surface towards the PBX (DESIGN §2: the proxy knows how to
 * forward, not who the callers are). The PBX gives a target set — groups of
 * targets tried one after the other (serial forking), the targets of a group
 * all at once (parallel forking) — and hooks that see the outcome.
 */
import type { SipRequest, SipResponse } from '../sip/message.js';
import type { Destination } from '../transport/types.js';

export interface Target {
  /** Request-URI of this branch. */
  readonly uri: string;
  /** Next hop (for a registered phone: where its REGISTER came from). */
  readonly dest: Destination;
  /** Who this is, for logs and CDRs: a client's section name, a gateway's name. */
  readonly label: string;
  /** The target is a gateway (the CDR names the number sent to it). */
  readonly gateway?: boolean;
  /** Changes to this branch's copy of the request (caller ID towards a gateway, …). */
  readonly edit?: (req: SipRequest) => void;
}

export interface TargetGroup {
  readonly targets: readonly Target[];
  /**
   * How long the group may ring (ms) before it counts as not answering and the
   * next group is asked for (hunting, forward on no answer, gateway failover).
   * Undefined: only Timer C limits it.
   */
  readonly ringTimeoutMs?: number | undefined;
  /**
   * A branch that has had no response at all (not even 100 Trying) after this
   * many ms counts as a 408 and the call moves on (gateway failover: a dead
   * gateway must not hold the call for Timer B's 32 s). The INVITE is still
   * cancelled should the target wake up. Undefined: Timer B decides.
   */
  readonly noResponseMs?: number | undefined;
}

/** Why a group ended without an answer; `best` is the response §16.7 picked among its branches. */
export interface GroupOutcome {
  readonly best: SipResponse;
  /** 1 for the first group. */
  readonly attempt: number;
  /** The group rang out (ringTimeoutMs) without a final response from anyone. */
  readonly noAnswer: boolean;
  /** Labels of the group's targets. */
  readonly labels: readonly string[];
  /**
   * A 6xx ended the group (RFC 3261 §16.7: the search ends). The PBX may still
   * go on (forward on 603 Decline is a PBX feature), but a plain proxy stops.
   */
  readonly global: boolean;
}

/** Instead of another group: end the call with this final response (e.g. a forward loop). */
export interface FinalAnswer {
  readonly final: { readonly status: number; readonly reason: string };
}

export interface CallHooks {
  /**
   * A group failed: the next group to try (serial forking), a final answer of
   * the PBX's own, or undefined to send the caller the best response. Not
   * asked after a CANCEL.
   */
  next?(outcome: GroupOutcome): TargetGroup | FinalAnswer | undefined;
  /** A provisional response (not 100) from a target (e.g. a phone rings: pickup). */
  onProvisional?(target: Target, res: SipResponse): void;
  /** A branch answered (its first 2xx). `first` is false for a later fork's answer. */
  onAnswer?(target: Target, res: SipResponse, first: boolean): void;
  /** The final non-2xx response went to the caller (`cancelled`: after the caller's CANCEL). */
  onFailure?(res: SipResponse, cancelled: boolean, lastTarget: Target | undefined): void;
  /** Every client transaction of the call ended and the caller has its final response: the call's state is gone. */
  onDone?(): void;
}

/** What `Proxy.forward` returns: a way to end the call from outside (a pickup answered elsewhere). */
export interface CallHandle {
  /** Cancels every pending branch; the caller gets 487 unless an answer came first. */
  cancel(): void;
}

/** Where sipd is, as written into Via and Record-Route for a given transport and address family. */
export interface SelfAddress {
  /** Host as it goes into a URI (IPv6 in brackets). */
  readonly host: string;
  readonly port: number;
}
