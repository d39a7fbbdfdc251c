/**
 * The location service (RFC 3261 §10.3, RFC 5626 §6): who is registered where.
 * Memory is the hot path: `Map<aor, Binding[]>` gives O(1) lookups, each AOR's
 * array is replaced (never mutated) on change, so a returned array is a stable
 * snapshot. Expiry runs on the injected clock through one indexed min-heap of
 * deadlines and ONE timer armed for the earliest; a binding lives `graceMs`
 * past its expiry, because phones refresh at 99 % or exactly at expiry. Every
 * change is also handed to the durable `LocationStore` port, which batches its
 * writes. Per-binding memory is kept small: one record, strings copied out of
 * the message they were sliced from (so the packet is not retained), no timer
 * or closure per binding.
 */
import type { BindingSource, LocationStore, StoredBinding } from '../store/types.js';
import { detach } from '../util/strings.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';

/** A live binding: the stored data plus the flow it registered on. */
export interface Binding {
  readonly aor: string;
  /** The Contact header element exactly as the phone sent it. */
  readonly contact: string;
  /** The URI inside `contact`; unique within the AOR. */
  readonly contactUri: string;
  readonly instance?: string | undefined;
  readonly regId?: number | undefined;
  readonly callId: string;
  readonly cseq: number;
  readonly q?: number | undefined;
  /** Wall-clock ms at which the registration expires (the binding lives `graceMs` longer). */
  readonly expiresAt: number;
  /** Wall-clock ms of the latest REGISTER that created or refreshed it. */
  readonly registeredAt: number;
  readonly source: BindingSource;
  readonly userAgent?: string | undefined;
  /** The TCP connection the REGISTER came on (not persisted; undefined for UDP and after a restart). */
  readonly connId?: number | undefined;
}

/**
 * What happened to a binding: `registered` (new), `refreshed` (updated by a
 * REGISTER, including a replacement by instance or Call-ID whose URI changed),
 * `unregistered` (expires=0, `*`, `removeAll`, `dropAors`), `expired` (timer).
 */
export type ChangeKind = 'registered' | 'refreshed' | 'unregistered' | 'expired';

/** One Contact of a REGISTER, after the registrar has parsed it and bounded its expiry. */
export interface ContactChange {
  /** The Contact header element as received (stored and echoed verbatim). */
  contact: string;
  contactUri: string;
  instance?: string | undefined;
  regId?: number | undefined;
  q?: number | undefined;
  /** Seconds, already bounded by the registrar (min/max/default). 0 removes the binding. */
  expires: number;
}

/** The result of one REGISTER (RFC 3261 §10.3 steps 6–8), applied atomically by {@link LocationService.apply}. */
export interface RegisterUpdate {
  callId: string;
  cseq: number;
  source: BindingSource;
  connId?: number | undefined;
  userAgent?: string | undefined;
  /**
   * A non-zero mark of the REGISTER's transaction (a hash of its Via branch),
   * kept in every binding the request creates or refreshes: see
   * {@link LocationService.madeBy}. 0 or absent: none.
   */
  txMark?: number | undefined;
  /** `Contact: *` with `Expires: 0`: remove every binding (subject to the Call-ID/CSeq rule). */
  wildcard?: boolean;
  /** The request's contacts; ignored when `wildcard` is set. */
  contacts?: readonly ContactChange[];
}

export type ApplyResult =
  /** Applied; `bindings` are the AOR's current bindings (for the 200 OK), highest q first. */
  | { readonly ok: true; readonly bindings: readonly Binding[] }
  /**
   * RFC 3261 §10.3 step 6/7: a binding with the same Call-ID has a CSeq ≥ the
   * request's; nothing was changed (the registrar answers 500 or 400).
   */
  | { readonly ok: false; readonly reason: 'out-of-order'; readonly binding: Binding }
  /** The AOR would hold more than `maxBindingsPerAor` bindings; nothing was changed. */
  | { readonly ok: false; readonly reason: 'too-many'; readonly limit: number };

/** Receives each change after the service is consistent again; `binding` is the record (its state after the change). */
export type ChangeListener = (aor: string, kind: ChangeKind, binding: Binding) => void;

