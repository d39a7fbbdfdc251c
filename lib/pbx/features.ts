/**
 * Feature codes and run-time forwards (DESIGN §4 "Feature codes",
 * "Forwarding"; issue 6 items 3–5). Pure decisions, no sockets, no clock: the
 * call flow (calls.ts) asks `parseFeatureCode` what a dialled `*…` means,
 * `featureOutcome` what happens and how it is announced, applies the change
 * with `ForwardState.apply`, and asks `ForwardState.effective` which forward
 * is in force when a call for a client arrives. The only side effect is
 * `ForwardState`'s write-through to the injected `FeatureStore` port.
 * docs/features.md is the user-facing version.
 *
 * Decisions (the original Go sipd is gbazil/sipd main.go, "services"):
 *
 * 1. Codes, as the original: `*72F` forward always to F, `*71F` forward when
 *    unavailable to F, `*72` / `*71` alone check the forward in force (either
 *    kind, as the original), `*73` cancel, `*11` pickup, `*55` music (the
 *    original forwarded it to the media gateway unchanged; kept so existing
 *    media-server prompt sets keep working). Any other `*7…` or `*1…` is a
 *    wrong forwarding command (`*70`), anything else an invalid code (`*00`),
 *    by the original's prefix rule.
 * 2. F is digits with an optional leading `+` (like a sip.conf `=F`), at most
 *    32 characters; anything else is a wrong forwarding command. The original
 *    took exactly 10 digits; sipd takes any number the client could dial
 *    itself: F is routed with `routeCall` under the forwarding client's own
 *    dialplan, so a short number of its group, a long number, or an external
 *    number its dialplan and a gateway allow. A refusal, or F leading back to
 *    the client itself, is a wrong forwarding command. F is stored as dialled,
 *    trunk prefix included (`*7284991234567` stores `84991234567`, announced
 *    back as `*7284991234567`): it is dialled again, as the client, when a
 *    call is forwarded, and routing removes the prefix then.
 * 3. One forward per client, as the original, whose `*71F` replaced a `*72F`
 *    and vice versa: the last command defines "the forward". The store keeps
 *    a row per kind; a feature code writes both rows, the kind set to F and
 *    the other kind to "none" (empty target); `*73` writes both as "none".
 * 4. Run-time rows override sip.conf per kind: a row (even "none") wins over
 *    the `exten` forward of the same kind, so after any `*72F`, `*71F` or
 *    `*73` the sip.conf forward of that client is hidden. `*73` therefore
 *    cancels a sip.conf forward too, as it did in the original — but it stays
 *    cancelled across restarts and `sipd -r` (the original lost run-time
 *    state on reload, bringing the sip.conf forward back). The admin sees the
 *    hidden forward in `sipd --forwards`; the user gets it back by dialling it
 *    (`*71F`), or the admin deletes the client's rows (docs/features.md).
 *    `ForwardState.reset` (rows deleted) is the code-level way back.
 * 5. In force: an always forward wins over a when-unavailable one.
 * 6. Announcement: with a media gateway (the first `accountcode=mediagates`)
 *    the INVITE goes to it with the request user rewritten to the outcome,
 *    exactly the original's codes: `*72F` / `*71F` (forward set, or the one in
 *    force on a check), `*73` (cancelled, or no forward on a check), `*70`
 *    (wrong forwarding command), `*00` (invalid code), `*55` (music).
 *    Without one, a final response whose reason phrase states the outcome
 *    (the original answered `410 Gone` to everything):
 *      - `480` for a command that worked (set, cancel, check): not 2xx (that
 *        would open a call with no media), not 3xx (a redirect), not a code
 *        phones retry or fail over on (408, 5xx), not 486 (busy tone);
 *        the issue's example `480 Forward set to 4991234567`.
 *      - `403` for a wrong forwarding command (understood, refused),
 *      - `404` for an invalid code and for `*11` with nothing to pick up
 *        (no such service / no such call).
 *    The reason phrase is the outcome itself (phones show it), printable
 *    ASCII, dialled text cut at 40 characters (numbers.ts `shown`).
 * 7. `*11` with nothing ringing is reported like an invalid code (`*00`,
 *    404), as the issue says. (The original fell into its `*1…` rule and
 *    answered `*70`.) The call flow looks for a ringing call first;
 *    `featureOutcome` is only asked when there is none.
 * 8. A forward that cannot be saved (disk full): `apply` throws and nothing
 *    changes; the call flow answers {@link FORWARD_NOT_SAVED}.
 */
