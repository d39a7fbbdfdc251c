/**
 * The command line, with the original sipd's flags exactly (`-a -b -c -cc -d -s
 * -r -v`, Go-style: `-b ADDR`, `-b=ADDR`, `--b ADDR` all work) on top of
 * commander. `bin/sipd` only calls {@link main}.
 */
import { Command, CommanderError, Option } from 'commander';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createLogger, type Logger } from './util/log.js';
import { collectOnce, tuneServerGc } from './util/gc-tuning.js';
import { LineSink, prettyLogStream } from './util/pretty-log.js';
import { messageIn, messageOut, type TraceEvent } from './transport/trace.js';
import { parseHostPort } from './transport/address.js';
import { CONFIG_FILE, DB_FILE, SipdServer, hostName, openReadOnly } from './server.js';
import { ConfigLoadError, formatSummary, readConfigFile, type NumberingOptions } from './config/index.js';
import { readPidFile } from './pidfile.js';
import { readReloadStatus } from './reload-status.js';
import { VERSION } from './version.js';
import type { StoredCdr, StoredForward } from './store/types.js';
import type { Client, Config } from './config/types.js';
import { ForwardState } from './pbx/features.js';

/** The original's single-dash flags (Go's flag package) → commander's long options. */
const GO_FLAGS: Readonly<Record<string, string>> = Object.freeze({
  a: '--about',
  b: '--bind',
  c: '--country-code',
  cc: '--city-code',
  d: '--debug',
  s: '--dir',
  r: '--reload',
  v: '--version',
});

/** Rewrites `-cc 495`, `-cc=495`, `--b=1.2.3.4:5060` into commander's long forms. */
export function normalizeArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const m = /^--?([a-z]{1,2})(?:=(.*))?$/s.exec(a);
    const long = m ? GO_FLAGS[m[1]!] : undefined;
    if (m && long !== undefined) {
      out.push(long);
      if (m[2] !== undefined) out.push(m[2]);
    } else out.push(a);
  }
  return out;
}

export interface CliIo {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
}

interface Opts {
  about?: boolean;
  bind: string;
  countryCode: string;
  cityCode: string;
  debug?: boolean;
  dir: string;
  reload?: boolean;
  version?: boolean;
  logJson?: boolean;
  check?: boolean | string;
  registrations?: boolean;
  forwards?: boolean;
  cdr?: boolean;
  since?: string;
  csv?: boolean;
}

const ABOUT = `sipd ${VERSION} - SIP registrar, stateful proxy and small-office PBX
(forwarding, hunting, pickup, calls by short number, voice guidance).
Configured by one sip.conf in the working directory; see 'sipd --help'.
Heir of the original Go sipd by Vasily Suvorov (gbazil). License: MIT.
`;

function buildProgram(io: CliIo): Command {
  const program = new Command('sipd');
  program
    .description('SIP registrar, stateful proxy and small-office PBX')
    .helpOption('-h, --help', 'print this help')
    .addOption(new Option('-a, --about', 'print about'))
    .addOption(new Option('-b, --bind <addr>', 'listen address, IP:PORT or [IPv6]:PORT (UDP and TCP)').default('127.0.0.1:5060'))
    .addOption(new Option('-c, --country-code <code>', 'current country code').default('7'))
    .addOption(new Option('--city-code <code>', 'current city code (the original\'s -cc, which works too)').default('495'))
    .addOption(new Option('-d, --debug', 'debug mode: print every SIP message in and out'))
    .addOption(new Option('-s, --dir <directory>', "the server's working directory (sip.conf, sipd.sqlite3, sipd.pid)").default('.'))
    .addOption(new Option('-r, --reload', 'reload sip.conf in the running server'))
    .addOption(new Option('-v, --version', 'print name, version and host name'))
    .addOption(new Option('--check [file]', 'validate sip.conf (or FILE) offline and print how sipd understood it'))
    .addOption(new Option('--registrations', 'list the current registrations (works while the server runs)'))
    .addOption(new Option('--forwards', 'list the call forwards in force, set by feature codes (*72, *71, *73) or in sip.conf (works while the server runs)'))
    .addOption(new Option('--cdr', 'list the call detail records (works while the server runs)'))
    .addOption(new Option('--since <date>', 'with --cdr: calls started at or after DATE: YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (local time), or ISO 8601 with a zone'))
    .addOption(new Option('--csv', 'with --cdr: RFC 4180 CSV with a header and every column, times in UTC'))
    .addOption(new Option('--log-json', 'write logs as JSON lines (pino) instead of text'))
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: (s, write) => write(`sipd: ${s.replace(/^error: /, '')}`),
    })
    .exitOverride()
    .allowExcessArguments(false);
  program.addHelpText('after', `
Examples:
  sipd -b 0.0.0.0:5060 -s /etc/sipd     serve the office described in /etc/sipd/sip.conf
  sipd -r -s /etc/sipd                   tell the running server to reload sip.conf
  sipd -b [::1]:5060 -d                  IPv6 loopback, printing every SIP message
  sipd --forwards -s /etc/sipd           who forwards calls where, and who set it
  sipd --cdr --since 2024-05-01 -s /etc/sipd   the calls since May 1st (local time)
  sipd --cdr --csv -s /etc/sipd > calls.csv    every call record, for a spreadsheet
`);
  return program;
}

