/**
 * The stateful proxy core (RFC 3261 §16): request validation, forwarding to a
 * target set with parallel and serial forking, response aggregation, CANCEL,
 * Timer C, Record-Route, Route processing, and the stateless paths (the ACK
 * for a 2xx, a 2xx retransmitted after its client transaction ended).
 *
 * One `ProxyCall` per server transaction holds the branches (one client
 * transaction each) of the current group. It forwards every provisional
 * response but 100 and every 2xx at once; a 2xx cancels the other branches; a
 * group that ends without an answer asks the PBX for the next group (hunting,
 * forwarding, gateway failover) and otherwise sends the caller the best
 * response (§16.7 step 6). Everything a call holds is released when its last
 * client transaction terminates; `size` counts live calls for tests.
 */
import * as cryptoNs from 'node:crypto';
import { createHash } from 'node:crypto';
import { createResponse, randomToken } from '../sip/build.js';
import { SipRequest, type SipResponse } from '../sip/message.js';
import { parseNameAddr } from '../sip/name-addr.js';
import { bareHost, type SipUri } from '../sip/uri.js';
import { MAGIC_COOKIE, ownVia, parseVia, type Via } from '../sip/via.js';
import type { Destination, Flow, Proto, Transport } from '../transport/types.js';
import type { ClientHandler, ClientTransaction, ServerTransaction } from '../transaction/types.js';
import type { Clock, TimerHandle } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { flowDestination, FlowTokens, type DialogRoute, type FlowRef } from './flow-token.js';
import type { CallHandle, CallHooks, FinalAnswer, GroupOutcome, SelfAddress, Target, TargetGroup } from './types.js';

export interface ProxyOptions {
  transport: Transport;
  /** The transaction layer's `sendRequest`. */
  sendRequest(req: SipRequest, dest: Destination, handler: ClientHandler): ClientTransaction;
  clock: Clock;
  log: Logger;
  /** sipd's address for Via and Record-Route on a transport and address family. */
  self(proto: Proto, family: 4 | 6): SelfAddress;
  /** True when `host` (URI form) and `port` (undefined: not written) name sipd. */
  isSelf(host: string, port: number | undefined): boolean;
  /** Secret for Record-Route flow tokens (≥ 16 bytes). */
  routeSecret: Uint8Array;
  /** Timer C in ms (RFC 3261 §16.6 step 11: more than 3 minutes). Default 181 000. */
  timerC?: number;
}

/** The outcome of Route processing for an in-dialog request. */
export type InDialogRoute =
  | { kind: 'dialog'; dest: Destination }
  /** `recorded`: sipd's own verified Record-Route came first (sipd is in this dialog's route set); false for a route nobody vouches for. */
  | { kind: 'next-hop'; dest: Destination; recorded: boolean }
  | { kind: 'none' }
  | { kind: 'reject'; status: number; reason: string };

interface Branch {
  readonly target: Target;
  readonly request: SipRequest;
  tx: ClientTransaction | undefined;
  /** A provisional response came (Timer C runs; CANCEL can go out). */
  provisional: boolean;
  /** A final response came, or the call gave up on the branch (Timer C, ring timeout, CANCEL before any response). */
  settled: boolean;
  answered: boolean;
  timerC: TimerHandle | undefined;
  noResponse: TimerHandle | undefined;
}

const REASON_ELSEWHERE: ReadonlyArray<readonly [string, string]> = [['Reason', 'SIP;cause=200;text="Call completed elsewhere"']];

export class Proxy {
  readonly #o: ProxyOptions;
  readonly #tokens: FlowTokens;
  readonly #timerC: number;
  /**
   * Calls still holding state: a count, not a Set of them (an abandoned hash table of a
   * long-lived Set keeps what it held alive: see util/churn-map.ts).
   */
  #active = 0;

  constructor(opts: ProxyOptions) {
    this.#o = opts;
    this.#tokens = new FlowTokens(opts.routeSecret);
    this.#timerC = opts.timerC ?? 181_000;
  }

  /** Calls (stateful forwards) still holding state. */
  get size(): number {
    return this.#active;
  }

