import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from './helpers/prng.js';
import { RequestQueue, MAX_PENDING, type Request } from '../src/session/request-queue.js';

const sync = (seq: number): Request => ({ kind: 'sync', seq, timeUs: 0 });
/** A request's number: a Sync's seq, or a Query's (pushQuery: its SQL, frame and time say the number too). */
const seqOf = (r: Request | undefined): number | undefined => {
  if (r?.kind === 'sync') return r.seq;
  if (r?.kind !== 'query') return undefined;
  assert.equal(r.sql, `SELECT ${r.seq}`);
  assert.equal(r.firstFrame, r.seq + 1);
  assert.equal(r.reqTimeUs, 1_700_000_000_000_000 + r.seq);
  assert.deepEqual([r.pieces.length, r.index, r.exec, r.failed], [0, 0, null, false]);
  return r.seq;
};

test('RequestQueue: first in, first out, across emptyings, compaction and the cap (requests and Queries waiting as numbers, mixed)', () => {
  const q = new RequestQueue();
  assert.equal(q.peek(), undefined);
  assert.equal(q.shift(), undefined);
  // a model to compare with: a plain array
  const model: number[] = [];
  let next = 0;
  const random = prng(12345);
  let capped = 0;
  let emptied = 0;
  for (let step = 0; step < 200_000; step++) {
    const x = Math.floor(random() * 0x100000000);
    const burst = step % 50_000 < 15_000; // long runs of pushes reach compaction and the cap
    if (burst ? x % 10 < 9 : x % 10 < 3) {
      // Every third request a Query that waits as its SQL and numbers (pushQuery), in runs and alone.
      const dropped = (x >>> 8) % 3 === 0
        ? q.pushQuery(`SELECT ${next}`, next + 1, 1_700_000_000_000_000 + next, next, 20)
        : q.push(sync(next), 100);
      if (model.length >= MAX_PENDING) {
        capped++;
        assert.equal(seqOf(dropped), model.shift());
      } else assert.equal(dropped, undefined);
      model.push(next++);
    } else {
      assert.equal(seqOf(q.shift()), model.shift());
      if (model.length === 0) emptied++;
    }
    assert.equal(q.size, model.length);
    assert.equal(seqOf(q.peek()), model[0]);
    const i = x % 70;
    assert.equal(seqOf(q.at(i)), model[i]);
  }
  assert.equal(q.at(-1), undefined);
  assert.ok(capped > 0 && emptied > 0, `${capped} pushed out at the cap, emptied ${emptied} times`);
});
