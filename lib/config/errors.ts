/**
 * Diagnostics of the sip.conf loader. Every problem found in a file becomes one
 * `ConfigDiagnostic` that names the file, the line (and the column where it
 * helps), the section and the key; the loader collects all of them and throws
 * one `ConfigLoadError` holding every error, so an admin fixes a file in one go.
 *
 * Codes are stable and never reused (STYLE §4.4).
 */
import { SipdError } from '../util/errors.js';

export type ConfigDiagnosticCode =
  // errors
  | 'SIPD_ERR_CONFIG_READ' // the file cannot be read or is not UTF-8
  | 'SIPD_ERR_CONFIG_SYNTAX' // a line that is neither [section], key=value, blank nor comment
  | 'SIPD_ERR_CONFIG_SECTION_NAME' // [] or a name with blanks or odd characters
  | 'SIPD_ERR_CONFIG_OUTSIDE_SECTION' // key=value before the first [section]
  | 'SIPD_ERR_CONFIG_DUPLICATE_SECTION'
  | 'SIPD_ERR_CONFIG_DUPLICATE_KEY'
  | 'SIPD_ERR_CONFIG_UNKNOWN_KEY'
  | 'SIPD_ERR_CONFIG_VALUE' // a value that does not fit its key's grammar
  | 'SIPD_ERR_CONFIG_DIALPLAN' // dialplan= is not a valid RE2 expression
  | 'SIPD_ERR_CONFIG_CONTEXT' // unknown context name
  | 'SIPD_ERR_CONFIG_MISSING_HOST' // a gateway without host=
  | 'SIPD_ERR_CONFIG_DUPLICATE_NUMBER' // same long number twice, or same short number twice in a group
  | 'SIPD_ERR_CONFIG_HUNT' // a hunt position that does not exist in the group
  | 'SIPD_ERR_CONFIG_OPTION' // a bad -c / -cc, or [general] numbering that cannot work with them
  // warnings
  | 'SIPD_WARN_CONFIG_ACL' // acl= used for permit=
  | 'SIPD_WARN_CONFIG_UNREACHABLE' // a client with neither secret nor host
  | 'SIPD_WARN_CONFIG_EMPTY_VALUE' // key= with nothing after it: ignored
  | 'SIPD_WARN_CONFIG_IGNORED' // a key that means nothing for this kind of section
  | 'SIPD_WARN_CONFIG_COMPAT' // a construct the original sipd read differently
  | 'SIPD_WARN_CONFIG_DUPLICATE_HOST' // two sections with the same host address
  | 'SIPD_WARN_CONFIG_CASE'; // two section names that differ only in case

export type Severity = 'error' | 'warning';

export interface ConfigDiagnostic {
  readonly file: string;
  /** 1-based line; 0 for a problem of the whole file or of the command line. */
  readonly line: number;
  /** 1-based column, given where it helps (dialplan syntax errors). */
  readonly column?: number;
  readonly section?: string;
  readonly key?: string;
  readonly message: string;
  readonly severity: Severity;
  readonly code: ConfigDiagnosticCode;
  /** `sip.conf:14: [foo] unknown key 'permitt' (did you mean 'permit'?)` */
  toString(): string;
}

export interface DiagnosticInit {
  line: number;
  column?: number;
  section?: string;
  key?: string;
  message: string;
  code: ConfigDiagnosticCode;
}

class Diagnostic implements ConfigDiagnostic {
  readonly file: string;
  readonly line: number;
  // `declare`: absent optional fields are not own properties set to undefined.
  declare readonly column?: number;
  declare readonly section?: string;
  declare readonly key?: string;
  readonly message: string;
  readonly severity: Severity;
  readonly code: ConfigDiagnosticCode;

  constructor(file: string, severity: Severity, init: DiagnosticInit) {
    this.file = file;
    this.line = init.line;
    if (init.column !== undefined) this.column = init.column;
    if (init.section !== undefined) this.section = init.section;
    if (init.key !== undefined) this.key = init.key;
    this.message = init.message;
    this.severity = severity;
    this.code = init.code;
    Object.freeze(this);
  }

  toString(): string {
    let where = this.file;
    if (this.line > 0) where += `:${this.line}`;
    if (this.line > 0 && this.column !== undefined) where += `:${this.column}`;
    const sev = this.severity === 'warning' ? 'warning: ' : '';
    const sec = this.section !== undefined ? `[${this.section}] ` : '';
    return `${where}: ${sev}${sec}${this.message}`;
  }
}

/** Collects diagnostics for one file; order of report is by line, then by discovery. */
export class DiagnosticSink {
  readonly file: string;
  readonly #items: { d: ConfigDiagnostic; seq: number }[] = [];

  constructor(file: string) {
    this.file = file;
  }

  error(init: DiagnosticInit): void {
    this.#items.push({ d: new Diagnostic(this.file, 'error', init), seq: this.#items.length });
  }

  warn(init: DiagnosticInit): void {
    this.#items.push({ d: new Diagnostic(this.file, 'warning', init), seq: this.#items.length });
  }

  get errorCount(): number {
    let n = 0;
    for (const i of this.#items) if (i.d.severity === 'error') n++;
    return n;
  }

  #sorted(severity: Severity): ConfigDiagnostic[] {
    return this.#items
      .filter((i) => i.d.severity === severity)
      .sort((a, b) => a.d.line - b.d.line || a.seq - b.seq)
      .map((i) => i.d);
  }

  errors(): ConfigDiagnostic[] {
    return this.#sorted('error');
  }

  warnings(): ConfigDiagnostic[] {
    return this.#sorted('warning');
  }
}

/**
 * Thrown by `loadConfig` / `readConfigFile` when a file has at least one error.
 * `diagnostics` holds every error (sorted by line); the message is their
 * `toString()` lines joined with `\n`. Warnings found in the same file are in
 * `warnings` so a caller can still show them.
 */
export class ConfigLoadError extends SipdError {
  readonly diagnostics: readonly ConfigDiagnostic[];
  readonly warnings: readonly ConfigDiagnostic[];

  constructor(
    diagnostics: readonly ConfigDiagnostic[],
    warnings: readonly ConfigDiagnostic[] = [],
    opts?: { cause?: unknown },
  ) {
    super('SIPD_ERR_CONFIG', diagnostics.map((d) => d.toString()).join('\n'), opts);
    this.diagnostics = Object.freeze([...diagnostics]);
    this.warnings = Object.freeze([...warnings]);
  }
}
