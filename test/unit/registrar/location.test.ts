import t from 'tap';
import { LocationService, type Binding, type ChangeKind, type ContactChange, type RegisterUpdate } from '../../../lib/registrar/location.js';
import type { BindingSource, LocationStore, StoredBinding } from '../../../lib/store/types.js';
import { FakeClock } from '../../helpers/fake-clock.js';

/** An in-memory LocationStore that records every call. */
class MemoryStore implements LocationStore {
  readonly rows = new Map<string, StoredBinding>();
  readonly calls: string[] = [];
  loadAll(now: number): StoredBinding[] {
    this.calls.push(`loadAll ${now}`);
    for (const [k, b] of this.rows) if (b.expiresAt <= now) this.rows.delete(k);
    return [...this.rows.values()];
  }
  upsert(b: StoredBinding): void {
    this.calls.push(`upsert ${b.aor} ${b.contactUri}`);
    this.rows.set(`${b.aor} ${b.contactUri}`, b);
  }
  remove(aor: string, contactUri: string): void {
    this.calls.push(`remove ${aor} ${contactUri}`);
    this.rows.delete(`${aor} ${contactUri}`);
  }
  removeAor(aor: string): void {
    this.calls.push(`removeAor ${aor}`);
    for (const [k, b] of this.rows) if (b.aor === aor) this.rows.delete(k);
  }
  flush(): void {}
  close(): void {}
}

const UDP = (port = 5060, address = '203.0.113.5'): BindingSource => ({ proto: 'udp', address, port, localAddress: '192.0.2.1', localPort: 5060 });

function contact(uri: string, expires = 3600, extra: Partial<ContactChange> = {}): ContactChange {
  return { contact: `<${uri}>`, contactUri: uri, expires, ...extra };
}

function reg(contacts: ContactChange[], over: Partial<RegisterUpdate> = {}): RegisterUpdate {
  return { callId: 'call-1', cseq: 1, source: UDP(), contacts, ...over };
}

function setup(opts: { graceMs?: number; maxBindingsPerAor?: number; store?: MemoryStore } = {}) {
  const clock = new FakeClock();
  const store = opts.store ?? new MemoryStore();
  const events: string[] = [];
  const loc = new LocationService({
    clock,
    store,
    ...(opts.graceMs !== undefined ? { graceMs: opts.graceMs } : {}),
    ...(opts.maxBindingsPerAor !== undefined ? { maxBindingsPerAor: opts.maxBindingsPerAor } : {}),
    onChange: (aor: string, kind: ChangeKind, b: Binding) => events.push(`${kind} ${aor} ${b.contactUri}`),
  });
  return { clock, store, events, loc };
}

function uris(bs: readonly Binding[]): string[] {
  return bs.map((b) => b.contactUri);
}

t.test('register, lookup, expiry after the grace period', async (t) => {
  const { clock, loc, events, store } = setup();
  const r = loc.apply('alice', reg([contact('sip:alice@10.0.0.2:5060', 60)], { userAgent: 'Phone/1', connId: 7 }));
  t.ok(r.ok);
  t.same(uris(loc.lookup('alice')), ['sip:alice@10.0.0.2:5060']);
  const b = loc.lookup('alice')[0]!;
  t.equal(b.aor, 'alice');
  t.equal(b.contact, '<sip:alice@10.0.0.2:5060>', 'contact kept verbatim');
  t.equal(b.userAgent, 'Phone/1');
  t.equal(b.connId, 7);
  t.equal(b.expiresAt, clock.wallNow() + 60_000);
  t.equal(b.registeredAt, clock.wallNow());
  t.same(b.source, UDP());
  t.equal(loc.expiresIn(b), 60);
  t.equal(loc.size, 1);
  t.equal(loc.aorCount, 1);
  t.same(events, ['registered alice sip:alice@10.0.0.2:5060']);
  t.same(store.calls, ['upsert alice sip:alice@10.0.0.2:5060']);
  t.equal(clock.pending(), 1, 'one expiry timer');

  clock.advance(60_000);
  t.equal(loc.lookup('alice').length, 1, 'still there at expiry (grace)');
  t.equal(loc.expiresIn(b), 0, 'expires in 0 s during the grace period');
  clock.advance(4_999);
  t.equal(loc.lookup('alice').length, 1, 'still there 1 ms before the end of the grace');
  clock.advance(1);
  t.same(loc.lookup('alice'), [], 'gone after expiry + 5 s');
  t.equal(loc.size, 0);
  t.equal(loc.aorCount, 0);
  t.same(events.slice(1), ['expired alice sip:alice@10.0.0.2:5060']);
  t.same(store.calls.slice(1), ['remove alice sip:alice@10.0.0.2:5060']);
  t.equal(clock.pending(), 0, 'no timer left');
});

