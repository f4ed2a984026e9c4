/**
 * A short fuzz run (scripts/fuzz.ts does long ones): a few thousand mutated samples and public
 * captures through the whole pipeline in worker threads, each within a bound of CPU time (of
 * its worker thread: a loaded machine stretches the run, not the verdict) and a heap bound, none
 * throwing out of the pipeline, and each shape's slowest input within its --memory-limit when run
 * alone. The work is fixed by the seed and the input count, so the test has no time limit of its
 * own. The seed is fixed so a failure here reproduces with
 * `npm run fuzz -- 1 --seed SEED --start INDEX`; PGSNIFF_FUZZ_SEED picks another.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { runFuzz } from '../scripts/fuzz-run.js';
import { analyzeFile } from '../src/pipeline/analyze.js';
import type { OutRecord } from '../src/pipeline/events.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../src/net/segment.js';
import { pcapngFile, tcpFrame } from './helpers/build-packets.js';
import { startup } from './helpers/pg-builder.js';

const SEED = Number(process.env.PGSNIFF_FUZZ_SEED ?? 20261126);
const INPUTS = Number(process.env.PGSNIFF_FUZZ_INPUTS ?? 3000);

test(`fuzz: ${INPUTS} mutated captures, seed ${SEED}`, async () => {
  const s = await runFuzz({ seed: SEED, iterations: INPUTS, workers: 2, timeoutMs: 5000, heapLimitMb: 512, heapCheckMb: 256 });
  const report = s.failures.map((f) => `${f.kind} at index ${f.index} (${f.source}; ${f.mutations.join(', ')}): ${f.message.split('\n')[0]} [saved ${f.saved}]`);
  assert.deepEqual(report, [], `fuzz failures with seed ${SEED}`);
  assert.equal(s.inputs, INPUTS);
  assert.ok(s.corpus >= 10, `corpus of ${s.corpus} captures`);
  // The mutations must actually hurt: most inputs carry damage the pipeline reports.
  assert.ok(s.anomalies > INPUTS / 2, `${s.anomalies} anomalies over ${INPUTS} inputs`);
  // Issue 19's shapes are each reported: their slowest input, and its peak resident size alone
  // (a peak over its --memory-limit is a failure above). .ci/run installs /usr/bin/time.
  for (const name of ['many connections', 'declared lengths', 'pending requests', 'conflicting overlaps', 'mutated captures']) {
    const shape = s.shapes[name];
    assert.ok(shape && shape.inputs > 0 && shape.slowestIndex >= 0, `shape ${name}: ${JSON.stringify(shape)}`);
    assert.ok(shape.peakRssMb !== null && shape.peakRssMb > 20, `shape ${name}: peak RSS ${shape.peakRssMb} (${s.rssNote ?? ''})`);
    assert.ok(shape.peakRssMb <= shape.ceilingMb);
  }
});

// Found by the long fuzz run (seed 424242, input 11687: a bit flip in a pcapng timestamp):
// a time past Date's range threw a RangeError out of record building.
test('a packet timestamp far past year 9999 dates records at the clamp instead of throwing', async () => {
  const frames = [
    tcpFrame({ sport: 40000, dport: 5432, seq: 1, flags: TCP_SYN }),
    tcpFrame({ sport: 5432, dport: 40000, seq: 9, ack: 2, flags: TCP_SYN | TCP_ACK }),
    tcpFrame({ sport: 40000, dport: 5432, seq: 2, flags: TCP_PSH | TCP_ACK, payload: startup({ user: 'u' }) }),
  ];
  const data = pcapngFile([
    { block: 'idb', linkType: 1 },
    ...frames.map((data, i) => ({ block: 'epb' as const, data, ts: i === 2 ? 0xffff_ffff_ffff_ff00n : BigInt(1_700_000_000_000_000 + i) })),
  ]);
  const records: OutRecord[] = [];
  await analyzeFile(Readable.from([data]), { record: (r) => { records.push(r); } });
  const msg = records.find((r) => r.kind === 'message');
  assert.ok(msg, JSON.stringify(records));
  assert.equal(msg.time, '9999-12-31T23:59:59.000000Z');
});
