/**
 * Parsing of `Authorization` / `Proxy-Authorization` Digest credentials
 * (RFC 3261 §25.1 `credentials`, RFC 7616 §3.4): real-phone layouts, tricky
 * quoting and spacing, missing or duplicated fields, and garbage that must
 * give undefined instead of throwing.
 */
import t from 'tap';
import fc from 'fast-check';
import { parseDigestCredentials } from '../../../lib/registrar/digest.js';

const NONCE = 'AQAAAYzAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
const R32 = '0123456789abcdef0123456789abcdef';

t.test('layouts of real clients', async (t) => {
  // SIPp [authentication]: no blanks, qop before uri
  t.match(
    parseDigestCredentials(`Digest username="u0001",realm="sipd.test",cnonce="6b8b4567",nc=00000001,qop=auth,uri="sip:127.0.0.1:5060",nonce="${NONCE}",response="${R32}",algorithm=MD5`),
    { username: 'u0001', realm: 'sipd.test', cnonce: '6b8b4567', nc: '00000001', qop: 'auth', uri: 'sip:127.0.0.1:5060', nonce: NONCE, response: R32, algorithm: 'MD5', opaque: undefined },
  );
  // PJSIP (MicroSIP): blanks after commas, algorithm before qop
  t.match(
    parseDigestCredentials(`Digest username="101", realm="sipd.test", nonce="${NONCE}", uri="sip:sipd.test", response="${R32}", algorithm=MD5, cnonce="a1b2c3", qop=auth, nc=00000002`),
    { username: '101', nc: '00000002', cnonce: 'a1b2c3' },
  );
  // Linphone/baresip: quoted qop and algorithm, SHA-256
  t.match(
    parseDigestCredentials(`Digest realm="sipd.test", nonce="${NONCE}", algorithm="SHA-256", opaque="", username="alice",  uri="sip:sipd.test", response="${'A'.repeat(64)}", cnonce="xyz", nc=00000001, qop="auth"`),
    { username: 'alice', algorithm: 'SHA-256', opaque: '', response: 'a'.repeat(64), qop: 'auth' },
  );
  // RFC 2069 client: no qop, nc, cnonce
  t.match(parseDigestCredentials(`Digest username="old", realm="r", nonce="n", uri="sip:r", response="${R32}"`), {
    qop: undefined,
    nc: undefined,
    cnonce: undefined,
    algorithm: 'MD5',
  });
});

t.test('quoted commas, escaped quotes, odd spacing, case', async (t) => {
  const c = parseDigestCredentials(
    `  digest   USERNAME = "a,b\\"c\\\\d" ,REALM="sip, \\"d\\"",  nonce =  "${NONCE}"  ,  uri="sip:x@y;a=b,c" ,response=${R32.toUpperCase()},QOP=AUTH,Nc=0000000F, CNonce="x,y=z", Algorithm=md5-SESS, opaque="o,p"  `,
  );
  t.match(c, {
    username: 'a,b"c\\d',
    realm: 'sip, "d"',
    nonce: NONCE,
    uri: 'sip:x@y;a=b,c',
    response: R32,
    qop: 'auth',
    nc: '0000000F',
    cnonce: 'x,y=z',
    algorithm: 'MD5-sess',
    opaque: 'o,p',
  });
  t.ok(parseDigestCredentials(`DIGEST username="u", realm="r", nonce="n", uri="u", response="${R32}"`), 'DIGEST');
  t.ok(parseDigestCredentials(`Digest\tusername="u",\trealm="r", nonce="n", uri="u", response="${R32}"`), 'tabs');
  t.ok(parseDigestCredentials(`Digest username="u",, realm="r", , nonce="n",uri="u",response="${R32}",`), 'empty list elements');
  t.ok(parseDigestCredentials(`Digest username="u",\r\n realm="r", nonce="n", uri="u", response="${R32}"`), 'folding left in');
  t.match(parseDigestCredentials(`Digest username=bob, realm=r, nonce=${NONCE}, uri=sip:r:5060, response=${R32}`), { username: 'bob', uri: 'sip:r:5060' }, 'tokens where quotes are expected');
  t.match(parseDigestCredentials(`Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", algorithm=SHA-1`), { algorithm: 'SHA-1' }, 'unknown algorithm kept as sent (verification refuses it)');
  t.match(parseDigestCredentials(`Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", algorithm="sha-512-256"`), { algorithm: 'SHA-512-256' });
  t.match(parseDigestCredentials(`Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", charset=UTF-8, userhash=false, foo="bar,baz"`), { username: 'u' }, 'unknown and harmless parameters ignored');
  t.match(parseDigestCredentials(`Digest username="u", realm="", nonce="n", uri="u", response="${R32}"`), { realm: '' }, 'empty realm parses (verification says realm)');
  t.match(parseDigestCredentials(`Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", qop=auth-int, nc=00000001, cnonce="c"`), { qop: 'auth-int' }, 'auth-int parses (verification refuses it)');
});

