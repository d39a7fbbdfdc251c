import t from 'tap';
import { createTimerConfig, timerFor } from '../../../lib/transaction/timers.js';

t.test('RFC 3261 Table 4 defaults plus RFC 6026 L and M', async (t) => {
  const c = createTimerConfig();
  t.same(
    { ...c, D: { ...c.D }, I: { ...c.I }, J: { ...c.J }, K: { ...c.K } },
    {
      t1: 500,
      t2: 4000,
      t4: 5000,
      A: 500,
      B: 32_000,
      D: { unreliable: 32_000, reliable: 0 },
      E: 500,
      F: 32_000,
      G: 500,
      H: 32_000,
      I: { unreliable: 5000, reliable: 0 },
      J: { unreliable: 32_000, reliable: 0 },
      K: { unreliable: 5000, reliable: 0 },
      L: 32_000,
      M: 32_000,
    },
  );
  t.ok(Object.isFrozen(c) && Object.isFrozen(c.D) && Object.isFrozen(c.K));
  t.equal(timerFor(c.D, false), 32_000);
  t.equal(timerFor(c.D, true), 0);
});

t.test('derived from T1/T2/T4', async (t) => {
  const c = createTimerConfig({ t1: 20, t2: 160, t4: 200 });
  t.equal(c.B, 1280);
  t.equal(c.F, 1280);
  t.equal(c.H, 1280);
  t.equal(c.L, 1280);
  t.equal(c.M, 1280);
  t.equal(c.J.unreliable, 1280);
  t.equal(c.K.unreliable, 200);
  t.equal(c.I.unreliable, 200);
  t.equal(c.D.unreliable, 32_000, 'D is at least 32 s whatever T1');
  t.equal(createTimerConfig({ t1: 1000 }).D.unreliable, 64_000, 'and never below 64*T1');
});

t.test('bad values are refused', async (t) => {
  for (const bad of [{ t1: 0 }, { t1: -1 }, { t2: Infinity }, { t4: Number.NaN }, { t1: 600, t2: 500 }]) {
    t.throws(() => createTimerConfig(bad), { code: 'SIPD_ERR_TX_USAGE' }, JSON.stringify(bad));
  }
});
