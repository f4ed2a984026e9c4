/**
 * Conformance on the samples made with the raw client (scripts/sample-raw-scenarios.ts):
 * protocol-32.pcap (3.2 startup, 32-byte cancel key, CancelRequest, NegotiateProtocolVersion),
 * replication.pcap (logical replication: CopyBoth, XLogData with pgoutput, keepalives, standby
 * status updates; replication-streaming.pcap the same with streamed transactions), physical-replication.pcap (XLogData carrying raw WAL) and function-call.pcap
 * (FunctionCall / FunctionCallResponse).
 *
 * pgsniff's decode is compared with what the generator recorded in samples/manifest.json: every
 * message type and count, every key, LSN and value. Then tshark's opinion: where it decodes the
 * same thing it must agree; where it is known to be blind or wrong (3.2 startup packets and
 * CancelRequests shown as Unknown, a 32-byte key cut to 4, CopyBothResponse unknown, replication
 * CopyData shown only as bytes) the test says so, checks that tshark still is, and relies on the
 * manifest instead.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot, tshark, SKIP_NO_TSHARK } from './helpers/public-captures.js';
import { collect, countTypes, messagesOf } from './helpers/run-pipeline.js';
import { validateRecord } from '../src/pipeline/schema.js';
import type { MessageRecord, OutRecord } from '../src/pipeline/events.js';
import type { Manifest, ManifestSample, ManifestStep, ManifestStreamMessage } from '../scripts/sample-manifest.js';

const samplesDir = join(projectRoot, 'samples');
const manifestPath = join(samplesDir, 'manifest.json');
const manifest: Manifest | null = existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest) : null;
const NEW = ['protocol-32', 'replication', 'replication-streaming', 'physical-replication', 'function-call'];
/** The logical replication samples: one with whole transactions, one with streamed ones. */
const LOGICAL = ['replication', 'replication-streaming'];

function sampleOf(name: string): ManifestSample | undefined {
  return manifest?.samples.find((s) => s.name === name);
}

function skipFor(name: string): string | false {
  const s = sampleOf(name);
  if (!s) return `samples/manifest.json has no ${name} sample (npm run samples -- --only ${name})`;
  return existsSync(join(samplesDir, s.file)) ? false : `samples/${s.file} is absent`;
}

const decoded = new Map<string, Promise<OutRecord[]>>();
function recordsOf(s: ManifestSample): Promise<OutRecord[]> {
  let p = decoded.get(s.file);
  if (!p) {
    p = collect(join(samplesDir, s.file), {}).then((r) => r.records);
    decoded.set(s.file, p);
  }
  return p;
}

type Rec = OutRecord & Record<string, unknown>;
const field = (r: OutRecord, k: string): unknown => (r as Rec)[k];

interface SessionLike {
  session: number;
  client: { port: number };
  cancel: { processId: number; targetSession: number | null; targetQuery: { sql: string | null } | null } | null;
  protocolVersion: string | null;
  backendKey: string | null;
  startupParameters: Record<string, string>;
}

function sessions(records: OutRecord[]): SessionLike[] {
  return records.filter((r) => r.kind === 'session') as unknown as SessionLike[];
}

/** Manifest connection index -> session id, by the client port the raw client recorded. */
function sessionIds(s: ManifestSample, records: OutRecord[]): number[] {
  const all = sessions(records);
  return s.connections.map((c, i) => {
    const hit = c.clientPort === null ? all.filter((x) => x.cancel === null)[i] : all.find((x) => x.client.port === c.clientPort);
    assert.ok(hit, `${s.file}: no session for connection ${i}`);
    return hit.session;
  });
}

