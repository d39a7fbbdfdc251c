/**
 * The machinery every transaction kind shares: one `handle(event)` entry point
 * that runs events to completion (an event raised while another is being
 * handled, such as a 0 ms timer on TCP or a TU call from inside a callback,
 * is queued behind it), named timers on the injected clock that the state
 * change clears (kirm/sip.js `leave`), sends whose synchronous transport errors
 * are delivered on the next clock turn (so no handler runs inside
 * `sendRequest`/`respond`), and TU callbacks that cannot throw into the layer.
 * A timer that fires after its transaction ended, or after it was replaced, is
 * ignored.
 */
import type { AnyMessage, SipRequest, SipResponse } from '../sip/message.js';
import type { Destination, Flow, Transport } from '../transport/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import type { TimerConfig } from './timers.js';
import type { CancelOptions } from './types.js';

/** RFC 3261 timers, plus `cancel` (§9.1: no final response 64*T1 after CANCEL) and `stale` (a TU that never answers a non-INVITE request). */
export type TimerName = 'A' | 'B' | 'D' | 'E' | 'F' | 'G' | 'H' | 'I' | 'J' | 'K' | 'L' | 'M' | 'cancel' | 'stale';

export type TxEvent =
  /** A message from the network that matched this transaction. */
  | { readonly type: 'rx-msg'; readonly msg: AnyMessage; readonly flow: Flow }
  /** From the TU: for a client transaction its request (start), for a server transaction a response. */
  | { readonly type: 'tu-send'; readonly msg: AnyMessage }
  /** From the TU: cancel this INVITE client transaction (§9.1). */
  | { readonly type: 'tu-cancel'; readonly opts: CancelOptions }
  | { readonly type: `timer:${TimerName}` }
  | { readonly type: 'transport-error'; readonly err: Error };

/** What a transaction needs from its layer. */
export interface TxEnv {
  readonly transport: Transport;
  readonly clock: Clock;
  readonly timers: TimerConfig;
  readonly log: Logger;
  /** Called once, when the transaction enters Terminated: the layer drops it from its table. */
  removed(tx: Transaction<string>): void;
  /**
   * When set, a non-INVITE server transaction on an unreliable transport hands
   * its Completed state (timer J) to the layer as a compact record — the key,
   * the destination and the final response's bytes — and terminates at once
   * (see `TransactionLayerOptions.compactCompleted`). `replayable`: the TU can
   * build the response again (`RespondOptions.replayable`), its bytes need not be kept.
   */
  park?(key: string, response: SipResponse, dest: Destination, replayable: boolean): void;
  /**
   * When set (`TransactionLayerOptions.compactAccepted`): an INVITE server
   * transaction hands its Accepted state (Timer L: absorbing INVITE
   * retransmissions) to the layer as a compact record and terminates; an INVITE
   * client transaction terminates on its first 2xx instead of waiting in
   * Accepted (Timer M), so further 2xx reach the TU as stray responses, which a
   * proxy forwards statelessly (RFC 3261 §17.1.1.2, §16.7 step 5 as before RFC 6026).
   */
  parkAccepted?(key: string, dest: Destination): void;
  /**
   * When set (`TransactionLayerOptions.compactAccepted`): an INVITE server
   * transaction on an unreliable transport hands its Confirmed state (Timer I:
   * absorbing the ACK and INVITE retransmissions after a non-2xx final, such as
   * a 407 for wrong credentials) to the layer as a compact record and
   * terminates. Returns false when the layer cannot (an RFC 2543 request,
   * whose ACK cannot be matched by key alone): the transaction then stays.
   */
  parkConfirmed?(key: string, request: SipRequest, dest: Destination): boolean;
}

export abstract class Transaction<S extends string> {
  #state: S;
  #busy = false;
  #endNotified = false;
  #queue: TxEvent[] | undefined;
  /** Running timers as name/handle pairs (a transaction has two or three at most: no Map). */
  #timers: Array<TimerName | TimerHandle> | undefined;
  /** Timers delivering synchronous send errors (rare: created on first use). */
  #deferred: Set<TimerHandle> | undefined;
  protected readonly env: TxEnv;
  /** True when the transport does not need retransmissions (TCP). */
  readonly reliable: boolean;
  /** The table key the layer filed this transaction under. */
  readonly key: string;

  protected constructor(env: TxEnv, initial: S, reliable: boolean, key: string) {
    this.env = env;
    this.#state = initial;
    this.reliable = reliable;
    this.key = key;
  }

  get state(): S {
    return this.#state;
  }