import type { Client, Config } from '../config/types.js';
import type { FeatureStore, ForwardKind, StoredForward } from '../store/types.js';
import { routeCall, shown, type CallRoute } from './numbers.js';

export type { ForwardKind } from '../store/types.js';

/** Longest forward target accepted (digits and one `+`). */
export const MAX_FORWARD_TARGET_LENGTH = 32;

const TARGET_RE = /^\+?\d+$/;

/** What a dialled `*…` asks for. `code` is the dialled text. */
export type FeatureRequest =
  /** `*72F` (always) or `*71F` (when unavailable). */
  | { readonly kind: 'set-forward'; readonly code: string; readonly forward: ForwardKind; readonly target: string }
  /** `*72` or `*71` alone: which forward is in force. */
  | { readonly kind: 'check-forward'; readonly code: string }
  /** `*73`. */
  | { readonly kind: 'cancel-forward'; readonly code: string }
  /** `*11`: pick up a call ringing in the caller's group. */
  | { readonly kind: 'pickup'; readonly code: string }
  /** `*55`: music from the media gateway (the original's test code). */
  | { readonly kind: 'music'; readonly code: string }
  /** Anything else; `wrongForward` for `*7…` / `*1…` (announced `*70`), else `*00`. */
  | { readonly kind: 'invalid'; readonly code: string; readonly wrongForward: boolean };

/** What a dialled `*…` means. Pure; never throws (any string in, a request out). */
export function parseFeatureCode(dialled: string): FeatureRequest {
  const code = String(dialled);
  switch (code) {
    case '*72':
    case '*71':
      return { kind: 'check-forward', code };
    case '*73':
      return { kind: 'cancel-forward', code };
    case '*11':
      return { kind: 'pickup', code };
    case '*55':
      return { kind: 'music', code };
  }
  if (code.startsWith('*72') || code.startsWith('*71')) {
    const target = code.slice(3);
    if (TARGET_RE.test(target) && target.length <= MAX_FORWARD_TARGET_LENGTH) {
      return { kind: 'set-forward', code, forward: code[2] === '2' ? 'always' : 'unavailable', target };
    }
  }
  return { kind: 'invalid', code, wrongForward: code.startsWith('*7') || code.startsWith('*1') };
}

// ------------------------------------------------------------------ forward targets

export type ForwardTargetCheck =
  | { readonly ok: true; readonly route: Extract<CallRoute, { kind: 'client' | 'external' }> }
  | { readonly ok: false; readonly why: string };

/**
 * Whether `client` may forward to `target`: a number (`+?digits`) that the
 * client could dial itself (routeCall with the client as caller, its own
 * dialplan) and that does not lead back to the client. `why` is a short text
 * for a reason phrase. Also usable at call time, when a stored target may have
 * become unreachable after a reload.
 */
export function checkForwardTarget(cfg: Config, client: Client, target: string): ForwardTargetCheck {
  if (!TARGET_RE.test(target) || target.length > MAX_FORWARD_TARGET_LENGTH) return { ok: false, why: `${shown(target)} is not a number` };
  const route = routeCall(cfg, { kind: 'client', client }, target);
  switch (route.kind) {
    case 'client':
      if (route.client.name === client.name) return { ok: false, why: 'cannot forward to yourself' };
      return { ok: true, route };
    case 'external':
      return { ok: true, route };
    case 'reject': {
      // 'Forbidden (dialplan of [foo] does not allow 0012345)' → the part in parentheses.
      const m = /\((.*)\)$/.exec(route.reason);
      return { ok: false, why: m ? m[1]! : route.reason };
    }
    case 'feature':
      return { ok: false, why: `${shown(target)} is a feature code` };
  }
}

// ------------------------------------------------------------------ state

/** The forwards of one client by kind; `undefined` = none. */
export interface ForwardSet {
  readonly always?: string;
  readonly unavailable?: string;
}

