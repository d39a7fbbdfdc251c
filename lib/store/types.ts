/**
 * The persistence ports (DESIGN §2, §5): plain data in and out, no SIP types,
 * no SQLite types. Memory is the hot path everywhere; these interfaces are the
 * durable copy behind it. Upper layers `import type` from here only; the
 * SQLite implementation (`sqlite.ts`) is wired in by `server.ts`.
 */

/** Where a registration came from (RFC 3581 received/rport as seen by the socket). */
export interface BindingSource {
  readonly proto: 'udp' | 'tcp';
  /** Peer IP address without brackets. */
  readonly address: string;
  readonly port: number;
  /** The sipd socket the REGISTER arrived on. */
  readonly localAddress: string;
  readonly localPort: number;
}

/** One registered contact of one AOR, as kept on disk. Times are wall-clock epoch ms. */
export interface StoredBinding {
  /** Client name (the sip.conf section name): the AOR key. */
  aor: string;
  /** The Contact header element exactly as the phone sent it (echoed back verbatim). */
  contact: string;
  /** The URI text inside `contact`; unique within one AOR (the binding's key). */
  contactUri: string;
  /** `+sip.instance`, unquoted (RFC 5626/5627). */
  instance?: string;
  /** `reg-id` (RFC 5626). */
  regId?: number;
  callId: string;
  cseq: number;
  /** Contact `q` value, 0..1. */
  q?: number;
  expiresAt: number;
  /** Time of the latest REGISTER that created or refreshed this binding. */
  registeredAt: number;
  source: BindingSource;
  userAgent?: string;
}

/**
 * The durable copy of the location service. Writes are queued and written in
 * batches (one transaction per batch), so `upsert`/`remove` never touch the
 * disk on the caller's stack. A later operation on the same `(aor, contactUri)`
 * replaces a queued earlier one.
 */
export interface LocationStore {
  /**
   * Every binding still valid at `now` (wall-clock ms). Bindings with
   * `expiresAt <= now` are dropped and deleted from the durable copy.
   */
  loadAll(now: number): StoredBinding[];
  /** Inserts or replaces the binding keyed by `(b.aor, b.contactUri)`. The store may keep `b` until it is written: do not mutate it afterwards. */
  upsert(b: StoredBinding): void;
  /** Deletes the binding keyed by `(aor, contactUri)`, if any. */
  remove(aor: string, contactUri: string): void;
  /** Deletes every binding of `aor`. */
  removeAor(aor: string): void;
  /** Writes the queue now, in one transaction. */
  flush(): void;
  /** Flushes, then releases the database. */
  close(): void;
}

/** A read-only view of the bindings, for `sipd --registrations` while the server runs. */
export interface LocationReader {
  /** Bindings with `expiresAt > now`, ordered by AOR, then q (highest first). */
  listBindings(now: number): StoredBinding[];
  close(): void;
}

/** Small named values kept across restarts. */
export interface MetaStore {
  /**
   * The secret stored under `name`, created from `bytes` random bytes on first
   * use (e.g. the nonce HMAC key, so nonces survive a restart). A stored secret
   * of another length is replaced by a new one.
   */
  getOrCreateSecret(name: string, bytes: number): Buffer;
}

/** Call-forwarding kinds set by feature codes (`*72` always, `*71` when unavailable). */
export type ForwardKind = 'always' | 'unavailable';

export interface StoredForward {
  /** Client name (section name). */
  client: string;
  kind: ForwardKind;
  /**
   * The number calls are forwarded to, as the user dialled it after `*72`/`*71`
   * (`84991234567`, `102`, `+441234567890`). The empty string is an explicit
   * "no forward of this kind": it hides a sip.conf forward of the same kind
   * (what `*73` writes; see lib/pbx/features.ts).
   */
  target: string;
  /** Wall-clock ms of the change. */
  updatedAt: number;
}

/**
 * Run-time feature-code state (DESIGN §4): survives restarts, reloads and
 * `kill -9`. Changes are rare and are written at once, each in its own
 * transaction (not through the batch queue of the location writes): when a
 * method returns, the change is committed. A write that fails throws
 * `StoreError` (`SIPD_ERR_STORE_WRITE`) and changes nothing.
 */
