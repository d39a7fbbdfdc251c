/**
 * TransportManager: UDP and TCP listening on one address and port (IPv4 or
 * IPv6), delivering parsed messages upwards and sending messages out.
 *
 * - UDP: one datagram is one message; tiny keep-alive datagrams (CRLFs, NULs)
 *   and datagrams over `maxMessageSize` are dropped without a log flood.
 * - TCP: each connection has a StreamFramer with a size cap; a double-CRLF ping
 *   gets a CRLF pong (RFC 5626 §4.4.1); idle connections are closed after
 *   `idleTimeoutMs`; a peer whose writes back up beyond `maxWriteBuffer` is cut
 *   off. Only that connection suffers.
 * - Incoming requests get `received`/`rport` (RFC 3261 §18.2.1, RFC 3581 §4).
 * - Unparseable input goes to `onInvalid` (the server answers 400 when it can);
 *   nothing here throws on network input.
 */
import dgram from 'node:dgram';
import dns from 'node:dns';
import net from 'node:net';
import type { Clock, TimerHandle } from '../util/clock.js';
import { RateLimitedLog, type Logger } from '../util/log.js';
import { SipParseError } from '../sip/errors.js';
import { StreamFramer } from '../sip/frame.js';
import type { AnyMessage } from '../sip/message.js';
import { parseMessage } from '../sip/parse.js';
import { normalizeIp } from './address.js';
import { TransportError } from './errors.js';
import { stampVia } from './routing.js';
import { messageIn, messageOut, type TraceEvent } from './trace.js';
import { formatAddress, isReliable, type Address, type Destination, type Flow, type Proto, type Transport } from './types.js';

export interface TransportOptions {
  /** IP address to bind (IPv4 or IPv6, no brackets). */
  host: string;
  /** Port; 0 picks a free one (the same for UDP and TCP). */
  port: number;
  clock: Clock;
  log: Logger;
  onMessage(msg: AnyMessage, flow: Flow): void;
  /** Input that did not parse. `raw` is the message bytes. */
  onInvalid?(err: SipParseError, flow: Flow, raw: Buffer): void;
  /** Largest message accepted on either transport (default 65,535 bytes). */
  maxMessageSize?: number;
  /** TCP connections with no traffic for this long are closed (default 600,000 ms). */
  idleTimeoutMs?: number;
  /** Most simultaneous TCP connections (default 10,000). */
  maxConnections?: number;
  /** Bytes queued for a slow TCP reader before the connection is dropped (default 1 MiB). */
  maxWriteBuffer?: number;
  /** Enable TCP (default true). */
  tcp?: boolean;
}

interface Connection {
  readonly id: number;
  readonly socket: net.Socket;
  readonly framer: StreamFramer;
  readonly key: string;
  local: Address;
  remote: Address;
  idle: TimerHandle | undefined;
  connected: boolean;
  pending: Buffer[];
}

export class TransportManager implements Transport {
  readonly #opts: TransportOptions;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #maxSize: number;
  readonly #idleMs: number;
  readonly #maxConns: number;
  readonly #maxWrite: number;
  readonly #rate: RateLimitedLog;
  #udp!: dgram.Socket;
  #tcp: net.Server | undefined;
  #local!: Address;
  #nextConnId = 1;
  readonly #conns = new Map<number, Connection>();
  /** "ip:port" of the peer → connection id, for reuse when sending without a connId. */
  readonly #byPeer = new Map<string, number>();
  #closed = false;

  private constructor(opts: TransportOptions) {
    this.#opts = opts;
    this.#log = opts.log;
    this.#clock = opts.clock;
    this.#maxSize = opts.maxMessageSize ?? 65535;
    this.#idleMs = opts.idleTimeoutMs ?? 600_000;
    this.#maxConns = opts.maxConnections ?? 10_000;
    this.#maxWrite = opts.maxWriteBuffer ?? 1 << 20;
    this.#rate = new RateLimitedLog(() => opts.clock.now());
  }