/**
 * Runs the CLI. Resolves with the process exit code once the command is done
 * (for the server: after SIGINT/SIGTERM and a clean shutdown).
 */
export async function main(argv: readonly string[], io: CliIo = { stdout: process.stdout, stderr: process.stderr }): Promise<number> {
  const program = buildProgram(io);
  let opts: Opts;
  try {
    program.parse(normalizeArgv(argv), { from: 'user' });
    opts = program.opts<Opts>();
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.help' ? 0 : 1;
    }
    throw err;
  }
  if (opts.version) {
    io.stdout.write(`sipd ${VERSION} @ ${hostName()}\n`);
    return 0;
  }
  if (opts.about) {
    io.stdout.write(ABOUT);
    return 0;
  }
  if (!/^\d{1,4}$/.test(opts.countryCode)) return fail(io, `bad country code '${opts.countryCode}' (-c): expected 1 to 4 digits`);
  if (!/^\d{1,6}$/.test(opts.cityCode)) return fail(io, `bad city code '${opts.cityCode}' (-cc): expected 1 to 6 digits`);
  const workDir = path.resolve(opts.dir);
  const numbering: NumberingOptions = { countryCode: opts.countryCode, cityCode: opts.cityCode };
  if (opts.check !== undefined && opts.check !== false) {
    return check(typeof opts.check === 'string' ? path.resolve(opts.check) : path.join(workDir, CONFIG_FILE), numbering, io);
  }
  if (opts.reload) return reload(workDir, numbering, io);
  if (opts.registrations) return registrations(workDir, numbering, io);
  if (opts.forwards) return forwards(workDir, numbering, io);
  if (opts.cdr) {
    let since: number | undefined;
    if (opts.since !== undefined) {
      since = parseDateArg(opts.since);
      if (since === undefined) return fail(io, `bad date '${opts.since}' (--since): ${DATE_FORMS}`);
    }
    return cdr(workDir, { since, csv: opts.csv === true }, io);
  }
  if (opts.since !== undefined || opts.csv) return fail(io, `${opts.since !== undefined ? '--since' : '--csv'} goes with --cdr (sipd --cdr --since DATE --csv)`);
  const bind = parseHostPort(opts.bind);
  if (bind === undefined) {
    return fail(io, `bad listen address '${opts.bind}' (-b): expected IP:PORT, e.g. 127.0.0.1:5060 or [::1]:5060`);
  }
  return runServer({ bind, workDir, numbering, debug: opts.debug === true, logJson: opts.logJson === true }, io);
}

/**
 * `sipd --registrations`: reads sipd.sqlite3 read-only (safe while the server
 * runs) and prints one row per binding; numbers come from sip.conf when it loads.
 */
