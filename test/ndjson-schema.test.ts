/**
 * Every record the pipeline exports, on every public capture and sample, validates against the
 * published zod schemas (the JSON contract CI jobs assert on), and the envelope keys hold their
 * promises: 1-based frames, ISO times with microseconds, sessions as connection indexes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { publicCaptures, publicCapture, sampleCaptures, SKIP_NO_PUBLIC } from './helpers/public-captures.js';
import { collect } from './helpers/run-pipeline.js';
import { validateRecord, recordJsonSchema } from '../src/pipeline/schema.js';

async function checkFile(path: string, ports: number[] = []): Promise<number> {
  const { records } = await collect(path, { ports, keepRows: true });
  let n = 0;
  for (const rec of records) {
    const problem = validateRecord(rec);
    assert.equal(problem, null, `${basename(path)} frame ${rec.frame} ${rec.kind} ${String((rec as { type?: unknown }).type ?? '')}: ${problem}\n${JSON.stringify(rec).slice(0, 400)}`);
    // The record must be plain JSON data: no undefined, bigint, Buffer, NaN or Infinity.
    const bad = notJson(rec, '');
    assert.equal(bad, null, `${basename(path)} frame ${rec.frame}: ${bad}`);
    n++;
  }
  return n;
}

function notJson(v: unknown, path: string): string | null {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return null;
  if (typeof v === 'number') return Number.isFinite(v) ? null : `${path} is ${v}`;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      const b = notJson(v[i], `${path}[${i}]`);
      if (b) return b;
    }
    return null;
  }
  if (typeof v === 'object' && !Buffer.isBuffer(v)) {
    for (const [k, x] of Object.entries(v)) {
      const b = notJson(x, `${path}.${k}`);
      if (b) return b;
    }
    return null;
  }
  return `${path} is ${typeof v}`;
}

const corpus = publicCaptures();
test('every record from the public captures validates against the schemas', { skip: corpus === null ? SKIP_NO_PUBLIC : false }, async () => {
  let total = 0;
  for (const rel of corpus!) {
    const port = /-15432\.pcap$/.test(rel) ? [15432] : rel.includes('pgsql-all') ? [8000] : rel.includes('pgsql2') ? [60102] : [];
    total += await checkFile(publicCapture(rel), port);
  }
  assert.ok(total > 5000, `${total} records`);
});

test('every record from the samples validates against the schemas', async () => {
  for (const path of sampleCaptures()) await checkFile(path);
});

test('the JSON Schema document is printable and names all four record kinds', () => {
  const s = JSON.stringify(recordJsonSchema());
  for (const kind of ['message', 'query', 'session', 'anomaly']) assert.ok(s.includes(`"const":"${kind}"`), kind);
});
