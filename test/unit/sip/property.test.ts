/**
 * Property tests (fast-check): parse∘serialize keeps every header field (name
 * and value, in order) and the body; the parser, the lazy getters and the
 * stream framer only ever throw SipParseError, on arbitrary bytes and on valid
 * messages with random mutations or truncations.
 */
import fc from 'fast-check';
import t from 'tap';
import { SipParseError } from '../../../lib/sip/errors.js';
import { StreamFramer } from '../../../lib/sip/frame.js';
import { SipRequest, SipResponse, type AnyMessage, type HeaderField } from '../../../lib/sip/message.js';
import { parseMessage } from '../../../lib/sip/parse.js';

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const TOKEN = `${ALNUM}-.!%*_+\`'~`;
/** Printable ASCII and latin1 bytes, no CR/LF/HT, no edge blanks (values are trimmed). */
const VALUE_CHARS = Array.from({ length: 0x7f - 0x20 }, (_, i) => String.fromCharCode(0x20 + i)).join('') + '\xa0\xc3\xa9\xff';

const str = (chars: string, minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.array(fc.constantFrom(...chars), { minLength, maxLength }).map((a) => a.join(''));

const token = str(TOKEN, 1, 12);
const headerName = fc.tuple(fc.constantFrom('X-', 'x-', 'P-', 'Foo-'), str(`${ALNUM}-`, 1, 14)).map(([p, n]) => p + n);
const headerValue = str(VALUE_CHARS, 0, 40).map((v) => v.replace(/^[ ]+|[ ]+$/g, ''));
/** A value as written: 0–2 folds inside (folding becomes one SP after unfolding). */
const foldedValue = fc.array(headerValue.filter((v) => v.length > 0), { minLength: 1, maxLength: 3 }).chain((parts) =>
  fc.array(fc.constantFrom('\r\n ', '\r\n\t', '\r\n   '), { minLength: parts.length - 1, maxLength: parts.length - 1 }).map((folds) => ({
    wire: parts.map((p, i) => (i === 0 ? p : folds[i - 1] + p)).join(''),
    value: parts.join(' '),
  })),
);
const sep = fc.constantFrom(': ', ':', ' : ', ':\t', '   :  ');
const host = fc.oneof(
  fc.tuple(fc.integer({ min: 1, max: 254 }), fc.integer({ min: 0, max: 255 })).map(([a, b]) => `192.0.${a}.${b}`),
  str('abcdefghijklmnopqrstuvwxyz', 1, 10).map((h) => `${h}.example.com`),
  fc.integer({ min: 1, max: 0xffff }).map((n) => `[2001:db8::${n.toString(16)}]`),
);

interface Generated {
  bytes: Buffer;
  fields: Array<{ name: string; value: string }>;
  body: Buffer;
  request: boolean;
}

const generated: fc.Arbitrary<Generated> = fc
  .record({
    request: fc.boolean(),
    method: fc.oneof(fc.constantFrom('INVITE', 'REGISTER', 'OPTIONS', 'BYE', 'MESSAGE'), str('ABCDEFGHIJKLMNOPQRSTUVWXYZ', 3, 10)),
    status: fc.integer({ min: 100, max: 699 }),
    reason: headerValue,
    host,
    port: fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
    branch: token,
    callId: fc.tuple(token, fc.option(host, { nil: undefined })).map(([a, h]) => (h ? `${a}@${h}` : a)),
    fromTag: token,
    toTag: fc.option(token, { nil: undefined }),
    seq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    maxForwards: fc.option(fc.integer({ min: 0, max: 255 }), { nil: undefined }),
    extra: fc.array(fc.record({ name: headerName, sep, v: foldedValue }), { maxLength: 8 }),
    body: fc.uint8Array({ maxLength: 300 }),
    shuffle: fc.boolean(),
  })
  .map((g) => {
    const fields: Array<{ name: string; wire: string; value: string }> = [
      { name: 'via', wire: `Via: SIP/2.0/UDP ${g.host}${g.port ? `:${g.port}` : ''};branch=z9hG4bK${g.branch}`, value: '' },
      { name: 'from', wire: `From: <sip:alice@example.com>;tag=${g.fromTag}`, value: '' },
      { name: 'to', wire: `To: <sip:bob@example.com>${g.toTag ? `;tag=${g.toTag}` : ''}`, value: '' },
      { name: 'call-id', wire: `Call-ID: ${g.callId}`, value: '' },
      { name: 'cseq', wire: `CSeq: ${g.seq} ${g.method}`, value: '' },
    ];
    if (g.maxForwards !== undefined) fields.push({ name: 'max-forwards', wire: `Max-Forwards: ${g.maxForwards}`, value: '' });
    for (const f of fields) f.value = f.wire.slice(f.wire.indexOf(':') + 2);
    for (const e of g.extra) fields.push({ name: e.name.toLowerCase(), wire: `${e.name}${e.sep}${e.v.wire}`, value: e.v.value });
    if (g.shuffle) fields.reverse();
    const body = Buffer.from(g.body);
    fields.push({ name: 'content-length', wire: `Content-Length: ${body.length}`, value: String(body.length) });
    const start = g.request ? `${g.method} sip:bob@example.com SIP/2.0` : `SIP/2.0 ${g.status} ${g.reason}`.trimEnd();
    const head = [start, ...fields.map((f) => f.wire)].join('\r\n') + '\r\n\r\n';
    return {
      bytes: Buffer.concat([Buffer.from(head, 'latin1'), body]),
      fields: fields.map(({ name, value }) => ({ name, value })),
      body,
      request: g.request,
    };
  });

const fieldsOf = (m: AnyMessage): Array<{ name: string; value: string }> => m.headers.map((h) => ({ name: h.name, value: h.value }));

t.test('parse keeps every header and the body; serialize is byte-identical', async (t) => {
  fc.assert(
    fc.property(generated, (g) => {
      const m = parseMessage(g.bytes);
      if (m.isRequest !== g.request) return false;
      if (JSON.stringify(fieldsOf(m)) !== JSON.stringify(g.fields)) return false;
      if (!m.body.equals(g.body)) return false;
      if (!m.serialize().equals(g.bytes)) return false;
      const again = parseMessage(m.serialize());
      return JSON.stringify(fieldsOf(again)) === JSON.stringify(g.fields) && again.body.equals(g.body);
    }),
    { numRuns: 400 },
  );
  t.pass('parse(serialize(m)) = m for generated messages');
});

t.test('parse(serialize(m)) keeps fields and body after changes (re-encoded fields)', async (t) => {
  fc.assert(
    fc.property(generated, fc.array(fc.record({ op: fc.constantFrom('set', 'append', 'prepend', 'remove'), name: headerName, value: headerValue }), { maxLength: 5 }),
      fc.option(fc.uint8Array({ maxLength: 200 }), { nil: undefined }), (g, ops, newBody) => {
        const m = parseMessage(g.bytes);
        for (const o of ops) {
          if (o.op === 'remove') m.remove(o.name);
          else m[o.op](o.name, o.value);
        }
        if (newBody !== undefined) m.setBody(Buffer.from(newBody));
        const back = parseMessage(m.serialize());
        // Content-Length is rewritten to match the body; compare everything else.
        const strip = (fs: Array<{ name: string; value: string }>): string => JSON.stringify(fs.filter((f) => f.name !== 'content-length'));
        return strip(fieldsOf(back)) === strip(fieldsOf(m)) && back.body.equals(m.body) && back.get('content-length') === String(m.body.length);
      }),
    { numRuns: 300 },
  );
  t.pass('mutations survive a round trip');
});

t.test('messages built in code (no raw text) round-trip', async (t) => {
  fc.assert(
    fc.property(fc.array(fc.record({ name: headerName, value: headerValue }), { maxLength: 8 }), fc.uint8Array({ maxLength: 100 }), fc.boolean(), (extra, body, isReq) => {
      const headers: HeaderField[] = [
        { name: 'via', value: 'SIP/2.0/TCP h.example.com;branch=z9hG4bKbuilt', raw: undefined },
        { name: 'from', value: '<sip:a@example.com>;tag=1', raw: undefined },
        { name: 'to', value: '<sip:b@example.com>', raw: undefined },
        { name: 'call-id', value: 'built@example.com', raw: undefined },
        { name: 'cseq', value: '1 MESSAGE', raw: undefined },
        ...extra.map((e) => ({ name: e.name.toLowerCase(), value: e.value, raw: undefined })),
      ];
      const m = isReq ? new SipRequest('MESSAGE', 'sip:b@example.com', headers, Buffer.from(body)) : new SipResponse(202, 'Accepted', headers, Buffer.from(body));
      const back = parseMessage(m.serialize());
      return (
        JSON.stringify(fieldsOf(back).filter((f) => f.name !== 'content-length')) === JSON.stringify(fieldsOf(m)) &&
        back.body.equals(m.body)
      );
    }),
    { numRuns: 300 },
  );
  t.pass('built messages round-trip');
});

t.test('stream framer: any chunking of a stream of messages and keep-alives gives the same events', async (t) => {
  const item = fc.oneof({ weight: 4, arbitrary: generated.map((g) => g.bytes) }, { weight: 1, arbitrary: fc.constant(Buffer.from('\r\n\r\n')) });
  fc.assert(
    fc.property(fc.array(item, { minLength: 1, maxLength: 6 }), fc.array(fc.integer({ min: 1, max: 200 }), { minLength: 1, maxLength: 30 }), (items, sizes) => {
      // A ping right after another ping is one longer run of line ends: keep pings apart.
      const parts = items.filter((b, i) => !(b.length === 4 && i > 0 && items[i - 1]!.length === 4));
      const all = Buffer.concat(parts);
      const want = parts.map((b) => (b.length === 4 ? 'ping' : b.toString('latin1')));
      const framer = new StreamFramer();
      const got: string[] = [];
      let at = 0;
      for (let k = 0; at < all.length; k++) {
        const n = sizes[k % sizes.length]!;
        for (const e of framer.push(all.subarray(at, at + n))) got.push(e.type === 'message' ? e.data.toString('latin1') : e.type);
        at += n;
      }
      return JSON.stringify(got) === JSON.stringify(want) && framer.buffered === 0;
    }),
    { numRuns: 300 },
  );
  t.pass('same events for every chunking');
});

/** Parses and touches every lazy getter; returns the error when one is thrown. */
function exercise(buf: Buffer, datagram: boolean): unknown {
  try {
    const m = parseMessage(buf, { datagram });
    m.serialize();
    for (const get of [() => m.from(), () => m.to(), () => m.contacts(), () => m.vias(), () => (m instanceof SipRequest ? m.requestUri() : undefined), () => m.getAll('route')]) {
      try {
        get();
      } catch (e) {
        if (!(e instanceof SipParseError)) return e;
      }
    }
    return undefined;
  } catch (e) {
    return e instanceof SipParseError ? undefined : e;
  }
}

const onlyParseErrors = (buf: Buffer): boolean => {
  const e1 = exercise(buf, true);
  const e2 = exercise(buf, false);
  if (e1 !== undefined || e2 !== undefined) throw e1 ?? e2;
  try {
    new StreamFramer({ maxMessageSize: 4096 }).push(buf);
  } catch (e) {
    if (!(e instanceof SipParseError)) throw e;
  }
  return true;
};

t.test('arbitrary bytes: only SipParseError', async (t) => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (a) => onlyParseErrors(Buffer.from(a))), { numRuns: 1000 });
  const sipish = fc.array(fc.constantFrom('INVITE ', 'SIP/2.0', ' 200 ', 'sip:', '@', '<', '>', '"', '\\', ';', ',', ':', '=', '\r\n', '\n', ' ', '\t',
    'Via', 'v', 'From', 'To', 'Call-ID', 'CSeq', 'Content-Length', 'l', 'Contact', 'm', '[', ']', '1', '0', 'tag', 'branch', 'z9hG4bK', 'rport', '*'),
  { maxLength: 80 }).map((a) => Buffer.from(a.join(''), 'latin1'));
  fc.assert(fc.property(sipish, (b) => onlyParseErrors(b)), { numRuns: 2000 });
  t.pass('no other exception');
});

t.test('valid messages with random mutations and truncations: only SipParseError', async (t) => {
  const mutation = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), n: fc.integer({ min: 1, max: 8 }) }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  );
  fc.assert(
    fc.property(generated, fc.array(mutation, { minLength: 1, maxLength: 6 }), (g, muts) => {
      let b = Buffer.from(g.bytes);
      for (const m of muts) {
        const at = b.length === 0 ? 0 : m.at % b.length;
        if (m.kind === 'set' && b.length > 0) b[at] = m.byte;
        else if (m.kind === 'delete') b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.n)]);
        else if (m.kind === 'insert') b = Buffer.concat([b.subarray(0, at), Buffer.from(m.bytes), b.subarray(at)]);
        else if (m.kind === 'truncate') b = b.subarray(0, at);
      }
      return onlyParseErrors(b);
    }),
    { numRuns: 1500 },
  );
  t.pass('no other exception');
});
