import t from 'tap';
import { FakeClock } from '../../helpers/fake-clock.js';

t.test('advance fires due timers in time order, ties in scheduling order', async (t) => {
  const c = new FakeClock();
  const seen: string[] = [];
  c.setTimer(30, () => seen.push(`c@${c.now()}`));
  c.setTimer(10, () => seen.push(`a@${c.now()}`));
  c.setTimer(10, () => seen.push(`b@${c.now()}`));
  c.setTimer(31, () => seen.push('late'));
  t.equal(c.pending(), 4);
  t.equal(c.nextIn(), 10);
  t.equal(c.advance(30), 3);
  t.same(seen, ['a@10', 'b@10', 'c@30']);
  t.equal(c.now(), 30);
  t.equal(c.pending(), 1);
});

t.test('timers scheduled by a firing timer fire in the same advance when due', async (t) => {
  const c = new FakeClock();
  const seen: number[] = [];
  const tick = (): void => {
    seen.push(c.now());
    if (seen.length < 5) c.setTimer(100, tick);
  };
  c.setTimer(100, tick);
  c.advance(350);
  t.same(seen, [100, 200, 300]);
  t.equal(c.now(), 350);
  c.advance(1000);
  t.same(seen, [100, 200, 300, 400, 500]);
  t.equal(c.pending(), 0);
});

t.test('0 ms timers fire on advance(0); cleared timers never fire', async (t) => {
  const c = new FakeClock();
  let n = 0;
  c.setTimer(0, () => n++);
  const h = c.setTimer(5, () => n += 100);
  c.clearTimer(h);
  c.clearTimer(undefined);
  t.equal(c.pending(), 1);
  c.advance(0);
  t.equal(n, 1);
  c.advance(10);
  t.equal(n, 1);
  t.equal(c.nextIn(), undefined);
});

t.test('runAll and wall time', async (t) => {
  const c = new FakeClock({ wall: 1_000_000 });
  c.setTimer(5000, () => {});
  c.setTimer(100, () => {});
  t.equal(c.runAll(), 2);
  t.equal(c.now(), 5000);
  t.equal(c.wallNow(), 1_005_000);
  t.throws(() => c.advance(-1));
  const forever = (): void => {
    c.setTimer(1, forever);
  };
  c.setTimer(1, forever);
  t.throws(() => c.runAll(50), /more than 50/);
});
