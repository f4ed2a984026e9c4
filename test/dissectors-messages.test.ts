/**
 * Every message of the catalogue (one of each kind, both directions, 3.0 and 3.2) decoded
 * whole; then each one truncated at every body offset and with bytes appended. Every result
 * must validate against the zod schema, and nothing may throw.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dissect } from '../dissectors/index.js';
import { decodedMessageSchema } from '../dissectors/schema.js';
import type { DecodedMessage } from '../dissectors/types.js';
import { catalogue, catalogueRaw, makeContext, withBody, type CatalogueEntry } from './helpers/pg-builder.js';
import { rawMessage } from '../dissectors/raw-message.js';

function ctxOf(e: CatalogueEntry) {
  return makeContext({ ...e.ctx });
}

function assertValid(m: DecodedMessage, what: string): void {
  const r = decodedMessageSchema.safeParse(m);
  assert.ok(r.success, `${what}: schema: ${r.success ? '' : JSON.stringify(r.error.issues)} in ${JSON.stringify(m)}`);
}

/** Deep subset check: every key of `want` equals the same key of `got` (arrays element-wise). */
function assertSubset(got: unknown, want: unknown, path: string): void {
  if (want !== null && typeof want === 'object' && !Array.isArray(want)) {
    assert.ok(got !== null && typeof got === 'object', `${path}: expected an object, got ${JSON.stringify(got)}`);
    for (const [k, v] of Object.entries(want)) assertSubset((got as Record<string, unknown>)[k], v, `${path}.${k}`);
  } else if (Array.isArray(want)) {
    assert.ok(Array.isArray(got), `${path}: expected an array, got ${JSON.stringify(got)}`);
    assert.equal(got.length, want.length, `${path}: length`);
    want.forEach((v, i) => assertSubset(got[i], v, `${path}[${i}]`));
  } else {
    assert.deepEqual(got, want, path);
  }
}

const cases = catalogue();

test('the catalogue covers every documented message name', () => {
  const types = new Set(cases.map((c) => c.type));
  for (const name of [
    'StartupMessage', 'SSLRequest', 'GSSENCRequest', 'CancelRequest', 'SSLResponse', 'GSSENCResponse',
    'Query', 'Parse', 'Bind', 'Describe', 'Execute', 'Sync', 'Flush', 'Close', 'CopyData', 'CopyDone', 'CopyFail',
    'FunctionCall', 'Terminate', 'PasswordMessage', 'SASLInitialResponse', 'SASLResponse', 'GSSResponse',
    'AuthenticationOk', 'AuthenticationKerberosV5', 'AuthenticationCleartextPassword', 'AuthenticationMD5Password',
    'AuthenticationGSS', 'AuthenticationGSSContinue', 'AuthenticationSSPI', 'AuthenticationSASL',
    'AuthenticationSASLContinue', 'AuthenticationSASLFinal', 'BackendKeyData', 'NegotiateProtocolVersion',
    'ParameterStatus', 'ReadyForQuery', 'ParseComplete', 'BindComplete', 'CloseComplete', 'ParameterDescription',
    'RowDescription', 'NoData', 'DataRow', 'CommandComplete', 'EmptyQueryResponse', 'PortalSuspended',
    'ErrorResponse', 'NoticeResponse', 'NotificationResponse', 'CopyInResponse', 'CopyOutResponse',
    'CopyBothResponse', 'FunctionCallResponse', 'Unknown',
  ]) assert.ok(types.has(name), `catalogue lacks ${name}`);
});

for (const [i, e] of cases.entries()) {
  const label = `${e.dir} ${e.type} #${i}`;
  test(`decodes ${label} whole`, () => {
    const m = dissect(catalogueRaw(e), ctxOf(e));
    assert.equal(m.type, e.type, `${label}: ${JSON.stringify(m)}`);
    assertSubset(m, e.expect, label);
    assertValid(m, label);
  });
}

