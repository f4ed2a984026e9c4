/**
 * The committed samples against their manifest, and against tshark as an independent decoder:
 * every pcap is valid and listed, the manifest has the documented shape, and tshark's pgsql
 * decode of each sample has the Query/Parse texts, CommandComplete tags, SQLSTATEs, DataRow
 * values, notifications and CancelRequests the manifest records. Tests of other stages rely on
 * the manifest being right; this is what says it is.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { projectRoot, sampleCaptures, tshark, SKIP_NO_TSHARK } from './helpers/public-captures.js';
import type { Manifest, ManifestSample } from '../scripts/sample-manifest.js';

const samplesDir = join(projectRoot, 'samples');
const manifestPath = join(samplesDir, 'manifest.json');
const SKIP_NO_SAMPLES = 'samples/manifest.json is absent (npm run samples): sample checks skipped';
const haveManifest = existsSync(manifestPath);

const sqlstate = z.string().regex(/^[0-9A-Z]{5}$/);
const value = z.union([z.string(), z.null(), z.object({ length: z.number().int().nonnegative(), md5: z.string().regex(/^[0-9a-f]{32}$/) })]);
const stepSchema = z.object({
  connection: z.number().int().nonnegative(),
  protocol: z.enum(['simple', 'extended', 'function']),
  sql: z.string(),
  statement: z.string().optional(),
  parse: z.boolean().optional(),
  params: z.array(z.object({ type: z.string().min(1), format: z.enum(['text', 'binary']), value: z.string().nullable() })).optional(),
  resultFormat: z.enum(['text', 'binary']).optional(),
  commands: z.array(z.string().min(1)).optional(),
  rows: z.number().int().nonnegative().optional(),
  columns: z.array(z.object({ name: z.string(), typeOid: z.number().int().positive(), format: z.enum(['text', 'binary']) })).optional(),
  values: z.array(z.array(value)).optional(),
  binaryValues: z.array(z.array(z.string().regex(/^([0-9a-f]{2})*$/).nullable())).optional(),
  emptyQuery: z.boolean().optional(),
  error: z.object({ sqlstate, severity: z.string(), message: z.string().min(1) }).optional(),
  notices: z.array(z.object({ severity: z.string(), sqlstate, message: z.string() })).optional(),
  copy: z.object({ direction: z.enum(['in', 'out']), format: z.enum(['text', 'binary']), rows: z.number().int(), bytes: z.number().int(), md5: z.string() }).optional(),
  cancelled: z.boolean().optional(),
  minDurationMs: z.number().positive().optional(),
  note: z.string().optional(),
});
const connectionSchema = z.object({
  client: z.enum(['pg', 'postgres.js', 'psql', 'raw', 'psycopg2', 'psycopg', 'asyncpg', 'sqlalchemy', 'pgjdbc']),
  user: z.string().min(1),
  database: z.string().min(1),
  applicationName: z.string().min(1),
  auth: z.enum(['scram-sha-256', 'md5', 'password', 'trust']),
  clientPort: z.number().int().positive().max(65535).nullable(),
  loginError: sqlstate.nullable(),
  sslRequest: z.boolean().optional(),
  notifications: z.array(z.object({ channel: z.string(), payload: z.string(), from: z.number().int() })).optional(),
  note: z.string().optional(),
});
const manifestSchema = z.object({
  generator: z.string(),
  command: z.string(),
  server: z.object({ version: z.string().regex(/^\d+/), host: z.literal('127.0.0.1'), port: z.number().int().positive(), database: z.string(), settings: z.record(z.string(), z.string()) }),
  capture: z.object({ iface: z.string(), mtu: z.number().int().nullable(), privateNetns: z.boolean() }),
  clients: z.record(z.string(), z.string()),
  samples: z.array(
    z.object({
      file: z.string().regex(/^[a-z0-9-]+\.pcap$/),
      name: z.string().regex(/^[a-z0-9-]+$/),
      title: z.string().min(1),
      description: z.string().min(1),
      decode: z.array(z.string().min(1)).min(1),
      frames: z.number().int().positive(),
      bytes: z.number().int().positive(),
      linkType: z.number().int(),
      cancelRequests: z.number().int().nonnegative(),
      connections: z.array(connectionSchema).min(1),
      steps: z.array(stepSchema),
    }),
  ),
});

function loadManifest(): Manifest {
  return JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest;
}

/** Counts of each string, for comparing multisets. */
function counts(xs: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const x of xs) m.set(x, (m.get(x) ?? 0) + 1);
  return m;
}

