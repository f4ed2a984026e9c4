/**
 * Hostile input: random bodies for every type byte in both directions (and startup-phase
 * packets), and mutated well-formed messages. dissect, summarize and fieldTree must never
 * throw, every result must validate against the schema, and tree ranges stay inside the message.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dissect, summarize, fieldTree } from '../dissectors/index.js';
import { decodedMessageSchema } from '../dissectors/schema.js';
import type { RawMessage, Direction } from '../dissectors/types.js';
import type { FieldNode } from '../dissectors/tree.js';
import { catalogue, catalogueRaw, makeContext, withBody } from './helpers/pg-builder.js';
import { rawMessage } from '../dissectors/raw-message.js';
import { prng } from './helpers/prng.js';

/** Reproducible random 32-bit integers (helpers/prng.ts scaled up). */
function rng(seed: number): () => number {
  const next = prng(seed);
  return () => Math.floor(next() * 4294967296);
}

function randomBody(next: () => number, max: number): Buffer {
  const n = next() % (max + 1);
  const b = Buffer.alloc(n);
  for (let i = 0; i < n; i++) {
    // Mostly small values and NULs, so counts and strings end up both plausible and absurd.
    const r = next() % 10;
    b[i] = r < 3 ? 0 : r < 5 ? 0xff : r < 7 ? next() % 4 : next() & 0xff;
  }
  return b;
}

function headerLength(raw: RawMessage): number {
  if (raw.code !== null) return 5;
  return raw.dir === 'backend' && raw.body.length === 1 ? 0 : 4;
}

function checkTree(nodes: FieldNode[], total: number, what: string): void {
  for (const n of nodes) {
    assert.ok(n.offset >= 0 && n.length >= 0 && n.offset + n.length <= total, `${what}: ${n.key} at ${n.offset}+${n.length} of ${total}`);
    checkTree(n.children, total, what);
  }
}

function exercise(raw: RawMessage, what: string, ctxs: ReturnType<typeof makeContext>[]): void {
  for (const ctx of ctxs) {
    const m = dissect(raw, ctx);
    const r = decodedMessageSchema.safeParse(m);
    assert.ok(r.success, `${what}: ${r.success ? '' : JSON.stringify(r.error.issues)} ${JSON.stringify(m).slice(0, 300)}`);
    assert.equal(typeof summarize(m), 'string');
    checkTree(fieldTree(raw, m, { showSecrets: ctx.showSecrets }), headerLength(raw) + raw.body.length, what);
  }
}

const CTXS = [
  makeContext(),
  makeContext({ showSecrets: true, protocolMinor: 2, authType: 10, paramTypes: [23, 25, 17, 16], columns: undefined }),
  makeContext({ authType: 11, saslMechanism: 'SCRAM-SHA-256' }),
  makeContext({ authType: 5 }),
  makeContext({ authType: 7, pendingRequest: 'gssenc' }),
];

test('random bodies for every type byte, both directions: no throw, schema-valid, sane trees', () => {
  const next = rng(0x5eed);
  let n = 0;
  for (const dir of ['frontend', 'backend'] as Direction[]) {
    for (let c = 0; c < 256; c++) {
      for (let k = 0; k < 12; k++) {
        const body = randomBody(next, k < 8 ? 24 : 300);
        const raw: RawMessage = rawMessage({ dir, code: String.fromCharCode(c), length: body.length + 4, body, offset: 0, firstFrame: 1, frame: 1, startTimeUs: 0, timeUs: 0 });
        exercise(raw, `${dir} 0x${c.toString(16)} #${k}`, [CTXS[k % CTXS.length]]);
        n++;
      }
    }
  }
  assert.ok(n >= 6000, `${n} bodies`);
});