  /**
   * RFC 3261 §16.3 steps 2–5 for a request sipd is about to proxy: the
   * response to send instead, or undefined when it may be forwarded.
   */
  validate(req: SipRequest): SipResponse | undefined {
    let uri: SipUri;
    try {
      uri = req.requestUri();
    } catch {
      return createResponse(req, 400, { reason: 'Bad Request (malformed Request-URI)' });
    }
    if (uri.scheme !== 'sip' && uri.scheme !== 'sips' && uri.scheme !== 'tel') {
      return createResponse(req, 416, { reason: `Unsupported URI Scheme (${uri.scheme})` });
    }
    if (req.maxForwards === 0) return createResponse(req, 483, { reason: 'Too Many Hops' });
    if (this.#isLoop(req)) return createResponse(req, 482, { reason: 'Loop Detected' });
    const required = req.firstOf('proxy-require') === undefined ? [] : req.getAll('proxy-require');
    if (required.length > 0) {
      return createResponse(req, 420, { reason: 'Bad Extension', headers: [['Unsupported', required.join(', ')]] });
    }
    return undefined;
  }

  /**
   * Forwards the request of `stx` statefully to `group`, then to the groups
   * `hooks.next` gives. `source` is the flow the request came on (the caller's
   * side of the dialog, for Record-Route). Sends 100 Trying is the layer's job.
   */
  forward(stx: ServerTransaction, group: TargetGroup, opts: { recordRoute: boolean; hooks?: CallHooks }): CallHandle {
    const call = new ProxyCall(this, this.#o, stx, opts.recordRoute, opts.hooks ?? {}, this.#timerC);
    this.#active++;
    call.start(group);
    return { cancel: () => call.cancelFromOutside() };
  }

  /** @internal ProxyCall → Proxy */
  callDone(): void {
    this.#active--;
  }

  /**
   * Route processing of a request inside a dialog or with a pre-loaded route
   * (RFC 3261 §16.4, §16.12): strict-router compatibility, removal of every
   * leading Route that is sipd, then the next hop: the far side's flow when
   * sipd's Record-Route token verifies, else the next Route. The request is
   * changed in place (Route entries removed, Request-URI restored).
   */
  routeInDialog(req: SipRequest): InDialogRoute {
    // §16.4: a strict router before sipd put sipd's Record-Route URI into the Request-URI.
    let ruri: SipUri | undefined;
    try {
      ruri = req.requestUri();
    } catch {
      return { kind: 'reject', status: 400, reason: 'Bad Request (malformed Request-URI)' };
    }
    let token: string | undefined;
    const routes = req.firstOf('route') === undefined ? [] : req.getAll('route');
    if (routes.length > 0 && this.#o.isSelf(ruri.host, ruri.port) && ruri.user !== undefined && this.#tokens.decode(req.callId, ruri.user) !== undefined) {
      token = ruri.user;
      const last = routes[routes.length - 1]!;
      let na;
      try {
        na = parseNameAddr(last);
      } catch {
        return { kind: 'reject', status: 400, reason: 'Bad Request (malformed Route)' };
      }
      req.uri = na.uriText;
      removeLastRoute(req);
    }
    // Leading Routes that are sipd.
    for (;;) {
      const top = req.firstOf('route');
      if (top === undefined) break;
      let na;
      try {
        na = parseNameAddr(top);
      } catch {
        return { kind: 'reject', status: 400, reason: 'Bad Request (malformed Route)' };
      }
      if (!this.#o.isSelf(na.uri.host, na.uri.port)) break;
      if (na.uri.user !== undefined && token === undefined) token = na.uri.user;
      req.shift('route');
    }
    if (token !== undefined) {
      const dr = this.#tokens.decode(req.callId, token);
      if (dr !== undefined && req.firstOf('route') === undefined) {
        const side: FlowRef = req.fromTag === dr.ftag ? dr.callee : dr.caller;
        return { kind: 'dialog', dest: flowDestination(side) };
      }
      if (dr === undefined) return { kind: 'reject', status: 403, reason: 'Forbidden (Route token not valid for this dialog)' };
    }
    const next = req.firstOf('route');
    if (next !== undefined) {
      let na;
      try {
        na = parseNameAddr(next);
      } catch {
        return { kind: 'reject', status: 400, reason: 'Bad Request (malformed Route)' };
      }
      const dest = uriDestination(na.uri);
      if (dest === undefined) return { kind: 'reject', status: 502, reason: 'Bad Gateway (next hop is not an IP address)' };
      return { kind: 'next-hop', dest, recorded: token !== undefined };
    }
    return { kind: 'none' };
  }

  /**
   * Forwards `req` without a transaction (the ACK for a 2xx, RFC 3261 §16.11
   * style): Max-Forwards decremented, sipd's Via on top, sent to `dest`.
   */
  forwardStateless(req: SipRequest, dest: Destination): void {
    const out = this.prepare(req, dest, statelessBranch(req));
    this.#o.transport.send(out, dest);
  }

  /**
   * A response that matches no client transaction (a 2xx retransmitted after
   * Timer M, §16.7 via §18.1.2): if its top Via is sipd's, remove it and send it
   * where the next Via says; otherwise drop it.
   */
  forwardStrayResponse(res: SipResponse): boolean {
    const vias = res.getAll('via');
    if (vias.length < 2) return false;
    let own: Via;
    let next: Via;
    try {
      own = parseVia(vias[0]!);
      next = parseVia(vias[1]!);
    } catch {
      return false;
    }
    if (!this.#o.isSelf(own.host, own.port) || own.branch?.startsWith(BRANCH_PREFIX) !== true) return false;
    if (res.cseq.method !== 'INVITE' || res.status < 200 || res.status >= 300) return false;
    res.shift('via');
    // §18.2.2 without the original flow: received/rport as sipd stamped them on the request.
    const proto: Proto = next.transport === 'TCP' ? 'tcp' : 'udp';
    const port = typeof next.rport === 'number' ? next.rport : (next.port ?? 5060);
    this.#o.transport.send(res, { proto, address: bareHost(next.received ?? next.host), port });
    return true;
  }

  /**
   * The copy of `req` that goes to `dest` (§16.6 steps 1–8 except the Request-URI
   * and Record-Route, which the caller sets): Max-Forwards decremented, sipd's
   * Proxy-Authorization removed by the PBX beforehand, sipd's Via on top.
   */
  prepare(req: SipRequest, dest: Destination, branch: string, uri?: string): SipRequest {
    const self = this.#o.self(dest.proto, familyOf(dest.address));
    const v = ownVia(dest.proto === 'udp' ? 'UDP' : dest.proto.toUpperCase(), self.host, self.port, branch);
    return req.forwardCopy(uri ?? req.uri, req.maxForwards === undefined ? 70 : req.maxForwards - 1, v.text, v.via);
  }

  /** A branch id with the §16.6 step 8 loop-detection part. */
  branchFor(req: SipRequest): string {
    return `${BRANCH_PREFIX}${loopHash(req, 0)}.${randomToken(6)}`;
  }

  /** Record-Route value(s) for a dialog between `source` (caller side) and `dest` (callee side), top first. */
  recordRoutes(req: SipRequest, source: Flow, dest: Destination): string[] {
    const callee: FlowRef = { proto: dest.proto, address: dest.address, port: dest.port, connId: dest.connId };
    const caller: FlowRef = { proto: source.proto, address: source.remote.address, port: source.remote.port, connId: source.connId };
    const token = this.#tokens.encode(req.callId, { ftag: req.fromTag ?? '', caller, callee } satisfies DialogRoute);
    const inSelf = this.#o.self(source.proto, source.local.family);
    const outSelf = this.#o.self(dest.proto, familyOf(dest.address));
    const inRr = rrValue(token, inSelf, source.proto);
    const outRr = rrValue(token, outSelf, dest.proto);
    // Two entries when the call changes transport or address family (RFC 3261 §16.6 step 4, "double Record-Route").
    return inRr === outRr ? [inRr] : [outRr, inRr];
  }

  #isLoop(req: SipRequest): boolean {
    const vias = req.getAll('via');
    if (vias.length < 2) return false;
    // Every Via of sipd (the top one too: sipd may have sent the request to itself), hashed with the Via below it.
    for (let i = 0; i + 1 < vias.length; i++) {
      let v: Via;
      try {
        v = parseVia(vias[i]!);
      } catch {
        continue;
      }
      if (v.branch === undefined || !v.branch.startsWith(BRANCH_PREFIX) || !this.#o.isSelf(v.host, v.port)) continue;
      const hash = loopHash(req, i + 1);
      // A spiral (the request came back changed, e.g. retargeted) is fine; the same request again is a loop.
      if (v.branch.slice(BRANCH_PREFIX.length, BRANCH_PREFIX.length + hash.length) === hash) return true;
    }
    return false;
  }
}

const BRANCH_PREFIX = `${MAGIC_COOKIE}sd`;

/** `crypto.hash` (Node ≥ 20.12): one call instead of a Hash object; undefined on older runtimes. */
const oneShot = (cryptoNs as { hash?: (alg: string, data: string, enc: 'base64url') => string }).hash;

function sha1(s: string): string {
  return oneShot !== undefined ? oneShot('sha1', s, 'base64url') : createHash('sha1').update(s).digest('base64url');
}

/**
 * §16.6 step 8 / §16.3 step 4: what makes a request "the same" when it comes
 * back. `viaIndex` is the Via of the hop before sipd: the top one of a request
 * sipd forwards; in a request that came back, the one below sipd's own Via
 * (whatever other hops put above it since).
 */
function loopHash(req: SipRequest, viaIndex: number): string {
  let v = (viaIndex === 0 ? req.firstOf('via') : req.getAll('via')[viaIndex]) ?? '';
  if (v.includes('received') || v.includes('rport=')) v = v.replace(/;(received|rport)=[^;]*/g, '');
  const pr = req.has('proxy-require') ? req.getAll('proxy-require').join(',') : '';
  return sha1(`${req.uri}\u0000${req.toTag ?? ''}\u0000${req.fromTag ?? ''}\u0000${req.callId}\u0000${req.cseq.seq}\u0000${v}\u0000${pr}`).slice(0, 10);
}

/** A deterministic branch for a stateless forward: the same ACK retransmitted gets the same branch (§16.11). */
function statelessBranch(req: SipRequest): string {
  return `${MAGIC_COOKIE}sl${sha1(`${req.via.branch ?? ''}\u0000${req.callId}\u0000${req.cseq.seq}\u0000${req.method}\u0000${req.uri}`).slice(0, 16)}`;
}

function rrValue(token: string, self: SelfAddress, proto: Proto): string {
  return `<sip:${token}@${self.host}:${self.port}${proto === 'tcp' ? ';transport=tcp' : ''};lr>`;
}

function familyOf(address: string): 4 | 6 {
  return address.includes(':') ? 6 : 4;
}

function removeLastRoute(req: SipRequest): void {
  const all = req.getAll('route');
  all.pop();
  req.remove('route');
  for (const r of all) req.append('route', r);
}

const IPV4 = /^\d{1,3}(?:\.\d{1,3}){3}$/;

/** Where a SIP URI points, without DNS: an IP literal host, its port (5060) and transport (UDP). */
export function uriDestination(uri: SipUri): Destination | undefined {
  if (uri.scheme !== 'sip' && uri.scheme !== 'sips') return undefined;
  const maddr = uri.params.get('maddr');
  const host = bareHost(typeof maddr === 'string' ? maddr : uri.host);
  if (!IPV4.test(host) && !host.includes(':')) return undefined;
  const t = uri.params.get('transport');
  const proto: Proto = typeof t === 'string' && t.toLowerCase() === 'tcp' ? 'tcp' : 'udp';
  return { proto, address: host, port: uri.port ?? 5060 };
}

/** One proxied request: its server transaction and the branches of the current group. */
class ProxyCall {
  readonly #proxy: Proxy;
  readonly #o: ProxyOptions;
  readonly #stx: ServerTransaction;
  readonly #req: SipRequest;
  readonly #invite: boolean;
  readonly #recordRoute: boolean;
  readonly #hooks: CallHooks;
  readonly #timerCMs: number;
  #branches: Branch[] = [];
  /** Final responses of the current group (already without sipd's Via). */
  #responses: SipResponse[] = [];
  #attempt = 0;
  #ringTimer: TimerHandle | undefined;
  #noAnswer = false;
  /** Client transactions not yet terminated (all groups). */
  #live = 0;
  #answered = false;
  #finalSent = false;
  #cancelled = false;
  #sixxx = false;
  #lastTarget: Target | undefined;
  #done = false;

  constructor(proxy: Proxy, o: ProxyOptions, stx: ServerTransaction, recordRoute: boolean, hooks: CallHooks, timerC: number) {
    this.#proxy = proxy;
    this.#o = o;
    this.#stx = stx;
    this.#req = stx.request;
    this.#invite = stx.request.method === 'INVITE';
    this.#recordRoute = recordRoute && this.#invite;
    this.#hooks = hooks;
    this.#timerCMs = timerC;
    if (this.#invite) stx.onCancel = () => this.#cancel();
  }

  start(group: TargetGroup): void {
    this.#startGroup(group);
  }

  /** As if the caller had sent CANCEL. */
  cancelFromOutside(): void {
    this.#cancel();
  }

  #startGroup(group: TargetGroup): void {
    this.#attempt++;
    this.#branches = [];
    this.#responses = [];
    this.#noAnswer = false;
    if (group.targets.length === 0) {
      this.#responses.push(createResponse(this.#req, 480, { reason: 'Temporarily Unavailable' }));
      this.#groupEnded();
      return;
    }
    for (const target of group.targets) {
      const branch = this.#proxy.branchFor(this.#req);
      const out = this.#proxy.prepare(this.#req, target.dest, branch, target.uri);
      if (this.#recordRoute) {
        for (const rr of this.#proxy.recordRoutes(this.#req, this.#stx.flow, target.dest).reverse()) out.prepend('record-route', rr);
      }
      target.edit?.(out);
      const b: Branch = { target, request: out, tx: undefined, provisional: false, settled: false, answered: false, timerC: undefined, noResponse: undefined };
      this.#branches.push(b);
    }
    if (group.ringTimeoutMs !== undefined && group.ringTimeoutMs > 0) {
      this.#ringTimer = this.#o.clock.setTimer(group.ringTimeoutMs, () => this.#ringOut());
    }
    // Send after every branch exists: a synchronous failure of one must not end the group early.
    for (const b of this.#branches.slice()) {
      if (this.#finalSent || this.#answered) break;
      this.#send(b);
      if (group.noResponseMs !== undefined && group.noResponseMs > 0 && !b.settled) {
        b.noResponse = this.#o.clock.setTimer(group.noResponseMs, () => {
          b.noResponse = undefined;
          if (b.settled || b.provisional) return;
          b.tx?.cancel?.(); // sent only if a provisional response ever comes (§9.1)
          this.#settle(b, createResponse(this.#req, 408, { reason: 'Request Timeout (no response from the target)' }));
        });
      }
    }
  }

  #send(b: Branch): void {
    const handler: ClientHandler = {
      onResponse: (res, flow) => this.#onResponse(b, res, flow !== undefined),
      onTerminated: () => this.#onTerminated(b),
    };
    this.#live++;
    this.#lastTarget = b.target;
    try {
      b.tx = this.#o.sendRequest(b.request, b.target.dest, handler);
    } catch (err) {
      this.#live--;
      this.#o.log.warn({ err: (err as Error).message, target: b.target.label }, 'cannot send a proxied request');
      this.#settle(b, createResponse(this.#req, 503, { reason: 'Service Unavailable' }));
      return;
    }
    if (this.#invite) this.#armTimerC(b);
  }

  #armTimerC(b: Branch): void {
    this.#o.clock.clearTimer(b.timerC);
    b.timerC = this.#o.clock.setTimer(this.#timerCMs, () => {
      b.timerC = undefined;
      if (b.settled) return;
      // §16.6 step 11 / §16.8: CANCEL after a provisional response, else act as on a 408.
      if (b.provisional) b.tx?.cancel?.();
      this.#settle(b, createResponse(this.#req, 408, { reason: 'Request Timeout' }));
    });
  }

  #onResponse(b: Branch, res: SipResponse, received: boolean): void {
    // Our Via is on top of every response to our branch, received or made up by the layer.
    res.shift('via');
    if (!res.has('via')) {
      // §16.7 step 3: nothing left to route it by (a broken next hop dropped the caller's Via).
      // A final response still ends the branch: the caller gets one built here instead.
      this.#o.log.warn({ status: res.status, target: b.target.label }, 'response without the caller\'s Via; not relayed');
      if (res.status < 200) return;
      res = createResponse(this.#req, res.status, { reason: res.reason, ...(res.toTag !== undefined ? { toTag: res.toTag } : {}) });
      if (res.status < 300) return; // a 2xx cannot be rebuilt (Contact, SDP): the callee will time out and BYE
    }
    if (b.noResponse !== undefined) {
      this.#o.clock.clearTimer(b.noResponse);
      b.noResponse = undefined;
    }
    const s = res.status;
    if (s < 200) {
      if (b.settled) return;
      b.provisional = true;
      if (this.#invite && s > 100) this.#armTimerC(b);
      if (s > 100 && !this.#finalSent && (this.#stx.state === 'Proceeding' || this.#stx.state === 'Trying')) this.#stx.respond(res);
      if (s > 100 && this.#hooks.onProvisional !== undefined) {
        try {
          this.#hooks.onProvisional(b.target, res);
        } catch (err) {
          this.#o.log.error({ err }, 'onProvisional hook threw');
        }
      }
      return;
    }
    if (s < 300) {
      this.#onAnswer(b, res);
      return;
    }
    if (b.settled) return;
    if (!received && s === 503) {
      // The layer's stand-in for a transport error (§8.1.3.1): say what happened.
      this.#settle(b, withReason(res, 480, 'Temporarily Unavailable (cannot reach the target)'));
      return;
    }
    if (s >= 600) this.#sixxx = true;
    this.#settle(b, res);
  }

  #onAnswer(b: Branch, res: SipResponse): void {
    const first = !b.answered;
    b.answered = true;
    this.#o.clock.clearTimer(b.timerC);
    b.timerC = undefined;
    if (!b.settled) {
      b.settled = true;
    }
    if (first) {
      try {
        this.#hooks.onAnswer?.(b.target, res, !this.#answered);
      } catch (err) {
        this.#o.log.error({ err }, 'onAnswer hook threw');
      }
    }
    if (!this.#answered) {
      this.#answered = true;
      this.#finalSent = true;
      this.#clearRing();
      this.#cancelOthers(b, REASON_ELSEWHERE);
    }
    // §16.7 step 5: every 2xx goes upstream, retransmissions and other forks' answers included.
    // A non-INVITE (BYE, MESSAGE, ...) is answered through its transaction, from Trying too; once
    // Completed it has its final response, and only the INVITE's later 2xx go on statelessly.
    const st = this.#stx.state;
    if (st === 'Proceeding' || st === 'Accepted' || st === 'Trying') this.#stx.respond(res);
    else if (this.#invite) this.#o.transport.send(res, this.#stx.dest);
  }

  /** A branch is over for this call (final response, Timer C, ring timeout or CANCEL). */
  #settle(b: Branch, res: SipResponse): void {
    if (b.settled) return;
    b.settled = true;
    this.#o.clock.clearTimer(b.timerC);
    b.timerC = undefined;
    this.#o.clock.clearTimer(b.noResponse);
    b.noResponse = undefined;
    this.#responses.push(res);
    if (this.#sixxx) this.#cancelOthers(b, []);
    if (this.#branches.every((x) => x.settled)) this.#groupEnded();
  }

  #ringOut(): void {
    this.#ringTimer = undefined;
    if (this.#answered || this.#finalSent) return;
    this.#noAnswer = true;
    for (const b of this.#branches) {
      if (b.settled) continue;
      b.tx?.cancel?.();
      this.#settle(b, createResponse(this.#req, 408, { reason: 'Request Timeout (no answer)' }));
    }
  }

  #cancel(): void {
    if (this.#answered || this.#finalSent) return;
    this.#cancelled = true;
    this.#clearRing();
    // §16.10: CANCEL every pending branch; branches that have not answered at all are given up at once.
    for (const b of this.#branches) {
      if (b.settled) continue;
      b.tx?.cancel?.();
      if (!b.provisional) this.#settle(b, createResponse(this.#req, 487, { reason: 'Request Terminated' }));
    }
  }

  #cancelOthers(winner: Branch, headers: ReadonlyArray<readonly [string, string]>): void {
    for (const b of this.#branches) {
      if (b === winner || b.settled || b.answered) continue;
      b.tx?.cancel?.({ headers });
      b.settled = true;
      this.#o.clock.clearTimer(b.timerC);
      b.timerC = undefined;
    }
  }

  #groupEnded(): void {
    this.#clearRing();
    if (this.#answered || this.#finalSent) return;
    const best = bestResponse(this.#responses);
    if (!this.#cancelled && this.#hooks.next !== undefined) {
      const outcome: GroupOutcome = { best, attempt: this.#attempt, noAnswer: this.#noAnswer, labels: this.#branches.map((b) => b.target.label), global: this.#sixxx };
      let next: TargetGroup | FinalAnswer | undefined;
      try {
        next = this.#hooks.next(outcome);
      } catch (err) {
        this.#o.log.error({ err }, 'next-group hook threw');
      }
      if (next !== undefined && 'final' in next) {
        this.#sendFinal(createResponse(this.#req, next.final.status, { reason: next.final.reason }), true);
        return;
      }
      if (next !== undefined) {
        this.#sixxx = false;
        this.#startGroup(next);
        return;
      }
    }
    this.#sendFinal(best);
  }

  #sendFinal(best: SipResponse, own = false): void {
    this.#finalSent = true;
    let res = best;
    if (this.#cancelled) res = best.status === 487 ? best : createResponse(this.#req, 487, { reason: 'Request Terminated' });
    else if (res.status === 503 && !own) res = withReason(res, 500, 'Server Internal Error (the next hop is unavailable)'); // §16.7 step 6
    this.#stx.respond(res);
    try {
      this.#hooks.onFailure?.(res, this.#cancelled, this.#lastTarget);
    } catch (err) {
      this.#o.log.error({ err }, 'onFailure hook threw');
    }
    this.#maybeDone();
  }

  #onTerminated(b: Branch): void {
    this.#live--;
    this.#o.clock.clearTimer(b.timerC);
    b.timerC = undefined;
    this.#o.clock.clearTimer(b.noResponse);
    b.noResponse = undefined;
    if (!b.settled) {
      // Terminated without a final response we saw (should not happen: the layer makes one up).
      this.#settle(b, createResponse(this.#req, 408, { reason: 'Request Timeout' }));
    }
    this.#maybeDone();
  }

  #maybeDone(): void {
    if (this.#done || this.#live > 0 || !this.#finalSent) return;
    this.#done = true;
    this.#clearRing();
    this.#stx.onCancel = undefined;
    this.#branches = [];
    this.#responses = [];
    this.#proxy.callDone();
    try {
      this.#hooks.onDone?.();
    } catch (err) {
      this.#o.log.error({ err }, 'onDone hook threw');
    }
  }

  #clearRing(): void {
    this.#o.clock.clearTimer(this.#ringTimer);
    this.#ringTimer = undefined;
  }
}

/**
 * RFC 3261 §16.7 step 6: a 6xx wins; otherwise the lowest class; within a
 * class the first received, except that a locally made-up 408 (timeout, no
 * answer) yields to any real response of its class.
 */
export function bestResponse(list: readonly SipResponse[]): SipResponse {
  let best: SipResponse | undefined;
  for (const r of list) {
    if (best === undefined) {
      best = r;
      continue;
    }
    if (best.status >= 600) continue;
    if (r.status >= 600) {
      best = r;
      continue;
    }
    const bc = Math.floor(best.status / 100);
    const rc = Math.floor(r.status / 100);
    if (rc < bc || (rc === bc && best.status === 408 && r.status !== 408)) best = r;
  }
  return best!;
}

/** The same response with another status and reason (the headers and body stay). */
function withReason(res: SipResponse, status: number, reason: string): SipResponse {
  res.status = status;
  res.reason = reason; // serialize() sees the changed start line and re-encodes
  return res;
}
