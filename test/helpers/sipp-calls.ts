/**
 * SIPp as callers, callees and gateways around sipd for the call tests
 * (test/interop/calls-*.test.ts, scenarios test/interop/scenarios/call-*.xml).
 *
 * Every SIPp runs on loopback with a fixed local port (picked free here), is
 * bounded by -m and -timeout, and writes its message log (-trace_msg) into the
 * test's working directory; `messages()` parses that log so the tests can
 * check exactly what each side sent and received.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { SCENARIOS } from './sipp.js';
import { startSipd, workDir, type SipdProcess } from './sipd-process.js';
import type { TapTest } from './tap.js';

export const REALM = 'sipd.test';

/** A port free for both UDP and TCP on `ip` (bound, then released). */
export async function freePort(ip = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, ip, () => {
        const p = (s.address() as net.AddressInfo).port;
        s.close(() => resolve(p));
      });
    });
    if (await udpFree(ip, port)) return port;
  }
  throw new Error(`no free port on ${ip}`);
}

async function udpFree(ip: string, port: number): Promise<boolean> {
  const s = dgram.createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, ip, () => s.close(() => resolve(true)));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `cond` every 25 ms until it holds. */
export async function until(cond: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** One SIP message from a SIPp message log. */
export class SippMessage {
  readonly direction: 'sent' | 'received';
  readonly proto: 'UDP' | 'TCP';
  /** The message exactly as on the wire (latin1). */
  readonly raw: string;

  constructor(direction: 'sent' | 'received', proto: 'UDP' | 'TCP', raw: string) {
    this.direction = direction;
    this.proto = proto;
    this.raw = raw;
  }

  get startLine(): string {
    return this.raw.slice(0, this.raw.indexOf('\r\n'));
  }

  /** Request method, or undefined for a response. */
  get method(): string | undefined {
    return this.startLine.startsWith('SIP/2.0 ') ? undefined : this.startLine.split(' ')[0];
  }

  get status(): number | undefined {
    const m = /^SIP\/2\.0 (\d{3}) /.exec(this.startLine);
    return m ? Number(m[1]) : undefined;
  }

  get requestUri(): string | undefined {
    return this.method === undefined ? undefined : this.startLine.split(' ')[1];
  }

  /** Header lines with this name (long form, case-insensitive), values trimmed; comma lists are not split. */
  headers(name: string): string[] {
    const head = this.raw.slice(0, this.raw.indexOf('\r\n\r\n'));
    const out: string[] = [];
    for (const line of head.split('\r\n').slice(1)) {
      const i = line.indexOf(':');
      if (i > 0 && line.slice(0, i).trim().toLowerCase() === name.toLowerCase()) out.push(line.slice(i + 1).trim());
    }
    return out;
  }

  header(name: string): string | undefined {
    return this.headers(name)[0];
  }

  /** Via entries, top first (comma-separated entries counted one by one). */
  get vias(): string[] {
    return this.headers('via').flatMap((v) => v.split(',').map((x) => x.trim()));
  }

  get callId(): string {
    return this.header('call-id') ?? '';
  }

  get cseqMethod(): string {
    return (this.header('cseq') ?? '').split(/\s+/)[1] ?? '';
  }

  get body(): string {
    return this.raw.slice(this.raw.indexOf('\r\n\r\n') + 4);
  }
}

/** Parses a SIPp -trace_msg file. */
export function parseMessageLog(text: string): SippMessage[] {
  const out: SippMessage[] = [];
  // "UDP message sent (323 bytes):" and "UDP message received [526] bytes :"
  const re = /^(UDP|TCP) message (sent|received) (?:\((\d+) bytes\):|\[(\d+)\] bytes :)\n\n/gm;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    const start = m.index + m[0].length;
    out.push(new SippMessage(m[2] as 'sent' | 'received', m[1] as 'UDP' | 'TCP', text.slice(start, start + Number(m[3] ?? m[4]))));
  }
  return out;
}

