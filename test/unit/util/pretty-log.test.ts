// The log sink: pino's JSON lines as text, written once per event-loop turn, in order, nothing lost at exit.
import t from 'tap';
import { LineSink, formatLine, prettyLogStream } from '../../../lib/util/pretty-log.js';

class Out {
  writes: string[] = [];
  write(s: string): boolean {
    this.writes.push(s);
    return true;
  }
}

const turn = () => new Promise<void>((r) => setImmediate(r));

t.test('the lines of one turn go out in one write, in order, at the end of the turn', async (t) => {
  const out = new Out();
  const sink = new LineSink(out as unknown as NodeJS.WritableStream);
  sink.write('a\n');
  sink.write('b\n');
  t.same(out.writes, [], 'nothing written inside the turn');
  await turn();
  t.same(out.writes, ['a\nb\n']);
  sink.write('c\n');
  await turn();
  t.same(out.writes, ['a\nb\n', 'c\n'], 'the next turn, the next write');
  sink.close();
});

t.test('a full buffer is written at once; close() writes the rest', async (t) => {
  const out = new Out();
  const sink = new LineSink(out as unknown as NodeJS.WritableStream);
  const line = `${'x'.repeat(1023)}\n`;
  for (let i = 0; i < 64; i++) sink.write(line);
  t.equal(out.writes.length, 1, '64 KiB pending: written without waiting for the turn to end');
  t.equal(out.writes[0]!.length, 64 * 1024);
  sink.write('last\n');
  sink.close();
  t.same(out.writes.at(-1), 'last\n', 'close() flushes');
  await turn();
  t.equal(out.writes.length, 2, 'and the scheduled flush finds nothing left');
});

t.test('prettyLogStream turns each JSON line of a chunk into a text line', async (t) => {
  const out = new Out();
  const stream = prettyLogStream(out);
  const a = JSON.stringify({ level: 30, time: Date.UTC(2026, 10, 24, 1, 2, 3, 4), component: 'registrar', msg: 'u1 registered', client: 'u1' });
  const b = JSON.stringify({ level: 40, time: Date.UTC(2026, 10, 24, 1, 2, 3, 5), msg: 'odd', note: 'two words' });
  stream.write(`${a}\n${b}\n`);
  t.same(out.writes, ['2026-11-24T01:02:03.004Z INFO  [registrar] u1 registered client=u1\n', '2026-11-24T01:02:03.005Z WARN  odd note="two words"\n']);
  t.equal(formatLine('not json'), 'not json', 'a line that is not JSON passes as it is');
});