export interface LocationServiceOptions {
  clock: Clock;
  /** The durable copy; every change is sent to it. Default: none (memory only). */
  store?: LocationStore | undefined;
  /** How long a binding lives past its expiry, ms. Default 5000. */
  graceMs?: number;
  /** Upper bound of bindings per AOR; a REGISTER that would exceed it is refused. Default 10. */
  maxBindingsPerAor?: number;
  /**
   * URI equality for matching a Contact to a binding (RFC 3261 §10.3 step 5,
   * §19.1.4). Default: exact text, which is what phones resend. Only called
   * when the texts differ.
   */
  uriEquals?: (a: string, b: string) => boolean;
  onChange?: ChangeListener | undefined;
  log?: Logger;
}

/** A binding lives this long past its expiry: phones refresh at 99 % or exactly at expiry. */
export const DEFAULT_GRACE_MS = 5000;
/** Kamailio's `max_contacts` idea: a buggy or hostile phone cannot pile up bindings. */
export const DEFAULT_MAX_BINDINGS_PER_AOR = 10;

/** The in-memory record. Fixed shape (one hidden class), no closures. */
class Rec implements Binding {
  aor: string;
  contact: string;
  contactUri: string;
  instance: string | undefined;
  regId: number | undefined;
  callId: string;
  cseq: number;
  q: number | undefined;
  expiresAt: number;
  registeredAt: number;
  source: BindingSource;
  userAgent: string | undefined;
  connId: number | undefined;
  /** Monotonic ms (clock.now()) at which it is removed: expiry + grace. */
  deadline: number;
  /** Position in the expiry heap; -1 when not in it. */
  heapIndex = -1;
  /** `RegisterUpdate.txMark` of the REGISTER that created or last refreshed it (a small integer: no boxed number). */
  txMark = 0;

  constructor(aor: string, b: Omit<StoredBinding, 'aor'>, connId: number | undefined, deadline: number) {
    this.aor = aor;
    this.contact = b.contact;
    this.contactUri = b.contactUri;
    this.instance = b.instance;
    this.regId = b.regId;
    this.callId = b.callId;
    this.cseq = b.cseq;
    this.q = b.q;
    this.expiresAt = b.expiresAt;
    this.registeredAt = b.registeredAt;
    this.source = b.source;
    this.userAgent = b.userAgent;
    this.connId = connId;
    this.deadline = deadline;
  }
}

const EMPTY: readonly Binding[] = Object.freeze([]);

/** Slot of the working copy used by `apply` to plan a REGISTER before changing anything. */
interface Slot {
  rec: Rec | undefined;
  change: ContactChange | undefined;
  removed: boolean;
  /** Created or updated by this request already (exempt from the CSeq rule against itself). */
  touched: boolean;
}

/** A copy without spare capacity: an array grown by `push` reserves ~17 slots (~150 bytes), one per AOR. */
function exact<T>(list: T[]): T[] {
  return list.slice();
}

function qOf(b: Binding): number {
  return b.q ?? 1;
}

function byQ(a: Binding, b: Binding): number {
  return qOf(b) - qOf(a);
}

export class LocationService {
  /** Called after each change, once per binding; for logging. Errors it throws are logged and ignored. */
  onChange: ChangeListener | undefined;

  readonly graceMs: number;
  readonly maxBindingsPerAor: number;
  readonly #clock: Clock;
  readonly #store: LocationStore | undefined;
  readonly #log: Logger;
  readonly #uriEquals: (a: string, b: string) => boolean;
  readonly #byAor = new Map<string, readonly Rec[]>();
  /** Min-heap of records by `deadline`; each record knows its index. */
  readonly #heap: Rec[] = [];
  /** Shared copies of short, repeated strings (User-Agent, local address). */
  readonly #interned = new Map<string, string>();
  #timer: TimerHandle | undefined;
  /** Deadline the timer is armed for (monotonic ms). */
  #armedFor = Infinity;
  #closed = false;

  constructor(opts: LocationServiceOptions) {
    this.#clock = opts.clock;
    this.#store = opts.store;
    this.#log = (opts.log ?? silentLogger).child({ component: 'location' });
    this.graceMs = Math.max(0, opts.graceMs ?? DEFAULT_GRACE_MS);
    this.maxBindingsPerAor = Math.max(1, opts.maxBindingsPerAor ?? DEFAULT_MAX_BINDINGS_PER_AOR);
    const eq = opts.uriEquals;
    this.#uriEquals = eq === undefined ? (a, b) => a === b : (a, b) => a === b || eq(a, b);
    this.onChange = opts.onChange;
  }

