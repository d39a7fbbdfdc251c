// The tokenizer: the dialect's lexical rules, and fast-check properties.
import t from 'tap';
import fc from 'fast-check';
import { tokenize, type Token } from '../../../lib/config/tokenize.js';
import { DiagnosticSink, ConfigLoadError } from '../../../lib/config/errors.js';
import { loadConfig } from '../../../lib/config/load.js';

function lex(text: string): { tokens: Token[]; errors: string[] } {
  const sink = new DiagnosticSink('sip.conf');
  const tokens = tokenize(text, sink);
  return { tokens, errors: sink.errors().map(String) };
}

t.test('sections, pairs, comments', async (t) => {
  const { tokens, errors } = lex(
    [
      '; comment',
      '   ; indented comment',
      '',
      '[foo] ; trailing comment',
      'exten=9995999 ; gateway prefix',
      'exten = 4999876543#1002=4991234567',
      'secret=a;b',
      'secret=a ;b',
      'secret=a\t;b',
      'dialplan=^\\*7[0-3]#?$',
      'key=',
      '  [ bar]x',
    ].join('\n'),
  );
  t.same(errors, ["sip.conf:12: unexpected text 'x' after section header [ bar]"]);
  t.same(tokens, [
    { kind: 'section', name: 'foo', line: 4 },
    { kind: 'pair', key: 'exten', value: '9995999', line: 5, valueColumn: 7 },
    { kind: 'pair', key: 'exten', value: '4999876543#1002=4991234567', line: 6, valueColumn: 9 },
    { kind: 'pair', key: 'secret', value: 'a;b', line: 7, valueColumn: 8 },
    { kind: 'pair', key: 'secret', value: 'a', line: 8, valueColumn: 8 },
    { kind: 'pair', key: 'secret', value: 'a', line: 9, valueColumn: 8 },
    { kind: 'pair', key: 'dialplan', value: '^\\*7[0-3]#?$', line: 10, valueColumn: 10 },
    { kind: 'pair', key: 'key', value: '', line: 11, valueColumn: 5 },
    { kind: 'section', name: ' bar', line: 12, invalid: true },
  ]);
});

t.test('line endings and BOM', async (t) => {
  const crlf = lex('\uFEFF[a]\r\nsecret=x\r\n\r\n[b]\rsecret=y\n');
  t.same(crlf.errors, []);
  t.same(
    crlf.tokens.map((k) => [k.line, k.kind === 'section' ? k.name : k.value]),
    [
      [1, 'a'],
      [2, 'x'],
      [4, 'b'],
      [5, 'y'],
    ],
  );
  t.equal((crlf.tokens[0] as { name: string }).name, 'a', 'BOM not part of the first name');
});

t.test('comment starts only after a blank; # is data', async (t) => {
  const { tokens } = lex('[x]\nexten=#1002;x\nexten=#1002 #2\ncallerid=1;2 ;3');
  t.same(
    tokens.slice(1).map((k) => (k.kind === 'pair' ? k.value : '')),
    ['#1002;x', '#1002 #2', '1;2'],
  );
});

// ------------------------------------------------------------ properties

const nameArb = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/);
const keyArb = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,10}$/);
// values: no control characters, no leading/trailing blanks, no " ;" sequence
const valueArb = fc
  .stringMatching(/^[!-~]([ -~]{0,20}[!-~])?$/)
  .filter((v) => !/[ \t];/.test(v) && !v.startsWith(';'));

type Line =
  | { kind: 'section'; name: string }
  | { kind: 'pair'; key: string; value: string; pad: string; comment: string }
  | { kind: 'blank'; text: string }
  | { kind: 'comment'; text: string };