export interface SippOptions {
  /** Scenario file name in test/interop/scenarios. */
  scenario: string;
  /** Working directory (message logs go here). */
  dir: string;
  /** Name of this SIPp in logs and file names. */
  name: string;
  /** `ip:port` of sipd; omitted for a pure UAS. */
  remote?: string;
  transport?: 'u1' | 't1';
  ip?: string;
  port: number;
  count: number;
  rate?: number;
  timeoutS: number;
  recvTimeoutMs?: number;
  /** -s: the dialled number (UAC) or the registering user. */
  service?: string;
  authUser?: string;
  authPass?: string;
  /** -d: call holding time of the UAC's pause. */
  pauseMs?: number;
  keys?: Record<string, string>;
  /** -set globals (call-uas.xml: answerdelay; call-register-hold.xml: hold). */
  set?: Record<string, string>;
  oocsf?: string;
  extra?: string[];
}

export interface SippResult {
  code: number | null;
  output: string;
  successful: number;
  failed: number;
  created: number;
}

/** A SIPp process. */
export class Sipp {
  readonly name: string;
  readonly messageFile: string;
  readonly done: Promise<SippResult>;
  readonly #child: ChildProcess;
  readonly #ip: string;
  readonly #port: number;
  #exited: SippResult | undefined;

  private constructor(o: SippOptions) {
    this.name = o.name;
    this.#ip = o.ip ?? '127.0.0.1';
    this.#port = o.port;
    this.messageFile = path.join(o.dir, `${o.name}.messages.log`);
    const args = [
      ...(o.remote !== undefined ? [o.remote] : []),
      '-sf', path.join(SCENARIOS, o.scenario),
      '-t', o.transport ?? 'u1',
      '-i', o.ip ?? '127.0.0.1',
      '-p', String(o.port),
      '-bind_local',
      '-m', String(o.count),
      '-r', String(o.rate ?? 10),
      '-l', '500',
      '-timeout', `${o.timeoutS}s`,
      '-timeout_error',
      '-recv_timeout', String(o.recvTimeoutMs ?? 8000),
      '-nostdin',
      '-trace_msg', '-message_file', this.messageFile,
      '-trace_err', '-error_file', path.join(o.dir, `${o.name}.errors.log`),
      '-d', String(o.pauseMs ?? 0),
      '-key', 'domain', REALM,
      ...(o.service !== undefined ? ['-s', o.service] : []),
      ...(o.authUser !== undefined ? ['-au', o.authUser] : []),
      ...(o.authPass !== undefined ? ['-ap', o.authPass] : []),
      ...(o.oocsf !== undefined ? ['-oocsf', path.join(SCENARIOS, o.oocsf)] : []),
      ...Object.entries(o.keys ?? {}).flatMap(([k, v]) => ['-key', k, v]),
      ...Object.entries(o.set ?? {}).flatMap(([k, v]) => ['-set', k, v]),
      ...(o.extra ?? []),
    ];
    const child = spawn('sipp', args, { cwd: o.dir, stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let output = '';
    child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    this.done = new Promise((resolve, reject) => {
      child.on('error', reject);
      child.on('close', (code) => {
        resolve((this.#exited = {
          code,
          output,
          successful: lastCount(output, 'Successful call'),
          failed: lastCount(output, 'Failed call'),
          created: lastCount(output, 'Total Calls created', true),
        }));
      });
    });
  }

  static start(o: SippOptions): Sipp {
    return new Sipp(o);
  }

  /** Runs to completion. */
  static async run(o: SippOptions): Promise<SippResult & { messages: SippMessage[] }> {
    const s = new Sipp(o);
    const r = await s.done;
    return { ...r, messages: s.messages() };
  }

  /** Resolves when this SIPp has bound its UDP port (a UAS is ready); throws if it exited first. */
  async listening(timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (await udpFree(this.#ip, this.#port)) {
      if (this.#exited !== undefined) throw new Error(`${this.name} exited: ${describe(this.#exited)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} does not listen on udp ${this.#ip}:${this.#port}`);
      await sleep(20);
    }
  }

  /** Everything this SIPp logged so far. */
  messages(): SippMessage[] {
    let text: string;
    try {
      text = fs.readFileSync(this.messageFile, 'latin1');
    } catch {
      return [];
    }
    return parseMessageLog(text);
  }

  /** Ends the process (SIGKILL) if it still runs. */
  kill(): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill('SIGKILL');
  }
}

function lastCount(out: string, label: string, single = false): number {
  const re = single ? new RegExp(`${label}\\s*\\|\\s*\\|\\s*(\\d+)`, 'g') : new RegExp(`${label}\\s*\\|\\s*(\\d+)\\s*\\|\\s*(\\d+)`, 'g');
  let m: RegExpExecArray | null;
  let v = -1;
  while ((m = re.exec(out)) !== null) v = Number(single ? m[1] : m[2]);
  return v;
}

/** Summary for assertion messages: status, counts, the tail of SIPp's output. */
export function describe(r: SippResult): string {
  return `exit ${r.code}, ${r.successful} ok, ${r.failed} failed: ${r.output.slice(-400)}`;
}

/** The final (>= 200) responses to INVITE the caller side received, per Call-ID, in order. */
export function finalInviteStatuses(msgs: SippMessage[]): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const m of msgs) {
    if (m.direction !== 'received' || m.status === undefined || m.status < 200 || m.cseqMethod !== 'INVITE') continue;
    const list = out.get(m.callId) ?? [];
    list.push(m.status);
    out.set(m.callId, list);
  }
  return out;
}