t.test('missing, duplicated or broken fields give undefined', async (t) => {
  const full = { username: '"u"', realm: '"r"', nonce: `"${NONCE}"`, uri: '"sip:r"', response: `"${R32}"` };
  const build = (p: Record<string, string>) => 'Digest ' + Object.entries(p).map(([k, v]) => `${k}=${v}`).join(', ');
  t.ok(parseDigestCredentials(build(full)));
  for (const k of Object.keys(full)) {
    const p: Record<string, string> = { ...full };
    delete p[k];
    t.equal(parseDigestCredentials(build(p)), undefined, `without ${k}`);
  }
  const bad: string[] = [
    '',
    'Digest',
    'Digest ',
    'Basic dXNlcjpwYXNz',
    `Basic username="u", realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digestusername="u", realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digest, username="u", realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}`,
    `Digest username="u, realm="r", nonce="n", uri="u", response="${R32}"`.slice(0, 30),
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", realm="evil"`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", Response="${R32}"`,
    `Digest username="u" realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digest username="u"x, realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digest username, realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digest username=, realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digest ="u", realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digest username="", realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digest username="u", realm="r", nonce="", uri="u", response="${R32}"`,
    `Digest username="u", realm="r", nonce="n", uri="", response="${R32}"`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="xyz"`,
    `Digest username="u", realm="r", nonce="n", uri="u", response=""`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", qop=auth`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", qop=auth, nc=00000001`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", qop=auth, cnonce="c"`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", qop=auth, nc=1, cnonce="c"`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", qop=auth, nc=0000000g, cnonce="c"`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", qop=auth, nc=000000001, cnonce="c"`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", userhash=true`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", userhash="TRUE"`,
    `Digest username="u\u0000", realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digest username="u\nx", realm="r", nonce="n", uri="u", response="${R32}"`,
    `Digest username="u\\`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", x="unterminated`,
    `Digest username="u", realm="r", nonce="n", uri="u", response="${R32}", "x"="y"`,
    `Digest username="u"; realm="r", nonce="n", uri="u", response="${R32}"`,
  ];
  for (const v of bad) t.equal(parseDigestCredentials(v), undefined, JSON.stringify(v));
  for (const v of [undefined, null, 42, {}] as unknown[]) t.equal(parseDigestCredentials(v as string), undefined, String(v));
  const many = 'Digest ' + Array.from({ length: 40 }, (_, i) => `p${i}=x`).join(',') + `, username="u", realm="r", nonce="n", uri="u", response="${R32}"`;
  t.equal(parseDigestCredentials(many), undefined, 'too many parameters');
});

t.test('never throws on arbitrary input (property)', async (t) => {
  const pieces = fc.constantFrom('Digest ', 'digest ', 'username=', 'realm=', 'nonce=', 'uri=', 'response=', 'qop=', 'nc=', 'cnonce=', '"', '\\', ',', ' ', '=', 'auth', '00000001', R32, 'x', '\r\n', '\u00e9', ';', '<', '>');
  fc.assert(
    fc.property(fc.array(pieces, { maxLength: 40 }), fc.string(), (parts, tail) => {
      const v = parts.join('') + tail;
      const c = parseDigestCredentials(v);
      if (c !== undefined) {
        // whatever parses has every required field and a hex response
        if (!c.username || !c.nonce || !c.uri || !/^[0-9a-f]+$/.test(c.response)) throw new Error(`bad result for ${JSON.stringify(v)}`);
        if (c.qop !== undefined && (c.cnonce === undefined || !/^[0-9a-fA-F]{8}$/.test(c.nc ?? ''))) throw new Error(`qop without nc/cnonce for ${JSON.stringify(v)}`);
      }
    }),
    { numRuns: 3000 },
  );
  t.pass('no throw');
});