/** Message counts the manifest implies (everything but ParameterStatus, which the server decides). */
function expectedCounts(s: ManifestSample): Map<string, number> {
  const n = s.connections.length;
  const steps = s.steps;
  const m = new Map<string, number>();
  const add = (k: string, v: number) => {
    if (v > 0) m.set(k, (m.get(k) ?? 0) + v);
  };
  // Every connection: SCRAM login, BackendKeyData, ReadyForQuery after login, Terminate.
  for (const t of ['StartupMessage', 'AuthenticationSASL', 'SASLInitialResponse', 'AuthenticationSASLContinue', 'SASLResponse', 'AuthenticationSASLFinal', 'AuthenticationOk', 'BackendKeyData', 'Terminate']) add(t, n);
  add('ReadyForQuery', n + steps.length);
  add('NegotiateProtocolVersion', s.connections.filter((c) => c.negotiate).length);
  add('CancelRequest', s.cancelRequests);
  const sql = steps.filter((st) => st.protocol !== 'function');
  add('Query', sql.length);
  add('CommandComplete', sql.reduce((k, st) => k + (st.commands?.length ?? 0), 0));
  add('RowDescription', sql.filter((st) => st.columns).length);
  add('DataRow', sql.reduce((k, st) => k + (st.rows ?? 0), 0));
  add('ErrorResponse', steps.filter((st) => st.error).length);
  const fn = steps.filter((st) => st.protocol === 'function');
  add('FunctionCall', fn.length);
  add('FunctionCallResponse', fn.filter((st) => !st.error).length);
  const stream = s.replication?.stream ?? s.physicalReplication?.stream;
  if (stream) {
    add('CopyBothResponse', 1);
    add('CopyData', stream.length);
    add('CopyDone', 2);
  }
  return m;
}

function withoutParameterStatus(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m.entries()].filter(([k]) => k !== 'ParameterStatus').sort(([a], [b]) => a.localeCompare(b)));
}

/** "16/B374D848" -> 64-bit number, so that padded and unpadded forms compare equal. */
function lsn(s: unknown): bigint {
  assert.equal(typeof s, 'string', `LSN ${String(s)}`);
  const m = /^([0-9A-F]{1,8})\/([0-9A-F]{1,8})$/i.exec(s as string);
  assert.ok(m, `LSN ${String(s)}`);
  return (BigInt('0x' + m[1]) << 32n) | BigInt('0x' + m[2]);
}

function tsharkFields(file: string, fields: string[], filter?: string): string[][] {
  const args = ['-r', file, '-T', 'fields', '-E', 'occurrence=a', ...fields.flatMap((f) => ['-e', f])];
  if (filter) args.push('-Y', filter);
  const run = spawnSync(tshark()!, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
  assert.equal(run.status, 0, `tshark failed on ${file}`);
  return run.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
}

/** tshark's pgsql.type labels in a capture, counted. */
function tsharkTypes(file: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const [types] of tsharkFields(file, ['pgsql.type'])) {
    for (const t of (types ?? '').split(',')) if (t) m.set(t, (m.get(t) ?? 0) + 1);
  }
  return m;
}

/** A typed value back in PostgreSQL's text output, for the types these samples return. */
function asText(v: unknown): string | null {
  if (v === null) return null;
  if (typeof v === 'boolean') return v ? 't' : 'f';
  return String(v);
}

function stepsOf(s: ManifestSample, conn: number): ManifestStep[] {
  return s.steps.filter((st) => st.connection === conn);
}

for (const name of NEW) {
  test(`${name}: message types and counts equal the manifest; every record valid`, { skip: skipFor(name) }, async () => {
    const s = sampleOf(name)!;
    const records = await recordsOf(s);
    for (const r of records) {
      const bad = validateRecord(r);
      assert.equal(bad, null, `frame ${r.frame} ${r.kind}: ${bad}`);
    }
    assert.deepEqual(records.filter((r) => r.kind === 'anomaly'), [], 'no anomalies');
    assert.deepEqual(messagesOf(records, 'Unknown').concat(messagesOf(records, 'Malformed')), [], 'no Unknown or Malformed message');
    assert.deepEqual(withoutParameterStatus(countTypes(records)), withoutParameterStatus(expectedCounts(s)));
    assert.ok((countTypes(records).get('ParameterStatus') ?? 0) >= s.connections.length, 'ParameterStatus after each login');
    assert.equal(sessions(records).length, s.connections.length + s.cancelRequests, 'sessions');
  });

  test(`${name}: query records equal the manifest's steps`, { skip: skipFor(name) }, async () => {
    const s = sampleOf(name)!;
    const records = await recordsOf(s);
    const ids = sessionIds(s, records);
    s.connections.forEach((_, i) => {
      const qs = records.filter((r) => r.kind === 'query' && r.session === ids[i]) as Rec[];
      const steps = stepsOf(s, i);
      assert.equal(qs.length, steps.length, `connection ${i}: ${qs.length} query records for ${steps.length} steps`);
      steps.forEach((st, k) => {
        const q = qs[k]!;
        const where = `connection ${i} step ${k} (${st.sql || `FunctionCall ${st.functionCall?.oid}`})`;
        assert.equal(q.protocol, st.protocol, where);
        assert.equal(q.sql, st.protocol === 'function' ? null : st.sql, where);
        assert.equal((q.error as { sqlstate: string } | null)?.sqlstate ?? null, st.error?.sqlstate ?? null, where);
        if (st.error) assert.equal((q.error as { message: string }).message, st.error.message, where);
        assert.equal(q.rowsReturned, st.rows ?? 0, where);
        // START_REPLICATION's record carries the walsender's last tag (it sends "COPY 0", then its own).
        if (st.commands?.length) assert.equal(q.command, st.commands[st.commands.length - 1], where);
        if (st.cancelled) assert.ok(q.cancelledBy !== null, `${where}: not linked to its CancelRequest`);
        assert.equal(q.incomplete, false, where);
      });
    });
    // DataRow values in order, per connection, as the raw and pg clients received them.
    s.connections.forEach((_, i) => {
      const got = messagesOf(records, 'DataRow')
        .filter((m) => m.session === ids[i])
        .map((m) => (field(m, 'values') as { value: unknown }[]).map((v) => asText(v.value)));
      const want = stepsOf(s, i).flatMap((st) => (st.values ?? []).map((row) => row.map((v) => (typeof v === 'object' && v !== null ? v.md5 : v))));
      assert.deepEqual(got, want, `connection ${i}: DataRow values`);
    });
  });
}


