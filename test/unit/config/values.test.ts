// Grammar of the values: exten, hunt lists, permit entries, host, callerid.
import t from 'tap';
import {
  parseCallerid,
  parseExten,
  parseGatewayPrefix,
  parseHost,
  parseHunt,
  parseNetwork,
  parsePermit,
} from '../../../lib/config/values.js';

t.test('exten: every part optional', async (t) => {
  const cases: [string, object][] = [
    ['1001', { long: '1001' }],
    ['1001(2)', { long: '1001', hunt: [2] }],
    ['4999876543#1002=4991234567', { long: '4999876543', short: '1002', forward: { number: '4991234567', mode: 'always' } }],
    ['#1002', { short: '1002' }],
    ['=4991234567', { forward: { number: '4991234567', mode: 'always' } }],
    ['~+441234567890', { forward: { number: '+441234567890', mode: 'unavailable' } }],
    ['(2-3)', { hunt: [2, 3] }],
    ['1001(2,4)~4995551234', { long: '1001', hunt: [2, 4], forward: { number: '4995551234', mode: 'unavailable' } }],
    ['4951234567#12(1, 3-5)=1002', { long: '4951234567', short: '12', hunt: [1, 3, 4, 5], forward: { number: '1002', mode: 'always' } }],
  ];
  for (const [text, parts] of cases) {
    const r = parseExten(text);
    t.same(r, { ok: true, value: { raw: text, ...parts }, warnings: [] }, text);
  }
});

t.test('exten: errors', async (t) => {
  const bad = ['1001#', '1001(', '1001()', '1001(2)x', '10 01', '1001=', '1001~x', '*72', '1001(a)', '1001(2-)', '#1#2'];
  for (const text of bad) t.equal(parseExten(text).ok, false, text);
});

t.test('hunt lists', async (t) => {
  t.same(parseHunt('2'), { ok: true, value: [2], warnings: [] });
  t.same(parseHunt('4,2-3'), { ok: true, value: [4, 2, 3], warnings: [] }, 'order kept');
  t.same(parseHunt('2,2'), { ok: true, value: [2], warnings: ["hunt position 2 is listed twice in '(2,2)'"] });
  t.same(parseHunt('1-99999'), { ok: false, error: "hunt list '(1-99999)': position too large" });
  t.same(parseHunt('0'), { ok: false, error: "hunt list '(0)': positions start at 1" });
});

t.test('gateway prefix', async (t) => {
  t.same(parseGatewayPrefix('9995999'), { ok: true, value: '9995999', warnings: [] });
  t.same(parseGatewayPrefix('+'), { ok: true, value: '+', warnings: [] });
  t.equal(parseGatewayPrefix('9#1 2').ok, false);
});

t.test('permit entries: the original short forms, bare addresses, IPv6', async (t) => {
  const cidr = (s: string): string | undefined => {
    const r = parseNetwork(s);
    return r.ok ? r.value.cidr : undefined;
  };
  t.equal(cidr('192.168/16'), '192.168.0.0/16');
  t.equal(cidr('10/8'), '10.0.0.0/8');
  t.equal(cidr('172.16.5/24'), '172.16.5.0/24');
  t.equal(cidr('192.168.1.129/32'), '192.168.1.129/32');
  t.equal(cidr('192.168.1.129/24'), '192.168.1.0/24', 'host bits cleared');
  t.equal(cidr('192.0.2.1'), '192.0.2.1/32');
  t.equal(cidr('0.0.0.0/0'), '0.0.0.0/0');
  t.equal(cidr('2001:DB8::/32'), '2001:db8::/32');
  t.equal(cidr('2001:db8::1'), '2001:db8::1/128');
  t.equal(cidr('[::1]'), '::1/128');
  t.equal(cidr('2001:db8:abcd:12ff::/56'), '2001:db8:abcd:1200::/56');
  t.equal(cidr('::ffff:192.0.2.1'), '::ffff:c000:201/128');
  for (const bad of ['192.168', '10', '1.2.3.4.5/8', '010.0.0.0/8', '256.1.1.1', '1.2.3.4/', '1.2.3.4/x', 'fe80::1%eth0', 'any', '::1/129']) {
    t.equal(parseNetwork(bad).ok, false, bad);
  }
  const p = parsePermit('192.168/16, 10/8');
  t.ok(p.ok);
  if (p.ok) {
    t.same(p.value.cidrs, ['192.168.0.0/16', '10.0.0.0/8']);
    t.equal(p.value.allows('192.168.255.255'), true);
    t.equal(p.value.allows('192.169.0.0'), false);
  }
  t.same(parsePermit(','), { ok: false, error: "permit ',' lists no network" });
});

t.test('host', async (t) => {
  const h = (s: string): string | undefined => {
    const r = parseHost(s);
    return r.ok ? `${r.value.family} ${r.value.hostport}` : undefined;
  };
  t.equal(h('192.168.1.129'), '4 192.168.1.129:5060');
  t.equal(h('192.168.1.100:5070'), '4 192.168.1.100:5070');
  t.equal(h('[::1]:5070'), '6 [::1]:5070');
  t.equal(h('[2001:db8::1]'), '6 [2001:db8::1]:5060');
  t.equal(h('2001:db8::1'), '6 [2001:db8::1]:5060');
  for (const bad of ['pbx', '1.2.3.4:0', '1.2.3.4:', '1.2.3.4:x', '[1.2.3.4]:5060x', '1.2.3', '[fe80::1%eth0]']) {
    t.equal(parseHost(bad).ok, false, bad);
  }
});

t.test('callerid', async (t) => {
  t.same(parseCallerid('4951234567'), { ok: true, value: '4951234567', warnings: [] });
  t.same(parseCallerid('+74951234567'), { ok: true, value: '+74951234567', warnings: [] });
  const r = parseCallerid('Office <74951234567>');
  t.same(r, { ok: true, value: '74951234567', warnings: ["callerid 'Office <74951234567>' is read as '74951234567' (the number in it)"] });
  t.equal(parseCallerid('Office').ok, false);
});