t.test('the grace period is configurable', async (t) => {
  const { clock, loc } = setup({ graceMs: 0 });
  loc.apply('a', reg([contact('sip:a@x', 10)]));
  clock.advance(9_999);
  t.equal(loc.size, 1);
  clock.advance(1);
  t.equal(loc.size, 0);
});

t.test('lookup never returns a dead binding even if the timer has not run yet', async (t) => {
  // A clock whose timers never fire (a blocked loop): lookup filters by deadline.
  const clock = new FakeClock();
  const loc = new LocationService({ clock: { now: () => clock.now(), wallNow: () => clock.wallNow(), setTimer: () => ({}), clearTimer: () => {} } });
  loc.apply('a', reg([contact('sip:a1@x', 60), contact('sip:a2@x', 120)]));
  clock.advance(66_000);
  t.same(uris(loc.lookup('a')), ['sip:a2@x']);
  t.equal(loc.size, 2, 'not yet reaped');
  loc.apply('a', reg([], { cseq: 2 }));
  t.equal(loc.size, 1, 'apply reaps due bindings first');
});

t.test('a refresh extends the binding and updates it in place', async (t) => {
  const { clock, loc, events, store } = setup();
  loc.apply('alice', reg([contact('sip:alice@10.0.0.2', 60)]));
  const first = loc.lookup('alice')[0]!;
  clock.advance(59_000);
  const r = loc.apply('alice', reg([contact('sip:alice@10.0.0.2', 60, { q: 0.7 })], { cseq: 2, userAgent: 'Phone/2' }));
  t.ok(r.ok);
  t.equal(loc.size, 1);
  const b = loc.lookup('alice')[0]!;
  t.equal(b, first, 'same record');
  t.equal(b.cseq, 2);
  t.equal(b.q, 0.7);
  t.equal(b.userAgent, 'Phone/2');
  t.equal(b.expiresAt, clock.wallNow() + 60_000);
  clock.advance(64_999);
  t.equal(loc.size, 1, 'alive until the new expiry + grace');
  clock.advance(1);
  t.equal(loc.size, 0);
  t.same(events, ['registered alice sip:alice@10.0.0.2', 'refreshed alice sip:alice@10.0.0.2', 'expired alice sip:alice@10.0.0.2']);
  t.same(store.calls, ['upsert alice sip:alice@10.0.0.2', 'upsert alice sip:alice@10.0.0.2', 'remove alice sip:alice@10.0.0.2']);
});

t.test('expires=0 removes one binding; others stay', async (t) => {
  const { loc, events, store, clock } = setup();
  loc.apply('bob', reg([contact('sip:bob@desk'), contact('sip:bob@soft')]));
  t.equal(loc.size, 2);
  const r = loc.apply('bob', reg([contact('sip:bob@desk', 0)], { cseq: 2 }));
  t.ok(r.ok);
  t.same(r.ok && uris(r.bindings), ['sip:bob@soft'], 'the result lists what is left');
  t.same(uris(loc.lookup('bob')), ['sip:bob@soft']);
  t.same(events.slice(2), ['unregistered bob sip:bob@desk']);
  t.same(store.calls.slice(2), ['remove bob sip:bob@desk']);
  // Removing an unknown contact is not an error.
  t.ok(loc.apply('bob', reg([contact('sip:bob@nowhere', 0)], { cseq: 3 })).ok);
  loc.apply('bob', reg([contact('sip:bob@soft', 0)], { cseq: 4 }));
  t.equal(loc.aorCount, 0);
  t.equal(clock.pending(), 0, 'timer cleared when nothing is left');
});

