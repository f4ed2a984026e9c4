/**
 * dissectors/extended-query.ts reads a well-formed Bind straight from its bytes (bindRange, dissectors/ranges.ts)
 * and leaves anything else to the reader's field-by-field way. Both must give the same object
 * for every Bind the direct way accepts, and the direct way must accept the ordinary ones.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dissect } from '../dissectors/dissect.js';
import { Reader } from '../dissectors/reader.js';
import { lookup } from '../dissectors/registry.js';
import { bindRange } from '../dissectors/ranges.js';
import type { DissectContext } from '../dissectors/types.js';
import { bind, makeContext, toRaw, withBody } from './helpers/pg-builder.js';
import { prng } from './helpers/prng.js';

/** The reader's way: a tracing reader never takes the direct way. */
function readerWay(body: Buffer, ctx: DissectContext): unknown {
  const r = new Reader(body, true);
  const m = lookup('frontend', 'B').decode(r, ctx);
  r.finish();
  return r.fault === null ? m : null;
}

test('a Bind read from its bytes equals the reader\'s decoding, damaged or not', () => {
  const contexts = [makeContext(), makeContext({ paramTypes: [23, 25, 17, 16, 1700] }), makeContext({ paramTypes: [20] })];
  const params: Array<Array<Buffer | string | null>> = [
    [], ['1601'], ['1601', '448289'], [null, 'x', ''], ['42', 'text é', Buffer.from([0, 1, 0xff]), 't', '3.14'], ['not a number'],
  ];
  const bases: Buffer[] = [];
  for (const p of params) {
    for (const [pf, rf] of [[[], []], [[0], [0]], [[1], [1, 0]], [p.map(() => 1), []], [p.map((_, i) => i % 2), [1]]] as Array<[number[], number[]]>) {
      bases.push(bind('', 'P_1', p, pf, rf), bind('portal é', '', p, pf, rf));
    }
  }
  const next = prng(17);
  let direct = 0;
  let compared = 0;
  for (const wire of bases) {
    const base = toRaw('frontend', wire);
    const bodies = [base.body];
    for (let k = 0; k < 40; k++) {
      const b = Buffer.from(base.body);
      const at = Math.floor(next() * b.length);
      b[at] = [0, 1, 0xff, 0x7f, Math.floor(next() * 256)][Math.floor(next() * 5)]!;
      bodies.push(k % 4 === 0 ? b.subarray(0, Math.floor(next() * b.length)) : b);
    }
    for (const body of bodies) {
      for (const ctx of contexts) {
        const want = readerWay(body, ctx);
        const got = dissect(withBody(base, body), ctx);
        if (want === null) assert.notEqual(got.type, 'Bind', body.toString('hex'));
        else assert.deepEqual(got, want, body.toString('hex'));
        compared++;
      }
    }
    for (const ctx of contexts) if (bindRange(base.body, 0, base.body.length, ctx) !== null) direct++;
  }
  assert.ok(compared > 5000, `${compared} compared`);
  assert.equal(direct, bases.length * contexts.length, 'every well-formed Bind is read directly');
});
