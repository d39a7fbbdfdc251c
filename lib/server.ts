/**
 * Wiring: loads sip.conf, builds the layers (transport → transaction →
 * router), injects the clock, logger and timer settings, and owns their
 * lifecycle, the pid file and reloads. The only module that constructs real
 * sockets and uses the system clock.
 *
 * Reload (SIGHUP, `sipd -r`, a change of sip.conf on disk) parses and
 * validates the whole new file, then swaps the immutable Config reference in
 * one assignment; an invalid file leaves the running config in place. A
 * request reads the config once on entry, so a reload never changes a call
 * halfway through.
 */
import os from 'node:os';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { systemClock, type Clock, type TimerHandle } from './util/clock.js';
import type { Logger } from './util/log.js';
import { createResponseFromPartial } from './sip/build.js';
import type { SipParseError } from './sip/errors.js';
import { TransportManager } from './transport/manager.js';
import { responseDestinationFor, stampedVia } from './transport/routing.js';
import type { Address, Flow } from './transport/types.js';
import { TransactionLayer } from './transaction/layer.js';
import { Router } from './pbx/router.js';
import { ConfigLoadError, diffConfigs, formatDiff, readConfigFile, type Config, type LoadResult, type NumberingOptions } from './config/index.js';
import { readPidFile, removePidFile, writePidFile } from './pidfile.js';
import { writeReloadStatus, type ReloadStatus } from './reload-status.js';
import { VERSION } from './version.js';
import { openStore, openReadOnly, type SqliteStore } from './store/sqlite.js';
import { LocationService, type Binding } from './registrar/location.js';
import { LocalDomains } from './registrar/domain.js';
import { Registrar } from './registrar/register.js';
import { DigestAuthenticator } from './registrar/auth.js';
import { Proxy } from './proxy/proxy.js';
import type { SelfAddress } from './proxy/types.js';
import { CallRouter } from './pbx/calls.js';
import { CallRecords } from './pbx/cdr.js';
import { ForwardState } from './pbx/features.js';
import { hostForUri } from './sip/uri.js';

export { openReadOnly };

export const CONFIG_FILE = 'sip.conf';
export const DB_FILE = 'sipd.sqlite3';

export interface ServerOptions {
  /** Listen address (UDP and TCP). Port 0 picks a free port. */
  bind: { address: string; port: number };
  log: Logger;
  /** Working directory: sip.conf, sipd.pid, sipd.reload.json. */
  workDir: string;
  /** `-c` and `-cc`. */
  numbering: NumberingOptions;
  clock?: Clock;
  /** RFC 3261 timers in ms (defaults T1 500, T2 4000, T4 5000). */
  timers?: { t1?: number; t2?: number; t4?: number };
  maxMessageSize?: number;
  tcpIdleTimeoutMs?: number;
  /** Watch sip.conf and reload on change (default false; the CLI turns it on). */
  watch?: boolean;
  /** Quiet time after the last change on disk before reloading (default 300 ms). */
  watchDebounceMs?: number;
  /** Own sipd.pid and sipd.reload.json in the working directory (default false; the CLI turns it on). */
  pidFile?: boolean;
  /** Proxy Timer C in ms (default 181 000, RFC 3261 §16.6). */
  timerC?: number;
}

export class SipdServer {
  readonly #opts: ServerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #confPath: string;
  #config: Config;
  #configText: string;
  #lastChange: { at: number; trigger: string; changes: string } | undefined;
  #transport!: TransportManager;
  #transactions!: TransactionLayer;
  #store: SqliteStore | undefined;
  #location!: LocationService;
  #domains!: LocalDomains;
  #proxy!: Proxy;
  #calls!: CallRouter;
  #cdr: CallRecords | undefined;
  /** sipd's address per address family, for Via and Record-Route. */
  #self: { 4: string; 6: string } = { 4: '127.0.0.1', 6: '[::1]' };
  #watcher: FSWatcher | undefined;
  #debounce: TimerHandle | undefined;
  #closed = false;

