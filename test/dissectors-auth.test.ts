/**
 * Authentication: which 'p' a body is, SCRAM attributes from a whole exchange (the
 * SCRAM-SHA-256 example of RFC 7677), and redaction of passwords, proofs and tokens with
 * secrets hidden and shown. Also the startup-phase edge cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dissect, fieldTree, summarize } from '../dissectors/index.js';
import { decodedMessageSchema } from '../dissectors/schema.js';
import { secretRanges } from '../dissectors/tree.js';
import type { DecodedMessage, DissectContext, RawMessage } from '../dissectors/types.js';
import {
  msg, cstring, bytes, lenBytes, int32, authentication, makeContext, toRaw, untyped, startup, cancelRequest, backendKeyData,
} from './helpers/pg-builder.js';

// RFC 7677, section 3 (user "user", password "pencil").
const CLIENT_FIRST = 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO';
const SERVER_FIRST = 'r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096';
const PROOF = 'dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=';
const CLIENT_FINAL = `c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=${PROOF}`;
const SERVER_FINAL = 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=';

function valid(m: DecodedMessage): DecodedMessage {
  const r = decodedMessageSchema.safeParse(m);
  assert.ok(r.success, r.success ? '' : JSON.stringify(r.error.issues));
  return m;
}

function d(dir: 'frontend' | 'backend', wire: Buffer, ctx: DissectContext): DecodedMessage {
  return valid(dissect(toRaw(dir, wire), ctx));
}

/** Every string anywhere in a value, for "the secret appears nowhere" checks. */
function json(x: unknown): string {
  return JSON.stringify(x);
}

test('a SCRAM-SHA-256 exchange decodes attribute by attribute, the proof and the server signature redacted', () => {
  const ctx = makeContext();
  const offer = d('backend', authentication(10, cstring('SCRAM-SHA-256'), Buffer.alloc(1)), ctx);
  assert.deepEqual(offer, { type: 'AuthenticationSASL', authType: 10, mechanisms: ['SCRAM-SHA-256'] });

  const first = d('frontend', msg('p', cstring('SCRAM-SHA-256'), lenBytes(CLIENT_FIRST)), makeContext({ authType: 10 }));
  assert.equal(first.type, 'SASLInitialResponse');
  if (first.type === 'SASLInitialResponse') {
    assert.equal(first.mechanism, 'SCRAM-SHA-256');
    assert.equal(first.data, CLIENT_FIRST);
    assert.deepEqual(first.scram, { gs2Flag: 'n', user: 'user', nonce: 'rOprNGfwEbeRWgbNEkqO' });
  }

  const sctx = makeContext({ authType: 10, saslMechanism: 'SCRAM-SHA-256' });
  const cont = d('backend', authentication(11, bytes(SERVER_FIRST)), sctx);
  assert.equal(cont.type, 'AuthenticationSASLContinue');
  if (cont.type === 'AuthenticationSASLContinue') {
    assert.deepEqual(cont.scram, { nonce: 'rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0', salt: 'W22ZaJ0SNY7soEsUEjb6gQ==', iterations: 4096 });
    assert.equal(summarize(cont), 'AuthenticationSASLContinue (4096 iterations)');
  }

  const fin = d('frontend', msg('p', bytes(CLIENT_FINAL)), makeContext({ authType: 11, saslMechanism: 'SCRAM-SHA-256' }));
  assert.equal(fin.type, 'SASLResponse');
  if (fin.type === 'SASLResponse') {
    assert.equal(fin.scram?.proof, '<redacted>');
    assert.equal(fin.scram?.channelBinding, 'biws');
    assert.ok(fin.data.endsWith(',p=<redacted>'), fin.data);
    assert.ok(!json(fin).includes(PROOF));
  }

  const done = d('backend', authentication(12, bytes(SERVER_FINAL)), sctx);
  assert.equal(done.type, 'AuthenticationSASLFinal');
  // The server signature allows a password test as the proof does (scram.ts): redacted too, in the data, the attributes and the tree.
  if (done.type === 'AuthenticationSASLFinal') {
    assert.equal(done.scram?.serverSignature, '<redacted>');
    assert.equal(done.data, 'v=<redacted>');
  }
  assert.ok(!JSON.stringify(fieldTree(toRaw('backend', authentication(12, bytes(SERVER_FINAL))), done)).includes(SERVER_FINAL.slice(2)));
  const doneShown = d('backend', authentication(12, bytes(SERVER_FINAL)), makeContext({ saslMechanism: 'SCRAM-SHA-256', showSecrets: true }));
  assert.ok(doneShown.type === 'AuthenticationSASLFinal' && doneShown.scram?.serverSignature === SERVER_FINAL.slice(2));

  const firstRaw = toRaw('frontend', msg('p', cstring('SCRAM-SHA-256'), lenBytes(CLIENT_FIRST)));
  const data = fieldTree(firstRaw, first).find((n) => n.key === 'pgsql.sasl.data');
  assert.equal(data?.value, CLIENT_FIRST, 'the tree shows the data as sent');
  assert.deepEqual(data?.children.map((c) => c.value), ['n', 'user', 'rOprNGfwEbeRWgbNEkqO']);
  const finRaw = toRaw('frontend', msg('p', bytes(CLIENT_FINAL)));
  const finTree = fieldTree(finRaw, fin);
  assert.ok(!JSON.stringify(finTree).includes(PROOF));
  assert.equal(finTree.find((n) => n.key === 'pgsql.sasl.data')?.value, fin.type === 'SASLResponse' ? fin.data : null);

  const shown = d('frontend', msg('p', bytes(CLIENT_FINAL)), makeContext({ authType: 11, showSecrets: true }));
  assert.ok(shown.type === 'SASLResponse' && shown.scram?.proof === PROOF && shown.data === CLIENT_FINAL);
});

