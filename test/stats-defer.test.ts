/**
 * The stats sink groups query records by SQL text and runs libpg-query once per text when the
 * report is made. Its report must be the one normalizing every record as it comes gives (the
 * reference, `defer: false`): same fingerprints, texts, examples, counts, latencies to the last
 * digit, same order, as JSON and as text. Checked on every sample and public capture, and on
 * synthetic records that reach the corners: many texts of one fingerprint (latency samples
 * replayed in record order), more distinct texts than are held (the switch to per-record
 * normalization), SQL too long to parse, records without SQL, the fingerprint cap, a report
 * made in the middle of the input. The same with the parser loaded only after the pass
 * (lazyParser, what `pgsniff stats` does), or when the groups need it.
 */
import { test } from 'node:test';
import { prng } from './helpers/prng.js';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { analyzeFile } from '../src/pipeline/analyze.js';
import type { OutRecord, PipelineSink } from '../src/pipeline/events.js';
import { StatsSink, MAX_GROUPS, MAX_FINGERPRINTS, MAX_HELD_SAMPLES } from '../src/sinks/stats.js';
import { formatStatsText } from '../src/sinks/stats-format.js';
import { createLazyNormalizer, createNormalizer, PARSE_LIMIT, type Normalizer } from '../src/sinks/stats-normalize.js';
import { EXACT_LIMIT } from '../src/sinks/stats-latency.js';
import type { QueryRecord } from '../src/session/schema.js';
import { publicCapture, publicCaptures, sampleCaptures, SKIP_NO_PUBLIC } from './helpers/public-captures.js';
import { q, s } from './helpers/records.js';

/** Server ports of the public captures not on 5432 (see their INDEX.md). */
const PORTS = [8000, 15432, 60102];

class Pair implements PipelineSink {
  constructor(readonly ref: StatsSink, readonly deferred: StatsSink) {}
  record(r: OutRecord): void {
    this.ref.record(r);
    this.deferred.record(r);
  }
  query(r: QueryRecord): void {
    this.ref.query(r);
    this.deferred.query(r);
  }
  same(what: string): void {
    const a = this.ref.report();
    const b = this.deferred.report();
    assert.deepEqual(b, a, what);
    assert.equal(formatStatsText(b, { limit: 100_000 }), formatStatsText(a, { limit: 100_000 }), what);
    assert.equal(JSON.stringify(b), JSON.stringify(a), what);
  }
}

let normalizer: Normalizer | null = null;
async function pair(): Promise<Pair> {
  normalizer ??= await createNormalizer();
  return new Pair(new StatsSink(normalizer, { defer: false }), new StatsSink(normalizer));
}

async function compareFile(path: string): Promise<void> {
  const p = await pair();
  const keylog = path.replace(/\.pcapng?$/, '.keylog');
  await analyzeFile(path, p, { ports: PORTS, messages: false, keylog: existsSync(keylog) ? keylog : null });
  p.same(path);
}

test('deferred normalization: the same report as per record, on every sample', async () => {
  const files = sampleCaptures();
  assert.ok(files.length > 0);
  for (const f of files) await compareFile(f);
});

test('deferred normalization: the same report as per record, on every public capture', { skip: publicCaptures() === null ? SKIP_NO_PUBLIC : false }, async () => {
  for (const rel of publicCaptures()!) await compareFile(publicCapture(rel));
});

/** A deterministic stream of latencies in whole microseconds, as the tracker makes them. */
function* micros(seed: number): Generator<number> {
  const random = prng(seed);
  for (;;) yield Math.floor(random() * 5000) / 1000;
}

test('deferred normalization: texts sharing a fingerprint are merged with their samples in record order', async () => {
  const p = await pair();
  const lat = micros(7);
  // Interleaved literals, three sessions, errors, skips: sums and means with ties at the third decimal.
  for (let i = 0; i < 3000; i++) {
    const sql = i % 3 === 0 ? `select * from t where id = ${i % 17}` : i % 3 === 1 ? `SELECT * FROM t WHERE id = ${i % 5}` : `select  *  from t where id = $1`;
    p.query(q({ sql, session: i % 3, durationMs: lat.next().value!, rows: i % 4, parsed: i % 7 === 0, protocol: i % 2 ? 'extended' : 'simple' }));
    if (i % 50 === 0) p.query(q({ sql: `select * from t where id = ${i}`, skipped: true, durationMs: null }));
    if (i % 40 === 0) {
      p.query(q({ sql: `insert into t values (${i})`, durationMs: 0.0015, error: { severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate: '23505', message: 'dup' } }));
    }
  }
  // Two texts, one fingerprint: summed text by text, these four make 178.558 and the mean rounds
  // to 44.640; in record order the sum is 178.55799999999996 and the mean 44.639.
  [73.014, 74.167, 1.7, 29.677].forEach((ms, i) => p.query(q({ sql: i % 2 ? 'select 2 as tie' : 'select 1 as tie', durationMs: ms })));
  p.record(s({ session: 0 }));
  p.record(s({ session: 1 }));
  p.same('merged texts');
});