function registrations(workDir: string, numbering: NumberingOptions, io: CliIo): number {
  let reader;
  try {
    reader = openReadOnly(path.join(workDir, DB_FILE));
  } catch (err) {
    return fail(io, err instanceof Error ? err.message : String(err));
  }
  let numbers = (_name: string) => '';
  let cfg: Config | undefined;
  try {
    cfg = readConfigFile(path.join(workDir, CONFIG_FILE), numbering).config;
    const c0 = cfg;
    numbers = (name) => {
      const c = c0.clients.get(name);
      if (c === undefined) return '(not in sip.conf)';
      return clientNumbers(c);
    };
  } catch {
    // Without a valid sip.conf the table still lists the bindings.
  }
  const now = Date.now();
  let rows;
  let inForce = 0;
  try {
    rows = reader.listBindings(now);
    if (cfg !== undefined) inForce = countInForce(forwardRows(cfg, reader.listForwards()));
  } finally {
    reader.close();
  }
  const table: string[][] = [['CLIENT', 'NUMBERS', 'CONTACT', 'SOURCE', 'TRANSPORT', 'USER AGENT', 'EXPIRES IN']];
  for (const b of rows) {
    const src = b.source.address.includes(':') ? `[${b.source.address}]:${b.source.port}` : `${b.source.address}:${b.source.port}`;
    table.push([b.aor, numbers(b.aor), b.contactUri, src, b.source.proto.toUpperCase(), b.userAgent ?? '', `${Math.max(0, Math.round((b.expiresAt - now) / 1000))} s`]);
  }
  io.stdout.write(alignRows(table));
  if (inForce > 0) io.stdout.write(`${inForce} forward${inForce === 1 ? '' : 's'} in force: see sipd --forwards\n`);
  io.stdout.write(`${rows.length} registration${rows.length === 1 ? '' : 's'}\n`);
  return 0;
}

function clientNumbers(c: Client): string {
  return [c.longNumber, ...c.shortNumbers].filter((x) => x !== undefined).join(', ');
}

const NOT_IN_CONF = '(not in sip.conf)';

/** Rows of {@link forwardRows} with a forward that applies to a client of sip.conf. */
function countInForce(rows: readonly string[][]): number {
  return rows.filter((r) => r[2] !== 'none' && r[1] !== NOT_IN_CONF).length;
}

const KIND_TEXT = { always: 'always', unavailable: 'when unavailable' } as const;
const KIND_CODE = { always: '*72', unavailable: '*71' } as const;

/**
 * The rows of `sipd --forwards` (CLIENT, NUMBERS, FORWARD, TO, SET BY), by
 * client name: every client with a forward in force, or whose sip.conf
 * forward a feature code cancelled (FORWARD `none`), and run-time forwards of
 * names no longer in sip.conf (`cfg` undefined: sip.conf could not be read).
 * The rule of what is in force is lib/pbx/features.ts ForwardState.
 */
export function forwardRows(cfg: Config | undefined, stored: readonly StoredForward[]): string[][] {
  const state = ForwardState.fromRows(stored);
  const out: string[][] = [];
  const names = new Set<string>(state.clients());
  if (cfg !== undefined) for (const c of cfg.clients.values()) if (c.kind === 'client') names.add(c.name);
  const confText = (c: Client | undefined): string | undefined => {
    const f = c?.exten?.forward;
    if (f === undefined) return undefined;
    return `sip.conf:${c!.keyLines.exten ?? c!.line} ${f.mode === 'always' ? '=' : '~'}${f.number}`;
  };
  for (const name of [...names].sort()) {
    const client = cfg?.clients.get(name);
    const rt = state.runtime(name);
    const latest = Math.max(rt?.always?.updatedAt ?? -Infinity, rt?.unavailable?.updatedAt ?? -Infinity);
    if (client === undefined || client.kind !== 'client') {
      if (rt === undefined) continue;
      const f = rt.always?.target ? rt.always : rt.unavailable?.target ? rt.unavailable : undefined;
      const where = cfg === undefined ? '' : NOT_IN_CONF;
      if (f === undefined) out.push([name, where, 'none', '-', `*73 at ${localIso(latest)}`]);
      else out.push([name, where, KIND_TEXT[f.kind], f.target, `${KIND_CODE[f.kind]} at ${localIso(f.updatedAt)}`]);
      continue;
    }
    const eff = state.effective(client);
    const conf = confText(client);
    if (eff === undefined) {
      if (rt === undefined) continue;
      out.push([name, clientNumbers(client), 'none', '-', `*73 at ${localIso(latest)}${conf !== undefined ? ` (hides ${conf})` : ''}`]);
    } else if (eff.source === 'sip.conf') {
      out.push([name, clientNumbers(client), KIND_TEXT[eff.kind], eff.target, `sip.conf:${eff.line ?? client.line}`]);
    } else {
      out.push([name, clientNumbers(client), KIND_TEXT[eff.kind], eff.target, `${KIND_CODE[eff.kind]} at ${localIso(eff.updatedAt!)}${conf !== undefined ? ` (hides ${conf})` : ''}`]);
    }
  }
  return out.map((r) => r.map(printable));
}