/**
 * One replication CopyData against what the generator recorded for it: its kind, LSNs, reply
 * flag, status-update positions and hot-standby-feedback xmins. Returns the label for messages.
 */
function checkStreamMessage(g: MessageRecord, w: ManifestStreamMessage, where: string): string {
  assert.equal(field(g, 'replication'), w.kind, where);
  if (w.walStart !== undefined) assert.equal(lsn(field(g, 'walStart')), lsn(w.walStart), where);
  if (w.walEnd !== undefined) assert.equal(lsn(field(g, 'walEnd')), lsn(w.walEnd), where);
  if (w.replyRequested !== undefined) assert.equal(field(g, 'replyRequested'), w.replyRequested, where);
  for (const k of ['written', 'flushed', 'applied'] as const) if (w[k] !== undefined) assert.equal(lsn(field(g, k)), lsn(w[k]), where);
  for (const k of ['xmin', 'xminEpoch', 'catalogXmin', 'catalogXminEpoch'] as const) if (w[k] !== undefined) assert.equal(field(g, k), w[k], `${where}: ${k}`);
  return where;
}

test('protocol-32: StartupMessage versions, 32-byte keys, CancelRequest and NegotiateProtocolVersion', { skip: skipFor('protocol-32') }, async () => {
  const s = sampleOf('protocol-32')!;
  const records = await recordsOf(s);
  const ids = sessionIds(s, records);
  const all = sessions(records);
  s.connections.forEach((c, i) => {
    const where = `connection ${i}`;
    const startup = messagesOf(records, 'StartupMessage').find((m) => m.session === ids[i])!;
    const [major, minor] = (c.protocolVersion ?? '3.0').split('.').map(Number);
    assert.equal(field(startup, 'protocolMajor'), major, where);
    assert.equal(field(startup, 'protocolMinor'), minor, where);
    const params = field(startup, 'parameters') as Record<string, string>;
    for (const [k, v] of Object.entries(c.protocolOptions ?? {})) assert.equal(params[k], v, `${where}: protocol option ${k}`);

    const key = messagesOf(records, 'BackendKeyData').find((m) => m.session === ids[i])!;
    assert.equal(field(key, 'processId'), c.backendKey!.processId, where);
    assert.equal(field(key, 'secretKey'), c.backendKey!.secretKey, where);
    assert.equal(key.length, 8 + c.backendKey!.secretKey.length / 2, `${where}: BackendKeyData length`);
    // The server speaks 3.2 whenever the client asked for 3.2 or more: then the key is 32 bytes.
    assert.equal(c.backendKey!.secretKey.length / 2, minor! >= 2 ? 32 : 4, where);

    const npv = messagesOf(records, 'NegotiateProtocolVersion').filter((m) => m.session === ids[i]);
    if (!c.negotiate) assert.equal(npv.length, 0, where);
    else {
      assert.equal(npv.length, 1, where);
      // The wire carries the whole version code; the documented field is the minor version.
      assert.equal(field(npv[0]!, 'newestMinor'), c.negotiate.version & 0xffff, where);
      assert.deepEqual(field(npv[0]!, 'unrecognized'), c.negotiate.unrecognized, where);
    }
  });

  assert.equal(s.cancels?.length, 1);
  const want = s.cancels![0]!;
  const cancels = messagesOf(records, 'CancelRequest');
  assert.equal(cancels.length, 1);
  const cr = cancels[0]!;
  assert.equal(field(cr, 'processId'), want.processId);
  assert.equal(field(cr, 'secretKey'), want.secretKey);
  assert.equal(cr.length, 12 + want.secretKey.length / 2, 'CancelRequest length with a 32-byte key');
  const cancelSession = all.find((x) => x.cancel !== null)!;
  assert.equal(cancelSession.cancel!.processId, want.processId);
  assert.equal(cancelSession.cancel!.targetSession, ids[want.target], 'the cancel names the session of the key');
  assert.equal(cancelSession.cancel!.targetQuery?.sql, 'SELECT pg_sleep(5)');
});

