/**
 * Call detail records (DESIGN §4): one row per call attempt, written when the
 * attempt fails or, for an answered call, when its BYE passes through sipd.
 * The answered calls in progress are the only dialog state sipd keeps; each
 * is dropped at its BYE, or after `maxDialogMs` (a call whose BYE never came
 * through sipd: the row is written without an end time).
 */
import type { Clock, TimerHandle } from '../util/clock.js';
import { ChurnMap } from '../util/churn-map.js';
import { detach } from '../util/strings.js';
import type { Logger } from '../util/log.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { parseNameAddr } from '../sip/name-addr.js';
import { unescapeUser } from '../sip/uri.js';
import { formatAddress, type Destination, type Flow } from '../transport/types.js';
import type { Target } from '../proxy/types.js';
import type { CdrRecord, CdrStore } from '../store/types.js';
import type { Caller } from './numbers.js';

/** One call attempt being recorded. */
export interface CallRecord {
  readonly cdr: CdrRecord;
  /** False for requests that are not calls (MESSAGE): nothing is written. */
  readonly isCall: boolean;
  written: boolean;
  /** Answered calls: when (clock.now()) it is written without an end if no BYE came (`maxDialogMs`). */
  deadline: number;
  /** What happened on the way (forwards, hunting, feature codes, pickup), appended to the reason. */
  notes?: readonly string[] | undefined;
  /** Who ended the call while it rang when it was not the caller (`picked up by dave`): the reason instead of "cancelled by the caller". */
  cancelledBy?: string | undefined;
}

export interface CallRecordsOptions {
  store: CdrStore | undefined;
  clock: Clock;
  log: Logger;
  /** An answered call whose BYE is not seen in this time is written without an end (default 12 h). */
  maxDialogMs?: number;
}

export class CallRecords {
  readonly #o: CallRecordsOptions;
  /**
   * Answered calls in progress by Call-ID. Insertion order is deadline order
   * (every call gets the same `maxDialogMs`), so one timer for the oldest
   * deadline serves them all: no timer object per call.
   */
  readonly #dialogs = new ChurnMap<string, CallRecord>();
  readonly #maxDialogMs: number;
  #timer: TimerHandle | undefined;

  constructor(opts: CallRecordsOptions) {
    this.#o = opts;
    this.#maxDialogMs = opts.maxDialogMs ?? 12 * 3600_000;
  }

  /** Answered calls whose end sipd has not seen yet. */
  get size(): number {
    return this.#dialogs.size;
  }

  start(req: SipRequest, flow: Flow, caller: Caller, dialled: string): CallRecord {
    const who = caller.kind === 'client' ? caller.client : caller.gateway;
    let callerNumber: string | undefined;
    if (caller.kind === 'client') callerNumber = caller.client.longNumber ?? caller.client.shortNumbers[0];
    else {
      try {
        const u = parseNameAddr(req.get('from') ?? '').uri.user;
        if (u !== undefined) callerNumber = unescapeUser(u);
      } catch {
        callerNumber = undefined;
      }
    }
    const cdr: CdrRecord = {
      // Strings of the request are slices of its text: copies keep 1 KB of INVITE from living as long as the call.
      callId: detach(req.callId),
      caller: who.name,
      dialled: detach(dialled),
      status: 0,
      startedAt: this.#o.clock.wallNow(),
      sourceAddress: `${formatAddress(flow.remote)}/${flow.proto}`,
    };
    if (callerNumber !== undefined) cdr.callerNumber = detach(callerNumber);
    if (who.accountcode !== '') cdr.accountcode = who.accountcode;
    if (req.fromTag !== undefined) cdr.fromTag = detach(req.fromTag);
    return { cdr, isCall: req.method === 'INVITE', written: false, deadline: 0 };
  }

