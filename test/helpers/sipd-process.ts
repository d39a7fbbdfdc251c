/** Starts bin/sipd as a child process on loopback and learns its port from the log. */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin/sipd');
export const EXAMPLE_CONF = path.join(ROOT, 'sip.conf.example');

/** A fresh working directory holding `sip.conf` (the bundled example unless `conf` is given). Removed at exit. */
export function workDir(conf?: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sipd-test-'));
  fs.writeFileSync(path.join(dir, 'sip.conf'), conf ?? fs.readFileSync(EXAMPLE_CONF, 'utf8'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/**
 * The environment a user's shell would give sipd: without the test runner's
 * loader hooks (tap's processinfo re-adds NODE_OPTIONS to spawned node
 * processes, hence also `env -u NODE_OPTIONS` in front of node).
 */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  for (const k of Object.keys(env)) if (k.startsWith('TAP')) delete env[k];
  return env;
}

export interface SipdProcess {
  child: ChildProcess;
  port: number;
  stdout(): string;
  stderr(): string;
  /** Sends a signal and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts sipd; without `-s` in `args` it runs in a fresh {@link workDir}. */
export async function startSipd(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<SipdProcess> {
  if (!args.includes('-s')) args = [...args, '-s', workDir()];
  const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args], { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`sipd did not start: ${out}${err}`)), opts.timeoutMs ?? 10_000);
    const check = () => {
      const m = /listening on udp and tcp.*port=(\d+)/.exec(out) ?? /"port":(\d+).*listening on udp and tcp/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout!.on('data', check);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sipd exited with ${code}: ${out}${err}`));
    });
  }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  return {
    child,
    port,
    stdout: () => out,
    stderr: () => err,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Runs bin/sipd to completion. */
export async function runSipd(args: string[], opts: { cwd?: string; timeoutMs?: number } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, BIN, ...args], { cwd: opts.cwd ?? ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: cleanEnv() });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  clearTimeout(timer);
  return { code, stdout, stderr };
}