  /** Number of bindings (all AORs). */
  get size(): number {
    return this.#heap.length;
  }

  /** Number of AORs with at least one binding. */
  get aorCount(): number {
    return this.#byAor.size;
  }

  /**
   * The live bindings of `aor`, highest q first; O(1). The array is a snapshot
   * (never mutated later); the bindings in it are updated in place by refreshes.
   */
  lookup(aor: string): readonly Binding[] {
    const list = this.#byAor.get(aor);
    if (list === undefined) return EMPTY;
    const now = this.#clock.now();
    // The expiry timer may not have run yet (a busy loop); never hand out a dead binding.
    for (const r of list) if (r.deadline <= now) return list.filter((x) => x.deadline > now);
    return list;
  }

  /**
   * The binding of `aor` that the REGISTER with this Call-ID, CSeq and
   * transaction mark (`RegisterUpdate.txMark`) created or last refreshed, if it
   * is still here. The registrar answers a retransmission of that REGISTER
   * again with it, instead of taking the copy for a replayed nonce-count or an
   * out-of-order CSeq, so the transaction layer keeps no state for it. O(1).
   */
  madeBy(aor: string, callId: string, cseq: number, txMark: number): Binding | undefined {
    if (txMark === 0) return undefined;
    const list = this.#byAor.get(aor);
    if (list === undefined) return undefined;
    const now = this.#clock.now();
    for (const r of list) if (r.txMark === txMark && r.cseq === cseq && r.callId === callId && r.deadline > now) return r;
    return undefined;
  }

  /** Seconds until `b` expires (for the 200 OK's `expires` parameters); 0 once in its grace period. */
  expiresIn(b: Binding): number {
    const r = b as Rec;
    const ms = (r.deadline ?? 0) - this.graceMs - this.#clock.now();
    return ms <= 0 ? 0 : Math.ceil(ms / 1000);
  }