  answered(rec: CallRecord, target: Target, res: SipResponse): void {
    const c = rec.cdr;
    c.status = res.status;
    c.answeredAt = this.#o.clock.wallNow();
    c.destination = destinationOf(target);
    c.destinationAddress = destText(target.dest);
    if (res.toTag !== undefined) c.toTag = detach(res.toTag);
    c.reason = withNotes('answered', rec);
    if (!rec.isCall) {
      this.#write(rec);
      return;
    }
    const old = this.#dialogs.get(c.callId);
    if (old !== undefined && old !== rec) {
      this.#dialogs.delete(c.callId); // re-inserted below, at the end: the order stays the deadline order
      this.#finish(old, 'replaced by a new call with the same Call-ID');
    }
    rec.deadline = this.#o.clock.now() + this.#maxDialogMs;
    this.#dialogs.set(c.callId, rec);
    if (this.#timer === undefined) this.#arm(rec.deadline);
  }

  #arm(deadline: number): void {
    const clock = this.#o.clock;
    this.#timer = clock.setTimer(Math.max(0, deadline - clock.now()), () => {
      this.#timer = undefined;
      const now = clock.now();
      for (const [callId, rec] of this.#dialogs) {
        if (rec.deadline > now) {
          this.#arm(rec.deadline);
          return;
        }
        this.#dialogs.delete(callId);
        this.#finish(rec, 'no BYE seen');
      }
    });
  }

  failed(rec: CallRecord, res: SipResponse, cancelled: boolean, last: Target | undefined): void {
    const c = rec.cdr;
    c.status = res.status;
    c.endedAt = this.#o.clock.wallNow();
    c.reason = withNotes(cancelled ? (rec.cancelledBy ?? 'cancelled by the caller') : res.reason, rec);
    if (res.toTag !== undefined) c.toTag = detach(res.toTag);
    if (last !== undefined) {
      c.destination = destinationOf(last);
      c.destinationAddress = destText(last.dest);
    }
    this.#write(rec);
  }

  /** A BYE inside an answered call. */
  ended(bye: SipRequest): void {
    const rec = this.#dialogs.get(bye.callId);
    if (rec === undefined) return;
    this.#dialogs.delete(bye.callId);
    if (this.#dialogs.size === 0) {
      this.#o.clock.clearTimer(this.#timer);
      this.#timer = undefined;
    }
    rec.cdr.endedAt = this.#o.clock.wallNow();
    const who = rec.cdr.fromTag !== undefined && bye.fromTag !== rec.cdr.fromTag ? 'the callee hung up' : 'the caller hung up';
    rec.cdr.reason = `${withNotes('answered', rec)}; ${who}`;
    this.#write(rec);
  }

  /** Writes the calls still in progress (without an end time): sipd is stopping. */
  close(): void {
    this.#o.clock.clearTimer(this.#timer);
    this.#timer = undefined;
    for (const rec of this.#dialogs.values()) this.#finish(rec, 'in progress when sipd stopped');
    this.#dialogs.clear();
  }

  #finish(rec: CallRecord, reason: string): void {
    rec.cdr.reason = `${withNotes('answered', rec)}; ${reason}`;
    this.#write(rec);
  }

  #write(rec: CallRecord): void {
    if (rec.written || !rec.isCall) return;
    rec.written = true;
    try {
      this.#o.store?.insert(rec.cdr);
    } catch (err) {
      this.#o.log.error({ err: (err as Error).message, callId: rec.cdr.callId }, 'cannot write a CDR');
    }
  }
}

function withNotes(reason: string, rec: CallRecord): string {
  return rec.notes === undefined || rec.notes.length === 0 ? reason : `${reason}; ${rec.notes.join('; ')}`;
}

function destinationOf(t: Target): string {
  if (t.label === 'dialog') return t.uri;
  if (!t.gateway) return t.label;
  const user = /^sips?:([^@;]+)@/.exec(t.uri)?.[1];
  return user !== undefined ? `${t.label} ${user}` : t.label;
}

function destText(d: Destination): string {
  return `${formatAddress(d)}/${d.proto}`;
}