/** The forward in force for a client, and where it comes from. */
export interface ForwardInForce {
  readonly kind: ForwardKind;
  readonly target: string;
  /** `feature`: set by `*72F`/`*71F` (SQLite); `sip.conf`: the client's `exten` `=F`/`~F`. */
  readonly source: 'feature' | 'sip.conf';
  /** Wall-clock ms of the feature code (source `feature`). */
  readonly updatedAt?: number;
  /** Line of the `exten` key (source `sip.conf`). */
  readonly line?: number;
}

/** The run-time rows of one client: a `target` of `''` is an explicit "none" (`*73`). */
export interface RuntimeForwards {
  readonly always?: StoredForward;
  readonly unavailable?: StoredForward;
}

/** A change a feature code makes, for {@link ForwardState.apply}. */
export type ForwardChange =
  | { readonly op: 'set'; readonly kind: ForwardKind; readonly target: string }
  | { readonly op: 'cancel' };

/**
 * The run-time forwards (set by feature codes) in memory, loaded from the
 * store once and written through on every change (store first: when the
 * write throws, memory is unchanged). Independent of the Config, so a reload
 * keeps it; merged with sip.conf's forward of the Client passed in.
 */
export class ForwardState {
  readonly #store: FeatureStore | undefined;
  readonly #byClient = new Map<string, { always?: StoredForward; unavailable?: StoredForward }>();

  /** Loads every stored forward from `store` (none without a store: memory only, for tests). */
  constructor(store?: FeatureStore) {
    this.#store = store;
    if (store !== undefined) for (const f of store.loadForwards()) this.#put(f);
  }

  /** A read-only snapshot built from rows (`sipd --forwards`); changes are not written anywhere. */
  static fromRows(rows: readonly StoredForward[]): ForwardState {
    const s = new ForwardState();
    for (const f of rows) s.#put(f);
    return s;
  }

  /** The run-time rows of `client` (by section name), if any. */
  runtime(client: string): RuntimeForwards | undefined {
    const r = this.#byClient.get(client);
    return r === undefined ? undefined : { ...r };
  }

  /** Names of the clients with run-time rows, sorted. */
  clients(): string[] {
    return [...this.#byClient.keys()].sort();
  }

  /**
   * The forwards of `client` by kind: each kind from the run-time row when
   * there is one (an empty target = none), else from sip.conf's `exten`.
   * Gateways and media gateways have none.
   */
  get(client: Client): ForwardSet {
    if (client.kind !== 'client') return {};
    const rt = this.#byClient.get(client.name);
    const conf = client.exten?.forward;
    const pick = (kind: ForwardKind): string | undefined => {
      const row = rt?.[kind];
      if (row !== undefined) return row.target === '' ? undefined : row.target;
      return conf?.mode === kind ? conf.number : undefined;
    };
    const always = pick('always');
    const unavailable = pick('unavailable');
    return { ...(always !== undefined ? { always } : {}), ...(unavailable !== undefined ? { unavailable } : {}) };
  }

  /** The forward in force for `client`: always before when-unavailable (see {@link get}); undefined when none. */
  effective(client: Client): ForwardInForce | undefined {
    if (client.kind !== 'client') return undefined;
    const rt = this.#byClient.get(client.name);
    const conf = client.exten?.forward;
    for (const kind of ['always', 'unavailable'] as const) {
      const row = rt?.[kind];
      if (row !== undefined) {
        if (row.target !== '') return { kind, target: row.target, source: 'feature', updatedAt: row.updatedAt };
        continue;
      }
      if (conf?.mode === kind) {
        const line = client.keyLines.exten;
        return { kind, target: conf.number, source: 'sip.conf', ...(line !== undefined ? { line } : {}) };
      }
    }
    return undefined;
  }

  /** `*72F` / `*71F`: forward `kind` to `target`, the other kind to none (decision 3). Written through. */
  set(client: string, kind: ForwardKind, target: string, at: number): void {
    if (target === '') throw new RangeError('a forward target cannot be empty (use clear)');
    const other: ForwardKind = kind === 'always' ? 'unavailable' : 'always';
    this.#write([
      { client, kind, target, updatedAt: at },
      { client, kind: other, target: '', updatedAt: at },
    ]);
  }

  /** `*73`: no forward of either kind, sip.conf's hidden too (decision 4). Written through. */
  clear(client: string, at: number): void {
    this.#write([
      { client, kind: 'always', target: '', updatedAt: at },
      { client, kind: 'unavailable', target: '', updatedAt: at },
    ]);
  }

  /** Forgets the run-time rows of `client`: sip.conf's forward applies again. Written through. */
  reset(client: string): void {
    this.#store?.clearForward(client);
    this.#byClient.delete(client);
  }

  /** Applies what {@link featureOutcome} decided. Throws (memory unchanged) when the store cannot write. */
  apply(client: string, change: ForwardChange, at: number): void {
    if (change.op === 'set') this.set(client, change.kind, change.target, at);
    else this.clear(client, at);
  }

  #write(rows: StoredForward[]): void {
    if (this.#store !== undefined) {
      // Two single-row writes; if the second fails the first is undone so disk and memory agree.
      const before = this.#byClient.get(rows[0]!.client)?.[rows[0]!.kind];
      this.#store.setForward(rows[0]!);
      try {
        this.#store.setForward(rows[1]!);
      } catch (err) {
        try {
          if (before === undefined) this.#store.clearForward(rows[0]!.client, rows[0]!.kind);
          else this.#store.setForward(before);
        } catch {
          // the disk refuses everything; memory stays as it was and the next load shows the truth
        }
        throw err;
      }
    }
    for (const f of rows) this.#put(f);
  }

  #put(f: StoredForward): void {
    let r = this.#byClient.get(f.client);
    if (r === undefined) {
      r = {};
      this.#byClient.set(f.client, r);
    }
    r[f.kind] = { client: f.client, kind: f.kind, target: f.target, updatedAt: f.updatedAt };
  }
}

