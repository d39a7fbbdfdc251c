// Record-Route flow tokens (lib/proxy/flow-token.ts): round trip, tampering,
// and input from the network that must never throw.
import t from 'tap';
import fc from 'fast-check';
import { flowDestination, FlowTokens, type DialogRoute } from '../../../lib/proxy/flow-token.js';

const tokens = new FlowTokens(Buffer.alloc(32, 1));
const CALL = 'a84b4c76e66710@pc33.example.com';

const ROUTES: Array<[string, DialogRoute]> = [
  ['IPv4 UDP', { ftag: '1928301774', caller: { proto: 'udp', address: '192.0.2.10', port: 5070 }, callee: { proto: 'udp', address: '203.0.113.5', port: 5060 } }],
  ['IPv6', { ftag: 'x-Y_z.9', caller: { proto: 'udp', address: '2001:db8::10', port: 5060 }, callee: { proto: 'udp', address: 'fe80::1:2', port: 65535 } }],
  ['TCP connId', { ftag: 'a', caller: { proto: 'tcp', address: '192.0.2.10', port: 40001, connId: 17 }, callee: { proto: 'tcp', address: '::1', port: 5060, connId: 0 } }],
  ['empty From tag', { ftag: '', caller: { proto: 'udp', address: '192.0.2.10', port: 1 }, callee: { proto: 'tcp', address: '203.0.113.5', port: 5061 } }],
];

t.test('encode/decode round trip', async (t) => {
  for (const [name, route] of ROUTES) {
    const tok = tokens.encode(CALL, route);
    t.match(tok, /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16}$/, `${name}: URI-safe user part`);
    t.same(tokens.decode(CALL, tok), route, name);
  }
  t.same(flowDestination(ROUTES[2]![1].caller), { proto: 'tcp', address: '192.0.2.10', port: 40001, connId: 17 });
  t.same(flowDestination(ROUTES[0]![1].caller), { proto: 'udp', address: '192.0.2.10', port: 5070 });
  t.notOk('connId' in flowDestination(ROUTES[0]![1].caller), 'no connId key for UDP');
});

t.test('a short secret is refused', async (t) => {
  t.throws(() => new FlowTokens(Buffer.alloc(15)), RangeError);
  t.doesNotThrow(() => new FlowTokens(Buffer.alloc(16)));
});

t.test('tampering → undefined', async (t) => {
  const route = ROUTES[0]![1];
  const tok = tokens.encode(CALL, route);
  const [payload, mac] = tok.split('.') as [string, string];
  const text = Buffer.from(payload, 'base64url').toString('latin1');
  const repack = (s: string) => Buffer.from(s, 'latin1').toString('base64url');
  t.equal(tokens.decode(CALL, `${repack(text.replace('203.0.113.5', '203.0.113.6'))}.${mac}`), undefined, 'changed address');
  t.equal(tokens.decode(CALL, `${repack(text.replace('1928301774', '1928301775'))}.${mac}`), undefined, 'changed From tag');
  const flip = (s: string, i: number) => s.slice(0, i) + (s[i] === 'A' ? 'B' : 'A') + s.slice(i + 1);
  for (let i = 0; i < mac.length; i++) t.equal(tokens.decode(CALL, `${payload}.${flip(mac, i)}`), undefined, `changed mac char ${i}`);
  t.equal(tokens.decode(CALL, `${payload}.${mac.slice(0, -2)}`), undefined, 'short mac');
  t.equal(tokens.decode(`${CALL}x`, tok), undefined, 'other Call-ID');
  t.equal(tokens.decode(CALL.toUpperCase(), tok), undefined, 'Call-ID compares exactly');
  t.equal(new FlowTokens(Buffer.alloc(32, 2)).decode(CALL, tok), undefined, 'other secret');
  t.equal(tokens.decode(CALL, payload), undefined, 'no mac at all');
  t.equal(tokens.decode(CALL, `.${mac}`), undefined, 'no payload');
});

t.test('well-signed payloads that are not routes are refused (parseFlow)', async (t) => {
  // Build tokens whose payload parses badly by encoding crafted flows: the port and address checks apply.
  const mk = (caller: DialogRoute['caller']) => tokens.encode(CALL, { ftag: 't', caller, callee: { proto: 'udp', address: '192.0.2.1', port: 5060 } });
  t.equal(tokens.decode(CALL, mk({ proto: 'udp', address: '192.0.2.1', port: 0 })), undefined, 'port 0');
  t.equal(tokens.decode(CALL, mk({ proto: 'udp', address: '192.0.2.1', port: 65536 })), undefined, 'port 65536');
  t.equal(tokens.decode(CALL, mk({ proto: 'udp', address: 'evil.example.com', port: 5060 })), undefined, 'a host name');
  t.equal(tokens.decode(CALL, mk({ proto: 'udp', address: '', port: 5060 })), undefined, 'no address');
  t.equal(tokens.decode(CALL, tokens.encode(CALL, { ftag: 'a|b', caller: ROUTES[0]![1].caller, callee: ROUTES[0]![1].callee })), undefined, 'a | in the From tag');
});

t.test('decode never throws on anything (fast-check)', async (t) => {
  const valid = tokens.encode(CALL, ROUTES[2]![1]);
  fc.assert(
    fc.property(fc.string({ maxLength: 600 }), fc.string({ maxLength: 80 }), (tok, callId) => {
      const r = tokens.decode(callId, tok);
      return r === undefined || (typeof r.ftag === 'string' && r.caller !== undefined);
    }),
    { numRuns: 2000 },
  );
  // Mutations of a valid token: never throws, and anything changed does not verify.
  fc.assert(
    fc.property(fc.nat({ max: valid.length - 1 }), fc.string({ minLength: 1, maxLength: 3 }), (i, ins) => {
      const mutated = valid.slice(0, i) + ins + valid.slice(i + 1);
      const r = tokens.decode(CALL, mutated);
      return mutated === valid || r === undefined || JSON.stringify(r) === JSON.stringify(ROUTES[2]![1]);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
      const s = Buffer.from(bytes).toString('latin1');
      tokens.decode(CALL, s);
      tokens.decode(CALL, `${s}.${s}`);
      return true;
    }),
    { numRuns: 1000 },
  );
  // Round trip over generated routes.
  const flow = fc.record({
    proto: fc.constantFrom('udp' as const, 'tcp' as const),
    address: fc.oneof(fc.ipV4(), fc.ipV6()),
    port: fc.integer({ min: 1, max: 65535 }),
  });
  fc.assert(
    fc.property(fc.stringMatching(/^[A-Za-z0-9.!%*_+`'~-]{0,40}$/), flow, flow, fc.string({ maxLength: 60 }), (ftag, caller, callee, callId) => {
      const route = { ftag, caller, callee };
      return JSON.stringify(tokens.decode(callId, tokens.encode(callId, route))) === JSON.stringify(route);
    }),
    { numRuns: 1000 },
  );
  t.pass('no throw, no false accept');
});
