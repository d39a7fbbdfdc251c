/**
 * Wiring: builds the layers (transport → transaction → router), injects the
 * clock, logger and timer settings, and owns their lifecycle. The only module
 * that constructs real sockets and the system clock.
 */
import os from 'node:os';
import { systemClock, type Clock } from './util/clock.js';
import type { Logger } from './util/log.js';
import { createResponseFromPartial } from './sip/build.js';
import type { SipParseError } from './sip/errors.js';
import { TransportManager } from './transport/manager.js';
import { responseDestinationFor, stampedVia } from './transport/routing.js';
import type { Address, Flow } from './transport/types.js';
import { TransactionLayer } from './transaction/layer.js';
import { Router } from './pbx/router.js';
import { VERSION } from './version.js';

export interface ServerOptions {
  /** Listen address (UDP and TCP). Port 0 picks a free port. */
  bind: { address: string; port: number };
  log: Logger;
  clock?: Clock;
  /** RFC 3261 timers in ms (defaults T1 500, T2 4000, T4 5000). */
  timers?: { t1?: number; t2?: number; t4?: number };
  maxMessageSize?: number;
  tcpIdleTimeoutMs?: number;
}

export class SipdServer {
  readonly #transport: TransportManager;
  readonly #transactions: TransactionLayer;
  readonly #log: Logger;
  #closed = false;

  private constructor(transport: TransportManager, transactions: TransactionLayer, log: Logger) {
    this.#transport = transport;
    this.#transactions = transactions;
    this.#log = log;
  }

  static async start(opts: ServerOptions): Promise<SipdServer> {
    const clock = opts.clock ?? systemClock;
    const log = opts.log;
    const router = new Router({ log: log.child({ component: 'router' }), serverName: `sipd/${VERSION}` });
    // The transaction layer and the transport refer to each other; the transport is created first.
    let transactions: TransactionLayer | undefined;
    let transport: TransportManager | undefined;
    transport = await TransportManager.listen({
      host: opts.bind.address,
      port: opts.bind.port,
      clock,
      log: log.child({ component: 'transport' }),
      ...(opts.maxMessageSize !== undefined ? { maxMessageSize: opts.maxMessageSize } : {}),
      ...(opts.tcpIdleTimeoutMs !== undefined ? { idleTimeoutMs: opts.tcpIdleTimeoutMs } : {}),
      onMessage: (msg, flow) => transactions?.receive(msg, flow),
      onInvalid: (err, flow) => answerInvalid(transport, err, flow),
    });
    transactions = new TransactionLayer({
      transport,
      clock,
      log: log.child({ component: 'transaction' }),
      tu: router,
      ...(opts.timers ? { timers: opts.timers } : {}),
    });
    const server = new SipdServer(transport, transactions, log);
    log.info({ address: transport.local.address, port: transport.local.port }, `sipd ${VERSION} listening on udp and tcp`);
    return server;
  }

  get address(): Address {
    return this.#transport.local;
  }

  /** Live transactions (for tests and the admin). */
  get transactionCount(): { client: number; server: number } {
    return this.#transactions.size;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#transactions.close();
    await this.#transport.close();
    this.#log.info('sipd stopped');
  }
}

/**
 * A request that did not parse but carries a usable Via gets a 400 (505 for a
 * wrong SIP version) whose reason phrase names the problem; anything else is
 * dropped silently (RFC 3261 §16.3 lets a proxy drop what it cannot answer).
 */
function answerInvalid(transport: TransportManager | undefined, err: SipParseError, flow: Flow): void {
  if (transport === undefined || err.partial === undefined) return;
  const status = err.status === 505 ? 505 : 400;
  const built = createResponseFromPartial(err.partial, status, status === 505 ? 'Version Not Supported' : `Bad Request (${err.reason})`);
  if (built === undefined) return;
  const via = stampedVia(built.via, flow) ?? built.via;
  transport.send(built.response, responseDestinationFor(via, flow));
}

export function hostName(): string {
  return os.hostname();
}
