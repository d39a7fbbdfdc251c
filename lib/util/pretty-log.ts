/**
 * A small human-readable sink for pino's JSON lines, for admins reading a
 * terminal or journal: `2026-11-23T22:30:00.123Z INFO  [router] text key=value`.
 * `--log-json` keeps pino's JSON instead.
 *
 * Both go through a {@link LineSink}: the lines of one turn of the event loop
 * are written together (one write instead of one per line: at thousands of
 * registrations a second, a write system call per log line was a few percent
 * of sipd's CPU). A full buffer is written at once, the rest on `setImmediate`
 * and on process exit, so a line is never later than the end of the loop turn
 * that logged it; only a `kill -9` can lose the lines of that one turn.
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };

/** Written at once when this much is pending. */
const FLUSH_AT = 64 * 1024;

/** Collects text and writes it to `out` once per event-loop turn (see the module comment). */
export class LineSink {
  readonly #out: NodeJS.WritableStream;
  #pending = '';
  #scheduled = false;
  readonly #onExit = (): void => this.flush();

  constructor(out: NodeJS.WritableStream) {
    this.#out = out;
    process.on('exit', this.#onExit);
  }

  write(text: string): boolean {
    this.#pending += text;
    if (this.#pending.length >= FLUSH_AT) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => {
        this.#scheduled = false;
        this.flush();
      });
    }
    return true;
  }

  /** Writes what is pending now. */
  flush(): void {
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    this.#out.write(text);
  }

  /** Flushes and stops flushing on exit. */
  close(): void {
    this.flush();
    process.off('exit', this.#onExit);
  }
}

/** pino's destination for `sink`: its JSON lines become text lines. */
export function prettyLogStream(sink: { write(text: string): unknown }): { write(chunk: string): boolean } {
  return {
    write(chunk: string): boolean {
      let start = 0;
      while (start < chunk.length) {
        let end = chunk.indexOf('\n', start);
        if (end < 0) end = chunk.length;
        if (end > start) sink.write(formatLine(chunk.slice(start, end)) + '\n');
        start = end + 1;
      }
      return true;
    },
  };
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
