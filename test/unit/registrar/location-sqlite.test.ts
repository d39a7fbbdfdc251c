// The location service on the real SQLite store: what the server wires up.
import path from 'node:path';
import t from 'tap';
import { LocationService, type Binding } from '../../../lib/registrar/location.js';
import { openReadOnly, openStore } from '../../../lib/store/sqlite.js';
import { FakeClock } from '../../helpers/fake-clock.js';

t.test('bindings survive a restart through SQLite; expired ones do not', async (t) => {
  const file = path.join(t.testdir(), 'sipd.sqlite3');
  const clock = new FakeClock();
  const store = openStore(file, { clock });
  const loc = new LocationService({ clock, store });
  const source = { proto: 'tcp' as const, address: '198.51.100.7', port: 50123, localAddress: '192.0.2.1', localPort: 5060 };
  loc.apply('alice', {
    callId: 'a1',
    cseq: 4,
    source,
    connId: 12,
    userAgent: 'Linphone/5.2',
    contacts: [
      { contact: '<sip:alice@10.0.0.5:5060;transport=tcp;pn-prid=XYZ>;+sip.instance="<urn:uuid:1>";reg-id=1;q=0.8', contactUri: 'sip:alice@10.0.0.5:5060;transport=tcp;pn-prid=XYZ', instance: '<urn:uuid:1>', regId: 1, q: 0.8, expires: 600 },
      { contact: '<sip:alice@10.0.0.6>', contactUri: 'sip:alice@10.0.0.6', expires: 60 },
    ],
  });
  loc.apply('bob', { callId: 'b1', cseq: 1, source, contacts: [{ contact: 'sip:bob@10.0.0.7', contactUri: 'sip:bob@10.0.0.7', expires: 3600 }] });
  clock.advance(200); // the store's batch
  const reader = openReadOnly(file);
  t.equal(reader.listBindings(clock.wallNow()).length, 3, 'visible to --registrations');
  reader.close();
  const fields = (b: Binding) => {
    const { aor, contact, contactUri, instance, regId, callId, cseq, q, expiresAt, registeredAt, source, userAgent } = b;
    return { aor, contact, contactUri, instance, regId, callId, cseq, q, expiresAt, registeredAt, source, userAgent };
  };
  const before = loc.lookup('alice').find((b) => b.instance !== undefined)!;
  t.equal(before.connId, 12);
  loc.close();
  store.close();

  clock.advance(120_000); // down for two minutes: alice's second contact expired meanwhile
  const store2 = openStore(file, { clock });
  t.teardown(() => store2.close());
  const loc2 = new LocationService({ clock, store: store2 });
  t.teardown(() => loc2.close());
  t.equal(loc2.load(), 2);
  const after = loc2.lookup('alice');
  t.equal(after.length, 1);
  t.strictSame(fields(after[0]!), fields(before), 'every field but the connection survives');
  t.equal(after[0]!.connId, undefined);
  t.equal(loc2.expiresIn(after[0]!), 480);
  t.equal(loc2.lookup('bob').length, 1);
  // A reload removed bob from sip.conf.
  loc2.dropAors((aor) => aor !== 'bob');
  store2.flush();
  t.same(store2.loadAll(clock.wallNow()).map((b) => b.aor), ['alice']);
});
