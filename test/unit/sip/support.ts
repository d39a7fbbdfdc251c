/**
 * Shared helpers for the lib/sip tests: messages written as arrays of lines
 * (joined with CRLF), a minimal valid request/response with its own Call-ID and
 * branch per call (STYLE §4.8), and an assertion for typed parse errors.
 */
import type { Test } from 'tap';
import { SipParseError } from '../../../lib/sip/errors.js';

let seq = 0;

/** Joins header lines with CRLF, adds the blank line, then the body. */
export function msg(lines: readonly string[], body = '', eol = '\r\n'): Buffer {
  return Buffer.from(lines.join(eol) + eol + eol + body, 'latin1');
}

export interface MinimalOptions {
  method?: string;
  uri?: string;
  /** Header lines that replace the defaults with the same (lower-case) name, or are added. */
  extra?: string[];
  /** Lower-case names of default headers to leave out. */
  omit?: string[];
  body?: string;
  /** Content-Length to write; default: the body length; null: no Content-Length. */
  contentLength?: number | null;
}

/** Header lines of a small valid request; each call has its own Call-ID and branch. */
export function requestLines(o: MinimalOptions = {}): string[] {
  seq++;
  const method = o.method ?? 'OPTIONS';
  const body = o.body ?? '';
  const defaults: Array<[string, string]> = [
    ['via', `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-sip-test-${seq}`],
    ['max-forwards', 'Max-Forwards: 70'],
    ['from', `From: "Alice" <sip:alice@example.com>;tag=f${seq}`],
    ['to', 'To: <sip:bob@example.com>'],
    ['call-id', `Call-ID: sip-test-${seq}@192.0.2.10`],
    ['cseq', `CSeq: ${seq} ${method}`],
  ];
  const lines = [`${method} ${o.uri ?? 'sip:bob@example.com'} SIP/2.0`];
  const extraNames = new Set((o.extra ?? []).map((l) => l.slice(0, l.indexOf(':')).trim().toLowerCase()));
  for (const [name, line] of defaults) {
    if (o.omit?.includes(name) || extraNames.has(name)) continue;
    lines.push(line);
  }
  lines.push(...(o.extra ?? []));
  const cl = o.contentLength === undefined ? Buffer.byteLength(body, 'latin1') : o.contentLength;
  if (cl !== null) lines.push(`Content-Length: ${cl}`);
  return lines;
}

export function request(o: MinimalOptions = {}): Buffer {
  return msg(requestLines(o), o.body ?? '');
}

/** Header lines of a small valid response. */
export function responseLines(status = 200, reason = 'OK', extra: string[] = []): string[] {
  seq++;
  return [
    `SIP/2.0 ${status} ${reason}`,
    `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-sip-test-${seq}`,
    `From: <sip:alice@example.com>;tag=f${seq}`,
    `To: <sip:bob@example.com>;tag=t${seq}`,
    `Call-ID: sip-test-${seq}@192.0.2.10`,
    `CSeq: ${seq} INVITE`,
    ...extra,
    'Content-Length: 0',
  ];
}

/** Runs `fn`, asserts it throws a SipParseError matching `want`, and returns it. */
export function throwsParse(
  t: Test,
  fn: () => unknown,
  want: Partial<Pick<SipParseError, 'code' | 'status' | 'header'>> & { reason?: RegExp },
  msgText?: string,
): SipParseError | undefined {
  try {
    fn();
  } catch (err) {
    if (!(err instanceof SipParseError)) {
      t.fail(`${msgText ?? 'throws'}: expected SipParseError, got ${String(err)}`);
      return undefined;
    }
    const { reason, ...rest } = want;
    t.match(err, rest, msgText ?? `throws ${want.code ?? 'SipParseError'}`);
    if (reason !== undefined) t.match(err.reason, reason, 'reason names the problem');
    t.notMatch(err.reason, /[\r\n]/, 'reason is safe for a reason phrase');
    return err;
  }
  t.fail(`${msgText ?? 'throws'}: did not throw`);
  return undefined;
}