test('protocol-32: session records say which protocol each connection speaks', { skip: skipFor('protocol-32') }, async () => {
  const s = sampleOf('protocol-32')!;
  const records = await recordsOf(s);
  const ids = sessionIds(s, records);
  s.connections.forEach((c, i) => {
    const sess = sessions(records).find((x) => x.session === ids[i])!;
    // What the client asked for, lowered by NegotiateProtocolVersion when the server sent one.
    const spoken = c.negotiate ? `${c.negotiate.version >>> 16}.${c.negotiate.version & 0xffff}` : (c.protocolVersion ?? '3.0');
    assert.equal(sess.protocolVersion, spoken, `connection ${i}`);
    assert.equal(sess.backendKey, c.backendKey!.secretKey, `connection ${i}: the session's cancel key`);
  });
});

test('function-call: FunctionCall arguments and FunctionCallResponse results equal what was sent and received', { skip: skipFor('function-call') }, async () => {
  const s = sampleOf('function-call')!;
  const records = await recordsOf(s);
  const calls = messagesOf(records, 'FunctionCall');
  const answers = records.filter((r): r is MessageRecord => r.kind === 'message' && (r.type === 'FunctionCallResponse' || r.type === 'ErrorResponse'));
  const steps = s.steps.filter((st) => st.protocol === 'function');
  assert.equal(calls.length, steps.length);
  const shown = (format: string, v: string | null) => (v === null ? null : format === 'binary' ? `\\x${v}` : v);
  steps.forEach((st, k) => {
    const fc = st.functionCall!;
    const call = calls[k]!;
    const where = `call ${k} (OID ${fc.oid}, ${fc.name})`;
    assert.equal(field(call, 'functionOid'), fc.oid, where);
    assert.equal(field(call, 'resultFormat'), fc.resultFormat, where);
    const args = field(call, 'args') as { format: string; value: unknown }[];
    assert.deepEqual(args.map((a) => [a.format, a.value]), fc.args.map((a) => [a.format, shown(a.format, a.value)]), where);
    const answer = answers.find((a) => a.frame >= call.frame)!;
    if (st.error) {
      assert.equal(answer.type, 'ErrorResponse', where);
      assert.equal((field(answer, 'fields') as { sqlstate: string }).sqlstate, st.error.sqlstate, where);
    } else {
      assert.equal(answer.type, 'FunctionCallResponse', where);
      const result = field(answer, 'result') as { format: string; value: unknown };
      assert.equal(result.value, shown(fc.resultFormat, fc.result), where);
    }
    answers.splice(answers.indexOf(answer), 1);
  });
  const fq = records.filter((r) => r.kind === 'query' && field(r, 'protocol') === 'function') as Rec[];
  assert.equal(fq.length, steps.length);
  fq.forEach((q, k) => {
    const fc = steps[k]!.functionCall!;
    const fn = q.function as { oid: number; result: { value: unknown } | null };
    assert.equal(fn.oid, fc.oid);
    if (!steps[k]!.error) assert.equal(fn.result?.value, shown(fc.resultFormat, fc.result));
    assert.deepEqual((q.params as { value: unknown }[]).map((p) => p.value), fc.args.map((a) => shown(a.format, a.value)));
  });
});

const LOGICAL_NAMES: Record<string, string> = {
  B: 'Begin', R: 'Relation', I: 'Insert', U: 'Update', D: 'Delete', T: 'Truncate', M: 'Message', C: 'Commit', Y: 'Type', O: 'Origin',
  S: 'StreamStart', E: 'StreamStop', c: 'StreamCommit', A: 'StreamAbort',
};

