/**
 * The plan of a call to a client (DESIGN §4, issue 6): where it rings, and
 * where it goes next when nobody answers.
 *
 *   client C:  =F in force  → the call goes to F as if C had dialled it
 *              otherwise    → ring C (every contact), then the hunt list
 *                             (N) member by member, then ~F
 *
 * Each step is one target group of the proxy (serial forking). A ring step
 * moves on when the client is not registered, busy (486), declines (603), is
 * unavailable (480), times out (408) or does not answer within
 * `[general] noanswer` seconds; a gateway step moves on to the next gateway
 * on 408, 5xx or silence. A forward target is resolved when it is reached,
 * under the forwarding client's dialplan, and may forward again; a client met
 * twice on the way ends the call with 482 (a forward loop).
 */
import type { Client, Config } from '../config/types.js';
import type { SipResponse } from '../sip/message.js';
import type { FinalAnswer, GroupOutcome, TargetGroup } from '../proxy/types.js';
import { callerIdOf, routeCall, shown, type GatewayAttempt } from './numbers.js';
import type { ForwardSet } from './features.js';

/** RFC 5806 Diversion reasons sipd writes. */
export type DiversionReason = 'unconditional' | 'user-busy' | 'no-answer' | 'unavailable' | 'do-not-disturb';

/** Why a call left the client it was meant for (for the Diversion header and the CDR). */
export interface Diversion {
  readonly from: Client;
  readonly reason: DiversionReason;
  /** How many forwards so far (Diversion `counter`). */
  readonly counter: number;
}

export interface PlanBuilders {
  /** The group that rings `client` (its registered contacts or its host), or undefined when it has none. */
  clientGroup(client: Client, dialled: string, diversion: Diversion | undefined, ringTimeoutMs: number | undefined): TargetGroup | undefined;
  /** The group for one gateway attempt. */
  gatewayGroup(attempt: GatewayAttempt, callerId: string | undefined, diversion: Diversion | undefined): TargetGroup;
  /** The forwards in force for a client (run-time state over sip.conf). */
  forwardsOf(client: Client): ForwardSet;
}

type Step =
  | { readonly kind: 'ring'; readonly client: Client; readonly dialled: string; readonly diversion: Diversion | undefined; readonly hunt: boolean }
  | { readonly kind: 'gateway'; readonly attempt: GatewayAttempt; readonly callerId: string | undefined; readonly diversion: Diversion | undefined }
  | { readonly kind: 'forward'; readonly from: Client; readonly target: string; readonly mode: 'always' | 'unavailable'; readonly counter: number };

/** At most this many clients along one chain of forwards. */
const MAX_CHAIN = 10;

export class CallPlan {
  readonly #cfg: Config;
  readonly #b: PlanBuilders;
  readonly #noAnswerMs: number | undefined;
  #steps: Step[] = [];
  #current: Step | undefined;
  /** Clients the call was meant for, in order (loop detection, CDR). */
  readonly #chain: string[] = [];
  /** Why the last ring step did not answer (for the next forward's Diversion reason). */
  #lastWhy: DiversionReason = 'unavailable';
  /** What happened on the way, for the CDR reason: `forwarded to 102 (busy)`, `hunt: bob`. */
  readonly notes: string[] = [];
  /** The client that answers or was last tried. */
  #lastLabel: string | undefined;
  /** A forward that could not be followed (its target refused), for the caller's reason phrase. */
  #refused: string | undefined;

  constructor(cfg: Config, builders: PlanBuilders) {
    this.#cfg = cfg;
    this.#b = builders;
    const s = cfg.general.noAnswer;
    this.#noAnswerMs = s > 0 ? s * 1000 : undefined;
  }

  /** The first group of a call to `client`, or the final answer when nothing can ring. */
  startClient(client: Client, dialled: string): TargetGroup | FinalAnswer {
    const loop = this.#expand(client, dialled, undefined);
    if (loop !== undefined) return loop;
    const first = this.#pull();
    if (first !== undefined) return first;
    const why = this.#refused !== undefined ? `the forward of ${this.#refused} is not allowed` : `${shown(client.name)} is not registered`;
    return { final: { status: 480, reason: `Temporarily Unavailable (${why})` } };
  }

  /** The first group of a call to gateways (the caller dialled an external number). */
  startGateways(attempts: readonly GatewayAttempt[], callerId: string | undefined): TargetGroup | FinalAnswer {
    this.#steps = attempts.map((attempt) => ({ kind: 'gateway', attempt, callerId, diversion: undefined }) as const);
    return this.#pull() ?? { final: { status: 404, reason: 'Not Found (no gateway)' } };
  }

