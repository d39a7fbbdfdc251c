import t from 'tap';
import { createResponse, newBranch } from '../../../lib/sip/build.js';
import {
  clientKey,
  isRfc3261Branch,
  legacyKey,
  legacyToTagMatches,
  matchMethod,
  responseKey,
  serverKey,
} from '../../../lib/transaction/key.js';
import { request, response } from './support.js';

t.test('magic cookie detection', async (t) => {
  t.ok(isRfc3261Branch('z9hG4bK776asdhds'));
  t.notOk(isRfc3261Branch('z9hG4bK'), 'the cookie alone is not a branch');
  t.notOk(isRfc3261Branch('Z9HG4BK776'), 'the cookie is case-sensitive');
  t.notOk(isRfc3261Branch('776asdhds'));
  t.notOk(isRfc3261Branch(undefined));
});

t.test('client key (§17.1.3): branch + CSeq method', async (t) => {
  const req = request({ method: 'INVITE' });
  const res = response(req, 180);
  t.equal(responseKey(res), clientKey(req.via.branch!, 'INVITE'));
  t.not(clientKey(req.via.branch!, 'INVITE'), clientKey(req.via.branch!, 'CANCEL'));
  t.equal(responseKey(response(request({ branch: null }), 200)), undefined);
});

t.test('server key (§17.2.3): branch + sent-by + method, ACK → INVITE', async (t) => {
  const branch = newBranch();
  const inv = request({ branch, method: 'INVITE' });
  const ack = request({ branch, method: 'ACK' });
  const cancel = request({ branch, method: 'CANCEL' });
  t.equal(matchMethod('ACK'), 'INVITE');
  t.equal(matchMethod('CANCEL'), 'CANCEL');
  t.equal(serverKey(ack), serverKey(inv));
  t.not(serverKey(cancel), serverKey(inv));
  t.equal(serverKey(cancel, 'INVITE'), serverKey(inv), 'a CANCEL finds its INVITE with method INVITE');
  t.not(serverKey(request({ branch, port: 5080 })), serverKey(inv));
  t.equal(serverKey(request({ branch, host: 'PC33.Example.COM' })), serverKey(request({ branch, host: 'pc33.example.com' })), 'host compares case-insensitively');
  t.equal(serverKey(request({ branch: 'abc' })), undefined, 'no magic cookie: no RFC 3261 key');
});

t.test('RFC 2543 key and To-tag rule', async (t) => {
  const inv = request({ branch: null, callId: 'c@x', fromTag: 'f', cseq: 5 });
  const again = request({ branch: null, callId: 'c@x', fromTag: 'f', cseq: 5 });
  t.equal(legacyKey(again), legacyKey(inv));
  t.ok(legacyToTagMatches(again, inv, undefined));
  const withTo = request({ branch: null, callId: 'c@x', fromTag: 'f', cseq: 5, toTag: 'zz' });
  t.equal(legacyKey(withTo), legacyKey(inv), 'the To tag is not part of the key');
  t.notOk(legacyToTagMatches(withTo, inv, undefined), '... but must match');
  const ack = request({ branch: null, method: 'ACK', callId: 'c@x', fromTag: 'f', cseq: 5, toTag: 'resp' });
  t.equal(legacyKey(ack), legacyKey(inv));
  const final = createResponse(inv, 486, { toTag: 'resp' });
  t.ok(legacyToTagMatches(ack, inv, final), 'an ACK carries the To tag of the response');
  t.notOk(legacyToTagMatches(ack, inv, createResponse(inv, 486, { toTag: 'other' })));
  for (const o of [{ cseq: 6 }, { callId: 'd@x' }, { fromTag: 'g' }, { uri: 'sip:x@y' }, { port: 5070 }, { viaParams: ';maddr=1.2.3.4' }]) {
    t.not(legacyKey(request({ branch: null, callId: 'c@x', fromTag: 'f', cseq: 5, ...o })), legacyKey(inv), JSON.stringify(o));
  }
});