for (const name of LOGICAL) {
test(`${name}: CopyBothResponse and every replication message decoded as the client saw it`, { skip: skipFor(name) }, async () => {
  const s = sampleOf(name)!;
  const repl = s.replication!;
  const records = await recordsOf(s);
  const ids = sessionIds(s, records);
  const sid = ids[repl.connection]!;
  const startup = messagesOf(records, 'StartupMessage').find((m) => m.session === sid)!;
  assert.equal((field(startup, 'parameters') as Record<string, string>).replication, 'database');
  const both = messagesOf(records, 'CopyBothResponse');
  assert.equal(both.length, 1);
  assert.equal(both[0]!.session, sid);

  for (const dir of ['backend', 'frontend'] as const) {
    const got = messagesOf(records, 'CopyData').filter((m) => m.session === sid && m.dir === dir);
    const want = repl.stream.filter((m) => m.dir === dir);
    assert.equal(got.length, want.length, `${dir} CopyData`);
    want.forEach((w, k) => {
      const g = got[k]!;
      const where = checkStreamMessage(g, w, `${dir} CopyData ${k} (frame ${g.frame})`);
      if (w.logical !== undefined) assert.equal((field(g, 'logical') as { message: string }).message, LOGICAL_NAMES[w.logical], where);
    });
  }
  // Times in the stream are µs since 2000-01-01 on the same host clock the capture used: each
  // must land within seconds of the frame that carried it (a wrong epoch or unit is years off).
  for (const m of messagesOf(records, 'CopyData').filter((x) => x.session === sid)) {
    const t = (field(m, 'serverTime') ?? field(m, 'clientTime')) as string;
    const off = Math.abs(Date.parse(t) - Date.parse(m.time));
    assert.ok(off < 5000, `frame ${m.frame}: stream time ${t} is ${off} ms from the capture time ${m.time}`);
  }
  assert.ok(repl.stream.some((m) => m.kind === 'PrimaryKeepalive' && m.replyRequested), 'a keepalive that asks for a reply');
  assert.ok(repl.stream.some((m) => m.kind === 'StandbyStatusUpdate'), 'standby status updates');
});

test(`${name}: pgoutput Relation, row changes and messages carry the names and values written`, { skip: skipFor(name) }, async () => {
  const s = sampleOf(name)!;
  const repl = s.replication!;
  const records = await recordsOf(s);
  const logical = messagesOf(records, 'CopyData')
    .map((m) => field(m, 'logical') as Record<string, unknown> | undefined)
    .filter((l): l is Record<string, unknown> => l !== undefined);
  const relations = logical.filter((l) => l.message === 'Relation');
  assert.ok(relations.length >= 1);
  for (const rel of relations) {
    assert.equal(rel.namespace, repl.relation.namespace);
    assert.equal(rel.relation, repl.relation.name);
    const cols = rel.columns as { name: string; key: boolean }[];
    assert.deepEqual(cols.map((c) => c.name), repl.relation.columns);
    assert.deepEqual(cols.filter((c) => c.key).map((c) => c.name), repl.relation.key);
  }
  const qualified = `${repl.relation.namespace}.${repl.relation.name}`;
  const text = (o: Record<string, unknown>, only?: string[]) =>
    Object.fromEntries(Object.entries(o).filter(([k]) => !only || only.includes(k)).map(([k, v]) => [k, v === null ? null : String(v)]));
  const changes = logical.filter((l) => ['Insert', 'Update', 'Delete', 'Truncate', 'Message'].includes(l.message as string));
  assert.equal(changes.length, repl.changes.length, 'one pgoutput message per change');
  repl.changes.forEach((c, k) => {
    const l = changes[k]!;
    const where = `change ${k} (${c.kind})`;
    switch (c.kind) {
      case 'insert':
      case 'update':
        assert.equal(l.message, c.kind === 'insert' ? 'Insert' : 'Update', where);
        assert.equal(l.relation, qualified, where);
        assert.deepEqual(text(l.new as Record<string, unknown>), c.values, where);
        break;
      case 'delete':
        assert.equal(l.message, 'Delete', where);
        assert.equal(l.relation, qualified, where);
        // The old-key tuple has every column; only the key's are sent (the others as NULL).
        assert.deepEqual(text(l.key as Record<string, unknown>, Object.keys(c.key!)), c.key, where);
        break;
      case 'truncate':
        assert.equal(l.message, 'Truncate', where);
        assert.deepEqual(l.relations, [qualified], where);
        break;
      case 'message':
        assert.equal(l.message, 'Message', where);
        assert.equal(l.transactional, c.transactional, where);
        assert.equal(l.prefix, c.prefix, where);
        assert.equal(l.content, c.content, where);
        break;
    }
  });
  // Each transaction's changes sit between a Begin and a Commit whose LSNs agree.
  const begins = logical.filter((l) => l.message === 'Begin');
  const commits = logical.filter((l) => l.message === 'Commit');
  assert.equal(begins.length, commits.length);
  begins.forEach((b, k) => assert.equal(lsn(b.finalLsn), lsn(commits[k]!.commitLsn), `transaction ${k}`));
});

test(`${name}: START_REPLICATION is one query with a CopyBoth exchange`, { skip: skipFor(name) }, async () => {
  const s = sampleOf(name)!;
  const records = await recordsOf(s);
  const sid = sessionIds(s, records)[s.replication!.connection]!;
  const qs = records.filter((r) => r.kind === 'query' && r.session === sid) as Rec[];
  const start = qs.find((q) => typeof q.sql === 'string' && (q.sql as string).startsWith('START_REPLICATION'))!;
  assert.ok(start, 'a query record for START_REPLICATION');
  assert.equal((start.copy as { direction: string } | null)?.direction, 'both');
  assert.equal(start.error, null);
});

test(`${name}: the walsender's two CommandCompletes after CopyBoth (COPY 0, START_REPLICATION) close one statement`, { skip: skipFor(name) }, async () => {
  const s = sampleOf(name)!;
  const records = await recordsOf(s);
  const conn = s.replication!.connection;
  const sid = sessionIds(s, records)[conn]!;
  const qs = records.filter((r) => r.kind === 'query' && r.session === sid) as Rec[];
  assert.equal(qs.length, s.steps.filter((st) => st.connection === conn).length, 'one query record per Query');
  const start = qs.find((q) => typeof q.sql === 'string' && (q.sql as string).startsWith('START_REPLICATION'))!;
  assert.equal(start.command, 'START_REPLICATION');
  assert.equal(start.statementCount, 1);
});
}