test('every message truncated at every body offset: Malformed (truncated) with partial fields, never a throw', () => {
  let checked = 0;
  for (const e of cases) {
    const raw = catalogueRaw(e);
    if (raw.code === null && raw.dir === 'backend') continue; // the one-byte answer: nothing shorter is framed
    const ctx = ctxOf(e);
    for (let n = 0; n < raw.body.length; n++) {
      const cut = withBody(raw, raw.body.subarray(0, n));
      const m = dissect(cut, ctx);
      const what = `${e.type} cut to ${n}/${raw.body.length}`;
      assertValid(m, what);
      checked++;
      if (e.openEnded === true && m.type !== 'Malformed') continue;
      if (e.type === 'Unknown') {
        assert.equal(m.type, 'Unknown', what);
        continue;
      }
      if (raw.code === null && raw.dir === 'frontend' && n < 4) {
        // Without its request code a startup packet is not recognisable at all.
        assert.equal(m.type, 'Unknown', what);
        continue;
      }
      assert.equal(m.type, 'Malformed', `${what}: ${JSON.stringify(m)}`);
      if (m.type !== 'Malformed') continue;
      assert.equal(m.fault, 'truncated', `${what}: ${m.reason}`);
      // An Authentication body cut inside its Int32 code no longer says which request it is.
      assert.equal(m.name, raw.code === 'R' && n < 4 ? 'Authentication' : e.type, what);
      assert.equal(m.size, n);
      assert.ok(m.offset !== undefined && m.offset <= n, `${what}: fault offset ${m.offset}`);
    }
  }
  assert.ok(checked > 500, `checked ${checked}`);
});

test('every message with bytes appended: Malformed (unread bytes), unless its last field is open-ended', () => {
  for (const e of cases) {
    const raw = catalogueRaw(e);
    if (raw.code === null && raw.dir === 'backend') continue; // the one-byte answer has no length to grow
    const ctx = ctxOf(e);
    for (const extra of [Buffer.from([0]), Buffer.from('AB'), Buffer.alloc(7, 0xff)]) {
      const m = dissect(withBody(raw, Buffer.concat([raw.body, extra])), ctx);
      const what = `${e.type} + ${extra.length} bytes`;
      assertValid(m, what);
      if (e.openEnded === true) {
        assert.notEqual(m.type === 'Malformed' ? m.fault : 'ok', 'truncated', what);
        continue;
      }
      assert.equal(m.type, 'Malformed', `${what}: ${JSON.stringify(m)}`);
      if (m.type !== 'Malformed') continue;
      assert.equal(m.fault, 'trailing', `${what}: ${m.reason}`);
      assert.equal(m.offset, raw.body.length, what);
      assert.match(m.reason, new RegExp(`^${extra.length} unread byte`));
    }
  }
});

test('Malformed partial holds exactly the fields decoded before the fault', () => {
  const e = cases.find((c) => c.type === 'Bind')!;
  const raw = catalogueRaw(e);
  // portal "", statement "S_1", 3 formats, 3 params: cut inside the third parameter's length.
  const cutAt = raw.body.indexOf(Buffer.from([0xff, 0xff, 0xff, 0xff])) + 2;
  const m = dissect(withBody(raw, raw.body.subarray(0, cutAt)), ctxOf(e));
  assert.equal(m.type, 'Malformed');
  if (m.type !== 'Malformed') return;
  assert.equal(m.name, 'Bind');
  assert.deepEqual(m.partial.portal, '');
  assert.deepEqual(m.partial.statement, 'S_1');
  assert.deepEqual(m.partial.paramFormats, ['text', 'binary', 'text']);
  const params = m.partial.params as unknown[];
  assert.equal(params.length, 3, JSON.stringify(m.partial));
  assert.equal(params[0], '10');
  assert.equal(params[1], '\\x00000007');
  assert.equal(m.partial.resultFormats, undefined);
});

test('invalid values are Malformed (invalid), with the reason', () => {
  const ctx = makeContext();
  const checks: Array<[string, Buffer, RegExp]> = [
    ['Z', Buffer.from('X'), /is not I, T or E/],
    ['D', Buffer.concat([Buffer.from([0, 1]), Buffer.from([0xff, 0xff, 0xff, 0xfe])]), /only -1 means NULL/],
    ['T', Buffer.from([0xff, 0xff]), /negative count/],
  ];
  for (const [code, body, re] of checks) {
    const m = dissect(rawMessage({ dir: 'backend', code, length: body.length + 4, body, offset: 0, firstFrame: 1, frame: 1, startTimeUs: 0, timeUs: 0 }), ctx);
    assert.equal(m.type, 'Malformed', JSON.stringify(m));
    if (m.type === 'Malformed') {
      assert.equal(m.fault, 'invalid');
      assert.match(m.reason, re);
    }
    assertValid(m, code);
  }
});