test('random startup-phase packets and one-byte answers', () => {
  const next = rng(42);
  const codes = [196608, 196610, 80877102, 80877103, 80877104, 0, -1, 1234 << 16];
  for (let k = 0; k < 2000; k++) {
    const rest = randomBody(next, 64);
    const head = Buffer.alloc(4);
    head.writeInt32BE(codes[k % codes.length] | 0);
    const body = k % 16 === 0 ? rest.subarray(0, 3) : Buffer.concat([head, rest]);
    exercise(rawMessage({ dir: 'frontend', code: null, length: body.length + 4, body, offset: 0, firstFrame: 1, frame: 1, startTimeUs: 0, timeUs: 0 }), `startup #${k}`, [CTXS[k % CTXS.length]]);
  }
  for (let b = 0; b < 256; b++) {
    const body = Buffer.from([b]);
    exercise(rawMessage({ dir: 'backend', code: null, length: 1, body, offset: 0, firstFrame: 1, frame: 1, startTimeUs: 0, timeUs: 0 }), `answer ${b}`, CTXS);
  }
});

test('mutated well-formed messages (byte flips) never throw', () => {
  const next = rng(7);
  for (const e of catalogue()) {
    const raw = catalogueRaw(e);
    for (let k = 0; k < 60 && raw.body.length > 0; k++) {
      const body = Buffer.from(raw.body);
      const flips = 1 + (next() % 3);
      for (let i = 0; i < flips; i++) body[next() % body.length] = next() & 0xff;
      exercise(withBody(raw, body), `${e.type} mutated #${k}`, [CTXS[k % CTXS.length]]);
    }
  }
});

test('huge counts with tiny bodies are refused before allocating', () => {
  for (const [code, body] of [
    ['D', Buffer.from([0x7f, 0xff])],
    ['T', Buffer.from([0x7f, 0xff, 0, 0])],
    ['t', Buffer.from([0x7f, 0xff])],
    ['v', Buffer.from([0, 0, 0, 0, 0x7f, 0xff, 0xff, 0xff])],
  ] as const) {
    const m = dissect(rawMessage({ dir: 'backend', code, length: body.length + 4, body, offset: 0, firstFrame: 1, frame: 1, startTimeUs: 0, timeUs: 0 }), makeContext());
    assert.ok(m.type === 'Malformed' && m.fault === 'truncated', JSON.stringify(m));
  }
});

test('Unknown and Malformed raw hex is capped, with the true size', () => {
  const body = Buffer.alloc(100_000, 0x41);
  const m = dissect(rawMessage({ dir: 'frontend', code: 'Y', length: body.length + 4, body, offset: 0, firstFrame: 1, frame: 1, startTimeUs: 0, timeUs: 0 }), makeContext());
  assert.ok(m.type === 'Unknown' && m.size === 100_000 && m.raw.length === 8192);
  const q = dissect(rawMessage({ dir: 'frontend', code: 'Q', length: body.length + 4, body, offset: 0, firstFrame: 1, frame: 1, startTimeUs: 0, timeUs: 0 }), makeContext());
  assert.ok(q.type === 'Malformed' && q.size === 100_000 && q.raw.length === 8192);
});

test('a throwing context (or value decoder) becomes Malformed; the tree still renders', () => {
  const ctx = makeContext();
  ctx.resultColumns = () => {
    throw new Error('boom');
  };
  const body = Buffer.from([0, 1, 0, 0, 0, 1, 0x31]);
  const raw: RawMessage = rawMessage({ dir: 'backend', code: 'D', length: body.length + 4, body, offset: 0, firstFrame: 1, frame: 1, startTimeUs: 0, timeUs: 0 });
  const m = dissect(raw, ctx);
  assert.ok(m.type === 'Malformed' && m.name === 'DataRow' && /boom/.test(m.reason), JSON.stringify(m));
  assert.ok(decodedMessageSchema.safeParse(m).success);
  const tree = fieldTree(raw, m, { resultColumns: ctx.resultColumns });
  assert.equal(tree[tree.length - 1].key, 'pgsql.malformed');
});
