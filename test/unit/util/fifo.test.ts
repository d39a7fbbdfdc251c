// KeyFifo: oldest first, O(1) at the head, compacts without losing order.
import t from 'tap';
import { KeyFifo } from '../../../lib/util/fifo.js';

t.test('keys leave in the order they came, across compactions', async (t) => {
  const q = new KeyFifo<number>();
  t.equal(q.peek(), undefined);
  t.equal(q.shift(), undefined);
  let next = 0;
  let expected = 0;
  let bad = 0;
  // a long-running table: push two, take one, many times (compacts at 1,024 taken)
  for (let i = 0; i < 20_000; i++) {
    q.push(next++);
    q.push(next++);
    if (q.peek() !== expected) bad++;
    if (q.shift() !== expected++) bad++;
  }
  t.equal(bad, 0, 'always the oldest');
  t.equal(q.length, 20_000);
  while (q.length > 0) if (q.shift() !== expected++) bad++;
  t.equal(bad, 0);
  t.equal(expected, next, 'every key came out once');
  q.push(7);
  q.clear();
  t.equal(q.length, 0);
});
