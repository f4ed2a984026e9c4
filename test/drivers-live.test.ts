/**
 * The real drivers and PgBouncer, live: the sample generator runs the driver and pooler
 * scenarios (scripts/sample-drivers.ts, scripts/sample-pooler.ts) against a fresh PostgreSQL 18
 * into a temporary directory, and pgsniff's records of each new capture are compared with what
 * the drivers reported there. The committed samples pin one generation; this test checks the
 * drivers CI installs today (Debian's python3-psycopg2, python3-psycopg, python3-asyncpg,
 * python3-sqlalchemy, libpostgresql-jdbc-java with default-jdk-headless, pgbouncer).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './helpers/public-captures.js';
import { tempDir } from './helpers/temp-dir.js';
import { knownWrong } from './helpers/driver-samples.js';
import { analyzeFile } from '../src/pipeline/analyze.js';
import type { QueryRecord, SessionRecord } from '../src/session/schema.js';
import type { Manifest, ManifestSample } from '../scripts/sample-manifest.js';

const SCENARIOS = ['psycopg2', 'psycopg3', 'asyncpg', 'sqlalchemy', 'pgjdbc', 'pgbouncer'];
const root = process.getuid?.() === 0;

async function records(path: string, ports: number[]): Promise<{ queries: QueryRecord[]; sessions: SessionRecord[] }> {
  const queries: QueryRecord[] = [];
  const sessions: SessionRecord[] = [];
  await analyzeFile(path, {
    record: (r) => {
      if (r.kind === 'query') queries.push(r as QueryRecord);
      else if (r.kind === 'session') sessions.push(r as SessionRecord);
    },
  }, { messages: false, ports });
  return { queries, sessions };
}

/** Per client connection (in order), what pgsniff made of each Query / Execute: tag or SQLSTATE. */
function outcomes(sample: ManifestSample, queries: QueryRecord[], sessions: SessionRecord[]): string[][] {
  const clients = sessions
    .filter((s) => s.cancel === null && (!sample.pooler || s.server.port === sample.pooler.port))
    .sort((a, b) => a.session - b.session);
  return clients.map((s) =>
    queries
      .filter((q) => q.session === s.session && !q.skipped)
      .map((q) => q.error?.sqlstate ?? q.command ?? (q.suspended ? 'suspended' : '?')),
  );
}

function wanted(sample: ManifestSample): string[][] {
  return sample.connections.map((_, i) =>
    sample.steps
      .filter((st) => st.connection === i)
      .flatMap((st) => (st.error ? [st.error.sqlstate] : st.commands?.length ? st.commands : ['suspended'])),
  );
}

test('the drivers and PgBouncer, run now, are recorded as they reported', { skip: root ? false : 'the generator captures on loopback: needs root' }, async (t) => {
  const dir = tempDir('pgsniff-drivers-live-');
  const gen = spawnSync(process.execPath, [join(projectRoot, 'dist', 'scripts', 'make-samples.js'), '--only', SCENARIOS.join(','), '--out', dir], {
    encoding: 'utf8',
    timeout: 240000,
  });
  assert.equal(gen.status, 0, `make-samples failed: ${gen.stderr.slice(-3000)}`);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(manifest.samples.map((s) => s.name).sort(), [...SCENARIOS].sort());
  for (const sample of manifest.samples) {
    await t.test(sample.name, { todo: knownWrong(sample.file, 'records') }, async () => {
      const { queries, sessions } = await records(join(dir, sample.file), sample.pooler ? [sample.pooler.port] : []);
      assert.deepEqual(outcomes(sample, queries, sessions), wanted(sample));
    });
  }
});
