/**
 * Logging through pino. Components take a `Logger` (a pino child) by injection;
 * `createLogger` is called once, in the CLI/server wiring. `silentLogger` is for
 * tests and library use.
 */
import { pino, type DestinationStream, type Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

export function createLogger(opts: { level?: string; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? 'info';
  if (opts.destination) return pino({ level, base: undefined }, opts.destination);
  return pino({ level, base: undefined });
}

export const silentLogger: Logger = pino({ level: 'silent' });

/**
 * Lets one log line through per `intervalMs` per key and counts the rest, so a
 * flood of garbage packets cannot flood the log (STYLE §4.5).
 */
export class RateLimitedLog {
  readonly #intervalMs: number;
  readonly #last = new Map<string, { at: number; suppressed: number }>();
  readonly #now: () => number;

  constructor(now: () => number, intervalMs = 10_000) {
    this.#now = now;
    this.#intervalMs = intervalMs;
  }

  /** Returns the number of suppressed lines since the last one let through, or -1 to suppress this one. */
  allow(key: string): number {
    const t = this.#now();
    const e = this.#last.get(key);
    if (e === undefined || t - e.at >= this.#intervalMs) {
      const suppressed = e?.suppressed ?? 0;
      if (this.#last.size > 1000) this.#last.clear();
      this.#last.set(key, { at: t, suppressed: 0 });
      return suppressed;
    }
    e.suppressed++;
    return -1;
  }
}
