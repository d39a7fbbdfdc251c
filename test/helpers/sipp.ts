/**
 * Runs SIPp (Debian package `sip-tester`) against a server on loopback.
 * Under CI=true a missing sipp is a failure, never a silent skip.
 */
import { spawn, spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const SCENARIOS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../interop/scenarios');

export function sippAvailable(): boolean {
  return spawnSync('sipp', ['-v'], { stdio: 'ignore' }).error === undefined;
}

/** Returns a reason to skip, or undefined. Under CI=true it throws instead. */
export function requireSipp(): string | undefined {
  if (sippAvailable()) return undefined;
  if (process.env.CI === 'true') throw new Error('sipp is not installed (apt-get install -y sip-tester); CI=true forbids skipping SIPp tests');
  return 'sipp not installed (apt-get install -y sip-tester)';
}

export interface SippResult {
  code: number | null;
  stdout: string;
  stderr: string;
  successful: number;
  failed: number;
}

/**
 * Runs a scenario to completion: `-m count` calls at `rate`/s, bounded by a
 * time-out. `target` is `127.0.0.1:PORT` or `[::1]:PORT`.
 */
export async function runSipp(opts: {
  scenario: string;
  target: string;
  transport?: 'u1' | 't1' | 'tn';
  count: number;
  rate?: number;
  timeoutS?: number;
  localIp?: string;
  extra?: string[];
}): Promise<SippResult> {
  const args = [
    opts.target,
    '-sf', path.join(SCENARIOS, opts.scenario),
    '-t', opts.transport ?? 'u1',
    '-m', String(opts.count),
    '-r', String(opts.rate ?? 500),
    '-l', '200',
    '-i', opts.localIp ?? '127.0.0.1',
    '-p', '0',
    '-timeout', `${opts.timeoutS ?? 60}s`,
    '-timeout_error',
    '-recv_timeout', '5000',
    '-nostdin',
    ...(opts.extra ?? []),
  ];
  return new Promise((resolve, reject) => {
    const child = spawn('sipp', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      const out = stdout + stderr;
      resolve({ code, stdout, stderr, successful: lastCount(out, 'Successful call'), failed: lastCount(out, 'Failed call') });
    });
  });
}

function lastCount(out: string, label: string): number {
  const re = new RegExp(`${label}\\s*\\|\\s*(\\d+)\\s*\\|\\s*(\\d+)`, 'g');
  let m: RegExpExecArray | null;
  let v = -1;
  while ((m = re.exec(out)) !== null) v = Number(m[2]);
  return v;
}