/**
 * `sipd --forwards`: the run-time forwards from sipd.sqlite3 (read-only, safe
 * while the server runs; written at once by the server, never behind) merged
 * with sip.conf's. Without a database only sip.conf's are listed; without a
 * readable sip.conf only the run-time ones (and a note on stderr).
 */
function forwards(workDir: string, numbering: NumberingOptions, io: CliIo): number {
  const dbFile = path.join(workDir, DB_FILE);
  let stored: StoredForward[] = [];
  if (existsSync(dbFile)) {
    try {
      const reader = openReadOnly(dbFile);
      try {
        stored = reader.listForwards();
      } finally {
        reader.close();
      }
    } catch (err) {
      return fail(io, err instanceof Error ? err.message : String(err));
    }
  }
  let cfg: Config | undefined;
  const confFile = path.join(workDir, CONFIG_FILE);
  try {
    cfg = readConfigFile(confFile, numbering).config;
  } catch (err) {
    if (!(err instanceof ConfigLoadError)) throw err;
    const n = err.diagnostics.length;
    const first = err.diagnostics[0]?.toString() ?? `${shown(confFile)}: invalid`;
    io.stderr.write(`${first}${n > 1 ? ` (and ${n - 1} more: sipd --check)` : ''}\nsipd: listing only the forwards set by feature codes\n`);
  }
  const rows = forwardRows(cfg, stored);
  if (rows.length === 0) {
    io.stdout.write('no forwards\n');
    return 0;
  }
  io.stdout.write(alignRows([['CLIENT', 'NUMBERS', 'FORWARD', 'TO', 'SET BY'], ...rows]));
  const n = countInForce(rows);
  io.stdout.write(`${n} forward${n === 1 ? '' : 's'} in force\n`);
  return 0;
}

const DATE_FORMS = 'expected YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS] (local time), or ISO 8601 with a zone such as 2024-05-01T09:00:00Z';

const DATE_RE = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

/**
 * Parses a `--since` value to epoch ms: `YYYY-MM-DD` (local midnight),
 * `YYYY-MM-DDTHH:MM[:SS[.fff]]` (local time; a blank instead of `T` works
 * too), or the same with a zone (`Z`, `+03:00`, `+0300`, `+03`), so a time
 * copied from `--cdr --csv` output can be pasted back. Fields out of range
 * (month 13, 30 February, 24:00) are refused, not rolled over as `Date`
 * would. Undefined when `text` is none of these.
 */
export function parseDateArg(text: string): number | undefined {
  const m = DATE_RE.exec(text.trim());
  if (m === null) return undefined;
  const [y, mo, d, h = 0, mi = 0, sec = 0] = m.slice(1, 7).map((v) => (v === undefined ? undefined : Number(v))) as number[];
  const ms = m[7] === undefined ? 0 : Number(m[7].slice(0, 3).padEnd(3, '0'));
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > daysInMonth(y!, mo!) || h > 23 || mi > 59 || sec > 59) return undefined;
  const zone = m[8];
  if (zone === undefined) {
    // setFullYear, not new Date(y, …): years below 100 are not 19xx.
    const local = new Date(2000, 0, 1, h, mi, sec, ms);
    local.setFullYear(y!, mo! - 1, d!);
    return local.getTime();
  }
  let offsetMin = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const zh = Number(zone.slice(1, 3));
    const zm = Number(zone.slice(3).replace(':', '') || '0');
    if (zh > 23 || zm > 59) return undefined;
    offsetMin = (zone[0] === '-' ? -1 : 1) * (zh * 60 + zm);
  }
  const utc = new Date(0);
  utc.setUTCFullYear(y!, mo! - 1, d!);
  utc.setUTCHours(h, mi, sec, ms);
  return utc.getTime() - offsetMin * 60_000;
}