test('replication-streaming: streamed transactions — every change inside Stream Start / Stop carries the stream\'s xid, Stream Commit closes it', { skip: skipFor('replication-streaming') }, async () => {
  const s = sampleOf('replication-streaming')!;
  const records = await recordsOf(s);
  const logical = messagesOf(records, 'CopyData')
    .map((m) => field(m, 'logical') as Record<string, unknown> | undefined)
    .filter((l): l is Record<string, unknown> => l !== undefined);
  assert.equal(logical.filter((l) => l.message === 'Begin' || l.message === 'Commit').length, 0, 'no whole transactions');
  let xid: unknown = null;
  const open = new Set<unknown>();
  let streamed = 0;
  for (const l of logical) {
    if (l.message === 'StreamStart') {
      assert.equal(xid, null, 'Stream Start inside a stream');
      xid = l.xid;
      if (l.firstSegment === true) open.add(l.xid);
      assert.ok(open.has(l.xid), `segment of xid ${String(l.xid)} before its first`);
    } else if (l.message === 'StreamStop') {
      assert.notEqual(xid, null, 'Stream Stop outside a stream');
      xid = null;
    } else if (l.message === 'StreamCommit') {
      assert.equal(xid, null, 'Stream Commit inside a stream');
      assert.ok(open.delete(l.xid), `Stream Commit of xid ${String(l.xid)} that was never started`);
    } else if (xid !== null) {
      assert.equal(l.xid, xid, `${String(l.message)} inside the stream of xid ${String(xid)}`);
      streamed++;
    } else {
      // Only a non-transactional message may come outside a stream, and it has no xid.
      assert.equal(l.message, 'Message');
      assert.equal(l.transactional, false);
      assert.equal(l.xid, undefined);
    }
  }
  assert.equal(open.size, 0, 'every streamed transaction committed');
  const changes = s.replication!.changes.filter((c) => c.kind !== 'message' || c.transactional).length;
  assert.ok(streamed >= changes, `${streamed} streamed messages for ${changes} transactional changes`);
});