  private constructor(opts: ServerOptions, config: Config, text: string) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#clock = opts.clock ?? systemClock;
    this.#confPath = path.join(opts.workDir, CONFIG_FILE);
    this.#config = config;
    this.#configText = text;
  }

  /**
   * Loads sip.conf (throws ConfigLoadError with every error), refuses to share
   * a working directory with a running sipd, binds the sockets (throws a
   * TransportError naming the address), then starts watching sip.conf.
   */
  static async start(opts: ServerOptions): Promise<SipdServer> {
    const log = opts.log;
    const confPath = path.join(opts.workDir, CONFIG_FILE);
    const { config, warnings, text } = readConfigFile(confPath, opts.numbering);
    for (const w of warnings) log.warn(w.toString());
    if (opts.pidFile) {
      const other = readPidFile(opts.workDir);
      if (other?.running && other.pid !== process.pid) {
        throw new Error(`another sipd (pid ${other.pid}) is already running in ${opts.workDir} (${other.file})`);
      }
    }
    const server = new SipdServer(opts, config, text);
    server.#openState();
    try {
      await server.#listen();
    } catch (err) {
      server.#closeState();
      throw err;
    }
    if (opts.pidFile) {
      writePidFile(opts.workDir, process.pid, (stale) => log.warn({ stalePid: stale }, 'replaced a stale sipd.pid (that process is gone)'));
    }
    if (opts.watch) await server.#watch();
    log.info(
      { address: server.address.address, port: server.address.port, clients: config.clients.size, realm: server.realm },
      `sipd ${VERSION} listening on udp and tcp`,
    );
    return server;
  }

  /** sipd.sqlite3 and the location service, loaded with the bindings that have not expired. */
  #openState(): void {
    const log = this.#log.child({ component: 'registrar' });
    const store = openStore(path.join(this.#opts.workDir, DB_FILE), { clock: this.#clock, log });
    this.#store = store;
    this.#location = new LocationService({
      clock: this.#clock,
      store,
      log,
      onChange: (aor, kind, b) => logBinding(log, aor, kind, b),
    });
    const loaded = this.#location.load();
    const dropped = this.#location.dropAors((aor) => registrable(this.#config, aor));
    if (loaded > 0) log.info({ bindings: loaded - dropped }, 'registrations restored from sipd.sqlite3');
  }

  #closeState(): void {
    this.#cdr?.close();
    this.#location?.close();
    this.#store?.close();
  }

  async #listen(): Promise<void> {
    const opts = this.#opts;
    const store = this.#store!;
    const auth = new DigestAuthenticator({
      secret: store.getOrCreateSecret('nonce-hmac', 32),
      clock: this.#clock,
      realm: () => this.realm,
      general: () => this.#config.general,
    });
    const registrar = new Registrar({
      location: this.#location,
      auth,
      clock: this.#clock,
      log: this.#log.child({ component: 'registrar' }),
      config: () => this.#config,
      domains: () => this.#domains,
      serverName: `sipd/${VERSION}`,
    });
    let transactions: TransactionLayer | undefined;
    const callLog = this.#log.child({ component: 'calls' });
    const proxy = new Proxy({
      transport: { send: (m, d, e) => this.#transport.send(m, d, e), isReliable: (p) => this.#transport.isReliable(p) },
      sendRequest: (req, dest, handler) => transactions!.sendRequest(req, dest, handler),
      clock: this.#clock,
      log: callLog,
      self: (_proto, family): SelfAddress => ({ host: this.#self[family], port: this.#transport.local.port }),
      isSelf: (host, port) => (port ?? 5060) === this.#transport.local.port && this.#domains.has(host),
      routeSecret: store.getOrCreateSecret('route-hmac', 32),
      ...(opts.timerC !== undefined ? { timerC: opts.timerC } : {}),
    });
    const cdr = new CallRecords({ store, clock: this.#clock, log: callLog });
    const calls = new CallRouter({
      proxy,
      location: this.#location,
      auth,
      config: () => this.#config,
      clock: this.#clock,
      log: callLog,
      cdr,
      serverName: `sipd/${VERSION}`,
      selfHost: (family) => this.#self[family],
      connectionOpen: (id) => this.#transport.connectionOpen(id),
      forwards: new ForwardState(store),
    });
    this.#proxy = proxy;
    this.#cdr = cdr;
    this.#calls = calls;
    const router = new Router({ log: this.#log.child({ component: 'router' }), serverName: `sipd/${VERSION}`, registrar, calls, proxy });
    const transport = await TransportManager.listen({
      host: opts.bind.address,
      port: opts.bind.port,
      clock: this.#clock,
      log: this.#log.child({ component: 'transport' }),
      ...(opts.maxMessageSize !== undefined ? { maxMessageSize: opts.maxMessageSize } : {}),
      ...(opts.tcpIdleTimeoutMs !== undefined ? { idleTimeoutMs: opts.tcpIdleTimeoutMs } : {}),
      onMessage: (msg, flow) => transactions?.receive(msg, flow),
      onInvalid: (err, flow) => answerInvalid(transport, err, flow),
    });
    transactions = new TransactionLayer({
      transport,
      clock: this.#clock,
      log: this.#log.child({ component: 'transaction' }),
      tu: router,
      compactCompleted: true,
      compactAccepted: true,
      ...(opts.timers ? { timers: opts.timers } : {}),
    });
    this.#transport = transport;
    this.#transactions = transactions;
    this.#domains = this.#makeDomains();
  }

  #makeDomains(): LocalDomains {
    const list = Object.values(os.networkInterfaces()).flatMap((l) => l ?? []);
    const interfaces = list.map((i) => i.address);
    const listen = this.#transport.local.address;
    // Via and Record-Route name the listen address; on a wildcard, the machine's first external address of the family.
    const pick = (family: 4 | 6): string => {
      if (listen !== '0.0.0.0' && listen !== '::' && (listen.includes(':') ? 6 : 4) === family) return hostForUri(listen);
      const ext = list.find((i) => (i.family === 'IPv4' ? 4 : 6) === family && !i.internal && !i.address.startsWith('fe80'));
      const any = ext ?? list.find((i) => (i.family === 'IPv4' ? 4 : 6) === family);
      return hostForUri(any?.address ?? (family === 4 ? '127.0.0.1' : '::1'));
    };
    this.#self = { 4: pick(4), 6: pick(6) };
    return new LocalDomains({ realm: this.realm, hostName: os.hostname(), listenAddress: this.#transport.local.address, interfaces });
  }

  /** The registrations in memory (for tests and the admin). */
  get location(): LocationService {
    return this.#location;
  }

  get address(): Address {
    return this.#transport.local;
  }

  /** The configuration in force (immutable; replaced as a whole by reloads). */
  get config(): Config {
    return this.#config;
  }

  /** Digest realm: `[general] realm`, else the host name (as the original). */
  get realm(): string {
    return this.#config.general.realm ?? os.hostname();
  }

  /** Live transactions (for tests and the admin). */
  get transactionCount(): { client: number; server: number } {
    return this.#transactions.size;
  }

  /** Calls holding proxy state, answered calls whose BYE is still to come, calls ringing (pickup candidates); for tests and the admin. */
  get callCount(): { proxied: number; dialogs: number; ringing: number } {
    return { proxied: this.#proxy.size, dialogs: this.#cdr?.size ?? 0, ringing: this.#calls.ringingCount };
  }

  /**
   * Reads and validates sip.conf and swaps it in, or keeps the running config
   * and logs every error. `onlyIfChanged` skips a file whose text is the same
   * (file-watch events). The outcome is logged and written to sipd.reload.json.
   */
  reload(trigger: string, onlyIfChanged = false): ReloadStatus {
    let loaded: LoadResult;
    try {
      loaded = readConfigFile(this.#confPath, this.#opts.numbering);
    } catch (err) {
      if (!(err instanceof ConfigLoadError)) throw err;
      const errors = err.diagnostics.map((d) => d.toString());
      this.#log.error(`sip.conf not reloaded (${trigger}): ${errors.length} error${errors.length === 1 ? '' : 's'}; the running configuration stays`);
      for (const e of errors) this.#log.error(e);
      return this.#status({ trigger, ok: false, errors, warnings: err.warnings.map((w) => w.toString()) });
    }
    if (onlyIfChanged && loaded.text.trim() === '' && this.#configText.trim() !== '') {
      // An editor truncates before it writes, or a stray `> sip.conf`: never drop every client on that.
      this.#log.warn(`sip.conf is empty on disk (${trigger}); the running configuration stays (run sipd -r to apply an empty file)`);
      return this.#status({ trigger, ok: false, errors: ['sip.conf is empty; the running configuration stays'] }, false);
    }
    if (onlyIfChanged && loaded.text === this.#configText) {
      this.#log.debug(`sip.conf unchanged (${trigger})`);
      return this.#status({ trigger, ok: true, changes: 'no changes' }, false);
    }
    const diff = diffConfigs(this.#config, loaded.config);
    this.#config = loaded.config; // the atomic swap
    this.#configText = loaded.text;
    this.#domains = this.#makeDomains();
    // Registrations of clients that are gone (or can no longer register) go too; the others stay.
    const dropped = this.#location.dropAors((aor) => registrable(loaded.config, aor));
    if (dropped > 0) this.#log.info({ bindings: dropped }, 'registrations of removed clients dropped');
    const warnings = loaded.warnings.map((w) => w.toString());
    for (const w of warnings) this.#log.warn(w);
    let changes = formatDiff(diff);
    if (changes !== 'no changes') this.#lastChange = { at: this.#clock.wallNow(), trigger, changes };
    else if (this.#lastChange !== undefined) {
      changes = `no changes since the reload at ${new Date(this.#lastChange.at).toISOString()} (${this.#lastChange.trigger}): ${this.#lastChange.changes}`;
    }
    this.#log.info(`sip.conf reloaded (${trigger}): ${changes}`);
    return this.#status({ trigger, ok: true, changes, warnings });
  }

  #status(s: Omit<ReloadStatus, 'pid' | 'at'>, write = true): ReloadStatus {
    const status: ReloadStatus = { pid: process.pid, at: this.#clock.wallNow(), ...s };
    if (write && this.#opts.pidFile) {
      try {
        writeReloadStatus(this.#opts.workDir, status);
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, 'cannot write sipd.reload.json');
      }
    }
    return status;
  }

  /** chokidar on sip.conf: editors' save-by-rename and bursts of writes give one reload. Resolves once it watches. */
  #watch(): Promise<void> {
    const schedule = () => {
      this.#clock.clearTimer(this.#debounce);
      this.#debounce = this.#clock.setTimer(this.#opts.watchDebounceMs ?? 300, () => {
        this.#debounce = undefined;
        if (!this.#closed) this.reload('file changed', true);
      });
    };
    const watcher = watch(this.#confPath, { ignoreInitial: true, atomic: true, persistent: false })
      .on('add', schedule)
      .on('change', schedule)
      .on('unlink', () => this.#log.warn(`${this.#confPath} was removed; the running configuration stays`))
      .on('error', (err) => this.#log.warn({ err: (err as Error).message }, 'cannot watch sip.conf'));
    this.#watcher = watcher;
    return new Promise((resolve) => {
      const timer = this.#clock.setTimer(5000, () => {
        this.#log.warn('watching sip.conf did not start within 5 s; reload with sipd -r or SIGHUP');
        resolve();
      });
      watcher.once('ready', () => {
        this.#clock.clearTimer(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimer(this.#debounce);
    await this.#watcher?.close();
    this.#transactions?.close();
    await this.#transport?.close();
    this.#closeState();
    if (this.#opts.pidFile) removePidFile(this.#opts.workDir, process.pid);
    this.#log.info('sipd stopped');
  }
}


/** A section that may hold registrations: a client with a secret. */
function registrable(cfg: Config, aor: string): boolean {
  const c = cfg.clients.get(aor);
  return c !== undefined && c.kind === 'client' && c.secret !== undefined;
}

function logBinding(log: Logger, aor: string, kind: string, b: Binding): void {
  if (kind === 'refreshed') return; // one line per registration and unregistration, not per refresh
  const src = `${b.source.proto}:${b.source.address.includes(':') ? `[${b.source.address}]` : b.source.address}:${b.source.port}`;
  log.info({ client: aor, contact: b.contactUri, source: src, ua: b.userAgent }, `${aor} ${kind}`);
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