  /** Binds UDP and TCP on the same address and port. Rejects with a TransportError naming the address. */
  static async listen(opts: TransportOptions): Promise<TransportManager> {
    const tm = new TransportManager(opts);
    const attempts = opts.port === 0 ? 10 : 1;
    let lastErr: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        await tm.#bind();
        return tm;
      } catch (err) {
        lastErr = err;
        await tm.close();
        tm.#closed = false;
        if (!(err instanceof TransportError) || !/in use/.test(err.message) || opts.port !== 0) break;
      }
    }
    throw lastErr;
  }

  get local(): Address {
    return this.#local;
  }

  isReliable(proto: Proto): boolean {
    return isReliable(proto);
  }

  /** Live TCP connections. */
  get connectionCount(): number {
    return this.#conns.size;
  }

  async #bind(): Promise<void> {
    const { host } = this.#opts;
    const family = net.isIP(host) === 6 ? 6 : 4;
    const udp = dgram.createSocket({ type: family === 6 ? 'udp6' : 'udp4', reuseAddr: false, lookup: ipLookup });
    this.#udp = udp;
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: NodeJS.ErrnoException) => reject(listenError(err, 'udp', host, this.#opts.port));
      udp.once('error', onErr);
      udp.bind({ address: host, port: this.#opts.port, exclusive: true }, () => {
        udp.off('error', onErr);
        resolve();
      });
    });
    udp.on('error', (err) => {
      const n = this.#rate.allow('udp-error');
      if (n >= 0) this.#log.warn({ err: err.message, suppressed: n }, 'udp socket error');
    });
    udp.on('message', (data, rinfo) => this.#onDatagram(data, rinfo));
    try {
      udp.setRecvBufferSize(4 * 1024 * 1024);
      udp.setSendBufferSize(4 * 1024 * 1024);
    } catch {
      // The kernel caps buffer sizes (net.core.rmem_max); the default then stays, which is fine.
    }
    const ua = udp.address();
    this.#local = { address: host, port: ua.port, family };
    if (this.#opts.tcp === false) return;
    const server = net.createServer({ noDelay: true }, (s) => this.#onAccept(s));
    this.#tcp = server;
    server.maxConnections = this.#maxConns;
    await new Promise<void>((resolve, reject) => {
      const onErr = (err: NodeJS.ErrnoException) => reject(listenError(err, 'tcp', host, ua.port));
      server.once('error', onErr);
      server.listen({ host, port: ua.port, exclusive: true, ipv6Only: family === 6 }, () => {
        server.off('error', onErr);
        resolve();
      });
    });
    server.on('error', (err) => this.#log.warn({ err: err.message }, 'tcp server error'));
  }

  // ---------------------------------------------------------------- receive

  #onDatagram(data: Buffer, rinfo: dgram.RemoteInfo): void {
    if (this.#closed) return;
    // Keep-alives: CRLF/NUL/blank packets of a few bytes (RFC 5626 §3.5.1 STUN is not supported; dropped too if tiny).
    if (data.length <= 8 && isBlank(data)) return;
    const ip = normalizeIp(rinfo.address);
    const flow: Flow = { proto: 'udp', local: this.#local, remote: { address: ip.address, port: rinfo.port, family: ip.family }, connId: undefined };
    if (data.length > this.#maxSize) {
      this.#drop('udp-too-large', flow, `datagram of ${data.length} bytes over the ${this.#maxSize}-byte limit`);
      return;
    }
    this.#deliver(data, flow, true);
  }

  #deliver(data: Buffer, flow: Flow, datagram: boolean): void {
    if (messageIn.hasSubscribers) this.#trace('in', flow.proto, this.#local, flow.remote, data);
    let msg: AnyMessage;
    try {
      msg = parseMessage(data, { datagram });
      if (msg.isRequest) stampVia(msg, flow);
    } catch (err) {
      if (err instanceof SipParseError) {
        this.#drop('parse', flow, err.reason);
        this.#opts.onInvalid?.(err, flow, data);
        return;
      }
      this.#log.error({ err }, 'unexpected error while parsing');
      return;
    }
    try {
      this.#opts.onMessage(msg, flow);
    } catch (err) {
      this.#log.error({ err, msg: msg.summary() }, 'error while handling a message');
    }
  }

  #drop(kind: string, flow: Flow, why: string): void {
    const n = this.#rate.allow(kind);
    if (n >= 0) {
      this.#log.debug({ peer: `${flow.proto}:${formatAddress(flow.remote)}`, suppressed: n }, `dropped input: ${why}`);
    }
  }

  #onAccept(socket: net.Socket): void {
    if (this.#closed || this.#conns.size >= this.#maxConns) {
      socket.destroy();
      return;
    }
    const conn = this.#addConnection(socket, true);
    this.#log.debug({ peer: formatAddress(conn.remote), conn: conn.id }, 'tcp connection accepted');
  }

  #addConnection(socket: net.Socket, connected: boolean, remote?: Address): Connection {
    const id = this.#nextConnId++;
    const r = remote ?? peerOf(socket);
    const conn: Connection = {
      id,
      socket,
      framer: new StreamFramer({ maxMessageSize: this.#maxSize }),
      key: formatAddress(r),
      local: connected ? localOf(socket) : this.#local,
      remote: r,
      idle: undefined,
      connected,
      pending: [],
    };
    this.#conns.set(id, conn);
    this.#byPeer.set(conn.key, id);
    socket.setNoDelay(true);
    this.#touch(conn);
    socket.on('data', (chunk: Buffer) => this.#onData(conn, chunk));
    socket.on('error', (err) => this.#log.debug({ conn: id, err: err.message }, 'tcp connection error'));
    socket.on('close', () => this.#forget(conn));
    return conn;
  }

  #onData(conn: Connection, chunk: Buffer): void {
    if (this.#closed) return;
    this.#touch(conn);
    let events;
    try {
      events = conn.framer.push(chunk);
    } catch (err) {
      const why = err instanceof SipParseError ? err.reason : String(err);
      this.#drop('tcp-frame', this.#flowOf(conn), `${why}; closing the connection`);
      conn.socket.destroy();
      return;
    }
    for (const ev of events) {
      if (ev.type === 'ping') this.#write(conn, CRLF);
      else if (ev.type === 'message') {
        this.#deliver(ev.data, this.#flowOf(conn), false);
        if (conn.socket.destroyed) return;
      }
    }
  }

  #flowOf(conn: Connection): Flow {
    return { proto: 'tcp', local: conn.local, remote: conn.remote, connId: conn.id };
  }

  #touch(conn: Connection): void {
    this.#clock.clearTimer(conn.idle);
    conn.idle = this.#clock.setTimer(this.#idleMs, () => {
      this.#log.debug({ conn: conn.id, peer: conn.key }, 'closing idle tcp connection');
      conn.socket.destroy();
    });
  }

  #forget(conn: Connection): void {
    this.#clock.clearTimer(conn.idle);
    conn.idle = undefined;
    this.#conns.delete(conn.id);
    if (this.#byPeer.get(conn.key) === conn.id) this.#byPeer.delete(conn.key);
  }

  // ---------------------------------------------------------------- send

  send(msg: AnyMessage, dest: Destination, onError?: (err: Error) => void): void {
    const fail = (err: Error) => {
      if (onError) onError(err);
      else this.#log.debug({ err: err.message, dest: formatAddress(dest) }, 'send failed');
    };
    if (this.#closed) {
      fail(new TransportError('SIPD_ERR_TRANSPORT_CLOSED', 'transport is closed'));
      return;
    }
    const data = msg.serialize();
    if (dest.proto === 'udp') this.#sendUdp(data, dest, fail, onError !== undefined);
    else this.#sendTcp(data, dest, fail);
  }

  /**
   * `report`: the caller wants send errors. Without it the datagram goes out
   * without a completion callback, which lets Node try a synchronous send
   * (cheaper: no request object, no extra loop turn); a failure then reaches
   * the socket's 'error' listener, which logs it.
   */
  #sendUdp(data: Buffer, dest: Destination, fail: (err: Error) => void, report: boolean): void {
    let address = dest.address;
    const fam = net.isIP(address);
    if (fam === 0) {
      fail(new TransportError('SIPD_ERR_TRANSPORT_SEND', `cannot send to '${address}': not an IP address`));
      return;
    }
    if (this.#local.family === 4 && fam === 6) {
      fail(new TransportError('SIPD_ERR_TRANSPORT_FAMILY', `cannot send to [${address}]: sipd listens on IPv4 only`));
      return;
    }
    if (this.#local.family === 6 && fam === 4) address = `::ffff:${address}`;
    if (messageOut.hasSubscribers) this.#trace('out', 'udp', this.#local, dest, data);
    if (!report) {
      this.#udp.send(data, dest.port, address);
      return;
    }
    this.#udp.send(data, dest.port, address, (err) => {
      if (err) fail(new TransportError('SIPD_ERR_TRANSPORT_SEND', `udp send to ${formatAddress(dest)} failed: ${err.message}`, err));
    });
  }

  /** True while TCP connection `id` is open. */
  connectionOpen(id: number): boolean {
    const c = this.#conns.get(id);
    return c !== undefined && !c.socket.destroyed;
  }

  #sendTcp(data: Buffer, dest: Destination, fail: (err: Error) => void): void {
    let conn = dest.connId !== undefined ? this.#conns.get(dest.connId) : undefined;
    if (conn === undefined || conn.socket.destroyed) {
      const id = this.#byPeer.get(formatAddress(dest));
      conn = id !== undefined ? this.#conns.get(id) : undefined;
    }
    if (conn === undefined || conn.socket.destroyed) {
      if (net.isIP(dest.address) === 0) {
        fail(new TransportError('SIPD_ERR_TRANSPORT_SEND', `cannot connect to '${dest.address}': not an IP address`));
        return;
      }
      if (this.#conns.size >= this.#maxConns) {
        fail(new TransportError('SIPD_ERR_TRANSPORT_CONNECT', `too many tcp connections (${this.#maxConns})`));
        return;
      }
      const socket = net.connect({ host: dest.address, port: dest.port, noDelay: true });
      const remote: Address = { address: dest.address, port: dest.port, family: net.isIP(dest.address) === 6 ? 6 : 4 };
      const c = this.#addConnection(socket, false, remote);
      conn = c;
      socket.once('connect', () => {
        c.connected = true;
        c.local = localOf(socket);
        for (const b of c.pending.splice(0)) this.#write(c, b);
      });
      socket.once('error', (err) => {
        if (!c.connected) fail(new TransportError('SIPD_ERR_TRANSPORT_CONNECT', `tcp connect to ${formatAddress(dest)} failed: ${err.message}`, err));
      });
    }
    if (messageOut.hasSubscribers) this.#trace('out', 'tcp', conn.local, dest, data);
    if (!conn.connected) {
      conn.pending.push(data);
      return;
    }
    this.#write(conn, data);
  }

  #write(conn: Connection, data: Buffer): void {
    if (conn.socket.destroyed) return;
    conn.socket.write(data);
    if (conn.socket.writableLength > this.#maxWrite) {
      this.#log.warn({ conn: conn.id, peer: conn.key, queued: conn.socket.writableLength }, 'tcp peer does not read; closing the connection');
      conn.socket.destroy();
    }
  }

  #trace(direction: 'in' | 'out', proto: Proto, local: Address, remote: { address: string; port: number }, data: Buffer): void {
    const ev: TraceEvent = { direction, proto, local: formatAddress(local), remote: formatAddress(remote), data, time: this.#clock.wallNow() };
    (direction === 'in' ? messageIn : messageOut).publish(ev);
  }

  /** Closes every socket and connection; clears every timer. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const c of this.#conns.values()) {
      this.#clock.clearTimer(c.idle);
      c.socket.destroy();
    }
    this.#conns.clear();
    this.#byPeer.clear();
    const tasks: Promise<void>[] = [];
    if (this.#udp !== undefined) {
      const u = this.#udp;
      tasks.push(new Promise((resolve) => {
        try {
          u.close(() => resolve());
        } catch {
          resolve(); // not bound yet, or already closed
        }
      }));
    }
    if (this.#tcp !== undefined) {
      const s = this.#tcp;
      tasks.push(new Promise((resolve) => s.close(() => resolve())));
    }
    await Promise.all(tasks);
  }
}

const CRLF = Buffer.from('\r\n', 'latin1');

function isBlank(b: Buffer): boolean {
  for (const c of b) if (c !== 0x0d && c !== 0x0a && c !== 0x00 && c !== 0x20 && c !== 0x09) return false;
  return true;
}

function peerOf(s: net.Socket): Address {
  const ip = normalizeIp(s.remoteAddress ?? '0.0.0.0');
  return { address: ip.address, port: s.remotePort ?? 0, family: ip.family };
}

function localOf(s: net.Socket): Address {
  const ip = normalizeIp(s.localAddress ?? '0.0.0.0');
  return { address: ip.address, port: s.localPort ?? 0, family: ip.family };
}

function listenError(err: NodeJS.ErrnoException, proto: string, host: string, port: number): TransportError {
  const where = `${formatAddress({ address: host, port })} (${proto})`;
  const why =
    err.code === 'EADDRINUSE' ? 'address already in use'
    : err.code === 'EADDRNOTAVAIL' ? 'address not available on this machine'
    : err.code === 'EACCES' ? 'permission denied (ports below 1024 need privileges)'
    : err.message;
  return new TransportError('SIPD_ERR_TRANSPORT_LISTEN', `cannot listen on ${where}: ${why}`, err);
}

/**
 * dgram resolves every destination through `dns.lookup`, even an IP literal
 * (an allocation and a process.nextTick per datagram sent). sipd sends UDP
 * only to IP addresses: answer those at once, and leave names to dns.lookup.
 */
function ipLookup(address: string, family: unknown, cb: (err: NodeJS.ErrnoException | null, address: string, family: number) => void): void {
  const f = net.isIP(address);
  if (f !== 0) {
    cb(null, address, f);
    return;
  }
  dns.lookup(address, family as number, cb);
}
