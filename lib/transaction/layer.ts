/**
 * The transaction layer (RFC 3261 §17): the tables of live client and server
 * transactions, matching of incoming messages (key.ts), and dispatch to the TU.
 * Transport → `receive()` → a matching transaction, or a new server transaction
 * and `tu.onRequest`; the TU → `sendRequest()` → a new client transaction.
 * Every message, timer and TU callback runs inside a try/catch: `receive` never
 * throws and a throwing TU gets its request answered with 500 (STYLE §4.3,
 * resiprocate's "every request must be answered"). Terminated transactions
 * leave the tables at once, with all their timers cleared.
 */
import { createResponse } from '../sip/build.js';
import { ChurnMap } from '../util/churn-map.js';
import { SipResponse, type SipRequest } from '../sip/message.js';
import type { Destination, Flow, Proto, Transport } from '../transport/types.js';
import { responseDestination } from '../transport/routing.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import { silentLogger, type Logger } from '../util/log.js';
import { detach } from '../util/strings.js';
import { ClientInviteTransaction } from './client-invite.js';
import { ClientNonInviteTransaction } from './client-non-invite.js';
import { TransactionUsageError } from './errors.js';
import type { Transaction, TxEnv } from './fsm.js';
import { clientKey, isRfc3261Branch, legacyKey, legacyToTagMatches, matchMethod, responseKey, serverKey } from './key.js';
import { ServerInviteTransaction } from './server-invite.js';
import { ServerNonInviteTransaction } from './server-non-invite.js';
import { createTimerConfig, type TimerConfig, type TimerOptions } from './timers.js';
import type { ClientHandler, ClientTransaction, TransactionUser } from './types.js';

export interface TransactionLayerOptions {
  transport: Transport;
  clock: Clock;
  /** T1/T2/T4 in ms (defaults 500/4000/5000); every other timer derives from them. */
  timers?: TimerOptions;
  log?: Logger;
  tu: TransactionUser;
  /** Send 100 Trying for every new INVITE at once (§17.2.1). Default true. */
  autoTrying?: boolean;
  /**
   * Keep the Completed state of non-INVITE server transactions on UDP (64*T1
   * of absorbing retransmissions, timer J) as compact records — key,
   * destination, the final response's bytes — in one FIFO with one timer,
   * instead of live transaction objects with the parsed request and response
   * (about 5 KB each). The behaviour on the wire is the same; the transaction's
   * own state becomes Terminated right after its final response. Likewise a
   * non-INVITE client transaction on UDP ends at its final response: the
   * response retransmissions Timer K would absorb go to `tu.onStrayResponse`
   * (a proxy drops non-INVITE ones). Default false.
   */
  compactCompleted?: boolean;
  /**
   * Keep the Accepted state of INVITE transactions compact (see `TxEnv.parkAccepted`):
   * a server transaction's Timer L becomes a record that absorbs INVITE
   * retransmissions; a client transaction ends on its first 2xx and every later
   * 2xx goes to `tu.onStrayResponse`. For a proxy this frees a call's state
   * right after its answer instead of 32 s later. Likewise the Confirmed state
   * of an INVITE server transaction on UDP (after a non-2xx and its ACK, e.g.
   * a 407 for wrong credentials) becomes a record that absorbs the ACK and INVITE
   * retransmissions (`TxEnv.parkConfirmed`), for 64*T1 instead of T4: a
   * longer absorption is harmless (the branch is unique) and every record
   * shares one FIFO. Default false.
   */
  compactAccepted?: boolean;
}

/**
 * A non-INVITE server transaction in Completed, kept compact (see `compactCompleted`):
 * one object holding the destination of a retransmitted response. About
 * 150 bytes plus the response text (~500 bytes for a REGISTER's 200 OK), or
 * without the text when the TU can build the response again (replayable).
 */
class ParkedRecord {
  constructor(
    readonly key: string,
    /**
     * The final response as sent (latin1). Undefined with status 0: absorb
     * retransmissions silently (an INVITE answered with a 2xx); undefined with a
     * status: the TU builds the response again (`TransactionUser.replayResponse`).
     */
    readonly bytes: string | undefined,
    readonly status: number,
    readonly proto: Proto,
    readonly address: string,
    readonly port: number,
    /** An INVITE answered with a non-2xx and ACKed (Confirmed): retransmitted ACKs are absorbed too. */
    readonly absorbsAck: boolean,
    readonly deadline: number,
  ) {}

  /** The response again, for a retransmitted request (rare: built on demand, not kept). */
  response(): SipResponse | undefined {
    if (this.bytes === undefined) return undefined;
    const res = new SipResponse(this.status, '', [], EMPTY_BODY);
    res.setSource(Buffer.from(this.bytes, 'latin1'));
    return res;
  }
}