t.test('Contact: * removes everything; removeAll is unconditional', async (t) => {
  const { loc, events, store } = setup();
  loc.apply('carol', reg([contact('sip:c1@x'), contact('sip:c2@x')], { callId: 'A', cseq: 5 }));
  loc.apply('carol', reg([contact('sip:c3@x')], { callId: 'B', cseq: 1 }));
  t.equal(loc.size, 3);
  const bad = loc.apply('carol', { callId: 'A', cseq: 5, source: UDP(), wildcard: true });
  t.same(bad.ok ? 'ok' : bad.reason, 'out-of-order', 'same Call-ID with a CSeq not higher: refused');
  t.equal(loc.size, 3, 'nothing removed (atomic)');
  const r = loc.apply('carol', { callId: 'A', cseq: 6, source: UDP(), wildcard: true });
  t.ok(r.ok);
  t.same(r.ok && r.bindings, []);
  t.equal(loc.size, 0);
  t.same(events.filter((e) => e.startsWith('unregistered')).length, 3);
  t.same(store.calls.filter((c) => c.startsWith('remove ')).sort(), ['remove carol sip:c1@x', 'remove carol sip:c2@x', 'remove carol sip:c3@x']);

  loc.apply('dave', reg([contact('sip:d1@x'), contact('sip:d2@x')]));
  store.calls.length = 0;
  events.length = 0;
  t.equal(loc.removeAll('dave'), 2);
  t.equal(loc.removeAll('dave'), 0);
  t.same(store.calls, ['removeAor dave']);
  t.same(events, ['unregistered dave sip:d1@x', 'unregistered dave sip:d2@x']);
  t.same(loc.lookup('dave'), []);
});

t.test('CSeq ordering (RFC 3261 §10.3 step 7)', async (t) => {
  const { loc } = setup();
  loc.apply('e', reg([contact('sip:e@x')], { callId: 'X', cseq: 10 }));
  for (const cseq of [9, 10]) {
    const r = loc.apply('e', reg([contact('sip:e@x')], { callId: 'X', cseq }));
    t.equal(r.ok, false, `CSeq ${cseq} refused`);
    if (!r.ok && r.reason === 'out-of-order') t.equal(r.binding.cseq, 10);
    const rm = loc.apply('e', reg([contact('sip:e@x', 0)], { callId: 'X', cseq }));
    t.equal(rm.ok, false, `removal with CSeq ${cseq} refused`);
  }
  t.ok(loc.apply('e', reg([contact('sip:e@x')], { callId: 'X', cseq: 11 })).ok);
  t.ok(loc.apply('e', reg([contact('sip:e@x')], { callId: 'Y', cseq: 1 })).ok, 'another Call-ID may have any CSeq');
  // Atomic: a refused request leaves the new contact it also carried unregistered.
  const r = loc.apply('e', reg([contact('sip:new@x'), contact('sip:e@x')], { callId: 'Y', cseq: 1 }));
  t.equal(r.ok, false);
  t.same(uris(loc.lookup('e')), ['sip:e@x']);
  // The same contact twice in one request is fine (the request does not conflict with itself).
  t.ok(loc.apply('e', reg([contact('sip:e@x', 60), contact('sip:e@x', 0)], { callId: 'Y', cseq: 2 })).ok);
  t.same(loc.lookup('e'), []);
});

