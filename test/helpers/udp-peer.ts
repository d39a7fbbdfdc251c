/** A raw UDP or TCP peer on loopback for integration tests: send bytes, await messages. */
import dgram from 'node:dgram';
import net from 'node:net';

export class UdpPeer {
  readonly socket: dgram.Socket;
  readonly received: Buffer[] = [];
  #waiters: Array<() => void> = [];

  private constructor(socket: dgram.Socket) {
    this.socket = socket;
    socket.on('message', (m) => {
      this.received.push(m);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async open(family: 4 | 6 = 4): Promise<UdpPeer> {
    const s = dgram.createSocket(family === 6 ? 'udp6' : 'udp4');
    await new Promise<void>((r) => s.bind(0, family === 6 ? '::1' : '127.0.0.1', () => r()));
    return new UdpPeer(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: string | Buffer, port: number, host = '127.0.0.1'): void {
    this.socket.send(typeof data === 'string' ? Buffer.from(data, 'latin1') : data, port, host);
  }

  /** Waits for the n-th message (1-based) received so far or later. */
  async nth(n: number, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.received.length < n) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for message #${n} (have ${this.received.length})`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.received[n - 1]!.toString('latin1');
  }

  /** Resolves after `ms` with the number of messages received meanwhile. */
  async quiet(ms: number): Promise<number> {
    const before = this.received.length;
    await new Promise((r) => setTimeout(r, ms));
    return this.received.length - before;
  }

  close(): void {
    this.socket.close();
  }
}

export class TcpPeer {
  readonly socket: net.Socket;
  data = '';
  closed = false;
  #waiters: Array<() => void> = [];

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.data += d.toString('latin1');
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  static async connect(port: number, host = '127.0.0.1'): Promise<TcpPeer> {
    const s = net.connect({ port, host });
    await new Promise<void>((resolve, reject) => {
      s.once('connect', () => resolve());
      s.once('error', reject);
    });
    return new TcpPeer(s);
  }

  write(s: string | Buffer): void {
    this.socket.write(typeof s === 'string' ? Buffer.from(s, 'latin1') : s);
  }

  async until(pred: (data: string) => boolean, timeoutMs = 3000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!pred(this.data)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out; have ${JSON.stringify(this.data.slice(0, 200))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return this.data;
  }

  async waitClosed(timeoutMs = 3000): Promise<boolean> {
    try {
      await this.until(() => this.closed, timeoutMs);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}

let seq = 0;
/** A minimal valid request; each call gets its own Call-ID and branch. */
export function request(opts: { method?: string; uri?: string; port: number; transport?: string; host?: string; extra?: string[]; body?: string; rport?: boolean }): string {
  const n = `${process.pid}-${++seq}-${Date.now()}`;
  const method = opts.method ?? 'OPTIONS';
  const host = opts.host ?? '127.0.0.1';
  const body = opts.body ?? '';
  return [
    `${method} ${opts.uri ?? 'sip:127.0.0.1'} SIP/2.0`,
    `Via: SIP/2.0/${opts.transport ?? 'UDP'} ${host.includes(':') ? `[${host}]` : host}:${opts.port};branch=z9hG4bK-${n}${opts.rport === false ? '' : ';rport'}`,
    'Max-Forwards: 70',
    `From: <sip:test@example.com>;tag=f-${n}`,
    '<sip:sipd@example.com>'.replace(/^/, 'To: '),
    `Call-ID: call-${n}`,
    `CSeq: 1 ${method}`,
    ...(opts.extra ?? []),
    `Content-Length: ${Buffer.byteLength(body, 'latin1')}`,
    '',
    body,
  ].join('\r\n');
}