export interface Office {
  dir: string;
  sipd: SipdProcess;
  remote: string;
  /** Starts a SIPp, killed at the end of `t`. */
  sipp(t: TapTest, o: Omit<SippOptions, 'dir' | 'remote'> & { remote?: string }): Sipp;
  /** Runs a SIPp to completion. */
  run(t: TapTest, o: Omit<SippOptions, 'dir' | 'remote'>): Promise<Awaited<ReturnType<typeof Sipp.run>>>;
  /** Registers `user` from 127.0.0.1:port (UDP) with Contact sip:user@127.0.0.1:port. */
  register(t: TapTest, user: string, port: number): Promise<void>;
}

/** sipd on 127.0.0.1 (port 0: any) in a fresh working directory with `conf`, and SIPp around it, all stopped at the end of `t`. */
export async function office(t: TapTest, conf: string, port = 0): Promise<Office> {
  const dir = workDir(conf);
  const sipd = await startSipd(['-b', `127.0.0.1:${port}`, '-s', dir]);
  t.teardown(() => sipd.stop());
  const remote = `127.0.0.1:${sipd.port}`;
  const env: Office = {
    dir,
    sipd,
    remote,
    sipp(t, o) {
      const s = Sipp.start({ remote, ...o, dir });
      t.teardown(() => s.kill());
      return s;
    },
    async run(t, o) {
      const s = env.sipp(t, o);
      const r = await s.done;
      return { ...r, messages: s.messages() };
    },
    async register(t, user, port) {
      const r = await env.run(t, {
        name: `register-${user}-${port}`,
        scenario: 'call-register.xml',
        port,
        count: 1,
        timeoutS: 10,
        service: user,
        authPass: `pw-${user}`,
        keys: { contact: `127.0.0.1:${port}`, expires: '600' },
      });
      if (r.successful !== 1) throw new Error(`${user} did not register: ${describe(r)}`);
    },
  };
  return env;
}

