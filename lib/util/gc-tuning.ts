/**
 * V8 garbage-collector settings for the server process (`sipd -b …`, not the
 * one-shot commands). Node's defaults suit short scripts and web pages; a
 * proxy under steady call load pays for them in latency:
 *
 * - **Allocation-site pretenuring off.** V8 allocates objects of a literal
 *   straight into the old generation once most of them have outlived two young
 *   collections. Call state that lives for the call's duration trips that
 *   rule; the literal then keeps being pretenured after the calls end, and
 *   every object a pretenured one is given later (a response, a string) is
 *   kept alive by it until the next full collection. Measured with
 *   `../shared/bench` at 1,000 calls/s: half the bytes promoted per young
 *   collection (2.1 → 1.0 MB) and half the pause (7.4 → 3.9 ms).
 * - **Old generation may grow to 4× the live heap** before the next full
 *   collection (V8: about 1.1–2× on a small heap). A full collection on the
 *   one core sipd runs on stalls calls for 40–80 ms; at 1,000 calls/s Node's
 *   default ran one every 2.5 s. The price is memory under sustained load:
 *   up to three times the live heap of garbage before it is collected.
 *
 * An admin who wants other values sets them on node's command line
 * (`node --heap-growing-percent=100 "$(command -v sipd)" …`; node refuses
 * them in NODE_OPTIONS): a flag named there is left as it is. The figures are
 * in docs/performance.md.
 */
import { getHeapStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** The flags sipd sets, by V8 flag name. */
export const SERVER_GC_FLAGS: ReadonlyArray<{ readonly name: string; readonly flag: string }> = Object.freeze([
  Object.freeze({ name: 'allocation-site-pretenuring', flag: '--no-allocation-site-pretenuring' }),
  Object.freeze({ name: 'heap-growing-percent', flag: '--heap-growing-percent=300' }),
]);

/**
 * The name of the V8 flag in a command-line argument (`--no-foo_bar=1` →
 * `foo-bar`), or undefined when the argument is not a flag.
 */
export function v8FlagName(arg: string): string | undefined {
  if (!arg.startsWith('--') || arg.length === 2) return undefined;
  const eq = arg.indexOf('=');
  let name = (eq < 0 ? arg.slice(2) : arg.slice(2, eq)).replace(/_/g, '-');
  if (name.startsWith('no-')) name = name.slice(3);
  else if (name.startsWith('no') && SERVER_GC_FLAGS.some((f) => f.name === name.slice(2))) name = name.slice(2);
  return name;
}

/** The flags of {@link SERVER_GC_FLAGS} that node's command line does not name. */
export function gcFlagsToApply(execArgv: readonly string[]): string[] {
  const given = new Set<string>();
  for (const arg of execArgv) {
    const name = v8FlagName(arg);
    if (name !== undefined) given.add(name);
  }
  return SERVER_GC_FLAGS.filter((f) => !given.has(f.name)).map((f) => f.flag);
}

/** Sets the server's GC flags (see the module comment); returns the ones it set. */
export function tuneServerGc(execArgv: readonly string[] = process.execArgv): string[] {
  const flags = gcFlagsToApply(execArgv);
  for (const f of flags) setFlagsFromString(f);
  return flags;
}

/** What {@link collectOnce} did: heap in use before and after, and how long it took. */
export interface Collection {
  readonly beforeBytes: number;
  readonly afterBytes: number;
  readonly ms: number;
}

/**
 * One full garbage collection now, or undefined when V8 offers none. The
 * server calls it once, right after start-up: loading sip.conf leaves its
 * parse garbage in the heap (about 15 MB for 10,000 clients), and a server
 * that goes idle may keep it for good, since V8 starts its idle-time
 * collections only after a first full collection. Measured with
 * `../shared/bench` (docs/performance.md): about 6 MB less resident memory
 * when idle, and less growth under the first registrations.
 *
 * V8's `gc` function is offered only in contexts made while `--expose-gc` is
 * on: the flag is set for one new context and cleared again, so the server's
 * own context never has a `gc` global.
 */
export function collectOnce(now: () => number = () => performance.now()): Collection | undefined {
  let gc: unknown;
  try {
    setFlagsFromString('--expose-gc');
    gc = runInNewContext('typeof gc === "function" ? gc : undefined');
  } catch {
    return undefined;
  } finally {
    setFlagsFromString('--no-expose-gc');
  }
  if (typeof gc !== 'function') return undefined;
  const beforeBytes = getHeapStatistics().used_heap_size;
  const t0 = now();
  (gc as () => void)();
  return { beforeBytes, afterBytes: getHeapStatistics().used_heap_size, ms: now() - t0 };
}
