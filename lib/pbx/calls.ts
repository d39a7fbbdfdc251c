/**
 * Calls (DESIGN §4): who calls, where the call goes, and the hand-over to the
 * proxy core. Initial INVITE and MESSAGE requests are checked (§16.3),
 * their caller identified — a gateway's or static client's address, else
 * digest credentials (407) of a section whose `permit` admits the source —
 * routed by `numbers.ts`, and forwarded: all registered contacts of a client
 * at once, gateways one after the other, and on from there as the call's
 * plan says (plan.ts: forwards, hunting, gateway failover). Feature codes
 * (`*72F` …) change forwards and are announced (features.ts); `*11` picks up
 * a call ringing in the group. Requests inside a dialog follow sipd's
 * Record-Route (see proxy/flow-token.ts) and are never challenged, nor are
 * ACK and CANCEL (RFC 3261 §22.1).
 */
import type { Clock } from '../util/clock.js';
import { ChurnMap } from '../util/churn-map.js';
import type { Logger } from '../util/log.js';
import { RateLimitedLog } from '../util/log.js';
import { createLocalResponse } from '../sip/build.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { formatNameAddr, parseNameAddr } from '../sip/name-addr.js';
import { parseUri, unescapeUser } from '../sip/uri.js';
import { formatAddress, type Destination, type Flow } from '../transport/types.js';
import type { ServerTransaction } from '../transaction/types.js';
import { secretFor, type Authenticator } from '../registrar/register.js';
import type { Binding, LocationService } from '../registrar/location.js';
import { uriDestination, type Proxy } from '../proxy/proxy.js';
import type { CallHandle, CallHooks, Target, TargetGroup } from '../proxy/types.js';
import type { Client, Config, HostAddress } from '../config/types.js';
import { peerByAddress, routeCall, shown, type Caller, type GatewayAttempt } from './numbers.js';
import type { CallRecord, CallRecords } from './cdr.js';
import { featureOutcome, FORWARD_NOT_SAVED, parseFeatureCode, type ForwardState } from './features.js';
import { CallPlan, diversionHeader, type Diversion } from './plan.js';

/** How long a gateway may stay silent (no 100 Trying) before the next one is tried. */
export const GATEWAY_NO_RESPONSE_MS = 4000;

export interface CallRouterOptions {
  proxy: Proxy;
  location: LocationService;
  auth: Authenticator;
  config: () => Config;
  clock: Clock;
  log: Logger;
  cdr: CallRecords;
  serverName: string;
  /** Host for the From/P-Asserted-Identity URIs sipd writes towards gateways. */
  selfHost(family: 4 | 6): string;
  /** True while a TCP connection is open (a TCP phone is reached over the connection it registered on). */
  connectionOpen(id: number): boolean;
  /** Forwards set by feature codes (SQLite-backed; outlives reloads). */
  forwards: ForwardState;
}

/** A call ringing at a client right now (for `*11` pickup). */
interface Ringing {
  readonly callId: string;
  /** The ringing client (section name). */
  readonly client: string;
  readonly fromTag: string;
  readonly toTag: string;
  /** Where the caller is: its Contact and the flow its INVITE came on. */
  readonly callerUri: string;
  readonly callerDest: Destination;
  readonly record: CallRecord;
  handle: CallHandle | undefined;
}

export class CallRouter {
  readonly #o: CallRouterOptions;
  readonly #rate: RateLimitedLog;
  /** Calls ringing at a client, by Call-ID. */
  readonly #ringing = new ChurnMap<string, Ringing>();

  constructor(opts: CallRouterOptions) {
    this.#o = opts;
    this.#rate = new RateLimitedLog(() => opts.clock.now(), 60_000);
  }

