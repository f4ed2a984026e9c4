/**
 * Typed values against the truth: in samples/data-types.pcap the `pg` client sent parameters of
 * many types and received them back, once in text and once in binary result format. The sample
 * generator recorded what it sent and received (samples/manifest.json). The decoded Bind
 * parameters must equal what was sent, the text DataRow what was received, and the binary DataRow
 * must decode to the same values as the text one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './helpers/public-captures.js';
import { collect, messagesOf } from './helpers/run-pipeline.js';
import type { TypedValue } from '../dissectors/types.js';

interface Step { sql: string; resultFormat: string; params: Array<{ type: string; format: string; value: string | null }>; values: Array<Array<string | null>> }
const manifest = JSON.parse(readFileSync(join(projectRoot, 'samples', 'manifest.json'), 'utf8')) as { samples: Array<{ file: string; steps: Step[] }> };
const sample = manifest.samples.find((s) => s.file === 'data-types.pcap')!;
const path = join(projectRoot, 'samples', 'data-types.pcap');

/** What PostgreSQL's text output would be for a decoded text-format value. */
function asPgText(v: TypedValue): unknown {
  const x = v.value;
  if (x === null) return null;
  if (typeof x === 'boolean') return x ? 't' : 'f';
  if (typeof x === 'number') return String(x);
  return x;
}

test('data-types: Bind parameters equal what the client sent', async () => {
  const { records } = await collect(path);
  const binds = messagesOf(records, 'Bind');
  assert.equal(binds.length, sample.steps.length);
  binds.forEach((b, i) => {
    const sent = sample.steps[i].params;
    const got = b.params as TypedValue[];
    assert.equal(got.length, sent.length);
    sent.forEach((p, j) => {
      assert.equal(got[j].format, p.format, `param ${j + 1} format`);
      const want = p.value === null ? null : p.format === 'binary' ? `\\x${p.value}` : p.value;
      assert.equal(got[j].value, want, `param ${j + 1} (${p.type})`);
    });
  });
});

test('data-types: the text DataRow equals what the client received', async () => {
  const { records } = await collect(path);
  const rows = messagesOf(records, 'DataRow');
  const textStep = sample.steps.findIndex((s) => s.resultFormat === 'text');
  const got = rows[textStep].values as TypedValue[];
  const want = sample.steps[textStep].values[0];
  want.forEach((w, j) => {
    const v = got[j];
    assert.equal(v.format, 'text');
    if (v.typeName === 'json' || v.typeName === 'jsonb') assert.deepEqual(v.value, JSON.parse(w!), `column ${j + 1}`);
    else if (Array.isArray(v.value)) assert.ok(w !== null && w.startsWith('{'), `column ${j + 1} is an array literal`);
    else assert.equal(asPgText(v), w, `column ${j + 1} (${v.typeName})`);
  });
  // Arrays: decoded element by element.
  assert.deepEqual(got[16].value, [1, null, -3]);
  assert.deepEqual(got[17].value, ['a b', 'c,d', null, 'q"uote']);
});

test('data-types: binary and text result formats decode to the same values', async () => {
  const { records } = await collect(path);
  const rows = messagesOf(records, 'DataRow');
  const t = rows[sample.steps.findIndex((s) => s.resultFormat === 'text')].values as TypedValue[];
  const b = rows[sample.steps.findIndex((s) => s.resultFormat === 'binary')].values as TypedValue[];
  assert.equal(b.length, t.length);
  for (let j = 0; j < t.length; j++) {
    assert.equal(b[j].format, 'binary');
    assert.equal(b[j].oid, t[j].oid);
    assert.deepEqual(b[j].value, t[j].value, `column ${j + 1} (${t[j].typeName})`);
  }
});