function sortedEntries(m: Map<string, number>): [string, number][] {
  return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

test('the manifest has the documented shape and its files exist', { skip: haveManifest ? false : SKIP_NO_SAMPLES }, (t) => {
  const raw: unknown = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const parsed = manifestSchema.safeParse(raw);
  assert.ok(parsed.success, parsed.success ? '' : JSON.stringify(parsed.error.issues.slice(0, 5)));
  const m = loadManifest();
  const present = new Set(sampleCaptures().map((p) => basename(p)));
  for (const s of m.samples) assert.ok(present.has(s.file), `${s.file} is in the manifest but not in samples/`);
  // Other stages add captures of their own to samples/ (TLS, with key logs); they are not the
  // generator's and are described elsewhere.
  const others = [...present].filter((f) => !m.samples.some((s) => s.file === f));
  if (others.length) t.diagnostic(`samples not from the generator: ${others.join(', ')}`);
  assert.equal(new Set(m.samples.map((s) => s.name)).size, m.samples.length, 'sample names are unique');
  for (const s of m.samples) {
    assert.equal(s.file, `${s.name}.pcap`);
    assert.equal(statSync(join(samplesDir, s.file)).size, s.bytes, `${s.file} size`);
    for (const c of s.connections) assert.equal(c.applicationName, s.name, `${s.file}: application_name is the scenario name`);
    for (const st of s.steps) {
      assert.ok(st.connection < s.connections.length, `${s.file}: step connection index`);
      assert.equal(s.connections[st.connection]!.loginError, null, `${s.file}: steps only on connections that logged in`);
      if (st.protocol === 'extended') assert.equal(typeof st.statement, 'string', `${s.file}: extended steps name their statement`);
      if (st.values && st.columns) for (const row of st.values) assert.equal(row.length, st.columns.length, `${s.file}: ${st.sql}`);
      if (st.values) assert.equal(st.values.length, st.rows, `${s.file}: values listed for every row of ${st.sql}`);
      if (st.cancelled) assert.equal(st.error?.sqlstate, '57014');
    }
    for (const c of s.connections) for (const n of c.notifications ?? []) assert.ok(n.from >= 0 && n.from < s.connections.length);
  }
});

test('the samples stay under 2 MB together and cover the scenarios the brief asks for', { skip: haveManifest ? false : SKIP_NO_SAMPLES }, () => {
  const m = loadManifest();
  const total = m.samples.reduce((n, s) => n + s.bytes, 0);
  assert.ok(total < 2 * 1024 * 1024, `${total} bytes`);
  const all = m.samples.flatMap((s) => s.steps);
  assert.ok(all.some((s) => s.protocol === 'simple' && (s.commands?.length ?? 0) > 1), 'a multi-statement Query');
  assert.ok(all.some((s) => s.parse === false), 'a reused named statement');
  assert.ok(all.some((s) => s.resultFormat === 'binary' && s.binaryValues), 'binary results');
  assert.ok(all.some((s) => s.error), 'an error');
  assert.ok(all.some((s) => s.notices?.length), 'a notice');
  assert.ok(m.samples.some((s) => s.connections.some((c) => c.notifications?.length)), 'a notification');
  assert.ok(all.some((s) => s.copy?.direction === 'in') && all.some((s) => s.copy?.direction === 'out'), 'COPY both ways');
  assert.ok(all.some((s) => s.cancelled) && m.samples.some((s) => s.cancelRequests > 0), 'a CancelRequest');
  assert.ok(all.some((s) => (s.minDurationMs ?? 0) >= 200), 'a slow query');
  assert.ok(all.some((s) => s.values?.some((r) => r.some((v) => typeof v === 'object' && v !== null && v.length > 256 * 1024))), 'a value over 256 KB');
  const auths = new Set(m.samples.flatMap((s) => s.connections.map((c) => c.auth)));
  assert.ok(auths.has('scram-sha-256') && auths.has('md5') && auths.has('password'));
  const clients = new Set(m.samples.flatMap((s) => s.connections.map((c) => c.client)));
  assert.deepEqual([...clients].sort(), ['asyncpg', 'pg', 'pgjdbc', 'postgres.js', 'psql', 'psycopg', 'psycopg2', 'raw', 'sqlalchemy']);
  assert.ok(m.samples.some((s) => s.connections.length >= 4), 'concurrent connections');
});

test('every sample is a little-endian microsecond pcap of the recorded link type', { skip: haveManifest ? false : SKIP_NO_SAMPLES }, () => {
  for (const s of loadManifest().samples) {
    const b = readFileSync(join(samplesDir, s.file));
    assert.equal(b.toString('hex', 0, 4), 'd4c3b2a1', s.file);
    assert.equal(b.readUInt32LE(20), s.linkType, s.file);
    // Walk the records: they must tile the file exactly, none cut by the snaplen.
    let off = 24;
    let frames = 0;
    const snaplen = b.readUInt32LE(16);
    while (off + 16 <= b.length) {
      const incl = b.readUInt32LE(off + 8);
      const orig = b.readUInt32LE(off + 12);
      assert.ok(incl <= snaplen && incl === orig, `${s.file} frame ${frames + 1}: ${incl} of ${orig} bytes`);
      off += 16 + incl;
      frames++;
    }
    assert.equal(off, b.length, `${s.file}: records tile the file`);
    assert.equal(frames, s.frames, `${s.file}: frame count`);
  }
});

interface TsharkFrame {
  srcport: number;
  types: string[];
  queries: string[];
  tags: string[];
  codes: string[];
  values: string[];
  malformed: boolean;
}

function tsharkFrames(ts: string, file: string, port: number): TsharkFrame[] {
  const out = execFileSync(
    ts,
    ['-r', file, '-d', `tcp.port==${port},pgsql`, '-T', 'json', '-e', 'tcp.srcport', '-e', 'pgsql.type', '-e', 'pgsql.query', '-e', 'pgsql.tag', '-e', 'pgsql.code', '-e', 'pgsql.val.data', '-e', '_ws.malformed'],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const frames = JSON.parse(out) as { _source: { layers: Record<string, string[] | undefined> } }[];
  return frames.map(({ _source: { layers: l } }) => ({
    srcport: Number(l['tcp.srcport']?.[0] ?? 0),
    types: l['pgsql.type'] ?? [],
    queries: l['pgsql.query'] ?? [],
    tags: l['pgsql.tag'] ?? [],
    codes: l['pgsql.code'] ?? [],
    values: l['pgsql.val.data'] ?? [],
    malformed: l['_ws.malformed'] !== undefined,
  }));
}

/** What tshark should find in a sample, from the manifest. */
function expectations(s: ManifestSample) {
  const queries: string[] = [];
  const generated = new Set<string>();
  for (const st of s.steps) {
    if (st.sql === '') continue; // tshark shows no text for an empty Query
    if (st.protocol === 'simple' || st.parse === true) queries.push(st.sql);
    else if (st.statement === '(generated)') generated.add(st.sql);
  }
  // Parses a driver sent for statements it only described (asyncpg's introspection)
  queries.push(...(s.parsedOnly ?? []));
  const tags = s.steps.flatMap((st) => st.commands ?? []);
  const codes = [
    ...s.steps.flatMap((st) => [...(st.error ? [st.error.sqlstate] : []), ...(st.notices ?? []).map((n) => n.sqlstate)]),
    ...s.connections.flatMap((c) => (c.loginError ? [c.loginError] : [])),
  ];
  return { queries, generated, tags, codes };
}

const md5 = (b: Buffer) => createHash('md5').update(b).digest('hex');

for (const sample of haveManifest ? loadManifest().samples : []) {
  // A pooler sample carries every statement twice (client and server legs) and the pooler's own
  // logins and SETs: test/pooler-samples.test.ts compares its legs.
  const skip = !tshark() ? SKIP_NO_TSHARK : sample.pooler ? 'a pooler sample: both legs, compared in test/pooler-samples.test.ts' : false;
  test(`tshark decodes ${sample.file} as the manifest says`, { skip }, () => {
    const m = loadManifest();
    const frames = tsharkFrames(tshark()!, join(samplesDir, sample.file), m.server.port);
    assert.equal(frames.length, sample.frames, 'tshark reads every frame');
    assert.deepEqual(frames.filter((f) => f.malformed).length, 0, 'no malformed frames');
    const want = expectations(sample);

    // Query and Parse texts: exactly those the manifest lists, plus postgres.js's own Parses.
    const seen = counts(frames.flatMap((f) => f.queries).filter((q) => q !== ''));
    for (const g of want.generated) {
      assert.ok(seen.has(g), `a Parse of ${g}`);
      seen.delete(g);
    }
    const wantQ = counts(want.queries);
    for (const g of want.generated) wantQ.delete(g);
    assert.deepEqual(sortedEntries(seen), sortedEntries(wantQ));

    assert.deepEqual(sortedEntries(counts(frames.flatMap((f) => f.tags))), sortedEntries(counts(want.tags)), 'CommandComplete tags');
    assert.deepEqual(sortedEntries(counts(frames.flatMap((f) => f.codes))), sortedEntries(counts(want.codes)), 'SQLSTATEs of errors and notices');

    const types = frames.flatMap((f) => f.types);
    const notifications = sample.connections.reduce((n, c) => n + (c.notifications?.length ?? 0), 0);
    assert.equal(types.filter((t) => t === 'Notification').length, notifications, 'NotificationResponses');
    // tshark knows a startup packet only by the 3.0 version code: a StartupMessage asking for
    // another version and a CancelRequest with a 3.2 key longer than 4 bytes are Unknown to it.
    const longCancels = (sample.cancels ?? []).filter((c) => c.secretKey.length > 8).length;
    assert.equal(types.filter((t) => t === 'Cancel request').length, sample.cancelRequests - longCancels, 'CancelRequests');
    assert.equal(types.filter((t) => t === 'Startup message').length, sample.connections.filter((c) => !c.protocolVersion).length, 'one StartupMessage per 3.0 connection');
    assert.equal(types.filter((t) => t === 'SSL request').length, sample.connections.filter((c) => c.sslRequest).length, 'SSLRequests');
    const copyIn = sample.steps.filter((st) => st.copy?.direction === 'in').length;
    assert.equal(types.filter((t) => t === 'CopyIn response').length, copyIn, 'CopyInResponses');

    // Bind parameter values (frontend), in text or binary format as the manifest says.
    const sentParams = frames.filter((f) => f.srcport !== m.server.port && f.types.includes('Bind')).flatMap((f) => f.values).filter((v) => v !== '');
    const wantParams = sample.steps.flatMap((st) =>
      (st.params ?? []).flatMap((p) => (p.value === null || p.value === '' ? [] : [p.format === 'binary' ? p.value : Buffer.from(p.value, 'utf8').toString('hex')])),
    );
    assert.deepEqual(sortedEntries(counts(sentParams)), sortedEntries(counts(wantParams)), 'Bind parameter values');

    // DataRow values, when the manifest lists every row of every step.
    const complete = sample.steps.every((st) => (st.rows ?? 0) === 0 || st.values || st.binaryValues);
    const observed = frames.filter((f) => f.srcport === m.server.port && f.types.includes('Data row')).flatMap((f) => f.values).filter((v) => v !== '');
    const pool = counts(observed);
    const take = (hex: string, what: string) => {
      const n = pool.get(hex);
      assert.ok(n, `DataRow value ${what} not found`);
      if (n === 1) pool.delete(hex);
      else pool.set(hex, n - 1);
    };
    for (const st of sample.steps) {
      for (const row of st.binaryValues ?? []) for (const v of row) if (v) take(v, `${v} (binary) of ${st.sql}`);
      for (const row of st.values ?? [])
        for (const v of row) {
          if (v === null || v === '') continue;
          if (typeof v === 'string') take(Buffer.from(v, 'utf8').toString('hex'), JSON.stringify(v));
          else {
            const hit = [...pool.keys()].find((h) => h.length === v.length * 2 && md5(Buffer.from(h, 'hex')) === v.md5);
            assert.ok(hit, `DataRow value of length ${v.length} with md5 ${v.md5}`);
            take(hit, 'digest');
          }
        }
    }
    if (complete) assert.deepEqual([...pool.keys()], [], 'no DataRow value the manifest does not list');
  });
}
