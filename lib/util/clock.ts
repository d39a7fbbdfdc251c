/**
 * Time as a dependency. Every timer in sipd (transaction timers A–K, registration
 * expiry, idle TCP connections, reload debounce) goes through a `Clock`, so tests
 * drive time with a fake clock in milliseconds instead of sleeping. Only
 * `server.ts` constructs `systemClock`.
 */

/** Opaque handle returned by {@link Clock.setTimer}. */
export type TimerHandle = { readonly __timer: unique symbol } | object;

export interface Clock {
  /** Milliseconds on a monotonic scale (not wall-clock time). */
  now(): number;
  /** Wall-clock milliseconds since the epoch (for logs, CDRs, nonces). */
  wallNow(): number;
  setTimer(ms: number, fn: () => void): TimerHandle;
  clearTimer(h: TimerHandle | undefined): void;
}

/** The real clock: `performance.now()` plus Node timers that do not keep the process alive. */
export const systemClock: Clock = Object.freeze({
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimer(ms: number, fn: () => void): TimerHandle {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimer(h: TimerHandle | undefined): void {
    if (h !== undefined) clearTimeout(h as NodeJS.Timeout);
  },
});