// ------------------------------------------------------------------ outcomes

export type FeatureResult =
  /** `*72F` / `*71F` accepted. */
  | 'forward-set'
  /** `*72` / `*71`: a forward is in force. */
  | 'forward-current'
  /** `*72` / `*71`: none is. */
  | 'no-forward'
  /** `*73` (whether or not a forward was in force). */
  | 'forward-cancelled'
  /** `*70`: a forwarding command that cannot be carried out. */
  | 'wrong-forward'
  /** `*00`: no such feature code. */
  | 'invalid'
  /** `*11` and nothing rings in the group (announced like `invalid`). */
  | 'nothing-to-pick-up'
  /** `*55` with a media gateway. */
  | 'music';

/** Final status codes sipd answers a feature code with when there is no media gateway (decision 6). */
export const FEATURE_STATUS = Object.freeze({ done: 480, wrongForward: 403, invalid: 404 } as const);

export type FeatureStatus = (typeof FEATURE_STATUS)[keyof typeof FEATURE_STATUS];

/** How the outcome reaches the user. */
export type Announcement =
  /** Forward the INVITE to this media gateway with the Request-URI user `user`. */
  | { readonly via: 'mediagate'; readonly gateway: Client; readonly user: string }
  /** Answer the INVITE with this final response. */
  | { readonly via: 'response'; readonly status: FeatureStatus; readonly reason: string };

export interface FeatureOutcome {
  readonly result: FeatureResult;
  /** The state change to make (`ForwardState.apply`) before announcing; absent when nothing changes. */
  readonly change?: ForwardChange;
  /** Request-URI user for the media gateway: `*72F`, `*71F`, `*73`, `*70`, `*00`, `*55`. */
  readonly mediaUser: string;
  /** The response without a media gateway. */
  readonly status: FeatureStatus;
  readonly reason: string;
  /** What to do: via the first media gateway when sip.conf has one, else the response. */
  readonly announce: Announcement;
  /** For the CDR `reason` and logs, e.g. `forward set to 84991234567 (*72)`. */
  readonly summary: string;
}

export interface FeatureContext {
  readonly cfg: Config;
  /** The client that dialled the code (authenticated; gateways never get here: routeCall refuses them). */
  readonly client: Client;
  readonly forwards: ForwardState;
}

/** The answer when `ForwardState.apply` throws (decision 8). */
export const FORWARD_NOT_SAVED = Object.freeze({ status: 500, reason: 'Server Internal Error (the forward could not be saved)' } as const);

const KIND_CODE: Readonly<Record<ForwardKind, string>> = { always: '*72', unavailable: '*71' };