  /**
   * Applies one REGISTER's contacts to `aor` atomically: either every change
   * is made or none (see {@link ApplyResult} for refusals). For each contact, in
   * order, the binding it updates is, first match wins:
   * 1. the binding with the same `+sip.instance` and `reg-id` (RFC 5626 §6),
   *    even if the Contact URI or source port changed;
   * 2. the binding with the same contact URI (RFC 3261 §10.3 step 5);
   * 3. a binding with the same Call-ID whose URI is not among this request's
   *    contacts and which does not carry a different instance than the
   *    contact — the same device re-registering from a new NAT port.
   * A binding found by 1 supersedes another that holds the contact's URI (one
   * binding per URI). `expires: 0` removes the binding found by 2 or 1. A
   * matched binding with the request's Call-ID must have a lower CSeq (step 7).
   */
  apply(aor: string, update: RegisterUpdate): ApplyResult {
    this.#assertOpen();
    for (const c of update.contacts ?? []) {
      if (!(c.expires >= 0 && c.expires < 2 ** 31)) throw new RangeError(`LocationService.apply: bad expires ${c.expires} for ${c.contactUri}`);
    }
    this.#expireDue();
    const current = this.#byAor.get(aor) ?? [];
    const slots: Slot[] = current.map((rec) => ({ rec, change: undefined, removed: false, touched: false }));
    const uriOf = (s: Slot): string => s.change?.contactUri ?? s.rec!.contactUri;
    const instanceOf = (s: Slot): string | undefined => (s.change !== undefined ? s.change.instance : s.rec!.instance);
    const regIdOf = (s: Slot): number | undefined => (s.change !== undefined ? s.change.regId : s.rec!.regId);
    const outOfOrder = (s: Slot): boolean =>
      !s.touched && s.rec !== undefined && s.rec.callId === update.callId && update.cseq <= s.rec.cseq;

    if (update.wildcard === true) {
      for (const s of slots) {
        if (outOfOrder(s)) return { ok: false, reason: 'out-of-order', binding: s.rec! };
        s.removed = true;
      }
    } else {
      const contacts = update.contacts ?? [];
      for (const c of contacts) {
        let byUri: Slot | undefined;
        let byInstance: Slot | undefined;
        for (const s of slots) {
          if (s.removed) continue;
          if (byUri === undefined && this.#uriEquals(uriOf(s), c.contactUri)) byUri = s;
          if (byInstance === undefined && c.instance !== undefined && instanceOf(s) === c.instance && regIdOf(s) === c.regId) byInstance = s;
        }
        if (c.expires <= 0) {
          const target = byUri ?? byInstance;
          if (target === undefined) continue;
          if (outOfOrder(target)) return { ok: false, reason: 'out-of-order', binding: target.rec! };
          target.removed = true;
          continue;
        }
        let target = byInstance ?? byUri;
        if (target === undefined) {
          target = slots.find(
            (s) =>
              !s.removed &&
              !s.touched &&
              s.rec !== undefined &&
              s.rec.callId === update.callId &&
              (c.instance === undefined || s.rec.instance === undefined) &&
              !contacts.some((o) => this.#uriEquals(uriOf(s), o.contactUri)),
          );
        }
        if (byInstance !== undefined && byUri !== undefined && byUri !== byInstance) byUri.removed = true;
        if (target === undefined) {
          slots.push({ rec: undefined, change: c, removed: false, touched: true });
          continue;
        }
        if (outOfOrder(target)) return { ok: false, reason: 'out-of-order', binding: target.rec! };
        target.change = c;
        target.touched = true;
      }
    }

    let live = 0;
    let changed = false;
    for (const s of slots) {
      if (!s.removed) live++;
      if (s.removed || s.change !== undefined) changed = true;
    }
    if (!changed) return { ok: true, bindings: this.lookup(aor) }; // a query, or removals of unknown contacts
    if (live > this.maxBindingsPerAor && live > current.length) {
      return { ok: false, reason: 'too-many', limit: this.maxBindingsPerAor };
    }
    return { ok: true, bindings: this.#commit(aor, current, slots, update) };
  }

  /** Removes every binding of `aor` unconditionally (admin, client removed). Returns how many were removed. */
  removeAll(aor: string): number {
    this.#assertOpen();
    const list = this.#byAor.get(aor);
    if (list === undefined) return 0;
    this.#byAor.delete(aor);
    for (const r of list) this.#heapRemove(r);
    this.#store?.removeAor(aor);
    this.#rearm();
    for (const r of list) this.#emit(aor, 'unregistered', r);
    return list.length;
  }

  /**
   * After a reload: drops the bindings of every AOR for which `keep(aor)` is
   * false (a client removed from sip.conf, or turned static). Returns how many
   * bindings were dropped.
   */
  dropAors(keep: (aor: string) => boolean): number {
    this.#assertOpen();
    let dropped = 0;
    for (const aor of [...this.#byAor.keys()]) if (!keep(aor)) dropped += this.removeAll(aor);
    return dropped;
  }

  /**
   * Loads the durable copy at start. Bindings past expiry + grace are dropped
   * (the store deletes them); a binding already in memory wins over a stored
   * one with the same URI. Loaded bindings have no TCP connection, emit no
   * events and are not written back. Returns how many were loaded. Call
   * {@link dropAors} afterwards with the current config.
   */
  load(store: LocationStore | undefined = this.#store): number {
    this.#assertOpen();
    if (store === undefined) return 0;
    const now = this.#clock.now();
    const wall = this.#clock.wallNow();
    const rows = store.loadAll(wall - this.graceMs);
    const added = new Map<string, { key: string; list: Rec[] }>();
    let loaded = 0;
    for (const row of rows) {
      const deadline = now + (row.expiresAt - wall) + this.graceMs;
      if (deadline <= now) continue;
      let entry = added.get(row.aor);
      if (entry === undefined) {
        const key = this.#aorKey(row.aor);
        entry = { key, list: [...(this.#byAor.get(key) ?? [])] };
        added.set(key, entry);
      }
      if (entry.list.some((r) => this.#uriEquals(r.contactUri, row.contactUri))) continue;
      const rec = new Rec(entry.key, this.#copy(row), undefined, deadline);
      entry.list.push(rec);
      this.#heapPush(rec);
      loaded++;
    }
    for (const { key, list } of added.values()) this.#byAor.set(key, exact(list.sort(byQ)));
    this.#rearm();
    return loaded;
  }

  /** Stops the expiry timer. The store is not closed (the server owns it). */
  close(): void {
    this.#closed = true;
    this.#clock.clearTimer(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
  }

  #commit(aor: string, current: readonly Rec[], slots: Slot[], u: RegisterUpdate): readonly Binding[] {
    const now = this.#clock.now();
    const wall = this.#clock.wallNow();
    const events: Array<[ChangeKind, Rec]> = [];
    const next: Rec[] = [];
    const key = current.length > 0 ? current[0]!.aor : this.#aorKey(aor);
    const source = this.#source(u.source, current);
    let callId: string | undefined;
    const ownCallId = (): string => (callId ??= detach(u.callId));
    const userAgent = u.userAgent === undefined ? undefined : this.#intern(u.userAgent);
    const store = this.#store;
    // Store removals of old keys first: a URI given up by one binding may be taken by another in the same request.
    for (const s of slots) {
      const r = s.rec;
      if (r === undefined) continue;
      if (s.removed) {
        this.#heapRemove(r);
        store?.remove(key, r.contactUri);
        events.push(['unregistered', r]);
      } else if (s.change !== undefined && s.change.contactUri !== r.contactUri) {
        store?.remove(key, r.contactUri);
      }
    }
    for (const s of slots) {
      if (s.removed) continue;
      const r = s.rec;
      const c = s.change;
      if (c === undefined) {
        next.push(r!);
        continue;
      }
      const expiresMs = c.expires * 1000;
      if (r === undefined) {
        const rec = new Rec(
          key,
          {
            contact: detach(c.contact),
            contactUri: detach(c.contactUri),
            instance: detach(c.instance),
            regId: c.regId,
            callId: ownCallId(),
            cseq: u.cseq,
            q: c.q,
            expiresAt: wall + expiresMs,
            registeredAt: wall,
            source,
            userAgent,
          },
          u.connId,
          now + expiresMs + this.graceMs,
        );
        rec.txMark = u.txMark ?? 0;
        this.#heapPush(rec);
        next.push(rec);
        store?.upsert(toStored(rec));
        events.push(['registered', rec]);
        continue;
      }
      if (r.contactUri !== c.contactUri) r.contactUri = detach(c.contactUri);
      if (r.contact !== c.contact) r.contact = detach(c.contact);
      if (r.instance !== c.instance) r.instance = detach(c.instance);
      r.regId = c.regId;
      if (r.callId !== u.callId) r.callId = ownCallId();
      r.cseq = u.cseq;
      r.q = c.q;
      r.expiresAt = wall + expiresMs;
      r.registeredAt = wall;
      r.source = source;
      r.userAgent = userAgent;
      r.connId = u.connId;
      r.deadline = now + expiresMs + this.graceMs;
      r.txMark = u.txMark ?? 0;
      this.#heapUpdate(r);
      next.push(r);
      store?.upsert(toStored(r));
      events.push(['refreshed', r]);
    }
    const list = next.length === 0 ? EMPTY : exact(next.sort(byQ));
    if (next.length === 0) this.#byAor.delete(key);
    else this.#byAor.set(key, list as Rec[]);
    this.#rearm();
    for (const [kind, r] of events) this.#emit(key, kind, r);
    return list;
  }

  /** Removes every binding whose deadline has passed. */
  #expireDue(): void {
    const heap = this.#heap;
    const now = this.#clock.now();
    if (heap.length === 0 || heap[0]!.deadline > now) return;
    const expired: Rec[] = [];
    while (heap.length > 0 && heap[0]!.deadline <= now) {
      const r = heap[0]!;
      this.#heapRemove(r);
      expired.push(r);
    }
    for (const r of expired) {
      const list = this.#byAor.get(r.aor);
      if (list !== undefined) {
        const rest = list.filter((x) => x !== r);
        if (rest.length === 0) this.#byAor.delete(r.aor);
        else this.#byAor.set(r.aor, exact(rest));
      }
      this.#store?.remove(r.aor, r.contactUri);
    }
    for (const r of expired) this.#emit(r.aor, 'expired', r);
  }

  /** Arms the one timer for the earliest deadline. A timer armed earlier than needed is kept (it re-arms when it fires). */
  #rearm(): void {
    if (this.#closed) return;
    const top = this.#heap[0];
    if (top === undefined) {
      this.#clock.clearTimer(this.#timer);
      this.#timer = undefined;
      this.#armedFor = Infinity;
      return;
    }
    if (this.#timer !== undefined && this.#armedFor <= top.deadline) return;
    this.#clock.clearTimer(this.#timer);
    this.#armedFor = top.deadline;
    this.#timer = this.#clock.setTimer(Math.max(0, top.deadline - this.#clock.now()), this.#onTimer);
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    if (this.#closed) return;
    try {
      this.#expireDue();
    } finally {
      this.#rearm();
    }
  };

  #emit(aor: string, kind: ChangeKind, r: Rec): void {
    const fn = this.onChange;
    if (fn === undefined) return;
    try {
      fn(aor, kind, r);
    } catch (err) {
      this.#log.error({ err, aor, kind }, 'location onChange listener threw');
    }
  }

  /** The AOR string used as map key and stored in records (one copy per AOR). */
  #aorKey(aor: string): string {
    return this.#byAor.get(aor)?.[0]?.aor ?? detach(aor);
  }

  /** Reuses the source object of an existing binding of the AOR when equal (same phone, same flow). */
  #source(s: BindingSource, current: readonly Rec[]): BindingSource {
    for (const r of current) {
      const o = r.source;
      if (o.port === s.port && o.proto === s.proto && o.address === s.address && o.localPort === s.localPort && o.localAddress === s.localAddress) return o;
    }
    return Object.freeze({
      proto: s.proto,
      address: this.#intern(s.address),
      port: s.port,
      localAddress: this.#intern(s.localAddress),
      localPort: s.localPort,
    });
  }

  #copy(b: StoredBinding): Omit<StoredBinding, 'aor'> {
    return {
      contact: detach(b.contact),
      contactUri: detach(b.contactUri),
      instance: detach(b.instance),
      regId: b.regId,
      callId: detach(b.callId),
      cseq: b.cseq,
      q: b.q,
      expiresAt: b.expiresAt,
      registeredAt: b.registeredAt,
      source: this.#source(b.source, []),
      userAgent: b.userAgent === undefined ? undefined : this.#intern(b.userAgent),
    };
  }

  /** One shared copy per distinct value, for values many bindings repeat (User-Agent, addresses). Bounded. */
  #intern(s: string): string {
    const hit = this.#interned.get(s);
    if (hit !== undefined) return hit;
    const copy = detach(s);
    if (this.#interned.size >= 4096) this.#interned.clear();
    this.#interned.set(copy, copy);
    return copy;
  }

  #assertOpen(): void {
    if (this.#closed) throw new Error('LocationService is closed');
  }

  // Indexed binary min-heap on `deadline`.

  #heapPush(r: Rec): void {
    r.heapIndex = this.#heap.length;
    this.#heap.push(r);
    this.#siftUp(r.heapIndex);
  }

  #heapRemove(r: Rec): void {
    const heap = this.#heap;
    const i = r.heapIndex;
    if (i < 0) return;
    r.heapIndex = -1;
    const last = heap.pop()!;
    if (i === heap.length) return;
    heap[i] = last;
    last.heapIndex = i;
    this.#siftDown(i);
    this.#siftUp(last.heapIndex);
  }

  #heapUpdate(r: Rec): void {
    this.#siftDown(r.heapIndex);
    this.#siftUp(r.heapIndex);
  }

  #siftUp(i: number): void {
    const heap = this.#heap;
    const r = heap[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = heap[p]!;
      if (parent.deadline <= r.deadline) break;
      heap[i] = parent;
      parent.heapIndex = i;
      i = p;
    }
    heap[i] = r;
    r.heapIndex = i;
  }

  #siftDown(i: number): void {
    const heap = this.#heap;
    const n = heap.length;
    const r = heap[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const rc = l + 1;
      const c = rc < n && heap[rc]!.deadline < heap[l]!.deadline ? rc : l;
      const child = heap[c]!;
      if (child.deadline >= r.deadline) break;
      heap[i] = child;
      child.heapIndex = i;
      i = c;
    }
    heap[i] = r;
    r.heapIndex = i;
  }
}

/** A plain snapshot for the store (it may hold it until its next batch; records change in place). */
function toStored(r: Rec): StoredBinding {
  const b: StoredBinding = {
    aor: r.aor,
    contact: r.contact,
    contactUri: r.contactUri,
    callId: r.callId,
    cseq: r.cseq,
    expiresAt: r.expiresAt,
    registeredAt: r.registeredAt,
    source: r.source,
  };
  if (r.instance !== undefined) b.instance = r.instance;
  if (r.regId !== undefined) b.regId = r.regId;
  if (r.q !== undefined) b.q = r.q;
  if (r.userAgent !== undefined) b.userAgent = r.userAgent;
  return b;
}