t.test('madeBy: the binding a REGISTER (Call-ID, CSeq, transaction mark) created or last refreshed', async (t) => {
  const { clock, loc } = setup();
  t.equal(loc.madeBy('m', 'X', 1, 7), undefined, 'nothing registered');
  loc.apply('m', reg([contact('sip:m@a'), contact('sip:m@b')], { callId: 'X', cseq: 1, txMark: 7 }));
  t.same(uris([loc.madeBy('m', 'X', 1, 7)!]), ['sip:m@a'], 'found (the first of its bindings)');
  t.equal(loc.madeBy('m', 'X', 1, 8), undefined, 'another transaction');
  t.equal(loc.madeBy('m', 'X', 2, 7), undefined, 'another CSeq');
  t.equal(loc.madeBy('m', 'Y', 1, 7), undefined, 'another Call-ID');
  t.equal(loc.madeBy('n', 'X', 1, 7), undefined, 'another AOR');
  t.equal(loc.madeBy('m', 'X', 1, 0), undefined, 'mark 0 is no mark');
  loc.apply('m', reg([contact('sip:m@a')], { callId: 'X', cseq: 2, txMark: 9 }));
  t.same(uris([loc.madeBy('m', 'X', 1, 7)!]), ['sip:m@b'], 'a refresh of one binding moves its mark; the other keeps the old one');
  t.same(uris([loc.madeBy('m', 'X', 2, 9)!]), ['sip:m@a']);
  loc.apply('m', reg([contact('sip:m@b')], { callId: 'X', cseq: 3 }));
  t.equal(loc.madeBy('m', 'X', 1, 7), undefined, 'a refresh without a mark clears it');
  clock.advance(3600_000 + loc.graceMs);
  t.equal(loc.madeBy('m', 'X', 2, 9), undefined, 'an expired binding is no longer found');
});

t.test('+sip.instance / reg-id replaces the binding across a new URI and source port', async (t) => {
  const { loc, events, store } = setup();
  const inst = '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>';
  loc.apply('f', reg([contact('sip:f@192.168.1.20:5060;ob', 3600, { instance: inst, regId: 1 })], { callId: 'c1', source: UDP(40001) }));
  // The phone rebooted: new Call-ID, NAT gave it a new port, the Contact has a new port too.
  const r = loc.apply('f', reg([contact('sip:f@192.168.1.20:5062;ob', 3600, { instance: inst, regId: 1 })], { callId: 'c2', source: UDP(40777) }));
  t.ok(r.ok);
  const bs = loc.lookup('f');
  t.same(uris(bs), ['sip:f@192.168.1.20:5062;ob'], 'replaced, not piled up');
  t.equal(bs[0]!.source.port, 40777);
  t.equal(bs[0]!.callId, 'c2');
  t.same(events, ['registered f sip:f@192.168.1.20:5060;ob', 'refreshed f sip:f@192.168.1.20:5062;ob']);
  t.same(store.calls, ['upsert f sip:f@192.168.1.20:5060;ob', 'remove f sip:f@192.168.1.20:5060;ob', 'upsert f sip:f@192.168.1.20:5062;ob']);
  t.same([...store.rows.keys()], ['f sip:f@192.168.1.20:5062;ob']);
  // Another reg-id of the same instance is another flow (RFC 5626): kept beside it.
  loc.apply('f', reg([contact('sip:f@192.168.1.20:5064;ob', 3600, { instance: inst, regId: 2 })], { callId: 'c3' }));
  t.equal(loc.lookup('f').length, 2);
  // Another instance is another device.
  loc.apply('f', reg([contact('sip:f@192.168.1.21', 3600, { instance: '<urn:uuid:other>' })], { callId: 'c2', cseq: 2 }));
  t.equal(loc.lookup('f').length, 3, 'same Call-ID but a different instance does not replace');
  // expires=0 with only the instance matching (URI changed) removes it.
  loc.apply('f', reg([contact('sip:f@192.168.1.20:9999;ob', 0, { instance: inst, regId: 2 })], { callId: 'c4' }));
  t.same(uris(loc.lookup('f')).sort(), ['sip:f@192.168.1.20:5062;ob', 'sip:f@192.168.1.21']);
});

