import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from './helpers/prng.js';
import { RequestQueue, MAX_PENDING, type Request } from '../src/session/request-queue.js';

const sync = (seq: number): Request => ({ kind: 'sync', seq, timeUs: 0 });
const seqOf = (r: Request | undefined): number | undefined => (r?.kind === 'sync' ? r.seq : undefined);

test('RequestQueue: first in, first out, across emptyings, compaction and the cap', () => {
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
      const dropped = q.push(sync(next), 100);
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