/** The last INVITE sent per Call-ID (after a 407: the one with credentials). */
export function sentInvites(msgs: SippMessage[]): Map<string, SippMessage> {
  const out = new Map<string, SippMessage>();
  for (const m of msgs) if (m.direction === 'sent' && m.method === 'INVITE') out.set(m.callId, m);
  return out;
}

export function received(msgs: SippMessage[], method: string): SippMessage[] {
  return msgs.filter((m) => m.direction === 'received' && m.method === method);
}

export function responses(msgs: SippMessage[], status: number, method = 'INVITE'): SippMessage[] {
  return msgs.filter((m) => m.direction === 'received' && m.status === status && m.cseqMethod === method);
}

export function distinctCallIds(msgs: SippMessage[]): number {
  return new Set(msgs.map((m) => m.callId)).size;
}

/** One sipd Record-Route: <sip:TOKEN@127.0.0.1:PORT[;transport=tcp];lr>. */
export function rrOf(port: number, tcp: boolean): RegExp {
  return new RegExp(`^<sip:[^@>]+@127\\.0\\.0\\.1:${port}${tcp ? ';transport=tcp' : ''};lr>$`);
}

/**
 * Checks a callee's side of `n` answered calls from `callerMsgs`: INVITE with the
 * caller's SDP byte for byte and sipd's Record-Route(s), then ACK and BYE.
 */
export function checkCallee(t: TapTest, calleeMsgs: SippMessage[], callerMsgs: SippMessage[], n: number, rr: RegExp[], what: string): void {
  const invites = received(calleeMsgs, 'INVITE');
  const sent = sentInvites(callerMsgs);
  const mine = invites.filter((m) => sent.has(m.callId));
  t.equal(distinctCallIds(mine), n, `${what}: the callee received ${n} calls`);
  let sdpOk = 0;
  let rrOk = 0;
  for (const inv of mine) {
    if (inv.body === sent.get(inv.callId)!.body && inv.header('content-type') === 'application/sdp') sdpOk++;
    const rrs = inv.headers('record-route').flatMap((v) => v.split(',').map((x) => x.trim()));
    if (rrs.length === rr.length && rrs.every((v, i) => rr[i]!.test(v))) rrOk++;
    else t.fail(`${what}: Record-Route ${JSON.stringify(rrs)} (expected ${rr.map(String).join(', ')})`);
  }
  t.equal(sdpOk, mine.length, `${what}: the callee saw the caller's SDP byte for byte`);
  t.equal(rrOk, mine.length, `${what}: sipd's Record-Route on every INVITE`);
  const ids = new Set(mine.map((m) => m.callId));
  t.equal(distinctCallIds(received(calleeMsgs, 'ACK').filter((m) => ids.has(m.callId))), n, `${what}: ACK through sipd`);
  t.equal(distinctCallIds(received(calleeMsgs, 'BYE').filter((m) => ids.has(m.callId))), n, `${what}: BYE through sipd`);
}

/** The caller's side of `n` answered calls: 100, 180, exactly one 200 per call, ACK/BYE answered. */
export function checkCaller(t: TapTest, msgs: SippMessage[], n: number, what: string): void {
  t.equal(distinctCallIds(responses(msgs, 100)), n, `${what}: 100 Trying`);
  t.equal(distinctCallIds(responses(msgs, 180)), n, `${what}: 180 Ringing relayed`);
  const oks = responses(msgs, 200);
  t.equal(distinctCallIds(oks), n, `${what}: 200 OK relayed`);
  const tags = new Map<string, Set<string>>();
  for (const m of oks) {
    const tag = /;tag=([^;>\s]+)/.exec(m.header('to') ?? '')?.[1] ?? '';
    tags.set(m.callId, (tags.get(m.callId) ?? new Set()).add(tag));
  }
  t.same([...tags.values()].filter((s) => s.size !== 1), [], `${what}: one answer (To tag) per call`);
  t.equal(distinctCallIds(responses(msgs, 200, 'BYE')), n, `${what}: BYE answered end to end`);
}
