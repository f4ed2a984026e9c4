/**
 * `stats` on the samples: the per-query call counts must be exactly what the generator ran
 * (samples/manifest.json), and the command prints them as JSON and as a table.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { projectRoot } from './helpers/public-captures.js';
import { knownWrong } from './helpers/driver-samples.js';
import { statsCommand } from '../src/cli/stats.js';
import { createNormalizer } from '../src/sinks/stats-normalize.js';
import { splitSql } from '../src/session/sql-split.js';
import type { StatsReport } from '../src/sinks/stats.js';
import type { Manifest } from '../scripts/sample-manifest.js';

const manifestPath = join(projectRoot, 'samples', 'manifest.json');
const manifest: Manifest | null = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest) : null;
const SKIP = manifest ? false : 'samples/manifest.json is absent (npm run samples makes it): stats comparison skipped';

class Capture extends Writable {
  text = '';
  override _write(chunk: Buffer | string, _enc: BufferEncoding, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

async function stats(file: string, json: boolean, ports: number[] = []): Promise<string> {
  const out = new Capture();
  const status = await statsCommand({ file, ports, json }, { stdout: out });
  assert.equal(status, 0);
  return out.text;
}

test('stats: calls per normalized query equal what the generator ran, for every sample', { skip: SKIP }, async (t) => {
  const normalizer = await createNormalizer();
  for (const sample of manifest!.samples) await t.test(sample.file, { todo: knownWrong(sample.file, 'stats') }, async () => {
    const want = new Map<string, number>();
    let total = 0;
    for (const step of sample.steps) {
      // a suspended portal fetched further is the same call
      if (step.continues) continue;
      if (step.functionCall) {
        const key = `<function call oid ${step.functionCall.oid}>`;
        want.set(key, (want.get(key) ?? 0) + 1);
        total++;
        continue;
      }
      const pieces = splitSql(step.sql);
      const texts = pieces.length <= 1 ? [step.sql] : pieces.map((p) => p.text);
      for (const t of texts) {
        const fp = normalizer.normalize(t).fingerprint;
        want.set(fp, (want.get(fp) ?? 0) + 1);
        total++;
      }
    }
    const report = JSON.parse(await stats(join(projectRoot, 'samples', sample.file), true, sample.pooler ? [sample.pooler.port] : [])) as StatsReport;
    const got = new Map(report.queries.map((q) => [q.fingerprint, q.calls]));
    assert.deepEqual(got, want, sample.file);
    assert.equal(report.totals.queries, total, sample.file);
    // Behind a pooler, its server connections are sessions too (the manifest lists the client legs).
    const poolerPort = sample.pooler ? `:${sample.pooler.port}` : null;
    const serverLegs = poolerPort === null ? 0 : report.sessions.filter((x) => !x.server.endsWith(poolerPort)).length;
    if (poolerPort !== null) assert.ok(serverLegs > 0, sample.file);
    assert.equal(report.totals.sessions, sample.connections.length + sample.cancelRequests + serverLegs, sample.file);
    const errors = sample.steps.filter((s) => s.error).length;
    assert.equal(report.totals.errors, errors, sample.file);
    const loginErrors = sample.connections.filter((c) => c.loginError).length;
    assert.equal(report.auth.outcomes['failure'] ?? 0, loginErrors, sample.file);
  });
});

test('stats: the N+1 sample as a table; pg_sleep(0.2) latency between 200 and 400 ms', { skip: SKIP }, async () => {
  const text = await stats(join(projectRoot, 'samples', 'n-plus-one.pcap'), false);
  const line = text.split('\n').find((l) => l.includes('AS author_id'));
  assert.ok(line, text);
  assert.match(line, /^\s*10\s+10\s+0\s/);
  assert.match(text, /Authentication: sasl 1; outcomes: success 1/);
  assert.match(text, /Encryption: none 1/);
  const slow = JSON.parse(await stats(join(projectRoot, 'samples', 'slow-query.pcap'), true)) as StatsReport;
  // the simple pg_sleep(0.2) and the extended pg_sleep($1) share one fingerprint
  assert.equal(slow.queries.length, 1);
  const q = slow.queries[0]!;
  assert.equal(q.calls, 2);
  assert.ok(q.p50Ms >= 200 && q.maxMs < 400, `${q.query}: ${q.p50Ms}..${q.maxMs} ms`);
});