test('SCRAM channel binding (-PLUS) and server errors', () => {
  const m = d('frontend', msg('p', cstring('SCRAM-SHA-256-PLUS'), lenBytes('p=tls-server-end-point,,n=,r=abc')), makeContext({ authType: 10 }));
  assert.ok(m.type === 'SASLInitialResponse');
  if (m.type === 'SASLInitialResponse') assert.deepEqual(m.scram, { gs2Flag: 'p', channelBindingType: 'tls-server-end-point', user: '', nonce: 'abc' });
  const e = d('backend', authentication(12, bytes('e=invalid-proof')), makeContext({ saslMechanism: 'SCRAM-SHA-256' }));
  assert.ok(e.type === 'AuthenticationSASLFinal' && e.scram?.error === 'invalid-proof');
  assert.equal(summarize(e), 'AuthenticationSASLFinal error=invalid-proof');
});

test('passwords: cleartext and MD5 redacted unless secrets are shown; nowhere in tree or summary', () => {
  for (const [authType, pw, method] of [[3, 'hunter2', 'cleartext'], [5, 'md5a3556571e93b0d20722ba62be61e8c2d', 'md5']] as const) {
    const raw = toRaw('frontend', msg('p', cstring(pw)));
    const hidden = valid(dissect(raw, makeContext({ authType })));
    assert.deepEqual(hidden, { type: 'PasswordMessage', method, password: '<redacted>' });
    assert.ok(!json(fieldTree(raw, hidden)).includes(pw));
    assert.ok(!summarize(hidden).includes(pw));
    const shown = valid(dissect(raw, makeContext({ authType, showSecrets: true })));
    assert.deepEqual(shown, { type: 'PasswordMessage', method, password: pw });
    assert.ok(json(fieldTree(raw, shown, { showSecrets: true })).includes(pw));
  }
});

