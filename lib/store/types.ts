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
  /** The number or name calls are forwarded to. */
  target: string;
  /** Wall-clock ms of the change. */
  updatedAt: number;
}

/** Run-time feature-code state (DESIGN §4): survives restarts and reloads. Not implemented yet. */
export interface FeatureStore {
  loadForwards(): StoredForward[];
  setForward(f: StoredForward): void;
  /** Clears one kind, or every forward of `client` when `kind` is omitted (`*73`). */
  clearForward(client: string, kind?: ForwardKind): void;
}

/** One row per call attempt (DESIGN §4, CDR). Times are wall-clock ms. Not implemented yet. */
export interface CdrRecord {
  callId: string;
  caller: string;
  callerNumber?: string;
  accountcode?: string;
  dialled: string;
  destination?: string;
  status: number;
  startedAt: number;
  answeredAt?: number;
  endedAt?: number;
  sourceAddress?: string;
  destinationAddress?: string;
  fromTag?: string;
  toTag?: string;
}

export interface CdrStore {
  /** Queued and written in batches, like location writes. */
  insert(cdr: CdrRecord): void;
}