export interface FeatureStore {
  /** Every stored forward, ordered by client, then kind (`always` first). */
  loadForwards(): StoredForward[];
  /** Inserts or replaces the row keyed by `(f.client, f.kind)`. */
  setForward(f: StoredForward): void;
  /**
   * Deletes one kind, or every row of `client` when `kind` is omitted. Deleting
   * is not `*73`: without a row the sip.conf forward applies again (`*73`
   * stores empty targets instead).
   */
  clearForward(client: string, kind?: ForwardKind): void;
}

/** A read-only view of the run-time forwards, for `sipd --forwards` while the server runs. */
export interface ForwardReader {
  /** As `FeatureStore.loadForwards`; a database from before forwards existed (schema < 3) has none: `[]`. */
  listForwards(): StoredForward[];
}

/**
 * One row per call attempt (DESIGN §4, CDR), written by the PBX when the
 * attempt ends (final failure response, CANCEL, or BYE after an answer). Plain
 * data: strings as the PBX wants them shown, times wall-clock epoch ms
 * (`Clock.wallNow()`), never SIP objects.
 */
export interface CdrRecord {
  /** Call-ID of the caller's INVITE. */
  callId: string;
  /** Who called: the sip.conf section name of the client or gateway; `''` when unknown. */
  caller: string;
  /** The caller's number as presented (long number, callerid, or the From user of a gateway call). */
  callerNumber?: string;
  /** The caller's group (sip.conf `accountcode`). */
  accountcode?: string;
  /** The number or name as dialled (Request-URI user before any normalisation). */
  dialled: string;
  /**
   * The final destination: a client name, or a gateway name and the number
   * sent to it (`'gw1 74951234567'`). Absent when the call reached nobody.
   */
  destination?: string;
  /** Final SIP status sent back to the caller (200 for an answered call); 0 when there was none. */
  status: number;
  /** How the attempt ended, free text set by the PBX: `'answered'`, `'busy'`, `'cancelled'`, `'forwarded to 1002'`, … */
  reason?: string;
  /** When the INVITE arrived. */
  startedAt: number;
  /** When the 2xx was sent to the caller; absent when never answered. */
  answeredAt?: number;
  /** When the attempt ended (final failure, CANCEL, BYE); absent when the end is unknown. */
  endedAt?: number;
  /** The caller's `ip:port/proto` as seen by the socket (`'203.0.113.7:5060/udp'`, `'[2001:db8::1]:5060/tcp'`). */
  sourceAddress?: string;
  /** Where the final branch was sent, same form as `sourceAddress`. */
  destinationAddress?: string;
  fromTag?: string;
  toTag?: string;
}

/** A CDR as read back: the record plus its row id (increasing in insertion order). */
export interface StoredCdr extends CdrRecord {
  readonly id: number;
}

/**
 * Where the PBX writes CDRs. `insert` never touches the disk on the caller's
 * stack: records are copied into the same queue and written by the same
 * batch transaction as the location writes, so `LocationStore.flush()` and
 * `close()` also write pending CDRs.
 */
export interface CdrStore {
  /**
   * Queues one record (copied at once: the caller may reuse `cdr`). Throws
   * RangeError when `startedAt` is not a finite number, so a bad record fails
   * its caller instead of poisoning the batch it would join.
   */
  insert(cdr: CdrRecord): void;
}

/** A read-only view of the CDRs, for `sipd --cdr` while the server runs. */
export interface CdrReader {
  /**
   * Records with `startedAt >= since` (all when omitted), ordered by
   * `startedAt`, then insertion order; at most `limit` of them (the earliest)
   * when given. A database from before CDRs existed has none: `[]`.
   */
  listCdrs(opts?: { since?: number; limit?: number }): StoredCdr[];
  close(): void;
}

/** What `openReadOnly` gives the admin commands: bindings, CDRs and forwards through one handle. */
export interface StoreReader extends LocationReader, CdrReader, ForwardReader {
  close(): void;
}