t.test('an instance match supersedes another binding holding the same URI', async (t) => {
  const { loc, store } = setup();
  loc.apply('g', reg([contact('sip:g@a', 3600, { instance: 'I' })], { callId: 'c1' }));
  loc.apply('g', reg([contact('sip:g@b')], { callId: 'c2' }));
  t.equal(loc.size, 2);
  loc.apply('g', reg([contact('sip:g@b', 3600, { instance: 'I' })], { callId: 'c3' }));
  const bs = loc.lookup('g');
  t.same(uris(bs), ['sip:g@b'], 'one binding per URI');
  t.equal(bs[0]!.instance, 'I');
  t.same([...store.rows.keys()], ['g sip:g@b'], 'the store holds the survivor');
  t.equal(store.rows.get('g sip:g@b')!.instance, 'I');
});

t.test('a URI given up by one binding and taken by another in the same request stays in the store', async (t) => {
  const { loc, store } = setup();
  loc.apply('s', reg([contact('sip:s@p', 3600, { instance: 'I1' }), contact('sip:s@u', 3600, { instance: 'I2' })]));
  // I2 moves u → v, then I1 moves p → u.
  const r = loc.apply('s', reg([contact('sip:s@v', 3600, { instance: 'I2' }), contact('sip:s@u', 3600, { instance: 'I1' })], { cseq: 2 }));
  t.ok(r.ok);
  t.same(loc.lookup('s').map((b) => `${b.instance} ${b.contactUri}`).sort(), ['I1 sip:s@u', 'I2 sip:s@v']);
  t.same([...store.rows.keys()].sort(), ['s sip:s@u', 's sip:s@v']);
  t.equal(store.rows.get('s sip:s@u')!.instance, 'I1');
});

t.test('the same Call-ID from the same AOR replaces the binding across a new NAT port', async (t) => {
  const { loc, events } = setup();
  loc.apply('h', reg([contact('sip:h@198.51.100.9:1024')], { callId: 'boot-1', cseq: 1, source: UDP(1024, '198.51.100.9') }));
  const r = loc.apply('h', reg([contact('sip:h@198.51.100.9:2048')], { callId: 'boot-1', cseq: 2, source: UDP(2048, '198.51.100.9') }));
  t.ok(r.ok);
  t.same(uris(loc.lookup('h')), ['sip:h@198.51.100.9:2048']);
  t.equal(loc.lookup('h')[0]!.source.port, 2048);
  t.same(events, ['registered h sip:h@198.51.100.9:1024', 'refreshed h sip:h@198.51.100.9:2048']);
  // Out of order by Call-ID match is refused too.
  const old = loc.apply('h', reg([contact('sip:h@198.51.100.9:4096')], { callId: 'boot-1', cseq: 2 }));
  t.equal(old.ok, false);
  // A different Call-ID adds a binding (another device or a deliberate second contact).
  loc.apply('h', reg([contact('sip:h@198.51.100.10')], { callId: 'other', cseq: 1 }));
  t.equal(loc.size, 2);
  // Two contacts in one request with the same Call-ID: both refreshed by URI, nothing replaced.
  loc.apply('h', reg([contact('sip:h@198.51.100.9:2048'), contact('sip:h@198.51.100.10')], { callId: 'boot-1', cseq: 3 }));
  t.same(uris(loc.lookup('h')).sort(), ['sip:h@198.51.100.10', 'sip:h@198.51.100.9:2048']);
});