/** `2024-05-01T09:15:30` in the local time zone, for people reading the table. */
function localIso(ms: number): string {
  const t = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(t.getFullYear(), 4)}-${p(t.getMonth() + 1)}-${p(t.getDate())}T${p(t.getHours())}:${p(t.getMinutes())}:${p(t.getSeconds())}`;
}

/** Talk time, answer to end, as `h:mm:ss`; `-` for a call never answered or not ended. */
function duration(c: StoredCdr): string {
  if (c.answeredAt === undefined || c.endedAt === undefined || c.endedAt < c.answeredAt) return '-';
  const total = Math.round((c.endedAt - c.answeredAt) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  return `${h}:${String(m).padStart(2, '0')}:${String(total % 60).padStart(2, '0')}`;
}

/** Numbers and names in a CDR come from the network: no control characters reach the terminal. */
function printable(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]/g, '?');
}

/** Aligned columns; the last one is not padded. (A loop, not `Math.max(...)`: a CDR table can have more rows than a call has arguments.) */
function alignRows(table: readonly string[][]): string {
  const widths = table[0]!.map(() => 0);
  for (const r of table) for (let i = 0; i < r.length; i++) widths[i] = Math.max(widths[i]!, r[i]!.length);
  return table.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ') + '\n').join('');
}

/** The `sipd --cdr` table: a header row and one row per record, start times local. */
export function formatCdrTable(rows: readonly StoredCdr[]): string {
  const table: string[][] = [['START', 'CALLER', 'CALLER NUMBER', 'DIALLED', 'DESTINATION', 'STATUS', 'REASON', 'DURATION', 'CALL-ID']];
  for (const c of rows) {
    table.push(
      [localIso(c.startedAt), c.caller, c.callerNumber ?? '', c.dialled, c.destination ?? '', c.status === 0 ? '-' : String(c.status), c.reason ?? '', duration(c), c.callId].map(printable),
    );
  }
  return alignRows(table);
}

/** One CSV field (RFC 4180 §2): quoted, with quotes doubled, when it holds a comma, quote, CR or LF. */
export function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** The CSV columns: every column of the `cdr` table, named as in the database. */
export const CDR_CSV_COLUMNS = [
  'id', 'call_id', 'caller', 'caller_number', 'accountcode', 'dialled', 'destination', 'status', 'reason',
  'started_at', 'answered_at', 'ended_at', 'source_address', 'destination_address', 'from_tag', 'to_tag',
] as const;

/**
 * `sipd --cdr --csv`: RFC 4180 (CRLF line ends, a header row), every column,
 * times ISO 8601 UTC with milliseconds, an absent value as an empty field.
 */
export function formatCdrCsv(rows: readonly StoredCdr[]): string {
  const time = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());
  const lines = [CDR_CSV_COLUMNS.join(',')];
  for (const c of rows) {
    const fields = [
      String(c.id), c.callId, c.caller, c.callerNumber ?? '', c.accountcode ?? '', c.dialled, c.destination ?? '', String(c.status), c.reason ?? '',
      time(c.startedAt), time(c.answeredAt), time(c.endedAt), c.sourceAddress ?? '', c.destinationAddress ?? '', c.fromTag ?? '', c.toTag ?? '',
    ];
    lines.push(fields.map(csvField).join(','));
  }
  return lines.map((l) => `${l}\r\n`).join('');
}

/**
 * `sipd --cdr`: reads sipd.sqlite3 read-only (safe while the server runs; at
 * most one batch interval behind) and prints the records as a table or CSV.
 * With no records the table becomes one line saying so; the CSV keeps its
 * header on stdout (still a valid file) and says so on stderr.
 */
function cdr(workDir: string, o: { since: number | undefined; csv: boolean }, io: CliIo): number {
  let rows: StoredCdr[];
  try {
    const reader = openReadOnly(path.join(workDir, DB_FILE));
    try {
      rows = reader.listCdrs(o.since === undefined ? {} : { since: o.since });
    } finally {
      reader.close();
    }
  } catch (err) {
    return fail(io, err instanceof Error ? err.message : String(err));
  }
  const none = `no call records${o.since === undefined ? '' : ` since ${localIso(o.since)}`}\n`;
  if (o.csv) {
    io.stdout.write(formatCdrCsv(rows));
    if (rows.length === 0) io.stderr.write(none);
    return 0;
  }
  if (rows.length === 0) {
    io.stdout.write(none);
    return 0;
  }
  io.stdout.write(formatCdrTable(rows));
  io.stdout.write(`${rows.length} call record${rows.length === 1 ? '' : 's'}\n`);
  return 0;
}

/** Relative file names read better in messages when the file is under the current directory. */
function shown(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') || path.isAbsolute(rel) ? file : rel;
}

/** Prints every error and warning of a ConfigLoadError; returns 1. */
function configFailed(io: CliIo, err: ConfigLoadError): number {
  for (const d of err.diagnostics) io.stderr.write(`${d.toString()}\n`);
  for (const w of err.warnings) io.stderr.write(`${w.toString()}\n`);
  const n = err.diagnostics.length;
  io.stderr.write(`sipd: ${n} error${n === 1 ? '' : 's'} in ${shown(err.diagnostics[0]?.file ?? CONFIG_FILE)}\n`);
  return 1;
}

/** `sipd --check`: offline validation and the summary of how sipd understood the file. */
function check(file: string, numbering: NumberingOptions, io: CliIo): number {
  try {
    const { config, warnings } = readConfigFile(shown(file), numbering);
    for (const w of warnings) io.stderr.write(`${w.toString()}\n`);
    const summary = formatSummary(config);
    io.stdout.write(summary.endsWith('\n') ? summary : `${summary}\n`);
    io.stdout.write(`${shown(file)}: OK${warnings.length ? ` (${warnings.length} warning${warnings.length === 1 ? '' : 's'})` : ''}\n`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigLoadError) return configFailed(io, err);
    throw err;
  }
}

/**
 * `sipd -r`: validates sip.conf here (errors → exit 1, nothing signalled), then
 * sends SIGHUP to the server named by sipd.pid and prints what it reports.
 */
async function reload(workDir: string, numbering: NumberingOptions, io: CliIo, waitMs = 5000): Promise<number> {
  const file = path.join(workDir, CONFIG_FILE);
  try {
    const { warnings } = readConfigFile(shown(file), numbering);
    for (const w of warnings) io.stderr.write(`${w.toString()}\n`);
  } catch (err) {
    if (err instanceof ConfigLoadError) return configFailed(io, err);
    throw err;
  }
  const pid = readPidFile(workDir);
  if (pid === undefined) return fail(io, `no running sipd found: there is no sipd.pid in ${workDir} (start sipd with -s ${workDir})`);
  if (!pid.running) {
    return fail(io, `no running sipd found: ${shown(pid.file)} names process ${pid.pid}, which is not running (a stale pid file)`);
  }
  const before = Date.now();
  try {
    process.kill(pid.pid, 'SIGHUP');
  } catch (err) {
    return fail(io, `cannot signal sipd (pid ${pid.pid}): ${(err as Error).message}`);
  }
  const deadline = before + waitMs;
  while (Date.now() < deadline) {
    const st = readReloadStatus(workDir);
    if (st !== undefined && st.pid === pid.pid && st.at >= before - 5 && st.trigger === 'SIGHUP') {
      if (st.ok) {
        io.stdout.write(`sipd (pid ${pid.pid}) reloaded ${shown(file)}: ${st.changes ?? 'no changes'}\n`);
        return 0;
      }
      for (const e of st.errors ?? []) io.stderr.write(`${e}\n`);
      return fail(io, `sipd (pid ${pid.pid}) kept its running configuration: ${shown(file)} has errors`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return fail(io, `sent SIGHUP to sipd (pid ${pid.pid}) but it did not confirm the reload within ${waitMs / 1000} s; see its log`);
}

function fail(io: CliIo, message: string): number {
  io.stderr.write(`sipd: ${message}\n`);
  return 1;
}

async function runServer(
  o: { bind: { address: string; port: number }; workDir: string; numbering: NumberingOptions; debug: boolean; logJson: boolean },
  io: CliIo,
): Promise<number> {
  const level = o.debug ? 'debug' : 'info';
  // One sink for the log and the -d trace, so their lines stay in order.
  const sink = new LineSink(io.stdout);
  const log: Logger = createLogger({ level, destination: o.logJson ? sink : prettyLogStream(sink) });
  const unsubscribeTrace = o.debug ? subscribeTrace(sink) : () => {};
  // Before the configuration is loaded: V8 decides about pretenuring as it allocates.
  const gcFlags = tuneServerGc();
  if (gcFlags.length > 0) log.debug({ flags: gcFlags.join(' ') }, 'V8 garbage collector set for a server (see lib/util/gc-tuning.ts)');
  const unsubscribe = () => {
    unsubscribeTrace();
    sink.close();
  };
  // Signals are caught before the server starts: a SIGHUP or SIGTERM that
  // arrives during start-up is acted on once it is up, never fatal.
  let server: SipdServer | undefined;
  let stopSignal: string | undefined;
  let hupPending = false;
  let done: ((code: number) => void) | undefined;
  const finished = new Promise<number>((resolve) => (done = resolve));
  const stop = (signal: string) => {
    if (stopSignal !== undefined) return;
    stopSignal = signal;
    if (server === undefined) return; // start-up is still running; handled below
    process.off('SIGHUP', onHup);
    log.info({ signal }, 'shutting down');
    server.close().then(
      () => done!(0),
      (err: unknown) => {
        io.stderr.write(`sipd: error during shutdown: ${err instanceof Error ? err.message : String(err)}\n`);
        done!(1);
      },
    );
  };
  const onInt = () => stop('SIGINT');
  const onTerm = () => stop('SIGTERM');
  const onHup = () => {
    if (server === undefined) {
      hupPending = true;
      return;
    }
    try {
      server.reload('SIGHUP');
    } catch (err) {
      log.error({ err }, 'reload failed');
    }
  };
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);
  const cleanup = () => {
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    unsubscribe();
  };
  try {
    server = await SipdServer.start({ bind: o.bind, log, workDir: o.workDir, numbering: o.numbering, watch: true, pidFile: true });
  } catch (err) {
    cleanup();
    if (err instanceof ConfigLoadError) return configFailed(io, err);
    return fail(io, err instanceof Error ? err.message : String(err));
  }
  // sip.conf's parse garbage goes now, not whenever V8 gets round to it (see collectOnce).
  const gc = collectOnce();
  if (gc !== undefined) {
    const mb = (n: number) => (n / 1048576).toFixed(1);
    log.debug({ beforeMB: mb(gc.beforeBytes), afterMB: mb(gc.afterBytes), ms: Math.round(gc.ms) }, 'heap collected after start-up');
  }
  if (stopSignal !== undefined) {
    const s = stopSignal;
    stopSignal = undefined;
    stop(s);
  } else if (hupPending) onHup();
  const code = await finished;
  cleanup();
  return code;
}

/** `-d`: every SIP message in and out, with time, direction, transport and peer, readable. */
function subscribeTrace(out: { write(text: string): unknown }): () => void {
  const print = (ev: unknown) => {
    const e = ev as TraceEvent;
    const arrow = e.direction === 'in' ? `${e.remote} -> ${e.local}` : `${e.local} -> ${e.remote}`;
    const text = e.data.toString('utf8').replace(/\r\n/g, '\n').replace(/\n+$/, '');
    out.write(`----- ${new Date(e.time).toISOString()} ${e.direction === 'in' ? 'RECV' : 'SEND'} ${e.proto.toUpperCase()} ${arrow} (${e.data.length} bytes)\n${text}\n\n`);
  };
  messageIn.subscribe(print);
  messageOut.subscribe(print);
  return () => {
    messageIn.unsubscribe(print);
    messageOut.unsubscribe(print);
  };
}
