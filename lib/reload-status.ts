/**
 * `sipd.reload.json` in the working directory: the running server writes the
 * outcome of every reload there (whatever triggered it), so `sipd -r` — a
 * different process — can tell the admin what changed or what is wrong.
 */
import fs from 'node:fs';
import path from 'node:path';

export const RELOAD_STATUS_FILE = 'sipd.reload.json';

export interface ReloadStatus {
  readonly pid: number;
  /** Wall-clock ms when the reload finished. */
  readonly at: number;
  readonly trigger: string;
  readonly ok: boolean;
  /** `formatDiff` line when ok. */
  readonly changes?: string;
  /** Error lines (`sip.conf:14: ...`) when not ok. */
  readonly errors?: readonly string[];
  readonly warnings?: readonly string[];
}

export function reloadStatusPath(dir: string): string {
  return path.join(dir, RELOAD_STATUS_FILE);
}

/** Written to a temporary name and renamed, so a reader never sees half a file. */
export function writeReloadStatus(dir: string, status: ReloadStatus): void {
  const file = reloadStatusPath(dir);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(status) + '\n');
  fs.renameSync(tmp, file);
}

export function readReloadStatus(dir: string): ReloadStatus | undefined {
  try {
    return JSON.parse(fs.readFileSync(reloadStatusPath(dir), 'utf8')) as ReloadStatus;
  } catch {
    return undefined; // absent or being replaced: the caller polls again
  }
}