  /**
   * The 407 for a new call that carries no credentials, from a source that is
   * not a gateway or static host: the same response `initial` would give,
   * sent statelessly (the router's `statelessResponse`). Undefined for
   * anything else, which then goes through `initial` with a transaction.
   */
  statelessChallenge(req: SipRequest, flow: Flow): SipResponse | undefined {
    const o = this.#o;
    if (req.get('proxy-authorization') !== undefined) return undefined;
    const cfg = o.config();
    if (peerByAddress(cfg, flow.remote.address, flow.remote.port) !== undefined) return undefined;
    if (o.proxy.validate(req) !== undefined || o.proxy.routeInDialog(req).kind !== 'none') return undefined;
    return this.#challenge(req, false);
  }

  /** An INVITE or MESSAGE outside a dialog. */
  initial(req: SipRequest, stx: ServerTransaction, flow: Flow): void {
    const o = this.#o;
    const bad = o.proxy.validate(req);
    if (bad !== undefined) {
      stx.respond(this.#stamp(bad));
      return;
    }
    // A pre-loaded Route (an outbound-proxy setting) may name sipd; anything beyond it is refused.
    const r = o.proxy.routeInDialog(req);
    if (r.kind === 'reject') {
      stx.respond(this.#res(req, r.status, r.reason));
      return;
    }
    if (r.kind !== 'none') {
      stx.respond(this.#res(req, 403, 'Forbidden (a new call may not be routed through another server)'));
      return;
    }

    const cfg = o.config();
    const caller = this.#identify(req, stx, flow, cfg);
    if (caller === undefined) return; // challenged

    let uri;
    try {
      uri = req.requestUri();
    } catch {
      stx.respond(this.#res(req, 400, 'Bad Request (malformed Request-URI)'));
      return;
    }
    if (uri.user === undefined) {
      stx.respond(this.#res(req, 484, 'Address Incomplete (no number in the Request-URI)'));
      return;
    }
    const dialled = uri.scheme === 'tel' ? uri.user : unescapeUser(uri.user);
    const route = routeCall(cfg, caller, dialled);
    const record = o.cdr.start(req, flow, caller, dialled);

    switch (route.kind) {
      case 'reject':
        this.#fail(req, stx, record, route.status, route.reason);
        return;
      case 'feature':
        if (caller.kind !== 'client') {
          this.#fail(req, stx, record, 403, 'Forbidden (feature codes are for clients)');
          return;
        }
        this.#feature(req, stx, flow, caller.client, dialled, cfg, record);
        return;
      case 'client':
      case 'external': {
        const plan = this.#plan(cfg);
        const first = route.kind === 'client' ? plan.startClient(route.client, dialled) : plan.startGateways(route.attempts, route.callerId);
        record.notes = plan.notes;
        if ('final' in first) {
          this.#fail(req, stx, record, first.final.status, first.final.reason);
          return;
        }
        this.#forward(req, stx, flow, first, record, plan);
        return;
      }
    }
  }

  /** Live pickups-in-waiting (for tests and the admin). */
  get ringingCount(): number {
    return this.#ringing.size;
  }

  /**
   * A request inside a dialog (To tag) or an ACK for a 2xx (`stx` undefined):
   * relayed along sipd's Record-Route, statefully except the ACK.
   */
  inDialog(req: SipRequest, stx: ServerTransaction | undefined, flow: Flow): void {
    const o = this.#o;
    if (stx !== undefined) {
      const bad = o.proxy.validate(req);
      if (bad !== undefined) {
        stx.respond(this.#stamp(bad));
        return;
      }
    } else if (req.maxForwards === 0) return;
    let r = o.proxy.routeInDialog(req);
    if (r.kind === 'next-hop' && !r.recorded) {
      // Not along a route sipd recorded: relaying it would make sipd an open relay for anyone who sets a To tag.
      r = { kind: 'reject', status: 403, reason: 'Forbidden (sipd relays requests inside a call only along the route it recorded)' };
    }
    if (r.kind === 'reject' || r.kind === 'none') {
      if (stx === undefined) {
        o.log.debug({ msg: req.summary(), peer: formatAddress(flow.remote) }, 'ACK with no route through sipd; dropped');
        return;
      }
      if (r.kind === 'reject') stx.respond(this.#res(req, r.status, r.reason));
      else stx.respond(this.#res(req, 481, 'Call/Transaction Does Not Exist (no route through sipd)'));
      return;
    }
    if (stx === undefined) {
      o.proxy.forwardStateless(req, r.dest);
      return;
    }
    if (req.method === 'BYE') o.cdr.ended(req);
    const target: Target = { uri: req.uri, dest: r.dest, label: 'dialog' };
    o.proxy.forward(stx, { targets: [target] }, { recordRoute: false });
  }

  /** Who calls: a peer by address, else digest credentials; undefined after sending the 407. */
  #identify(req: SipRequest, stx: ServerTransaction, flow: Flow, cfg: Config): Caller | undefined {
    const src = flow.remote.address;
    const peer = peerByAddress(cfg, src, flow.remote.port);
    if (peer !== undefined) {
      return peer.kind === 'gateway' ? { kind: 'gateway', gateway: peer } : { kind: 'client', client: peer };
    }
    const result = this.#o.auth.verify(req, 'proxy-authorization', (username) => secretFor(cfg, username, src));
    if (!result.ok) {
      if (result.present && this.#rate.allow(`auth:${src}`) >= 0) {
        this.#o.log.info({ peer: formatAddress(flow.remote), method: req.method }, 'call not authenticated; challenged again');
      }
      stx.respond(this.#challenge(req, result.stale));
      return undefined;
    }
    const client = cfg.clients.get(result.username)!;
    // sipd's own credentials go no further (RFC 3261 §22.3); nothing else the caller asserts is trusted.
    req.remove('proxy-authorization');
    req.remove('p-asserted-identity');
    return { kind: 'client', client };
  }

  /** Every registered contact of `client` (parallel forking), or its static host. */
  #clientGroup(client: Client, dialled: string, diversion: Diversion | undefined, ringTimeoutMs: number | undefined): TargetGroup | undefined {
    const edit = diversion === undefined ? undefined : this.#diversionEdit(diversion);
    const h = client.host;
    const atHost = (): Target[] =>
      h === undefined ? [] : [{ uri: `sip:${dialled}@${h.hostport}`, dest: hostDest(h), label: client.name }];
    let targets: Target[];
    if (client.secret === undefined) targets = atHost(); // a static client: always at its host
    else {
      const bindings = this.#o.location.lookup(client.name);
      // host= and secret=: registered contacts first, else the host
      targets = bindings.length === 0 ? atHost() : bindings.map((b) => ({ uri: b.contactUri, dest: this.#bindingDest(b), label: client.name }));
    }
    if (targets.length === 0) return undefined;
    if (edit !== undefined) targets = targets.map((t) => ({ ...t, edit }));
    return { targets, ringTimeoutMs };
  }

  /** Adds the Diversion header (RFC 5806) of a forwarded call. */
  #diversionEdit(d: Diversion): (out: SipRequest) => void {
    return (out) => {
      out.prepend('diversion', diversionHeader(d, this.#o.selfHost(out.uri.includes('[') ? 6 : 4)));
    };
  }

  /**
   * Where a registered phone is reached: the flow its REGISTER came on (NAT).
   * Over TCP that is the connection while it is open; once it is gone, the
   * Contact's own address (a phone on the LAN listens there; its source port
   * was an ephemeral one).
   */
  #bindingDest(b: Binding): Destination {
    const s = b.source;
    if (s.proto === 'tcp' && (b.connId === undefined || !this.#o.connectionOpen(b.connId))) {
      try {
        const d = uriDestination(parseUri(b.contactUri));
        if (d !== undefined) return { proto: 'tcp', address: d.address, port: d.port };
      } catch {
        // an unreadable Contact: try the source address
      }
      return { proto: 'tcp', address: s.address, port: s.port };
    }
    return { proto: s.proto, address: s.address, port: s.port, connId: b.connId };
  }

  #gatewayGroup(a: GatewayAttempt, callerId: string | undefined, diversion: Diversion | undefined): TargetGroup {
    const h = a.gateway.host!;
    const selfHost = this.#o.selfHost(h.family);
    const divert = diversion === undefined ? undefined : this.#diversionEdit(diversion);
    const edit = (out: SipRequest): void => {
      divert?.(out);
      if (callerId === undefined) return;
      // Caller ID towards the gateway (DESIGN §4): callerid=, else the long number.
      try {
        const from = parseNameAddr(out.get('from') ?? '');
        out.set('from', formatNameAddr({ display: from.display, uriText: `sip:${callerId}@${selfHost}`, params: from.params }));
      } catch {
        // an unreadable From was refused before; keep it as it is
      }
      out.set('p-asserted-identity', `<sip:${callerId}@${selfHost}>`);
    };
    return {
      targets: [{ uri: `sip:${a.user}@${h.hostport}`, dest: hostDest(h), label: a.gateway.name, gateway: true, edit }],
      // A gateway that does not even send 100 Trying is down: try the next one (DESIGN §4 "no answer").
      noResponseMs: GATEWAY_NO_RESPONSE_MS,
    };
  }

  #plan(cfg: Config): CallPlan {
    return new CallPlan(cfg, {
      clientGroup: (client, dialled, diversion, ringTimeoutMs) => this.#clientGroup(client, dialled, diversion, ringTimeoutMs),
      gatewayGroup: (attempt, callerId, diversion) => this.#gatewayGroup(attempt, callerId, diversion),
      forwardsOf: (client) => this.#o.forwards.get(client),
    });
  }

  /** Hands the call to the proxy: `first`, then what the plan gives (hunting, forwards, failover). */
  #forward(req: SipRequest, stx: ServerTransaction, flow: Flow, first: TargetGroup, record: CallRecord, plan: CallPlan | undefined, extra: Partial<CallHooks> = {}): void {
    const o = this.#o;
    const invite = req.method === 'INVITE';
    let handle: CallHandle | undefined;
    const unring = (): void => {
      const r = this.#ringing.get(req.callId);
      if (r !== undefined && r.record === record) this.#ringing.delete(req.callId);
    };
    const hooks: CallHooks = {
      ...(plan !== undefined ? { next: (outcome) => plan.next(outcome) } : {}),
      onAnswer: (target, res, firstAnswer) => {
        if (firstAnswer) {
          unring();
          o.cdr.answered(record, target, res);
        }
        extra.onAnswer?.(target, res, firstAnswer);
      },
      onFailure: (res, cancelled, last) => {
        unring();
        o.cdr.failed(record, res, cancelled, last);
        extra.onFailure?.(res, cancelled, last);
      },
      onProvisional: (target, res) => {
        // A phone rings: its call can be picked up (*11) by the group.
        if (!invite || target.gateway === true || res.toTag === undefined || req.fromTag === undefined) return;
        const current = this.#ringing.get(req.callId);
        if (current !== undefined && current.record === record && current.client === target.label) return;
        let callerUri: string | undefined;
        try {
          const c = req.contacts()[0];
          callerUri = c === undefined || c === '*' ? undefined : c.uriText;
        } catch {
          callerUri = undefined;
        }
        if (callerUri === undefined) return;
        this.#ringing.set(req.callId, {
          callId: req.callId,
          client: target.label,
          fromTag: req.fromTag,
          toTag: res.toTag,
          callerUri,
          callerDest: { proto: flow.proto, address: flow.remote.address, port: flow.remote.port, connId: flow.connId },
          record,
          handle,
        });
      },
      onDone: unring,
    };
    handle = o.proxy.forward(stx, first, { recordRoute: invite, hooks });
    const r = this.#ringing.get(req.callId);
    if (r !== undefined && r.record === record) r.handle = handle;
  }

  /**
   * A feature code (issue 6): `*72F` `*71F` `*72` `*71` `*73` `*11`. The change
   * is saved first; the outcome is announced through the media gateway (the
   * INVITE goes there with the outcome as its user) or, without one, in the
   * reason phrase of a final response.
   */
  #feature(req: SipRequest, stx: ServerTransaction, flow: Flow, client: Client, dialled: string, cfg: Config, record: CallRecord): void {
    const o = this.#o;
    const fr = parseFeatureCode(dialled);
    if (fr.kind === 'pickup' && this.#pickup(req, stx, flow, client, cfg, record)) return;
    const out = featureOutcome({ cfg, client, forwards: o.forwards }, fr);
    if (out.change !== undefined) {
      try {
        o.forwards.apply(client.name, out.change, o.clock.wallNow());
      } catch (err) {
        o.log.error({ err: (err as Error).message, client: client.name }, 'cannot save a forward');
        this.#fail(req, stx, record, FORWARD_NOT_SAVED.status, FORWARD_NOT_SAVED.reason);
        return;
      }
    }
    o.log.info({ client: client.name, code: shown(dialled) }, `${client.name}: ${out.summary}`);
    record.notes = [out.summary];
    const a = out.announce;
    if (a.via === 'response') {
      this.#fail(req, stx, record, a.status, a.reason);
      return;
    }
    const h = a.gateway.host;
    if (h === undefined) {
      this.#fail(req, stx, record, out.status, out.reason);
      return;
    }
    const target: Target = { uri: `sip:${a.user}@${h.hostport}`, dest: hostDest(h), label: a.gateway.name, gateway: true };
    this.#forward(req, stx, flow, { targets: [target] }, record, undefined);
  }

  /**
   * `*11` (DESIGN §4, as the original): the picker's INVITE goes to the caller
   * of a call ringing at a member of the picker's group, with
   * `Replaces: CALLID;to-tag=CALLER-TAG;from-tag=CALLEE-TAG;early-only` (RFC 3891
   * §3: to-tag is the recipient's own tag). When the caller accepts it, the
   * ringing branches are cancelled. False when nothing rings.
   */
  #pickup(req: SipRequest, stx: ServerTransaction, flow: Flow, picker: Client, cfg: Config, record: CallRecord): boolean {
    let found: Ringing | undefined;
    for (const r of this.#ringing.values()) {
      const c = cfg.clients.get(r.client);
      if (c !== undefined && c.kind === 'client' && c.accountcode === picker.accountcode && r.client !== picker.name && r.callId !== req.callId) {
        found = r;
        break;
      }
    }
    if (found === undefined) return false;
    const r = found;
    const replaces = `${r.callId};to-tag=${r.fromTag};from-tag=${r.toTag};early-only`;
    const target: Target = {
      uri: r.callerUri,
      dest: r.callerDest,
      label: `pickup of ${r.client}`,
      edit: (out) => {
        out.set('replaces', replaces);
      },
    };
    record.notes = [`picks up the call ringing at ${r.client} (${r.callId})`];
    this.#o.log.info({ client: picker.name, ringing: r.client, callId: r.callId }, `${picker.name} picks up the call ringing at ${r.client}`);
    this.#forward(req, stx, flow, { targets: [target] }, record, undefined, {
      onAnswer: (_t, _res, first) => {
        if (!first) return;
        // The caller took the pickup: the phones still ringing stop.
        r.record.cancelledBy = `picked up by ${picker.name}`;
        r.handle?.cancel();
      },
    });
    return true;
  }

  #fail(req: SipRequest, stx: ServerTransaction, record: CallRecord, status: number, reason: string): void {
    const res = this.#res(req, status, reason);
    stx.respond(res);
    this.#o.cdr.failed(record, res, false, undefined);
  }

  #stamp(res: SipResponse): SipResponse {
    res.append('Server', this.#o.serverName);
    return res;
  }

  #challenge(req: SipRequest, stale: boolean): SipResponse {
    const headers: Array<[string, string]> = this.#o.auth.challenge(stale).map((v) => ['Proxy-Authenticate', v]);
    return this.#res(req, 407, 'Proxy Authentication Required', headers);
  }

  #res(req: SipRequest, status: number, reason: string, headers: Array<[string, string]> = []): SipResponse {
    return createLocalResponse(req, status, this.#o.serverName, reason, headers);
  }
}

/** A static host (`host=` of a client, gateway or media gateway) as a next hop: UDP, as the original. */
function hostDest(h: HostAddress): Destination {
  return { proto: 'udp', address: h.address, port: h.port };
}