t.test('several bindings per AOR keep their q values, highest first', async (t) => {
  const { loc } = setup();
  loc.apply('i', reg([contact('sip:i@low', 3600, { q: 0.1 }), contact('sip:i@none'), contact('sip:i@mid', 3600, { q: 0.5 })]));
  const bs = loc.lookup('i');
  t.same(uris(bs), ['sip:i@none', 'sip:i@mid', 'sip:i@low'], 'no q counts as 1.0');
  t.same(bs.map((b) => b.q), [undefined, 0.5, 0.1]);
  loc.apply('i', reg([contact('sip:i@low', 3600, { q: 1 })], { cseq: 2 }));
  t.same(uris(loc.lookup('i')), ['sip:i@none', 'sip:i@low', 'sip:i@mid'], 'reordered on change');
});

t.test('returned arrays are snapshots', async (t) => {
  const { loc } = setup();
  loc.apply('j', reg([contact('sip:j@1')]));
  const before = loc.lookup('j');
  loc.apply('j', reg([contact('sip:j@2')], { callId: 'other' }));
  t.equal(before.length, 1, 'an earlier lookup result is not mutated');
  t.equal(loc.lookup('j').length, 2);
  t.equal(loc.lookup('j'), loc.lookup('j'), 'no allocation per lookup');
});

t.test('maxBindingsPerAor refuses a REGISTER that adds too many', async (t) => {
  const { loc } = setup({ maxBindingsPerAor: 2 });
  loc.apply('k', reg([contact('sip:k@1'), contact('sip:k@2')]));
  const r = loc.apply('k', reg([contact('sip:k@3')], { callId: 'x' }));
  t.same(r, { ok: false, reason: 'too-many', limit: 2 });
  t.equal(loc.size, 2);
  t.ok(loc.apply('k', reg([contact('sip:k@3'), contact('sip:k@1', 0)], { callId: 'x' })).ok, 'replacing within the limit is fine');
  t.same(uris(loc.lookup('k')).sort(), ['sip:k@2', 'sip:k@3']);
});

t.test('one timer for the earliest expiry, whatever the number of bindings', async (t) => {
  const { clock, loc } = setup({ graceMs: 0 });
  loc.apply('a', reg([contact('sip:a@x', 300)]));
  t.equal(clock.nextIn(), 300_000);
  loc.apply('b', reg([contact('sip:b@x', 100)]));
  t.equal(clock.pending(), 1);
  t.equal(clock.nextIn(), 100_000, 're-armed for an earlier expiry');
  loc.apply('c', reg([contact('sip:c@x', 200)]));
  t.equal(clock.pending(), 1);
  t.equal(clock.nextIn(), 100_000, 'a later expiry does not re-arm');
  // Refreshing the earliest keeps the early timer; it fires, finds nothing due, re-arms.
  loc.apply('b', reg([contact('sip:b@x', 1000)], { cseq: 2 }));
  t.equal(clock.pending(), 1);
  clock.advance(100_000);
  t.equal(loc.size, 3);
  t.equal(clock.pending(), 1);
  t.equal(clock.nextIn(), 100_000, 'next: c at 200 s');
  clock.advance(100_000);
  t.same([loc.lookup('a').length, loc.lookup('b').length, loc.lookup('c').length], [1, 1, 0]);
  clock.advance(100_000);
  t.same([loc.lookup('a').length, loc.lookup('b').length], [0, 1]);
  clock.advance(700_000);
  t.equal(loc.size, 0);
  t.equal(clock.pending(), 0);
});

t.test('dropAors drops the bindings of removed clients', async (t) => {
  const { loc, store, events, clock } = setup();
  loc.apply('keep', reg([contact('sip:keep@x')]));
  loc.apply('gone1', reg([contact('sip:g1@x'), contact('sip:g1b@x')]));
  loc.apply('gone2', reg([contact('sip:g2@x')]));
  store.calls.length = 0;
  events.length = 0;
  t.equal(loc.dropAors((aor) => aor === 'keep'), 3);
  t.same(loc.lookup('gone1'), []);
  t.equal(loc.aorCount, 1);
  t.equal(loc.size, 1);
  t.same(store.calls.sort(), ['removeAor gone1', 'removeAor gone2']);
  t.equal(events.length, 3);
  t.ok(events.every((e) => e.startsWith('unregistered gone')));
  loc.dropAors(() => false);
  t.equal(clock.pending(), 0);
});