const lineArb: fc.Arbitrary<Line> = fc.oneof(
  nameArb.map((name) => ({ kind: 'section' as const, name })),
  fc
    .record({
      key: keyArb,
      value: valueArb,
      pad: fc.constantFrom('', ' ', '\t', '  '),
      comment: fc.constantFrom('', ' ; note', '\t; x=y [z]'),
    })
    .map((r) => ({ kind: 'pair' as const, ...r })),
  fc.constantFrom('', '   ', '\t').map((text) => ({ kind: 'blank' as const, text })),
  fc.stringMatching(/^[ -~]{0,20}$/).map((s) => ({ kind: 'comment' as const, text: `;${s}` })),
);

function render(l: Line): string {
  switch (l.kind) {
    case 'section':
      return `[${l.name}]`;
    case 'pair':
      return `${l.pad}${l.key}${l.pad}=${l.pad}${l.value}${l.comment}`;
    default:
      return l.text;
  }
}

t.test('property: tokens keep their line numbers and values (LF, CRLF, BOM)', async (t) => {
  fc.assert(
    fc.property(fc.array(lineArb, { maxLength: 40 }), fc.constantFrom('\n', '\r\n'), fc.boolean(), (lines, eol, bom) => {
      const text = (bom ? '\uFEFF' : '') + lines.map(render).join(eol);
      const { tokens, errors } = lex(text);
      if (errors.length) return false;
      const expected = lines
        .map((l, i) => ({ l, line: i + 1 }))
        .filter(({ l }) => l.kind === 'section' || l.kind === 'pair');
      if (tokens.length !== expected.length) return false;
      return tokens.every((tok, i) => {
        const { l, line } = expected[i]!;
        if (tok.line !== line || tok.kind !== l.kind) return false;
        if (tok.kind === 'section' && l.kind === 'section') return tok.name === l.name;
        if (tok.kind === 'pair' && l.kind === 'pair') return tok.key === l.key && tok.value === l.value;
        return false;
      });
    }),
    { numRuns: 200 },
  );
  t.pass();
});

const opts = { countryCode: '7', cityCode: '495' };

function onlyConfigLoadError(text: string, o = opts): boolean {
  const lineCount = text.replace(/^\uFEFF/, '').split(/\r\n|\r|\n/).length;
  try {
    const r = loadConfig(text, 'sip.conf', o);
    return r.warnings.every((w) => w.line >= 0 && w.line <= lineCount);
  } catch (e) {
    if (!(e instanceof ConfigLoadError)) throw e;
    return e.diagnostics.length > 0 && e.diagnostics.every((d) => d.line >= 0 && d.line <= lineCount);
  }
}

t.test('property: arbitrary text throws nothing but ConfigLoadError; lines are in the file', async (t) => {
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => onlyConfigLoadError(s)), { numRuns: 200 });
  fc.assert(
    fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => onlyConfigLoadError(s)),
    { numRuns: 100 },
  );
  t.pass();
});

t.test('property: sip.conf-like noise throws nothing but ConfigLoadError', async (t) => {
  const unit = fc.constantFrom(
    ...'[]=;#()~,-/:.+*^$\\?{}|\t \n\r\n0123456789abgx'.split(''),
    'exten',
    'secret',
    'permit',
    'acl',
    'host',
    'dialplan',
    'context',
    'accountcode',
    'callerid',
    'gateways',
    'mediagates',
    'general',
    '[general]',
    '\r\n[a]\n',
    '\n[b]\n',
    '\nexten=',
    '\nhost=',
    '\npermit=',
    '\ndialplan=',
    '\ncontext=',
    '\naccountcode=G\n',
    '\nsecret=s\n',
    '\nminexpires=',
    '\ntrunkprefix=',
    '192.168/16',
    '[::1]:5070',
  );
  const optsArb = fc.record({
    countryCode: fc.oneof(fc.constant('7'), fc.string({ maxLength: 4 })),
    cityCode: fc.oneof(fc.constant('495'), fc.string({ maxLength: 6 })),
  });
  fc.assert(
    fc.property(fc.string({ unit, maxLength: 120 }), optsArb, (s, o) => onlyConfigLoadError(s, o)),
    { numRuns: 400 },
  );
  t.pass();
});
