/**
 * FanOut (src/sinks/fan-out.ts) routes by what each sink declares (SinkNeeds): raw messages and
 * executions to the sinks that take those, message and query records only to the sinks that
 * take records, everything else to all; it declares the union of its sinks' needs, so the
 * pipeline builds a record only when some sink takes it. Run through the real pipeline on a
 * sample, in full and in summary query detail (a summary tracker hands out no executions: its
 * query records go to every sink that takes queries).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeFile } from '../src/pipeline/analyze.js';
import { FanOut } from '../src/sinks/fan-out.js';
import type { OutRecord, PipelineSink, SinkNeeds } from '../src/pipeline/events.js';
import { sampleCaptures } from './helpers/public-captures.js';

class Counting implements PipelineSink {
  raw = 0;
  executions = 0;
  frames = 0;
  sizes = 0;
  readonly kinds = new Map<string, number>();
  constructor(readonly needs?: SinkNeeds) {}
  rawMessage(): void { this.raw++; }
  queryExecution(): void { this.executions++; }
  frame(): void { this.frames++; }
  packetSize(): void { this.sizes++; }
  record(rec: OutRecord): void { this.kinds.set(rec.kind, (this.kinds.get(rec.kind) ?? 0) + 1); }
  count(kind: string): number { return this.kinds.get(kind) ?? 0; }
}

test('FanOut declares the union of its sinks\' needs', () => {
  const f = (...n: Array<SinkNeeds | undefined>) => new FanOut(n.map((x) => new Counting(x))).needs;
  assert.deepEqual(f({ messages: 'raw', queries: 'executions' }), { frames: false, packetSizes: false, messages: 'raw', queries: 'executions' });
  assert.deepEqual(f({ messages: 'raw', queries: 'executions' }, undefined), { frames: false, packetSizes: false, messages: 'both', queries: 'both' });
  assert.deepEqual(f({ messages: 'none', queries: 'none' }, { frames: true, packetSizes: true, messages: 'none', queries: 'none' }),
    { frames: true, packetSizes: true, messages: 'none', queries: 'none' });
});

test('FanOut: each sink gets what it declared, once, in full and summary detail', async () => {
  const file = sampleCaptures().find((p) => p.endsWith('extended-query.pcap'));
  assert.ok(file, 'samples/extended-query.pcap');
  for (const detail of ['full', 'summary'] as const) {
    const all = new Counting();
    await analyzeFile(file, all, { queryDetail: detail });
    const fast = new Counting({ messages: 'raw', queries: 'executions' });
    const records = new Counting({ frames: true });
    const counter = new Counting({ packetSizes: true, messages: 'none', queries: 'none' });
    await analyzeFile(file, new FanOut([fast, records, counter]), { queryDetail: detail });
    const what = `${detail}`;
    assert.ok(all.count('message') > 10 && all.count('query') > 3, what);
    // records: everything, as the sink alone got it, and every frame
    assert.deepEqual([...records.kinds].sort(), [...all.kinds].sort(), what);
    assert.ok(records.frames > 0 && records.sizes === 0 && records.raw === 0 && records.executions === 0, what);
    // fast: messages raw, queries as executions (full) or as records (summary: there are no executions), the rest as records
    assert.equal(fast.raw, all.count('message'), what);
    assert.equal(fast.count('message'), 0, what);
    if (detail === 'full') assert.deepEqual([fast.executions, fast.count('query')], [all.count('query'), 0], what);
    else assert.deepEqual([fast.executions, fast.count('query')], [0, all.count('query')], what);
    assert.equal(fast.count('session'), all.count('session'), what);
    assert.equal(fast.frames, 0, what);
    // counter: sizes, no messages or queries
    assert.ok(counter.sizes >= records.frames && counter.count('message') === 0 && counter.count('query') === 0 && counter.raw === 0, what);
    assert.equal(counter.count('session'), all.count('session'), what);
  }
});
