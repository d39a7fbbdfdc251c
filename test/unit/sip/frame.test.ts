/**
 * StreamFramer (RFC 3261 §18.3 framing over TCP; RFC 5626 §4.4.1 keep-alives):
 * several messages per chunk, one message over many chunks (every split point,
 * 1-byte chunks), CRLF ping/pong, caps on header section and Content-Length.
 */
import t from 'tap';
import { FrameError, StreamFramer, type FrameEvent } from '../../../lib/sip/frame.js';
import { SipParseError } from '../../../lib/sip/errors.js';
import { parseMessage } from '../../../lib/sip/parse.js';
import { msg, request, requestLines } from './support.js';

type Ev = string; // 'ping' | 'pong' | message text

function feed(framer: StreamFramer, chunks: readonly Buffer[]): Ev[] {
  const out: Ev[] = [];
  for (const c of chunks) for (const e of framer.push(c)) out.push(show(e));
  return out;
}

function show(e: FrameEvent): Ev {
  return e.type === 'message' ? e.data.toString('latin1') : e.type;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  return undefined;
}

function chunksOf(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

const body = 'v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n\r\n'; // a body holding a blank line
const withBody = request({ method: 'INVITE', body });
const noBody = request();
const noLength = msg(requestLines({ contentLength: null }));
const compactLength = msg([...requestLines({ method: 'MESSAGE', contentLength: null }), 'l: 5'], 'hello');

t.test('several messages in one chunk', async (t) => {
  const all = Buffer.concat([withBody, noBody, compactLength, noLength, withBody]);
  const framer = new StreamFramer();
  const evs = feed(framer, [all]);
  t.same(evs, [withBody, noBody, compactLength, noLength, withBody].map((b) => b.toString('latin1')));
  t.equal(framer.buffered, 0);
  for (const e of framer.push(Buffer.concat([noBody, withBody.subarray(0, 10)]))) t.equal(show(e), noBody.toString('latin1'));
  t.equal(framer.buffered, 10, 'an incomplete message stays buffered');
});

t.test('each delivered message parses as a stream message', async (t) => {
  const framer = new StreamFramer();
  for (const e of framer.push(Buffer.concat([withBody, noLength, compactLength]))) {
    t.equal(e.type, 'message');
    if (e.type !== 'message') continue;
    const m = parseMessage(e.data, { datagram: false });
    t.ok(m.callId.length > 0);
  }
});

t.test('one message fed 1 byte at a time', async (t) => {
  for (const m of [withBody, noBody, noLength, compactLength]) {
    const framer = new StreamFramer();
    const evs: Ev[] = [];
    let early = 0;
    for (let i = 0; i < m.length; i++) {
      const got = feed(framer, [m.subarray(i, i + 1)]);
      if (i < m.length - 1) early += got.length;
      evs.push(...got);
    }
    t.equal(early, 0, 'nothing is delivered before the last byte');
    t.same(evs, [m.toString('latin1')], `${m.length} bytes, 1 at a time`);
    t.equal(framer.buffered, 0);
  }
});

t.test('split at every offset (two chunks)', async (t) => {
  const stream = Buffer.concat([withBody, Buffer.from('\r\n\r\n'), noBody, noLength, Buffer.from('\r\n'), compactLength]);
  const want = feed(new StreamFramer(), [stream]);
  t.same(want, [withBody.toString('latin1'), 'ping', noBody.toString('latin1'), noLength.toString('latin1'), 'pong', compactLength.toString('latin1')]);
  let bad = 0;
  for (let i = 1; i < stream.length; i++) {
    const got = feed(new StreamFramer(), [stream.subarray(0, i), stream.subarray(i)]);
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      bad++;
      if (bad < 5) t.same(got, want, `split at ${i}`);
    }
  }
  t.equal(bad, 0, `every one of ${stream.length - 1} split points gives the same events`);
  for (const size of [1, 2, 3, 7, 64]) {
    t.same(feed(new StreamFramer(), chunksOf(stream, size)), want, `chunks of ${size}`);
  }
});

t.test('CRLF keep-alives between messages (RFC 5626 §4.4.1)', async (t) => {
  const framer = new StreamFramer();
  t.same(feed(framer, [Buffer.from('\r\n\r\n')]), ['ping'], 'double CRLF → ping');
  t.same(feed(framer, [Buffer.from('\r\n\r\n\r\n\r\n')]), ['ping'], 'several CRLFs in one chunk → one ping');
  t.same(feed(framer, [Buffer.concat([noBody, Buffer.from('\r\n\r\n'), noBody])]), [noBody.toString('latin1'), 'ping', noBody.toString('latin1')]);
  t.same(feed(framer, [Buffer.concat([Buffer.from('\r\n'), noBody])]), ['pong', noBody.toString('latin1')], 'single CRLF before a message → pong');
  t.same(feed(framer, [Buffer.from('\r\n'), Buffer.from('\r\n')]), ['ping'], 'a ping split in two chunks is still a ping');
  t.same(feed(framer, [Buffer.from('\r'), Buffer.from('\n\r'), Buffer.from('\n')]), ['ping'], 'split inside the CRLFs');
  t.equal(framer.buffered, 0);
  const lone = new StreamFramer();
  t.same(feed(lone, [Buffer.from('\r\n')]), [], 'a lone CRLF waits: it may be the first half of a ping');
  t.same(feed(lone, [noBody]), ['pong', noBody.toString('latin1')], 'then it is a pong');
  t.same(feed(new StreamFramer(), [Buffer.from('\n\n')]), ['ping'], 'bare LFs');
});