  get terminated(): boolean {
    return this.#state === 'Terminated';
  }

  /** The single entry point of the state machine. Never throws. */
  handle(ev: TxEvent): void {
    if (this.terminated) return;
    if (this.#busy) {
      (this.#queue ??= []).push(ev);
      return;
    }
    this.#busy = true;
    try {
      let e: TxEvent | undefined = ev;
      while (e !== undefined && !this.terminated) {
        try {
          this.step(e);
        } catch (err) {
          this.env.log.error({ err, event: e.type, state: this.#state, key: this.key }, 'transaction failed; terminating it');
          this.enter('Terminated' as S);
        }
        e = this.#queue?.shift();
      }
      if (this.terminated && !this.#endNotified) {
        this.#endNotified = true;
        this.onEnded();
      }
    } finally {
      this.#busy = false;
      this.#queue = undefined;
    }
  }

  protected abstract step(ev: TxEvent): void;

  /** Called once after the event that terminated the transaction was fully handled (so it follows onTimeout/onTransportError). */
  protected abstract onEnded(): void;

  /**
   * Moves to `state`. Timers not listed in `keep` stop (leaving a state clears
   * its timers); the caller then starts the new state's timers. Entering
   * Terminated clears everything and removes the transaction from the layer.
   */
  protected enter(state: S, keep: readonly TimerName[] = []): void {
    if (this.terminated) return;
    this.#state = state;
    const t = this.#timers;
    if (t !== undefined && t.length > 0) {
      let w = 0;
      for (let r = 0; r < t.length; r += 2) {
        const name = t[r] as TimerName;
        if (keep.includes(name)) {
          t[w] = name;
          t[w + 1] = t[r + 1]!;
          w += 2;
        } else this.env.clock.clearTimer(t[r + 1] as TimerHandle);
      }
      t.length = w;
    }
    if (state === 'Terminated') {
      this.#clearAll();
      this.#queue = undefined;
      this.env.removed(this);
    }
  }

  /** Starts (or restarts) a timer; 0 ms fires right after the current event. */
  protected startTimer(name: TimerName, ms: number): void {
    const t = (this.#timers ??= []);
    const at = t.indexOf(name);
    if (at >= 0) {
      this.env.clock.clearTimer(t[at + 1] as TimerHandle);
      t.splice(at, 2);
    }
    const type = `timer:${name}` as const;
    if (ms <= 0) {
      this.handle({ type });
      return;
    }
    const h = this.env.clock.setTimer(ms, () => {
      const tt = this.#timers;
      const i = tt === undefined ? -1 : tt.indexOf(name);
      if (i < 0 || tt![i + 1] !== h) return;
      tt!.splice(i, 2);
      this.handle({ type });
    });
    t.push(name, h);
  }

  /** Names of running timers (tests and debugging). */
  get runningTimers(): TimerName[] {
    const out: TimerName[] = [];
    const t = this.#timers;
    if (t !== undefined) for (let i = 0; i < t.length; i += 2) out.push(t[i] as TimerName);
    return out;
  }

  /** Hands `msg` to the transport; its errors come back as a `transport-error` event, never synchronously. */
  protected send(msg: AnyMessage, dest: Destination): void {
    let sync = true;
    const onError = (err: Error): void => {
      if (sync) this.#defer(err);
      else this.handle({ type: 'transport-error', err });
    };
    try {
      this.env.transport.send(msg, dest, onError);
    } catch (err) {
      onError(err instanceof Error ? err : new Error(String(err)));
    }
    sync = false;
  }

  #defer(err: Error): void {
    const h = this.env.clock.setTimer(0, () => {
      this.#deferred?.delete(h);
      this.handle({ type: 'transport-error', err });
    });
    (this.#deferred ??= new Set()).add(h);
  }

  /** Runs a TU callback; an exception is logged, never propagated into the layer or the clock. */
  protected callTu(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      this.env.log.error({ err, callback: what, key: this.key }, 'transaction user callback threw');
    }
  }

  /** Stops every timer without notifying anybody (layer close). */
  dispose(): void {
    this.#endNotified = true;
    this.#clearAll();
    this.#queue = undefined;
    this.#state = 'Terminated' as S;
  }

  #clearAll(): void {
    const t = this.#timers;
    if (t !== undefined) {
      for (let i = 1; i < t.length; i += 2) this.env.clock.clearTimer(t[i] as TimerHandle);
      t.length = 0;
    }
    if (this.#deferred !== undefined) {
      for (const h of this.#deferred) this.env.clock.clearTimer(h);
      this.#deferred.clear();
    }
  }
}
