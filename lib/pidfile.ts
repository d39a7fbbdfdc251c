/**
 * `sipd.pid` in the working directory: written by the server at start, removed
 * at a clean stop, read by `sipd -r` to find the server. A pid file whose
 * process is gone (or is not sipd) is stale and is detected as such.
 */
import fs from 'node:fs';
import path from 'node:path';

export const PID_FILE = 'sipd.pid';

export interface PidInfo {
  readonly file: string;
  readonly pid: number;
  /** The process exists and looks like sipd. */
  readonly running: boolean;
}

export function pidFilePath(dir: string): string {
  return path.join(dir, PID_FILE);
}

/** Reads the pid file; undefined when there is none (or it holds no number). */
export function readPidFile(dir: string): PidInfo | undefined {
  const file = pidFilePath(dir);
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const pid = Number(text.trim());
  if (!Number.isInteger(pid) || pid <= 0) return { file, pid: 0, running: false };
  return { file, pid, running: isSipd(pid) };
}

/**
 * Writes our pid. Refuses (throws with a clear message) when another live
 * sipd owns the directory; replaces a stale file and says so through `onStale`.
 */
export function writePidFile(dir: string, pid: number, onStale?: (stalePid: number) => void): string {
  const existing = readPidFile(dir);
  if (existing !== undefined && existing.running && existing.pid !== pid) {
    throw new Error(`another sipd (pid ${existing.pid}) is already running in ${dir} (${existing.file})`);
  }
  if (existing !== undefined && !existing.running) onStale?.(existing.pid);
  const file = pidFilePath(dir);
  fs.writeFileSync(file, `${pid}\n`);
  return file;
}

/** Removes the pid file if it still holds `pid`. */
export function removePidFile(dir: string, pid: number): void {
  const info = readPidFile(dir);
  if (info !== undefined && info.pid === pid) fs.rmSync(info.file, { force: true });
}

function isSipd(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const cmd = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return cmd.includes('sipd') || cmd.includes('cli.js');
  } catch {
    return true; // no /proc: a live process is taken at its word
  }
}
