/**
 * A small human-readable sink for pino's JSON lines, for admins reading a
 * terminal or journal: `2026-11-23T22:30:00.123Z INFO  [router] text key=value`.
 * `--log-json` keeps pino's JSON instead.
 */
import { Writable } from 'node:stream';

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

export function prettyLogStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.length === 0) continue;
        out.write(formatLine(line) + '\n');
      }
      cb();
    },
  });
}

export function formatLine(line: string): string {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return line;
  }
  const { time, level, msg, component, ...rest } = o;
  const t = typeof time === 'number' ? new Date(time).toISOString() : '';
  const lvl = LEVELS[level as number] ?? String(level);
  const comp = component !== undefined ? `[${String(component)}] ` : '';
  let extra = '';
  for (const [k, v] of Object.entries(rest)) {
    if (k === 'err' && v !== null && typeof v === 'object' && 'message' in v) extra += ` err=${JSON.stringify((v as { message: unknown }).message)}`;
    else extra += ` ${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`;
  }
  return `${t} ${lvl} ${comp}${msg === undefined ? '' : String(msg)}${extra}`;
}
