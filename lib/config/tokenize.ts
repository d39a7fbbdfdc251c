/**
 * The sip.conf tokenizer (DESIGN §3). Pure: text in, tokens with line numbers out,
 * problems reported into a `DiagnosticSink` (it never throws).
 *
 * - A UTF-8 BOM at the start is dropped. Lines end with LF, CRLF or a lone CR.
 * - Blank lines are skipped. A line whose first non-blank character is `;` is a
 *   comment.
 * - `[name]` opens a section; blanks around the brackets and a comment after the
 *   closing `]` are allowed.
 * - `key = value`: blanks (space, tab) around the key, the `=` and the value are
 *   trimmed. A `;` preceded by a blank starts an inline comment
 *   (`exten=9995999 ; gateway prefix`); any other `;` is data, and so is `#`
 *   (`exten=4999876543#1002=4991234567`). Only the first `=` splits.
 * - Control characters other than tab are errors (a binary file, a stray NUL).
 *
 * Keys are returned as written; the loader folds their case.
 */
import type { DiagnosticSink } from './errors.js';

export interface SectionToken {
  readonly kind: 'section';
  readonly name: string;
  readonly line: number;
  /**
   * The header was reported as an error. The token still opens a (void) section
   * so the keys below it are not taken for the previous section's.
   */
  readonly invalid?: true;
}

export interface PairToken {
  readonly kind: 'pair';
  /** The key as written (trimmed, case kept). */
  readonly key: string;
  /** The value, trimmed, inline comment removed; may be empty. */
  readonly value: string;
  readonly line: number;
  /** 1-based column of the value's first character (of where it would be, if empty). */
  readonly valueColumn: number;
}

export type Token = SectionToken | PairToken;

const BLANK = /^[ \t]*$/;
const KEY = /^[A-Za-z][A-Za-z0-9_-]*$/;
// RFC 3261 `user` characters (unreserved and user-unreserved) without ; ? / %,
// so a section name is usable as a SIP user name and digest username as is.
const SECTION_NAME = /^[A-Za-z0-9\-_.!~*'()&=+$,]+$/;
const CONTROL = /[\u0000-\u0008\u000A-\u001F\u007F]/;

function isBlank(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

function skipBlanks(s: string, i: number): number {
  while (i < s.length && isBlank(s[i])) i++;
  return i;
}

function trimBlanksEnd(s: string): string {
  let e = s.length;
  while (e > 0 && isBlank(s[e - 1])) e--;
  return s.slice(0, e);
}

/** Index of the `;` that starts an inline comment (preceded by a blank), or -1. */
function inlineCommentAt(s: string, from: number): number {
  for (let i = Math.max(from, 1); i < s.length; i++) {
    if (s[i] === ';' && isBlank(s[i - 1])) return i;
  }
  return -1;
}

export function splitLines(text: string): string[] {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  return text.split(/\r\n|\r|\n/);
}

export function tokenize(text: string, sink: DiagnosticSink): Token[] {
  const lines = splitLines(text);
  const out: Token[] = [];
  // Name of the section the current line belongs to, for diagnostics.
  let section: string | undefined;
  const invalidHeader = (name: string, line: number): void => {
    section = name === '' ? undefined : name;
    out.push({ kind: 'section', name, line, invalid: true });
  };
  for (let n = 0; n < lines.length; n++) {
    const raw = lines[n]!;
    const line = n + 1;
    if (BLANK.test(raw)) continue;
    const start = skipBlanks(raw, 0);
    if (raw[start] === ';') continue;

    const ctl = CONTROL.exec(raw);
    if (ctl) {
      const code = ctl[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      sink.error({
        line,
        column: ctl.index + 1,
        ...(section !== undefined && raw[start] !== '[' ? { section } : {}),
        message: `control character U+${code} at column ${ctl.index + 1} (is this a text file?)`,
        code: 'SIPD_ERR_CONFIG_SYNTAX',
      });
      if (raw[start] === '[') invalidHeader('', line);
      continue;
    }

    if (raw[start] === '[') {
      const close = raw.indexOf(']', start + 1);
      if (close < 0) {
        sink.error({
          line,
          message: `unclosed '[' in section header '${trimBlanksEnd(raw.slice(start))}' (expected [name])`,
          code: 'SIPD_ERR_CONFIG_SYNTAX',
        });
        invalidHeader(trimBlanksEnd(raw.slice(start + 1)), line);
        continue;
      }
      const name = raw.slice(start + 1, close);
      const after = skipBlanks(raw, close + 1);
      if (after < raw.length && raw[after] !== ';') {
        sink.error({
          line,
          message: `unexpected text '${trimBlanksEnd(raw.slice(after))}' after section header [${name}]`,
          code: 'SIPD_ERR_CONFIG_SYNTAX',
        });
        invalidHeader(name, line);
        continue;
      }
      if (name === '') {
        sink.error({ line, message: 'empty section name []', code: 'SIPD_ERR_CONFIG_SECTION_NAME' });
        invalidHeader(name, line);
        continue;
      }
      if (/[ \t]/.test(name)) {
        sink.error({
          line,
          message: `section name '[${name}]' contains a blank (write [${name.replace(/[ \t]+/g, '')}]?)`,
          code: 'SIPD_ERR_CONFIG_SECTION_NAME',
        });
        invalidHeader(name, line);
        continue;
      }
      if (!SECTION_NAME.test(name)) {
        sink.error({
          line,
          message:
            `section name '[${name}]' has characters a SIP user name cannot carry; ` +
            `use letters, digits and - _ . ! ~ * ' ( ) & = + $ ,`,
          code: 'SIPD_ERR_CONFIG_SECTION_NAME',
        });
        invalidHeader(name, line);
        continue;
      }
      section = name;
      out.push({ kind: 'section', name, line });
      continue;
    }

    const inSection = section !== undefined ? { section } : {};
    const comment = inlineCommentAt(raw, start);
    const content = comment < 0 ? raw : raw.slice(0, comment);
    const eq = content.indexOf('=');
    if (eq < 0) {
      sink.error({
        line,
        ...inSection,
        message: `expected key=value, [section] or ; comment, got '${trimBlanksEnd(content.slice(start))}'`,
        code: 'SIPD_ERR_CONFIG_SYNTAX',
      });
      continue;
    }
    const key = trimBlanksEnd(content.slice(start, eq));
    if (key === '') {
      sink.error({ line, ...inSection, message: `missing key before '='`, code: 'SIPD_ERR_CONFIG_SYNTAX' });
      continue;
    }
    if (!KEY.test(key)) {
      sink.error({
        line,
        ...inSection,
        message: `invalid key '${key}' (a key is a word such as 'secret' or 'exten')`,
        code: 'SIPD_ERR_CONFIG_SYNTAX',
      });
      continue;
    }
    const vStart = skipBlanks(content, eq + 1);
    const value = trimBlanksEnd(content.slice(vStart));
    out.push({ kind: 'pair', key, value, line, valueColumn: vStart + 1 });
  }
  return out;
}