t.test('load() restores bindings from the store, dropping expired ones', async (t) => {
  const store = new MemoryStore();
  const { clock, loc, events } = setup({ store });
  const wall = clock.wallNow();
  const mk = (aor: string, uri: string, expiresIn: number, q?: number): StoredBinding => ({
    aor,
    contact: `<${uri}>;expires=3600`,
    contactUri: uri,
    callId: `cid-${uri}`,
    cseq: 3,
    ...(q !== undefined ? { q } : {}),
    expiresAt: wall + expiresIn,
    registeredAt: wall - 1000,
    source: { proto: 'tcp', address: '10.1.1.1', port: 33000, localAddress: '0.0.0.0', localPort: 5060 },
    userAgent: 'UA',
  });
  store.rows.set('a1', mk('a', 'sip:a@1', 60_000, 0.2));
  store.rows.set('a2', mk('a', 'sip:a@2', 120_000, 0.9));
  store.rows.set('b', mk('b', 'sip:b@1', -2_000));
  store.rows.set('c', mk('c', 'sip:c@1', -10_000));
  t.equal(loc.load(), 3, 'the one past expiry + grace is dropped');
  t.same(store.calls, [`loadAll ${wall - 5000}`], 'the store drops what is past the grace, nothing is written back');
  t.same(events, [], 'no events for loaded bindings');
  t.same(uris(loc.lookup('a')), ['sip:a@2', 'sip:a@1']);
  const b = loc.lookup('b')[0]!;
  t.equal(b.connId, undefined, 'no TCP connection after a restart');
  t.equal(b.source.proto, 'tcp');
  t.equal(loc.expiresIn(loc.lookup('a')[0]!), 120);
  t.same(loc.lookup('c'), []);
  clock.advance(3_000);
  t.same(loc.lookup('b'), [], 'the one in its grace period expires on time');
  t.same(events, ['expired b sip:b@1']);
  // A refresh of a loaded binding works (CSeq continues).
  t.equal(loc.apply('a', reg([contact('sip:a@1')], { callId: 'cid-sip:a@1', cseq: 3 })).ok, false);
  t.ok(loc.apply('a', reg([contact('sip:a@1')], { callId: 'cid-sip:a@1', cseq: 4 })).ok);
  clock.advance(200_000);
  t.equal(loc.size, 1, 'only the refreshed one is left');
});

t.test('a throwing onChange listener does not break the service', async (t) => {
  const clock = new FakeClock();
  const loc = new LocationService({ clock, onChange: () => { throw new Error('boom'); } });
  t.ok(loc.apply('a', reg([contact('sip:a@x', 60)])).ok);
  clock.advance(70_000);
  t.equal(loc.size, 0);
  t.equal(clock.pending(), 0);
});

t.test('close stops the timer', async (t) => {
  const { clock, loc } = setup();
  loc.apply('a', reg([contact('sip:a@x')]));
  loc.close();
  t.equal(clock.pending(), 0);
  t.throws(() => loc.apply('a', reg([contact('sip:a@x')], { cseq: 2 })));
});

t.test('10,000 bindings: all expire, nothing left behind', async (t) => {
  const { clock, loc, store } = setup();
  for (let i = 0; i < 10_000; i++) {
    const aor = `u${String(i).padStart(4, '0')}`;
    const r = loc.apply(aor, reg([contact(`sip:${aor}@10.0.${i >> 8}.${i & 255}:5060`, 60 + (i % 600))], { callId: `c${i}`, source: UDP(10_000 + i) }));
    if (!r.ok) t.fail(`register ${aor}`);
  }
  t.equal(loc.size, 10_000);
  t.equal(loc.aorCount, 10_000);
  t.equal(clock.pending(), 1, 'still one timer');
  t.equal(store.rows.size, 10_000);
  clock.advance(300_000);
  const left = loc.size;
  t.ok(left > 0 && left < 10_000, `partly expired (${left} left)`);
  clock.advance(400_000);
  t.equal(loc.size, 0);
  t.equal(loc.aorCount, 0);
  t.equal(clock.pending(), 0, 'no pending timers');
  t.equal(store.rows.size, 0, 'every binding removed from the store');
});

