// `sipd --cdr` formatting: --since dates, the table, RFC 4180 CSV (property:
// parsing the CSV back gives the same fields).
import fc from 'fast-check';
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { CDR_CSV_COLUMNS, csvField, formatCdrCsv, formatCdrTable, parseDateArg } from '../../lib/cli.js';
import type { StoredCdr } from '../../lib/store/types.js';

// A zone with a half-hour offset and no DST, so local-time handling is visible.
process.env.TZ = 'Asia/Kolkata';
const IST = 5.5 * 3600_000;

/** RFC 4180 reader, as small as possible: records of fields, CRLF between records. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let field = '';
  let fields: string[] = [];
  let i = 0;
  let quoted = false;
  while (i < text.length) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 2;
      } else if (ch === '"') {
        quoted = false;
        i++;
      } else {
        field += ch;
        i++;
      }
    } else if (ch === '"' && field === '') {
      quoted = true;
      i++;
    } else if (ch === ',') {
      fields.push(field);
      field = '';
      i++;
    } else if (ch === '\r' && text[i + 1] === '\n') {
      fields.push(field);
      records.push(fields);
      fields = [];
      field = '';
      i += 2;
    } else if (ch === '"' || ch === '\r' || ch === '\n') {
      throw new Error(`bare ${JSON.stringify(ch)} at ${i} in an unquoted field`);
    } else {
      field += ch;
      i++;
    }
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (field !== '' || fields.length > 0) throw new Error('last record without CRLF');
  return records;
}

t.test('--since dates: local date and time, ISO with a zone', async (t) => {
  t.equal(parseDateArg('2024-05-01'), Date.UTC(2024, 4, 1) - IST, 'local midnight');
  t.equal(parseDateArg('2024-05-01T09:30'), Date.UTC(2024, 4, 1, 9, 30) - IST);
  t.equal(parseDateArg('2024-05-01T09:30:15'), Date.UTC(2024, 4, 1, 9, 30, 15) - IST);
  t.equal(parseDateArg('2024-05-01 09:30:15'), Date.UTC(2024, 4, 1, 9, 30, 15) - IST, 'a blank for T');
  t.equal(parseDateArg('2024-05-01T09:30:15.250'), Date.UTC(2024, 4, 1, 9, 30, 15, 250) - IST);
  t.equal(parseDateArg('2024-05-01T09:30:15Z'), Date.UTC(2024, 4, 1, 9, 30, 15));
  t.equal(parseDateArg('2024-05-01T09:30Z'), Date.UTC(2024, 4, 1, 9, 30));
  t.equal(parseDateArg('2024-05-01T09:30:15.123Z'), Date.UTC(2024, 4, 1, 9, 30, 15, 123), 'a CSV time pastes back');
  t.equal(parseDateArg('2024-05-01T09:30:15+03:00'), Date.UTC(2024, 4, 1, 6, 30, 15));
  t.equal(parseDateArg('2024-05-01T09:30:15-0230'), Date.UTC(2024, 4, 1, 12, 0, 15));
  t.equal(parseDateArg('2024-05-01T09:30:15+03'), Date.UTC(2024, 4, 1, 6, 30, 15));
  t.equal(parseDateArg('2024-02-29'), Date.UTC(2024, 1, 29) - IST, 'leap day');
  t.equal(parseDateArg('0099-01-01T00:00Z'), Date.parse('0099-01-01T00:00:00Z'), 'year 99 is not 1999');
  for (const bad of [
    '', 'yesterday', '2024-5-1', '2024-13-01', '2024-00-10', '2024-02-30', '2023-02-29', '2024-04-31', '2024-05-01T24:00',
    '2024-05-01T09:60', '2024-05-01T09:30:60', '2024-05-01Z', '2024-05-01T09', '2024-05-01T09:30+25:00', '2024-05-01T09:30+03:75',
    '1714550400', '01.05.2024', '2024-05-01T09:30:15 Z',
  ]) {
    t.equal(parseDateArg(bad), undefined, `refuses ${JSON.stringify(bad)}`);
  }
});

function stored(i: number, over: Partial<StoredCdr> = {}): StoredCdr {
  return {
    id: i,
    callId: `c${i}@host`,
    caller: 'alice',
    callerNumber: '101',
    dialled: '102',
    destination: 'bob',
    status: 200,
    reason: 'answered',
    startedAt: Date.UTC(2024, 4, 1, 7, 0, 0),
    answeredAt: Date.UTC(2024, 4, 1, 7, 0, 5),
    endedAt: Date.UTC(2024, 4, 1, 8, 2, 9, 600),
    ...over,
  };
}

t.test('the table: local start time, duration, status 0 as -, control characters hidden', async (t) => {
  const out = formatCdrTable([
    stored(1),
    stored(2, { status: 0, reason: 'cancelled', answeredAt: undefined, callerNumber: '1\x1b[31m2', dialled: '8\n9' }),
    stored(3, { status: 486, reason: 'busy', endedAt: undefined }),
  ]);
  const lines = out.split('\n');
  t.equal(lines.length, 5, 'header, 3 rows, final newline');
  t.match(lines[0], /^START +CALLER +CALLER NUMBER +DIALLED +DESTINATION +STATUS +REASON +DURATION +CALL-ID$/);
  t.match(lines[1], /^2024-05-01T12:30:00 +alice +101 +102 +bob +200 +answered +1:02:05 +c1@host$/, 'IST start, 1:02:04.6 rounds to 1:02:05');
  t.match(lines[2], /^2024-05-01T12:30:00 +alice +1\?\[31m2 +8\?9 +bob +- +cancelled +- +c2@host$/);
  t.match(lines[3], /486 +busy +- +c3@host$/, 'not ended: no duration');
  t.equal(new Set(lines.slice(0, 4).map((l) => l.indexOf('CALLER') >= 0 ? l.indexOf('CALLER') : l.indexOf('alice'))).size, 1, 'columns aligned');
});

t.test('CSV: header, every column, UTC times, CRLF, quoting only where needed', async (t) => {
  t.equal(csvField('plain'), 'plain');
  t.equal(csvField(''), '');
  t.equal(csvField('a,b'), '"a,b"');
  t.equal(csvField('say "hi"'), '"say ""hi"""');
  t.equal(csvField('a\nb'), '"a\nb"');
  t.equal(csvField('a\rb'), '"a\rb"');
  t.equal(csvField(' spaced '), ' spaced ');
  const out = formatCdrCsv([stored(7, { accountcode: 'office', sourceAddress: '10.0.0.1:5060/udp', fromTag: 'f', toTag: 't' })]);
  t.equal(
    out,
    'id,call_id,caller,caller_number,accountcode,dialled,destination,status,reason,started_at,answered_at,ended_at,source_address,destination_address,from_tag,to_tag\r\n' +
      '7,c7@host,alice,101,office,102,bob,200,answered,2024-05-01T07:00:00.000Z,2024-05-01T07:00:05.000Z,2024-05-01T08:02:09.600Z,10.0.0.1:5060/udp,,f,t\r\n',
  );
  t.equal(formatCdrCsv([]), `${CDR_CSV_COLUMNS.join(',')}\r\n`, 'no records: the header alone');
});

t.test('CSV parses back to the same fields (property)', async (t) => {
  const nasty = fc.constantFrom(',', '"', '\r', '\n', '\r\n', ' ', 'a', '7', 'é', '😀', '""', ',"');
  const text = fc.oneof(fc.string(), fc.array(nasty, { maxLength: 12 }).map((a) => a.join('')));
  const opt = fc.option(text, { nil: undefined });
  const time = fc.integer({ min: 0, max: 4102444800000 });
  const record = fc.record({
    id: fc.nat(),
    callId: text,
    caller: text,
    callerNumber: opt,
    accountcode: opt,
    dialled: text,
    destination: opt,
    status: fc.integer({ min: 0, max: 699 }),
    reason: opt,
    startedAt: time,
    answeredAt: fc.option(time, { nil: undefined }),
    endedAt: fc.option(time, { nil: undefined }),
    sourceAddress: opt,
    destinationAddress: opt,
    fromTag: opt,
    toTag: opt,
  });
  const iso = (ms: number | undefined) => (ms === undefined ? '' : new Date(ms).toISOString());
  fc.assert(
    fc.property(fc.array(record, { maxLength: 8 }), (rows) => {
      const parsed = parseCsv(formatCdrCsv(rows as StoredCdr[]));
      const expected = [
        [...CDR_CSV_COLUMNS],
        ...rows.map((c) => [
          String(c.id), c.callId, c.caller, c.callerNumber ?? '', c.accountcode ?? '', c.dialled, c.destination ?? '', String(c.status), c.reason ?? '',
          iso(c.startedAt), iso(c.answeredAt), iso(c.endedAt), c.sourceAddress ?? '', c.destinationAddress ?? '', c.fromTag ?? '', c.toTag ?? '',
        ]),
      ];
      return isDeepStrictEqual(parsed, expected);
    }),
    { numRuns: 500 },
  );
  t.pass('500 random record sets round-trip');
});