test('physical-replication: XLogData LSNs as streamed, raw WAL shown as bytes (never as pgoutput), hot standby feedback', { skip: skipFor('physical-replication') }, async () => {
  const s = sampleOf('physical-replication')!;
  const phys = s.physicalReplication!;
  const records = await recordsOf(s);
  const sid = sessionIds(s, records)[phys.connection]!;
  const startup = messagesOf(records, 'StartupMessage').find((m) => m.session === sid)!;
  assert.equal((field(startup, 'parameters') as Record<string, string>).replication, 'true');
  for (const dir of ['backend', 'frontend'] as const) {
    const got = messagesOf(records, 'CopyData').filter((m) => m.session === sid && m.dir === dir);
    const want = phys.stream.filter((m) => m.dir === dir);
    assert.equal(got.length, want.length, `${dir} CopyData`);
    want.forEach((w, k) => {
      const g = got[k]!;
      const where = checkStreamMessage(g, w, `${dir} CopyData ${k} (frame ${g.frame})`);
      if (w.kind === 'XLogData') {
        assert.equal(field(g, 'logical'), undefined, `${where}: WAL records read as pgoutput`);
        assert.equal(typeof (field(g, 'payload') as { size: number } | undefined)?.size, 'number', `${where}: the WAL is shown as bytes`);
      }
    });
  }
  assert.ok(phys.stream.some((m) => m.kind === 'HotStandbyFeedback'), 'hot standby feedback sent');
  const xlog = messagesOf(records, 'CopyData').filter((m) => m.session === sid && field(m, 'replication') === 'XLogData');
  assert.equal(xlog.reduce((n, m) => n + (field(m, 'payloadSize') as number), 0), phys.walBytes, 'WAL bytes');
  assert.equal(lsn(field(xlog[0]!, 'walStart')), lsn(phys.startLsn), 'the stream starts where START_REPLICATION asked');
});

// ---- tshark's opinion ----

/** Our names -> tshark's pgsql.type labels, for the types these samples hold. */
const TSHARK_LABEL: Record<string, string> = {
  Query: 'Simple query', RowDescription: 'Row description', DataRow: 'Data row', CommandComplete: 'Command completion',
  ReadyForQuery: 'Ready for query', ErrorResponse: 'Error', BackendKeyData: 'Backend key data', Terminate: 'Termination',
  SASLInitialResponse: 'SASLInitialResponse message', SASLResponse: 'SASLResponse message', ParameterStatus: 'Parameter status',
  NegotiateProtocolVersion: 'Negotiate protocol version', FunctionCall: 'Function call', FunctionCallResponse: 'Function call response',
  CopyData: 'Copy data', CopyDone: 'Copy completion', StartupMessage: 'Startup message', CancelRequest: 'Cancel request',
  CopyBothResponse: 'CopyBoth response',
};

/** Our counts as tshark labels them (Authentication* folded into one label, as tshark has it). */
function asTshark(types: Map<string, number>): Map<string, number> {
  const m = new Map<string, number>();
  for (const [t, n] of types) {
    const k = t.startsWith('Authentication') ? 'Authentication request' : (TSHARK_LABEL[t] ?? `ours:${t}`);
    m.set(k, (m.get(k) ?? 0) + n);
  }
  return m;
}