t.test('header section over the cap → FrameError 513', async (t) => {
  const framer = new StreamFramer({ maxMessageSize: 1024 });
  const start = Buffer.from('INVITE sip:b@example.com SIP/2.0\r\n');
  framer.push(start);
  let err: unknown;
  try {
    for (let i = 0; i < 100; i++) framer.push(Buffer.from(`X-Endless-${i}: ${'a'.repeat(20)}\r\n`));
  } catch (e) {
    err = e;
  }
  t.ok(err instanceof FrameError, 'FrameError');
  t.ok(err instanceof SipParseError, 'which is a SipParseError');
  t.match(err, { status: 513, code: 'SIPD_ERR_PARSE_TOO_LARGE' });
  t.ok(framer.buffered <= 1024 + 64, 'no more than about the cap is held');

  const crs = new StreamFramer({ maxMessageSize: 1024 });
  let crErr: unknown;
  try {
    for (let i = 0; i < 100; i++) crs.push(Buffer.alloc(100, 0x0d));
  } catch (e) {
    crErr = e;
  }
  t.ok(crErr instanceof FrameError, 'an endless run of CRs is not buffered without bound');
  t.match(crErr, { status: 513 });
  t.ok(crs.buffered <= 1024 + 100);

  const ok = new StreamFramer({ maxMessageSize: withBody.length });
  t.same(feed(ok, [withBody]), [withBody.toString('latin1')], 'a message of exactly the cap passes');
  t.match(thrown(() => new StreamFramer({ maxMessageSize: withBody.length - 1 }).push(withBody)), { status: 513 }, 'one byte over');
});

t.test('Content-Length over the cap → FrameError before the body arrives', async (t) => {
  const framer = new StreamFramer({ maxMessageSize: 4096 });
  const head = msg(requestLines({ method: 'MESSAGE', contentLength: 1_000_000 }));
  const err = thrown(() => framer.push(head));
  t.ok(err instanceof FrameError);
  t.match(err, { status: 513, code: 'SIPD_ERR_PARSE_TOO_LARGE' });
  const compact = new StreamFramer();
  t.throws(() => compact.push(msg([...requestLines({ method: 'MESSAGE', contentLength: null }), 'l: 9999999'])), FrameError, 'compact l:');
  t.equal(new StreamFramer().push(Buffer.alloc(0)).length, 0, 'empty chunk');
});

t.test('bad Content-Length → FrameError 400', async (t) => {
  for (const v of ['abc', '-5', '1 2']) {
    const err = thrown(() => new StreamFramer().push(msg(requestLines({ contentLength: null, extra: [`Content-Length: ${v}`] }))));
    t.ok(err instanceof FrameError, v);
    t.match(err, { code: 'SIPD_ERR_PARSE_CONTENT_LENGTH', status: 400 }, v);
  }
  t.throws(() => new StreamFramer().push(msg([...requestLines({ contentLength: 1 }), 'Content-Length: 2'], 'ab')), FrameError, 'conflicting values');
  const folded = new StreamFramer().push(msg(requestLines({ contentLength: null, extra: ['content-length   :   3'] }), 'abc'));
  t.equal(folded.length, 1, 'blanks around the colon');
  t.equal(folded[0]!.type === 'message' && folded[0]!.data.toString('latin1').endsWith('abc'), true);
});

t.test('body-less message without Content-Length', async (t) => {
  const framer = new StreamFramer();
  const evs = feed(framer, [Buffer.concat([noLength, noLength])]);
  t.same(evs, [noLength.toString('latin1'), noLength.toString('latin1')], 'absent Content-Length on a stream = no body');
  const lf = Buffer.from(noLength.toString('latin1').replace(/\r\n/g, '\n'));
  t.same(feed(new StreamFramer(), [Buffer.concat([lf, noBody])]), [lf.toString('latin1'), noBody.toString('latin1')], 'bare-LF message then a CRLF one');
});

t.test('delivered messages do not pin the caller\'s chunk', async (t) => {
  const chunk = Buffer.concat([noBody, noBody]);
  const evs = new StreamFramer().push(chunk);
  chunk.fill(0x41);
  t.equal(evs.length, 2);
  t.equal(evs[0]!.type === 'message' && evs[0]!.data.toString('latin1'), noBody.toString('latin1'), 'message data is a copy');
});