function forwardText(kind: ForwardKind, target: string): string {
  return kind === 'always' ? `Forward to ${shown(target)}` : `Forward if unavailable to ${shown(target)}`;
}

/**
 * What a feature code `req` dialled by `ctx.client` does and how it is
 * announced (decisions 1–7). Pure: the change is returned, not made. For
 * `pickup`, call it only when nothing rings in the group.
 */
export function featureOutcome(ctx: FeatureContext, req: FeatureRequest): FeatureOutcome {
  const { cfg, client, forwards } = ctx;
  let result: FeatureResult;
  let mediaUser: string;
  let status: FeatureStatus;
  let reason: string;
  let summary: string;
  let change: ForwardChange | undefined;
  const code = shown(req.code);

  switch (req.kind) {
    case 'set-forward': {
      const check = checkForwardTarget(cfg, client, req.target);
      if (!check.ok) {
        result = 'wrong-forward';
        mediaUser = '*70';
        status = FEATURE_STATUS.wrongForward;
        reason = `Wrong forwarding command (${check.why})`;
        summary = `wrong forwarding command ${code}: ${check.why}`;
        break;
      }
      result = 'forward-set';
      change = { op: 'set', kind: req.forward, target: req.target };
      mediaUser = KIND_CODE[req.forward] + req.target;
      status = FEATURE_STATUS.done;
      reason = req.forward === 'always' ? `Forward set to ${shown(req.target)}` : `Forward if unavailable set to ${shown(req.target)}`;
      summary = `${req.forward === 'always' ? 'forward' : 'forward if unavailable'} set to ${shown(req.target)} (${KIND_CODE[req.forward]})`;
      break;
    }
    case 'check-forward': {
      const f = forwards.effective(client);
      status = FEATURE_STATUS.done;
      if (f === undefined) {
        result = 'no-forward';
        mediaUser = '*73';
        reason = 'No forward';
        summary = `forward checked (${code}): none`;
      } else {
        result = 'forward-current';
        mediaUser = KIND_CODE[f.kind] + f.target;
        reason = forwardText(f.kind, f.target);
        summary = `forward checked (${code}): ${forwardText(f.kind, f.target).toLowerCase()}`;
      }
      break;
    }
    case 'cancel-forward': {
      const had = forwards.effective(client);
      result = 'forward-cancelled';
      change = { op: 'cancel' };
      mediaUser = '*73';
      status = FEATURE_STATUS.done;
      reason = had === undefined ? 'No forward' : 'Forward cancelled';
      summary = had === undefined ? 'forward cancelled (*73): there was none' : `forward cancelled (*73): was ${forwardText(had.kind, had.target).toLowerCase()}`;
      break;
    }
    case 'pickup':
      result = 'nothing-to-pick-up';
      mediaUser = '*00';
      status = FEATURE_STATUS.invalid;
      reason = 'No call to pick up';
      summary = 'pickup (*11): nothing rings in the group';
      break;
    case 'music':
      if (cfg.mediaGateways.length > 0) {
        result = 'music';
        mediaUser = '*55';
        status = FEATURE_STATUS.invalid;
        reason = 'Invalid feature code *55 (no media gateway)';
        summary = 'music (*55)';
        break;
      }
      result = 'invalid';
      mediaUser = '*00';
      status = FEATURE_STATUS.invalid;
      reason = 'Invalid feature code *55 (no media gateway)';
      summary = 'invalid feature code *55: no media gateway';
      break;
    case 'invalid':
      if (req.wrongForward) {
        result = 'wrong-forward';
        mediaUser = '*70';
        status = FEATURE_STATUS.wrongForward;
        reason = `Wrong forwarding command (${code})`;
        summary = `wrong forwarding command ${code}`;
      } else {
        result = 'invalid';
        mediaUser = '*00';
        status = FEATURE_STATUS.invalid;
        reason = `Invalid feature code ${code}`;
        summary = `invalid feature code ${code}`;
      }
      break;
  }

  const gateway = cfg.mediaGateways[0];
  const announce: Announcement = gateway !== undefined ? { via: 'mediagate', gateway, user: mediaUser } : { via: 'response', status, reason };
  return { result, ...(change !== undefined ? { change } : {}), mediaUser, status, reason, announce, summary };
}
