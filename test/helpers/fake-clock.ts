/**
 * A `Clock` for tests: time moves only through `advance(ms)`, which fires every
 * timer due by then in time order (ties in scheduling order), including timers
 * scheduled by the callbacks it fires. `pending()` counts live timers, so a test
 * can assert that nothing was left behind.
 */
import type { Clock, TimerHandle } from '../../lib/util/clock.js';

interface FakeTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

export class FakeClock implements Clock {
  #now: number;
  #wall: number;
  #seq = 0;
  readonly #timers = new Set<FakeTimer>();

  constructor(opts: { now?: number; wall?: number } = {}) {
    this.#now = opts.now ?? 0;
    this.#wall = opts.wall ?? Date.UTC(2024, 0, 1);
  }

  now(): number {
    return this.#now;
  }

  wallNow(): number {
    return this.#wall + this.#now;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const t: FakeTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.add(t);
    return t;
  }

  clearTimer(h: TimerHandle | undefined): void {
    if (h !== undefined) this.#timers.delete(h as FakeTimer);
  }

  /** Number of timers that have not fired or been cleared. */
  pending(): number {
    return this.#timers.size;
  }

  /** Milliseconds until the next timer fires, or undefined when none is pending. */
  nextIn(): number | undefined {
    const t = this.#next(Infinity);
    return t === undefined ? undefined : t.at - this.#now;
  }

  /** Moves time forward by `ms`, firing due timers in order. Returns how many fired. */
  advance(ms: number): number {
    if (ms < 0) throw new RangeError('FakeClock cannot go back in time');
    const target = this.#now + ms;
    let fired = 0;
    for (;;) {
      const t = this.#next(target);
      if (t === undefined) break;
      this.#timers.delete(t);
      this.#now = t.at;
      fired++;
      t.fn();
    }
    this.#now = target;
    return fired;
  }

  /** Fires timers until none is pending (bounded, so a timer that re-arms forever fails the test). */
  runAll(limit = 100_000): number {
    let fired = 0;
    while (this.#timers.size > 0) {
      if (fired >= limit) throw new Error(`FakeClock.runAll: more than ${limit} timers fired`);
      const t = this.#next(Infinity)!;
      this.#timers.delete(t);
      this.#now = t.at;
      fired++;
      t.fn();
    }
    return fired;
  }

  #next(limit: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (t.at > limit) continue;
      if (best === undefined || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