test('deferred normalization: a text with more than EXACT_LIMIT samples, alone and beside others', async () => {
  const p = await pair();
  const lat = micros(11);
  for (let i = 0; i < EXACT_LIMIT + 500; i++) p.query(q({ sql: 'select * from big where a = $1', durationMs: lat.next().value! }));
  for (let i = 0; i < 300; i++) p.query(q({ sql: `select * from big where a = ${i}`, durationMs: lat.next().value! }));
  for (let i = 0; i < 20; i++) p.query(q({ sql: 'select * from alone', durationMs: lat.next().value! }));
  const a = p.ref.report();
  const b = p.deferred.report();
  const big = (r: typeof a) => r.queries.find((x) => x.query.includes('from big'))!;
  // The only liberty taken: a histogram merge adds the sum in another order (its last bit).
  assert.ok(Math.abs(big(a).totalMs - big(b).totalMs) <= 0.001);
  assert.deepEqual({ ...big(b), totalMs: 0, meanMs: 0 }, { ...big(a), totalMs: 0, meanMs: 0 });
  assert.deepEqual(b.queries.filter((x) => !x.query.includes('from big')), a.queries.filter((x) => !x.query.includes('from big')));
  assert.deepEqual(b.totals, a.totals);
});

test('deferred normalization: records without SQL, SQL too long to parse, SQL the parser rejects', async () => {
  const p = await pair();
  const long = 'INSERT INTO t VALUES ' + Array.from({ length: PARSE_LIMIT / 8 }, (_, i) => `(${i})`).join(', ');
  assert.ok(long.length > PARSE_LIMIT);
  for (let i = 0; i < 30; i++) {
    p.query(q({ sql: null, protocol: 'extended', statement: `S_${i % 3}`, durationMs: i / 1000 }));
    p.query(q({ sql: null, protocol: 'function', function: { oid: 1598 + (i % 2), result: null }, durationMs: (i * 3) / 1000 }));
    p.query(q({ sql: i % 2 ? long : long.toUpperCase(), durationMs: (i * 7) / 1000 }));
    p.query(q({ sql: `selec ${i} frm broken`, durationMs: (i * 11) / 1000 }));
    p.query(q({ sql: `SELEC ${i + 1} FRM broken`, durationMs: (i * 13) / 1000 }));
  }
  p.same('no SQL, long SQL, rejected SQL');
});

test('deferred normalization: past MAX_GROUPS distinct texts, per-record normalization takes over with the same result', async () => {
  const p = await pair();
  const lat = micros(3);
  // Identifiers, not literals: each text its own fingerprint, so the fingerprint cap is reached too.
  const n = Math.max(MAX_GROUPS, MAX_FINGERPRINTS) + 2000;
  for (let i = 0; i < n; i++) {
    p.query(q({ sql: `select c${i} from t${i % 7}`, durationMs: lat.next().value! }));
    if (i % 3 === 0) p.query(q({ sql: `select c${i % 50} from t${i % 7}`, durationMs: lat.next().value! }));
  }
  p.same('many texts');
  const r = p.deferred.report();
  assert.ok(r.queries.some((x) => x.fingerprint === 'other'));
});

test('deferred normalization: a report in the middle of the input, then more records', async () => {
  const p = await pair();
  const lat = micros(5);
  const feed = (from: number, to: number): void => {
    for (let i = from; i < to; i++) p.query(q({ sql: `select x from y where z = ${i % 9}${i % 2 ? '' : ' and w = 1'}`, durationMs: lat.next().value! }));
  };
  feed(0, 500);
  p.same('first half');
  feed(500, 1000);
  p.same('second half');
});

test('deferred normalization: past MAX_HELD_SAMPLES latency samples held for the merge, the same switch', async () => {
  const p = await pair();
  const lat = micros(9);
  // texts under EXACT_LIMIT calls each, so every sample is held with its sequence number
  const texts = Math.ceil((MAX_HELD_SAMPLES + 50_000) / (EXACT_LIMIT - 1));
  for (let i = 0; i < MAX_HELD_SAMPLES + 50_000; i++) {
    p.query(q({ sql: `select v from t where k = ${i % texts} and w = ${i % 3}`, durationMs: lat.next().value! }));
  }
  p.same('many samples');
});

/** A pair whose deferred side loads libpg-query only when it needs it (what `pgsniff stats` runs). */
async function lazyPair(): Promise<{ p: Pair; lazy: ReturnType<typeof createLazyNormalizer> }> {
  normalizer ??= await createNormalizer();
  const lazy = createLazyNormalizer();
  return { p: new Pair(new StatsSink(normalizer, { defer: false }), new StatsSink(lazy)), lazy };
}

test('lazy parser: the same report as per record on every sample, the parser loaded after the pass', async () => {
  for (const f of sampleCaptures()) {
    const { p, lazy } = await lazyPair();
    const keylog = f.replace(/\.pcapng?$/, '.keylog');
    await analyzeFile(f, p, { ports: PORTS, messages: false, keylog: existsSync(keylog) ? keylog : null });
    assert.equal(lazy.loaded, false, `${f}: a pass under MAX_GROUPS texts needs no parser`);
    assert.throws(() => p.deferred.report(), /before loadParser/);
    await p.deferred.loadParser();
    assert.equal(lazy.loaded, true);
    p.same(f);
  }
});

test('lazy parser: past MAX_GROUPS the groups wait for the parser (ready()), then per-record normalization, the same result', async () => {
  const { p, lazy } = await lazyPair();
  const lat = micros(13);
  const n = MAX_GROUPS + 3000;
  let waited = 0;
  for (let i = 0; i < n; i++) {
    // a few texts that begin with NUL: grouped by text too, apart from the keys known at once
    const sql = i % 997 === 0 ? `\0select c${i % 3} from nul` : `select c${i} from t${i % 7}`;
    p.query(q({ sql, durationMs: lat.next().value! }));
    // as a file source does after each chunk of the capture
    if (i % 256 === 0) {
      const behind = p.deferred.ready();
      if (behind !== null) {
        waited++;
        await behind;
      }
    }
  }
  assert.equal(lazy.loaded, true, 'the groups past MAX_GROUPS loaded the parser');
  assert.ok(waited > 0, 'ready() made the source wait for it');
  p.same('many texts, parser loaded on demand');
});