test('a malformed password message keeps no raw bytes of it', () => {
  const raw = toRaw('frontend', msg('p', bytes('hunter2'))); // no NUL
  const m = valid(dissect(raw, makeContext({ authType: 3 })));
  assert.equal(m.type, 'Malformed');
  assert.ok(!json(m).includes('hunter2') && !json(m).includes(Buffer.from('hunter2').toString('hex')), json(m));
  assert.ok(!json(fieldTree(raw, m)).includes(Buffer.from('hunter2').toString('hex')));
});

test('OAUTHBEARER and GSS tokens are hidden unless secrets are shown', () => {
  const token = 'n,,\x01auth=Bearer abc.def.ghi\x01\x01';
  const wire = msg('p', cstring('OAUTHBEARER'), lenBytes(token));
  const m = d('frontend', wire, makeContext({ authType: 10 }));
  assert.ok(m.type === 'SASLInitialResponse' && m.data === '<redacted>' && m.mechanism === 'OAUTHBEARER');
  assert.ok(!json(fieldTree(toRaw('frontend', wire), m)).includes('abc.def'));
  const s = d('frontend', wire, makeContext({ authType: 10, showSecrets: true }));
  assert.ok(s.type === 'SASLInitialResponse' && s.data === token);
  const g = d('frontend', msg('p', bytes([1, 2, 3])), makeContext({ authType: 8, showSecrets: true }));
  assert.ok(g.type === 'GSSResponse' && g.data === '010203');
});

test("'p' without a known authentication request: told apart by its shape", () => {
  const ctx = makeContext({ authType: null });
  assert.equal(d('frontend', msg('p', cstring('SCRAM-SHA-256'), lenBytes(CLIENT_FIRST)), ctx).type, 'SASLInitialResponse');
  assert.equal(d('frontend', msg('p', bytes(CLIENT_FINAL)), ctx).type, 'SASLResponse');
  const pw = d('frontend', msg('p', cstring('secret')), ctx);
  assert.ok(pw.type === 'PasswordMessage' && pw.method === 'unknown' && pw.password === '<redacted>');
});

test('authentication with an unknown request code is Malformed, named Authentication', () => {
  const m = d('backend', authentication(99), makeContext());
  assert.ok(m.type === 'Malformed' && m.name === 'Authentication' && m.fault === 'invalid', json(m));
});

test('startup phase: unknown request codes, old protocol, short packets are Unknown', () => {
  const ctx = makeContext();
  const raw = (wire: Buffer): RawMessage => toRaw('frontend', wire, false);
  for (const wire of [untyped(int32((1234 << 16) | 5681)), untyped(int32(2 << 16), cstring('x')), untyped(Buffer.from([0, 3]))]) {
    const m = valid(dissect(raw(wire), ctx));
    assert.equal(m.type, 'Unknown', json(m));
  }
  const future = valid(dissect(raw(startup({ user: 'u' }, (3 << 16) | 9)), ctx));
  assert.ok(future.type === 'StartupMessage' && future.protocolMinor === 9);
  assert.equal(summarize(future), 'StartupMessage 3.9 user=u');
});

test('StartupMessage parameters: any order, hostile names kept as data', () => {
  const m = valid(dissect(toRaw('frontend', startup({ options: '-c x=1', __proto__x: 'p', user: 'u', constructor: 'c' }), false), makeContext()));
  assert.ok(m.type === 'StartupMessage');
  if (m.type === 'StartupMessage') {
    assert.deepEqual(Object.keys(m.parameters), ['options', '__proto__x', 'user', 'constructor']);
    assert.equal(m.parameters.constructor, 'c');
  }
  const proto = Buffer.concat([int32(196608), cstring('__proto__'), cstring('v'), Buffer.alloc(1)]);
  const p = valid(dissect(toRaw('frontend', untyped(proto), false), makeContext()));
  assert.ok(p.type === 'StartupMessage' && Object.keys(p.parameters).includes('__proto__') && p.parameters['__proto__'] === 'v');
});

