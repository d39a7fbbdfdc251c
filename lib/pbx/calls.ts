/**
 * Calls (DESIGN §4): who calls, where the call goes, and the hand-over to the
 * proxy core. Initial INVITE and MESSAGE requests are checked (§16.3),
 * their caller identified — a gateway's or static client's address, else
 * digest credentials (407) of a section whose `permit` admits the source —
 * routed by `numbers.ts`, and forwarded: all registered contacts of a client
 * at once, gateways one after the other. Requests inside a dialog follow
 * sipd's Record-Route (see proxy/flow-token.ts) and are never challenged,
 * nor are ACK and CANCEL (RFC 3261 §22.1).
 */
import type { Clock } from '../util/clock.js';
import type { Logger } from '../util/log.js';
import { RateLimitedLog } from '../util/log.js';
import { createResponse, statelessTag } from '../sip/build.js';
import type { SipRequest, SipResponse } from '../sip/message.js';
import { formatNameAddr, parseNameAddr } from '../sip/name-addr.js';
import { parseUri, unescapeUser } from '../sip/uri.js';
import { formatAddress, type Destination, type Flow } from '../transport/types.js';
import type { ServerTransaction } from '../transaction/types.js';
import type { Authenticator } from '../registrar/register.js';
import type { Binding, LocationService } from '../registrar/location.js';
import { uriDestination, type Proxy } from '../proxy/proxy.js';
import type { CallHooks, Target, TargetGroup } from '../proxy/types.js';
import type { Client, Config } from '../config/types.js';
import { peerByAddress, routeCall, type Caller, type GatewayAttempt } from './numbers.js';
import type { CallRecords } from './cdr.js';

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
}

export class CallRouter {
  readonly #o: CallRouterOptions;
  readonly #rate: RateLimitedLog;

  constructor(opts: CallRouterOptions) {
    this.#o = opts;
    this.#rate = new RateLimitedLog(() => opts.clock.now(), 60_000);
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
        this.#fail(req, stx, record, 501, `Not Implemented (feature code ${route.code})`);
        return;
      case 'client': {
        const group = this.#clientGroup(route.client, dialled);
        if (group === undefined) {
          this.#fail(req, stx, record, 480, `Temporarily Unavailable (${route.client.name} is not registered)`);
          return;
        }
        this.#forward(req, stx, caller, group, record, undefined);
        return;
      }
      case 'external': {
        const groups = route.attempts.map((a) => this.#gatewayGroup(a, route.callerId, req));
        this.#forward(req, stx, caller, groups[0]!, record, groups.slice(1));
        return;
      }
    }
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
    const result = this.#o.auth.verify(req, 'proxy-authorization', (username) => {
      const c = cfg.clients.get(username);
      if (c === undefined || c.kind !== 'client' || c.secret === undefined) return undefined;
      if (c.permit !== undefined && !c.permit.allows(src)) return undefined;
      return c.secret;
    });
    if (!result.ok) {
      if (result.present && this.#rate.allow(`auth:${src}`) >= 0) {
        this.#o.log.info({ peer: formatAddress(flow.remote), method: req.method }, 'call not authenticated; challenged again');
      }
      const headers: Array<[string, string]> = this.#o.auth.challenge(result.stale).map((v) => ['Proxy-Authenticate', v]);
      stx.respond(this.#res(req, 407, 'Proxy Authentication Required', headers));
      return undefined;
    }
    const client = cfg.clients.get(result.username)!;
    // sipd's own credentials go no further (RFC 3261 §22.3); nothing else the caller asserts is trusted.
    req.remove('proxy-authorization');
    req.remove('p-asserted-identity');
    return { kind: 'client', client };
  }

  /** Every registered contact of `client` (parallel forking), or its static host. */
  #clientGroup(client: Client, dialled: string): TargetGroup | undefined {
    const h = client.host;
    const atHost = (): TargetGroup | undefined =>
      h === undefined ? undefined : { targets: [{ uri: `sip:${dialled}@${h.hostport}`, dest: { proto: 'udp', address: h.address, port: h.port }, label: client.name }] };
    if (client.secret === undefined) return atHost(); // a static client: always at its host
    const bindings = this.#o.location.lookup(client.name);
    if (bindings.length === 0) return atHost(); // host= and secret=: registered contacts first, else the host
    const targets: Target[] = bindings.map((b) => ({ uri: b.contactUri, dest: this.#bindingDest(b), label: client.name }));
    return { targets };
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

  #gatewayGroup(a: GatewayAttempt, callerId: string | undefined, req: SipRequest): TargetGroup {
    const h = a.gateway.host!;
    const selfHost = this.#o.selfHost(h.family);
    const edit = (out: SipRequest): void => {
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
    void req;
    return {
      targets: [{ uri: `sip:${a.user}@${h.hostport}`, dest: { proto: 'udp', address: h.address, port: h.port }, label: a.gateway.name, gateway: true, edit }],
      // A gateway that does not even send 100 Trying is down: try the next one (DESIGN §4 "no answer").
      noResponseMs: GATEWAY_NO_RESPONSE_MS,
    };
  }

  #forward(req: SipRequest, stx: ServerTransaction, caller: Caller, first: TargetGroup, record: ReturnType<CallRecords['start']>, rest: TargetGroup[] | undefined): void {
    const o = this.#o;
    const queue = rest === undefined ? [] : rest.slice();
    const hooks: CallHooks = {
      next: (outcome) => {
        // Gateway failover (DESIGN §4): the next gateway on 408, 5xx or no answer.
        const s = outcome.best.status;
        if (queue.length > 0 && (s === 408 || (s >= 500 && s < 600) || outcome.noAnswer)) return queue.shift();
        return undefined;
      },
      onAnswer: (target, res, firstAnswer) => {
        if (firstAnswer) o.cdr.answered(record, target, res);
      },
      onFailure: (res, cancelled, last) => o.cdr.failed(record, res, cancelled, last),
    };
    void caller;
    if (req.method !== 'INVITE') {
      o.proxy.forward(stx, first, { recordRoute: false, hooks });
      return;
    }
    o.proxy.forward(stx, first, { recordRoute: true, hooks });
  }

  #fail(req: SipRequest, stx: ServerTransaction, record: ReturnType<CallRecords['start']>, status: number, reason: string): void {
    const res = this.#res(req, status, reason);
    stx.respond(res);
    this.#o.cdr.failed(record, res, false, undefined);
  }

  #stamp(res: SipResponse): SipResponse {
    res.append('Server', this.#o.serverName);
    return res;
  }

  #res(req: SipRequest, status: number, reason: string, headers: Array<[string, string]> = []): SipResponse {
    return createResponse(req, status, { toTag: statelessTag(req), reason, headers: [...headers, ['Server', this.#o.serverName]] });
  }
}
