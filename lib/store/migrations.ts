/**
 * Numbered schema migrations, applied in order inside one transaction by
 * `sqlite.ts` and recorded as `schema_version` in the `meta` table. Append new
 * ones (feature-code state, CDRs); never edit or renumber a released one. Pure
 * data, so it can be read and tested without a database.
 */

export interface Migration {
  /** 1, 2, 3, … without gaps. */
  readonly version: number;
  readonly name: string;
  /** SQL run with `exec` (several statements allowed). */
  readonly sql: string;
}

/** Created before any migration runs: holds `schema_version` and small named values (secrets). */
export const META_TABLE_SQL = 'CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value) WITHOUT ROWID';

export const MIGRATIONS: readonly Migration[] = Object.freeze([
  Object.freeze({
    version: 1,
    name: 'location bindings',
    sql: `
      CREATE TABLE bindings (
        aor           TEXT    NOT NULL,
        contact_uri   TEXT    NOT NULL,
        contact       TEXT    NOT NULL,
        instance      TEXT,
        reg_id        INTEGER,
        call_id       TEXT    NOT NULL,
        cseq          INTEGER NOT NULL,
        q             REAL,
        expires_at    INTEGER NOT NULL,
        registered_at INTEGER NOT NULL,
        proto         TEXT    NOT NULL,
        address       TEXT    NOT NULL,
        port          INTEGER NOT NULL,
        local_address TEXT    NOT NULL,
        local_port    INTEGER NOT NULL,
        user_agent    TEXT,
        PRIMARY KEY (aor, contact_uri)
      ) WITHOUT ROWID;
      CREATE INDEX bindings_expires_at ON bindings (expires_at);
    `,
  }),
  Object.freeze({
    version: 2,
    name: 'call detail records',
    // One row per call attempt (types.ts CdrRecord). Times are epoch ms; the
    // optional columns are NULL when unknown. `id` is the rowid alias, so rows
    // keep insertion order for calls that started in the same millisecond.
    // `sipd --cdr --since` reads by start time, hence the index.
    sql: `
      CREATE TABLE cdr (
        id                  INTEGER PRIMARY KEY,
        call_id             TEXT    NOT NULL,
        caller              TEXT    NOT NULL DEFAULT '',
        caller_number       TEXT,
        accountcode         TEXT,
        dialled             TEXT    NOT NULL,
        destination         TEXT,
        status              INTEGER NOT NULL DEFAULT 0,
        reason              TEXT,
        started_at          INTEGER NOT NULL,
        answered_at         INTEGER,
        ended_at            INTEGER,
        source_address      TEXT,
        destination_address TEXT,
        from_tag            TEXT,
        to_tag              TEXT
      );
      CREATE INDEX cdr_started_at ON cdr (started_at);
    `,
  }),
  Object.freeze({
    version: 3,
    name: 'call forwards set by feature codes',
    // Run-time forwards (types.ts StoredForward): one row per client and kind,
    // written at once (never batched) by *72/*71/*73. An empty `target` is an
    // explicit "no forward of this kind" that hides the sip.conf forward
    // (lib/pbx/features.ts). `updated_at` is epoch ms.
    sql: `
      CREATE TABLE forwards (
        client     TEXT    NOT NULL,
        kind       TEXT    NOT NULL CHECK (kind IN ('always', 'unavailable')),
        target     TEXT    NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (client, kind)
      ) WITHOUT ROWID;
    `,
  }),
]);

/** The schema version this build writes. */
export const SCHEMA_VERSION: number = MIGRATIONS.length === 0 ? 0 : MIGRATIONS[MIGRATIONS.length - 1]!.version;