function sortedObj(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

test('tshark: function-call.pcap decodes as we do, type for type', { skip: skipFor('function-call') || (tshark() ? false : SKIP_NO_TSHARK) }, async () => {
  const s = sampleOf('function-call')!;
  const file = join(samplesDir, s.file);
  assert.deepEqual(sortedObj(tsharkTypes(file)), sortedObj(asTshark(countTypes(await recordsOf(s)))));
  // Function OIDs agree.
  const oids = tsharkFields(file, ['pgsql.oid'], 'pgsql.type == "Function call"').map(([o]) => Number(o));
  assert.deepEqual(oids, s.steps.filter((st) => st.protocol === 'function').map((st) => st.functionCall!.oid));
});

test('tshark: protocol-32.pcap — 3.2 startup packets and the long CancelRequest are Unknown to tshark, the key cut to 4 bytes', { skip: skipFor('protocol-32') || (tshark() ? false : SKIP_NO_TSHARK) }, async () => {
  const s = sampleOf('protocol-32')!;
  const file = join(samplesDir, s.file);
  const ours = countTypes(await recordsOf(s));
  const theirs = tsharkTypes(file);
  // tshark knows the startup packet only by the version code 196608 (3.0): the StartupMessages
  // of 3.2 and 3.9 and the CancelRequest of 44 bytes (a 32-byte key) all come out as Unknown.
  const not30 = s.connections.filter((c) => c.protocolVersion !== undefined).length;
  const long = (s.cancels ?? []).filter((c) => c.secretKey.length > 8).length;
  assert.equal(theirs.get('Unknown') ?? 0, not30 + long, 'tshark: Unknown startup-phase packets');
  assert.equal(theirs.get('Startup message') ?? 0, (ours.get('StartupMessage') ?? 0) - not30, 'tshark: 3.0 StartupMessages only');
  assert.equal(theirs.get('Cancel request') ?? 0, (ours.get('CancelRequest') ?? 0) - long);
  // Ours: every one of them decoded.
  assert.equal(ours.get('StartupMessage'), s.connections.length);
  assert.equal(ours.get('CancelRequest'), s.cancelRequests);
  assert.equal(ours.get('Unknown') ?? 0, 0);
  // Everything after the startup phase agrees type for type.
  const rest = (m: Map<string, number>) => sortedObj(new Map([...m].filter(([k]) => !['Unknown', 'Startup message', 'Cancel request'].includes(k))));
  assert.deepEqual(rest(theirs), rest(asTshark(ours)));

  // tshark reads a secret key as one Int32: of a 32-byte key it shows the first 4 bytes only.
  const keys = tsharkFields(file, ['pgsql.pid', 'pgsql.key'], 'pgsql.type == "Backend key data"');
  assert.equal(keys.length, s.connections.length);
  s.connections.forEach((c, i) => {
    const [pid, key] = keys[i]!;
    assert.equal(Number(pid), c.backendKey!.processId);
    const first4 = parseInt(c.backendKey!.secretKey.slice(0, 8), 16);
    assert.equal(Number(key), first4, `connection ${i}: tshark's key is the first 4 bytes`);
    assert.ok(c.backendKey!.secretKey.length === 8 || c.backendKey!.secretKey.length === 64);
  });
  // NegotiateProtocolVersion: tshark shows the Int32 raw (196610); the options agree.
  const npv = tsharkFields(file, ['pgsql.version_supported_minor', 'pgsql.nonsupported_option'], 'pgsql.type == "Negotiate protocol version"');
  const negotiated = s.connections.filter((c) => c.negotiate).map((c) => c.negotiate!);
  assert.deepEqual(npv.map(([v, opts]) => [Number(v), (opts ?? '').split(',')]), negotiated.map((n) => [n.version, n.unrecognized]));
});

for (const name of ['replication', 'replication-streaming', 'physical-replication']) {
test(`tshark: ${name}.pcap — CopyBothResponse is Unknown to tshark and replication CopyData only bytes`, { skip: skipFor(name) || (tshark() ? false : SKIP_NO_TSHARK) }, async () => {
  const s = sampleOf(name)!;
  const stream = (s.replication ?? s.physicalReplication)!.stream;
  const file = join(samplesDir, s.file);
  const ours = countTypes(await recordsOf(s));
  const theirs = tsharkTypes(file);
  assert.equal(theirs.get('CopyBoth response') ?? 0, 0, 'tshark has a CopyBoth response label but does not use it for W');
  assert.equal(theirs.get('Unknown') ?? 0, 1, 'tshark: the CopyBothResponse is Unknown');
  assert.equal(ours.get('CopyBothResponse'), 1);
  const rest = (m: Map<string, number>) => sortedObj(new Map([...m].filter(([k]) => !['Unknown', 'CopyBoth response'].includes(k))));
  assert.deepEqual(rest(theirs), rest(asTshark(ours)), 'all else agrees, CopyData included');
  // tshark stops at "Copy data": the bytes, no XLogData, keepalive or pgoutput field at all.
  const copy = tsharkFields(file, ['pgsql.copydata'], 'pgsql.type == "Copy data"');
  assert.equal(copy.length > 0, true);
  const payloads = copy.flatMap(([c]) => (c ?? '').split(','));
  assert.equal(payloads.length, stream.length);
  assert.ok(payloads.every((p) => /^[0-9a-f:]+$/.test(p)), 'tshark gives CopyData only as hex bytes');
  // The first byte of each payload is the replication tag the manifest recorded.
  const tags = payloads.map((p) => String.fromCharCode(parseInt(p.replace(/:/g, '').slice(0, 2), 16)));
  const tag = { XLogData: 'w', PrimaryKeepalive: 'k', StandbyStatusUpdate: 'r', HotStandbyFeedback: 'h' } as const;
  assert.deepEqual([...tags].sort(), stream.map((m) => tag[m.kind]).sort());
});
}