const EMPTY_BODY = Buffer.alloc(0);

type ClientTx = ClientInviteTransaction | ClientNonInviteTransaction;
type ServerTx = ServerInviteTransaction | ServerNonInviteTransaction;

export class TransactionLayer {
  readonly timers: TimerConfig;
  readonly #tu: TransactionUser;
  readonly #log: Logger;
  readonly #autoTrying: boolean;
  readonly #env: TxEnv;
  readonly #clients = new ChurnMap<string, ClientTx>();
  /** RFC 3261 branch (magic cookie) server transactions: one per key. */
  readonly #servers = new ChurnMap<string, ServerTx>();
  /** RFC 2543 server transactions: buckets by key, told apart by To tag. */
  readonly #legacy = new Map<string, ServerTx[]>();
  #legacyCount = 0;
  /** Parked Completed records by key, and the same in deadline order (every one lives timer J). */
  readonly #parked = new Map<string, ParkedRecord>();
  #parkedQueue: Array<ParkedRecord | undefined> = [];
  #parkedHead = 0;
  #parkTimer: TimerHandle | undefined;
  #lastParkedAddress = '';
  #closed = false;

  constructor(opts: TransactionLayerOptions) {
    this.timers = createTimerConfig(opts.timers);
    this.#tu = opts.tu;
    this.#log = (opts.log ?? silentLogger).child({ component: 'transaction' });
    this.#autoTrying = opts.autoTrying ?? true;
    this.#env = Object.freeze({
      transport: opts.transport,
      clock: opts.clock,
      timers: this.timers,
      log: this.#log,
      removed: (tx: Transaction<string>) => this.#removed(tx),
      ...(opts.compactCompleted === true
        ? {
            park: (key: string, res: SipResponse, dest: Destination, replayable: boolean) =>
              this.#park(key, res, dest, false, replayable && this.#tu.replayResponse !== undefined),
          }
        : {}),
      ...(opts.compactAccepted === true
        ? {
            parkAccepted: (key: string, dest: Destination) => this.#park(key, undefined, dest, false),
            parkConfirmed: (key: string, req: SipRequest, dest: Destination) => {
              if (!isRfc3261Branch(req.via.branch)) return false;
              this.#park(key, undefined, dest, true);
              return true;
            },
          }
        : {}),
    });
  }

  /** Live transactions (a burst followed by enough clock time must bring both to 0). */
  get size(): { client: number; server: number } {
    return { client: this.#clients.size, server: this.#servers.size + this.#legacyCount + this.#parked.size };
  }

  /** From the transport: one parsed message and the flow it came on. Never throws. */
  receive(msg: SipRequest | SipResponse, flow: Flow): void {
    if (this.#closed) return;
    try {
      if (msg.isRequest) this.#onRequest(msg, flow);
      else this.#onResponse(msg, flow);
    } catch (err) {
      this.#log.error({ err, msg: summary(msg) }, 'transaction layer failed on a message');
    }
  }

  /**
   * Starts a client transaction for `req` (not ACK: an ACK for a 2xx is sent by
   * the TU straight through the transport). The request must carry its top Via
   * with a fresh RFC 3261 branch (`newBranch()`). Handler callbacks never run
   * before this returns.
   */
  sendRequest(req: SipRequest, dest: Destination, handler: ClientHandler): ClientTransaction {
    if (this.#closed) throw new TransactionUsageError('the transaction layer is closed');
    if (req.method === 'ACK') {
      throw new TransactionUsageError('an ACK has no client transaction: send the ACK for a 2xx with transport.send()');
    }
    const branch = req.via.branch;
    if (!isRfc3261Branch(branch)) {
      throw new TransactionUsageError(`the top Via of a new request needs a branch starting with z9hG4bK (use newBranch()), got ${String(branch)}`);
    }
    const key = clientKey(branch, req.cseq.method);
    if (this.#clients.has(key)) {
      throw new TransactionUsageError(`a client transaction with branch ${branch} and method ${req.cseq.method} already exists`);
    }
    if (req.method === 'INVITE') {
      const tx = new ClientInviteTransaction(this.#env, key, req, dest, handler, (r, d, h) => this.sendRequest(r, d, h));
      this.#clients.set(key, tx);
      tx.start();
      return tx;
    }
    const tx = new ClientNonInviteTransaction(this.#env, key, req, dest, handler);
    this.#clients.set(key, tx);
    tx.start();
    return tx;
  }

  /** Clears every timer and empties the tables; later messages are ignored. No callbacks run. */
  close(): void {
    this.#closed = true;
    for (const tx of this.#clients.values()) tx.dispose();
    for (const tx of this.#servers.values()) tx.dispose();
    for (const bucket of this.#legacy.values()) for (const tx of bucket) tx.dispose();
    this.#clients.clear();
    this.#servers.clear();
    this.#legacy.clear();
    this.#legacyCount = 0;
    this.#env.clock.clearTimer(this.#parkTimer);
    this.#parkTimer = undefined;
    this.#parked.clear();
    this.#parkedQueue = [];
    this.#parkedHead = 0;
  }

  #onResponse(res: SipResponse, flow: Flow): void {
    // RFC 3261 §17.1.3
    const key = responseKey(res);
    const tx = key === undefined ? undefined : this.#clients.get(key);
    if (tx !== undefined) {
      tx.handle({ type: 'rx-msg', msg: res, flow });
      return;
    }
    try {
      this.#tu.onStrayResponse(res, flow);
    } catch (err) {
      this.#log.error({ err, msg: summary(res) }, 'onStrayResponse threw');
    }
  }

  #onRequest(req: SipRequest, flow: Flow): void {
    if (req.method === 'ACK') {
      this.#onAck(req, flow);
      return;
    }
    const key = this.#keyOf(req, req.method);
    const existing = this.#lookup(req, key);
    if (existing !== undefined) {
      existing.handle({ type: 'rx-msg', msg: req, flow });
      return;
    }
    if (this.#parked.size > 0) {
      const rec = this.#parked.get(key);
      if (rec !== undefined) {
        // A retransmission of a request answered already: the same response again (§17.2.2 Completed),
        // or nothing for an INVITE answered with a 2xx (RFC 6026 Accepted absorbs it).
        const res = rec.bytes === undefined && rec.status !== 0 ? this.#replay(req, flow) : rec.response();
        if (res !== undefined) this.#env.transport.send(res, { proto: rec.proto, address: rec.address, port: rec.port });
        return;
      }
    }
    if (this.#tu.statelessResponse !== undefined && req.method !== 'CANCEL') {
      let res: SipResponse | undefined;
      try {
        res = this.#tu.statelessResponse(req, flow);
      } catch (err) {
        this.#log.error({ err, msg: summary(req) }, 'statelessResponse threw; going on with a transaction');
      }
      if (res !== undefined) {
        this.#env.transport.send(res, responseDestination(req, flow));
        return;
      }
    }
    const stx = this.#createServer(req, flow, key);
    if (req.method === 'CANCEL') stx.cancelled = this.#findServer(req, 'INVITE'); // §9.2
    if (stx instanceof ServerInviteTransaction) stx.start(this.#autoTrying);
    else stx.start();
    try {
      this.#tu.onRequest(req, stx, flow);
    } catch (err) {
      this.#log.error({ err, msg: summary(req) }, 'onRequest threw; answering 500');
      if (!stx.completed && !stx.terminated) stx.respond(createResponse(req, 500, { reason: 'Server Internal Error' }));
    }
    const invite = stx.cancelled;
    if (invite !== undefined && !invite.completed && invite.onCancel !== undefined) {
      try {
        invite.onCancel();
      } catch (err) {
        this.#log.error({ err, msg: summary(invite.request) }, 'onCancel threw');
      }
    }
  }

  /** The TU's response again for a retransmission of a request parked as replayable. */
  #replay(req: SipRequest, flow: Flow): SipResponse | undefined {
    try {
      return this.#tu.replayResponse?.(req, flow);
    } catch (err) {
      this.#log.error({ err, msg: summary(req) }, 'replayResponse threw; retransmission dropped');
      return undefined;
    }
  }

  /** §17.2.3: an ACK matching an INVITE server transaction with a non-2xx final is absorbed; any other ACK goes to the TU. */
  #onAck(ack: SipRequest, flow: Flow): void {
    const key = this.#keyOf(ack, 'INVITE');
    if (this.#parked.size > 0 && this.#parked.get(key)?.absorbsAck === true) return; // §17.2.1 Confirmed
    const stx = this.#lookup(ack, key);
    if (stx !== undefined && (stx.state === 'Completed' || stx.state === 'Confirmed')) {
      stx.handle({ type: 'rx-msg', msg: ack, flow });
      return;
    }
    if (stx !== undefined && stx.state === 'Proceeding') {
      this.#log.debug({ msg: summary(ack) }, 'ACK before a final response; dropped');
      return;
    }
    // No match, or RFC 6026 Accepted: the ACK for a 2xx is the TU's.
    try {
      this.#tu.onRequest(ack, undefined, flow);
    } catch (err) {
      this.#log.error({ err, msg: summary(ack) }, 'onRequest threw on an ACK');
    }
  }

  /** The server transaction `req` matches when looked up as `method` (ACK and CANCEL look for the INVITE). */
  #findServer(req: SipRequest, method: string): ServerTx | undefined {
    return this.#lookup(req, this.#keyOf(req, method));
  }

  /** The table key of `req` looked up as `method`: its RFC 3261 key, else its RFC 2543 one (computed once per request). */
  #keyOf(req: SipRequest, method: string): string {
    const m = matchMethod(method);
    return serverKey(req, m) ?? legacyKey(req, m);
  }

  /** The server transaction under `key` (from {@link #keyOf}); RFC 2543 ones are told apart by To tag. */
  #lookup(req: SipRequest, key: string): ServerTx | undefined {
    if (isRfc3261Branch(req.via.branch)) return this.#servers.get(key);
    const bucket = this.#legacy.get(key);
    if (bucket === undefined) return undefined;
    for (const tx of bucket) if (legacyToTagMatches(req, tx.request, tx.lastResponse)) return tx;
    return undefined;
  }

  #createServer(req: SipRequest, flow: Flow, key: string): ServerTx {
    const stx = this.#newServer(key, req, flow);
    if (isRfc3261Branch(req.via.branch)) {
      this.#servers.set(key, stx);
      return stx;
    }
    const bucket = this.#legacy.get(key);
    if (bucket === undefined) this.#legacy.set(key, [stx]);
    else bucket.push(stx);
    this.#legacyCount++;
    return stx;
  }

  #newServer(key: string, req: SipRequest, flow: Flow): ServerTx {
    return req.method === 'INVITE'
      ? new ServerInviteTransaction(this.#env, key, req, flow)
      : new ServerNonInviteTransaction(this.#env, key, req, flow);
  }

  /**
   * Files a Completed non-INVITE server transaction (timer J), or an INVITE
   * server transaction in Accepted (timer L, `res` undefined), as a compact
   * record. Both timers are 64*T1, so one FIFO keeps them in deadline order.
   * A `replayable` response is not kept: the TU builds it again when needed.
   */
  #park(key: string, res: SipResponse | undefined, dest: Destination, absorbsAck: boolean, replayable = false): void {
    if (this.#closed) return;
    // Nothing here may keep the packet alive: the key is copied, the response kept as its text
    // (a Buffer copy would sit in a shared 8 KB pool slab, and a few live ones keep whole slabs),
    // the address string shared with the previous record when it is the same (phones behind one NAT).
    let address = dest.address;
    if (address === this.#lastParkedAddress) address = this.#lastParkedAddress;
    else this.#lastParkedAddress = address = detach(address);
    const rec = new ParkedRecord(
      detach(key),
      res === undefined || replayable ? undefined : res.serialize().toString('latin1'),
      res === undefined ? 0 : res.status,
      dest.proto,
      address,
      dest.port,
      absorbsAck,
      Math.ceil(this.#env.clock.now() + this.timers.J.unreliable), // an integer: no boxed number per record
    );
    this.#parked.set(rec.key, rec);
    this.#parkedQueue.push(rec);
    if (this.#parkTimer === undefined) this.#armParked();
  }

  #armParked(): void {
    const head = this.#parkedQueue[this.#parkedHead];
    if (head === undefined) {
      this.#parkTimer = undefined;
      this.#parkedQueue = [];
      this.#parkedHead = 0;
      return;
    }
    const clock = this.#env.clock;
    this.#parkTimer = clock.setTimer(Math.max(0, head.deadline - clock.now()), () => {
      const now = clock.now();
      const q = this.#parkedQueue;
      while (this.#parkedHead < q.length && q[this.#parkedHead]!.deadline <= now) {
        const rec = q[this.#parkedHead]!;
        q[this.#parkedHead++] = undefined; // let it go now, not at the next compaction
        if (this.#parked.get(rec.key) === rec) this.#parked.delete(rec.key);
      }
      if (this.#parkedHead > 1024 && this.#parkedHead * 2 > q.length) {
        this.#parkedQueue = q.slice(this.#parkedHead);
        this.#parkedHead = 0;
      }
      this.#armParked();
    });
  }

  #removed(tx: Transaction<string>): void {
    if (tx instanceof ClientInviteTransaction || tx instanceof ClientNonInviteTransaction) {
      if (this.#clients.get(tx.key) === tx) this.#clients.delete(tx.key);
      return;
    }
    if (this.#servers.get(tx.key) === tx) {
      this.#servers.delete(tx.key);
      return;
    }
    const bucket = this.#legacy.get(tx.key);
    if (bucket === undefined) return;
    const i = bucket.indexOf(tx as ServerTx);
    if (i < 0) return;
    bucket.splice(i, 1);
    this.#legacyCount--;
    if (bucket.length === 0) this.#legacy.delete(tx.key);
  }
}

function summary(msg: SipRequest | SipResponse): string {
  return msg.summary();
}

export type { CancelOptions, ClientHandler, ClientTransaction, RespondOptions, ServerTransaction, TransactionUser } from './types.js';