  /** The proxy's `next` hook: the next group, a final answer, or undefined (the best response goes to the caller). */
  next(o: GroupOutcome): TargetGroup | FinalAnswer | undefined {
    const cur = this.#current;
    if (cur === undefined) return undefined;
    const s = o.best.status;
    if (cur.kind === 'gateway') {
      // Gateway failover (DESIGN §4): the next gateway on 408, 5xx or silence; nothing after a 6xx or a busy.
      if (o.global || !(o.noAnswer || s === 408 || (s >= 500 && s < 600))) return undefined;
      if (this.#steps[0]?.kind !== 'gateway') return undefined;
      this.notes.push(`${cur.attempt.gateway.name} failed (${s})`);
      return this.#pull();
    }
    // A client (or a hunt member) did not answer: go on when it is unavailable in the sense of ~F.
    const why = unavailable(o.best, o.noAnswer);
    if (why === undefined) return undefined;
    this.#lastWhy = why;
    if (this.#steps.length === 0) return undefined;
    return this.#pull();
  }

  /** Names of the clients the call was meant for, in order. */
  get chain(): readonly string[] {
    return this.#chain;
  }

  get lastLabel(): string | undefined {
    return this.#lastLabel;
  }

  /** Puts the steps of a call to `client` in front; a FinalAnswer when that makes a loop. */
  #expand(client: Client, dialled: string, diversion: Diversion | undefined): FinalAnswer | undefined {
    if (this.#chain.includes(client.name) || this.#chain.length >= MAX_CHAIN) {
      // ASCII only and each name bounded on its own (a reason phrase; shown() of the whole would turn → into ? and cut a long chain).
      const path = [...this.#chain, client.name].map(shown).join(' -> ');
      return { final: { status: 482, reason: `Loop Detected (forward loop: ${path})` } };
    }
    this.#chain.push(client.name);
    const fw = this.#b.forwardsOf(client);
    const counter = diversion === undefined ? 1 : diversion.counter + 1;
    if (fw.always !== undefined) {
      this.#steps.unshift({ kind: 'forward', from: client, target: fw.always, mode: 'always', counter });
      return undefined;
    }
    const steps: Step[] = [{ kind: 'ring', client, dialled, diversion, hunt: false }];
    for (const name of client.hunt) {
      const m = this.#cfg.clients.get(name);
      if (m !== undefined && m.name !== client.name) steps.push({ kind: 'ring', client: m, dialled: name, diversion, hunt: true });
    }
    if (fw.unavailable !== undefined) steps.push({ kind: 'forward', from: client, target: fw.unavailable, mode: 'unavailable', counter });
    this.#steps.unshift(...steps);
    return undefined;
  }

  /** Takes steps until one gives a group; undefined when none is left. */
  #pull(): TargetGroup | FinalAnswer | undefined {
    for (;;) {
      const step = this.#steps.shift();
      this.#current = step;
      if (step === undefined) return undefined;
      switch (step.kind) {
        case 'ring': {
          // Ring for `noanswer` seconds when something follows that a no-answer leads to.
          const timeout = this.#steps.length > 0 ? this.#noAnswerMs : undefined;
          const g = this.#b.clientGroup(step.client, step.dialled, step.diversion, timeout);
          if (step.hunt) this.notes.push(`hunt: ${step.client.name}${g === undefined ? ' (not registered)' : ''}`);
          if (g === undefined) {
            this.#lastWhy = 'unavailable';
            continue;
          }
          this.#lastLabel = step.client.name;
          return g;
        }
        case 'gateway':
          this.#lastLabel = step.attempt.gateway.name;
          return this.#b.gatewayGroup(step.attempt, step.callerId, step.diversion);
        case 'forward': {
          const reason: DiversionReason = step.mode === 'always' ? 'unconditional' : this.#lastWhy;
          const diversion: Diversion = { from: step.from, reason, counter: step.counter };
          const route = routeCall(this.#cfg, { kind: 'client', client: step.from }, step.target);
          const what = `${step.mode === 'always' ? 'forwarded' : `forwarded (${REASON_TEXT[reason]})`} by ${step.from.name} to ${shown(step.target)}`;
          if (route.kind === 'client') {
            this.notes.push(what);
            const loop = this.#expand(route.client, step.target, diversion);
            if (loop !== undefined) return loop;
            continue;
          }
          if (route.kind === 'external') {
            this.notes.push(what);
            const callerId = callerIdOf(step.from);
            this.#steps.unshift(...route.attempts.map((attempt) => ({ kind: 'gateway', attempt, callerId, diversion }) as const));
            continue;
          }
          this.notes.push(`${what} refused: ${route.kind === 'reject' ? route.reason : 'a feature code'}`);
          this.#refused ??= `${shown(step.from.name)} to ${shown(step.target)}`;
          continue;
        }
      }
    }
  }
}

const REASON_TEXT: Readonly<Record<DiversionReason, string>> = {
  unconditional: 'always',
  'user-busy': 'busy',
  'no-answer': 'no answer',
  unavailable: 'unavailable',
  'do-not-disturb': 'declined',
};

/** The ~F / hunting conditions: busy, declined, unavailable, timed out or not answered. */
function unavailable(best: SipResponse, noAnswer: boolean): DiversionReason | undefined {
  if (noAnswer) return 'no-answer';
  switch (best.status) {
    case 486:
      return 'user-busy';
    case 603:
      return 'do-not-disturb';
    case 480:
      return 'unavailable';
    case 408:
      return 'no-answer';
    default:
      return undefined;
  }
}

/** The Diversion header value (RFC 5806) for a forward by `d.from`. */
export function diversionHeader(d: Diversion, host: string): string {
  const user = d.from.longNumber ?? d.from.shortNumbers[0] ?? d.from.name;
  return `<sip:${user}@${host}>;reason=${d.reason};counter=${d.counter}`;
}