t.test('a randomized history keeps the heap, the map and the store consistent', async (t) => {
  const { clock, loc, store } = setup({ graceMs: 1000, maxBindingsPerAor: 3 });
  let seed = 12345;
  const rnd = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const cseq = new Map<string, number>();
  const instances = [undefined, 'I1', 'I2'];
  let refused = 0;
  for (let step = 0; step < 5000; step++) {
    const aor = `a${rnd(20)}`;
    const n = (cseq.get(aor) ?? 0) + 1;
    cseq.set(aor, n);
    const op = rnd(20);
    if (op === 0) loc.removeAll(aor);
    else if (op === 1) loc.apply(aor, { callId: `${aor}-${rnd(2)}`, cseq: n, source: UDP(rnd(3)), wildcard: true });
    else {
      const cs: ContactChange[] = [];
      for (let k = 1 + rnd(2); k > 0; k--) {
        const inst = instances[rnd(3)];
        cs.push(contact(`sip:${aor}@${rnd(6)}`, rnd(6) === 0 ? 0 : 1 + rnd(300), { ...(inst ? { instance: inst } : {}), ...(rnd(2) ? { q: rnd(11) / 10 } : {}) }));
      }
      // Now and then a stale CSeq (refused when the Call-ID matches a binding).
      const r = loc.apply(aor, reg(cs, { callId: `${aor}-${rnd(2)}`, cseq: rnd(10) === 0 ? n - 3 : n, source: UDP(rnd(3)) }));
      if (!r.ok) refused++;
    }
    clock.advance(rnd(3000));
    const live = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const bs = loc.lookup(`a${i}`);
      for (const b of bs) live.add(`${b.aor} ${b.contactUri}`);
      if (new Set(bs.map((b) => b.contactUri)).size !== bs.length) t.fail(`step ${step}: duplicate URI in a${i}`);
      for (let j = 1; j < bs.length; j++) if ((bs[j - 1]!.q ?? 1) < (bs[j]!.q ?? 1)) t.fail(`step ${step}: q order in a${i}`);
    }
    const stored = [...store.rows.keys()].sort().join('|');
    if (live.size !== loc.size || stored !== [...live].sort().join('|')) {
      t.fail(`step ${step}: map ${live.size}, heap ${loc.size}, store ${store.rows.size}`);
      return;
    }
  }
  t.ok(refused > 0, `some requests were refused (${refused})`);
  clock.advance(400_000);
  t.equal(loc.size, 0);
  t.equal(store.rows.size, 0);
  t.equal(clock.pending(), 0);
});

t.test('a query REGISTER changes nothing; a bad expires is a programming error', async (t) => {
  const { loc, store, events } = setup();
  loc.apply('q', reg([contact('sip:q@x')]));
  const list = loc.lookup('q');
  store.calls.length = 0;
  const r = loc.apply('q', reg([], { cseq: 2 }));
  t.same(r.ok && uris(r.bindings), ['sip:q@x']);
  t.equal(loc.lookup('q'), list, 'same snapshot: nothing rebuilt');
  t.same(store.calls, []);
  t.same(loc.apply('nobody', reg([])), { ok: true, bindings: [] });
  t.equal(loc.aorCount, 1);
  t.throws(() => loc.apply('q', reg([contact('sip:q@y', NaN)])), RangeError);
  t.throws(() => loc.apply('q', reg([contact('sip:q@y', -1)])), RangeError);
  t.equal(events.length, 1);
});