test('cancel keys: 4 bytes (3.0), 32 bytes (3.2), more than 256 refused; BackendKeyData by protocol', () => {
  const ctx = makeContext();
  const k4 = valid(dissect(toRaw('frontend', cancelRequest(7, Buffer.from('01020304', 'hex')), false), ctx));
  assert.ok(k4.type === 'CancelRequest' && k4.secretKey === '01020304');
  const k32 = valid(dissect(toRaw('frontend', cancelRequest(7, Buffer.alloc(32, 0xab)), false), ctx));
  assert.ok(k32.type === 'CancelRequest' && k32.secretKey === 'ab'.repeat(32));
  const big = valid(dissect(toRaw('frontend', cancelRequest(7, Buffer.alloc(300, 1)), false), ctx));
  assert.ok(big.type === 'Malformed' && big.fault === 'invalid');
  const b30 = valid(dissect(toRaw('backend', backendKeyData(9, Buffer.alloc(32, 1))), makeContext({ protocolMinor: 0 })));
  assert.ok(b30.type === 'Malformed' && b30.fault === 'trailing');
  const b32 = valid(dissect(toRaw('backend', backendKeyData(9, Buffer.alloc(32, 1))), makeContext({ protocolMinor: 2 })));
  assert.ok(b32.type === 'BackendKeyData' && b32.secretKey.length === 64);
});

test('one-byte answers: pendingRequest decides what N refuses; a wrong byte is Unknown', () => {
  const ans = (b: string, pendingRequest?: 'ssl' | 'gssenc' | null) => valid(dissect(toRaw('backend', Buffer.from(b)), makeContext({ pendingRequest })));
  assert.deepEqual(ans('N', 'gssenc'), { type: 'GSSENCResponse', accepted: false });
  assert.deepEqual(ans('N'), { type: 'SSLResponse', accepted: false });
  assert.deepEqual(ans('S'), { type: 'SSLResponse', accepted: true });
  assert.deepEqual(ans('G'), { type: 'GSSENCResponse', accepted: true });
  assert.equal(ans('G', 'ssl').type, 'Unknown');
  assert.equal(ans('E', 'ssl').type, 'Unknown');
});

test('secretRanges: the bytes a hex view masks are the redacted fields, SCRAM keeping p= / v=', () => {
  const masked = (dir: 'frontend' | 'backend', wire: Buffer, ctx: DissectContext): string => {
    const raw = toRaw(dir, wire);
    const out = Buffer.from(wire);
    for (const r of secretRanges(raw, d(dir, wire, ctx))) out.fill(0x2a, r.start, r.start + r.length);
    return out.toString('latin1');
  };
  const token = 'n,,\x01auth=Bearer abc.def.ghi\x01\x01';
  const oauth = masked('frontend', msg('p', cstring('OAUTHBEARER'), lenBytes(token)), makeContext({ authType: 10 }));
  assert.ok(oauth.includes('OAUTHBEARER') && !oauth.includes('Bearer') && oauth.endsWith('*'.repeat(token.length)));
  const pw = masked('frontend', msg('p', cstring('hunter2')), makeContext({ authType: 3 }));
  assert.ok(pw.startsWith('p') && !pw.includes('hunter2') && pw.includes('*'.repeat(8)));
  const fin = masked('frontend', msg('p', bytes(CLIENT_FINAL)), makeContext({ authType: 11 }));
  assert.ok(/,p=\*+$/.test(fin) && fin.includes('c=biws'));
  // A 'p' too short for what it claims is Malformed: its whole body is masked, the header kept.
  const bad = masked('frontend', msg('p', bytes([0x41, 0x42, 0x43])), makeContext({ authType: 10 }));
  assert.equal(bad.slice(5), '***');
  // Nothing else is ever masked.
  assert.deepEqual(secretRanges(toRaw('frontend', msg('Q', cstring('SELECT 1'))), d('frontend', msg('Q', cstring('SELECT 1')), makeContext({}))), []);
});
