/**
 * Query and session records on the public corpus (captures other projects recorded for their
 * own tests; facts restated from ../shared/captures/public/INDEX.md): every record validates,
 * nothing throws, and the documented facts show.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyzeFile } from '../src/pipeline/analyze.js';
import { queryRecordSchema, sessionRecordSchema, type QueryRecord, type SessionRecord } from '../src/session/schema.js';
import { publicCaptures, publicCapture, SKIP_NO_PUBLIC } from './helpers/public-captures.js';

const all = publicCaptures();
const SKIP = all === null ? SKIP_NO_PUBLIC : false;

async function load(rel: string, ports: number[] = []): Promise<{ queries: QueryRecord[]; sessions: SessionRecord[] }> {
  const queries: QueryRecord[] = [];
  const sessions: SessionRecord[] = [];
  await analyzeFile(publicCapture(rel), {
    record: (r) => {
      if (r.kind === 'query') queries.push(queryRecordSchema.parse(r));
      else if (r.kind === 'session') sessions.push(sessionRecordSchema.parse(r));
    },
  }, { messages: false, ports });
  return { queries, sessions };
}

test('public corpus: every capture gives valid query and session records', { skip: SKIP }, async () => {
  for (const rel of all ?? []) {
    const ports = rel.includes('deepflow/pgsql-all') ? [8000] : rel.includes('pgsql2.pcapng') ? [60102] : [];
    const { sessions } = await load(rel, ports);
    if (rel.includes('probe-test')) assert.equal(sessions.filter((s) => s.protocolVersion !== null).length, 0, rel);
  }
});

test('public corpus: cancel request linked to the pg_sleep it cancelled', { skip: SKIP }, async () => {
  const { queries, sessions } = await load('suricata-verify/pgsql-cancel-request/input.pcap');
  const q = queries.find((x) => x.sql === 'select pg_sleep(9)');
  assert.ok(q);
  assert.equal(q.error?.sqlstate, '57014');
  const cancel = sessions.find((s) => s.cancel !== null);
  assert.ok(cancel);
  assert.equal(cancel.cancel!.targetSession, q.session);
  assert.equal(q.cancelledBy?.session, cancel.session);
});

test('public corpus: COPY in and out, 5 rows each', { skip: SKIP }, async () => {
  const cin = (await load('suricata-verify/pgsql-copy-data-in/TLPW-Jason-copyfrom-small.pcap')).queries;
  assert.equal(cin.length, 1);
  assert.deepEqual([cin[0]!.copy?.direction, cin[0]!.copy?.messagesIn, cin[0]!.copy?.bytesIn, cin[0]!.rows], ['in', 1, 2779, 5]);
  const cout = (await load('suricata-verify/pgsql-copy-data-out/input.pcap')).queries;
  assert.deepEqual([cout[0]!.copy?.direction, cout[0]!.copy?.messagesOut, cout[0]!.copy?.bytesOut, cout[0]!.rows], ['out', 5, 2779, 5]);
});

test('public corpus: a transaction with errors, aborted statements and COMMIT answered ROLLBACK', { skip: SKIP }, async () => {
  const { queries, sessions } = await load('suricata-verify/pgsql-simple-query-rollback/input.pcap');
  assert.equal(queries.length, 22);
  assert.deepEqual(queries.filter((q) => q.error).map((q) => q.error!.sqlstate), ['22012', '25P02', '25P02', '25P02', '22012']);
  assert.ok(queries.some((q) => q.sql === 'COMMIT;' && q.command === 'ROLLBACK'));
  assert.equal(sessions[0]!.auth.method, 'sasl');
  assert.equal(sessions[0]!.auth.mechanism, 'SCRAM-SHA-256');
});

test('public corpus: authentication methods and outcomes', { skip: SKIP }, async () => {
  const clear = (await load('suricata-verify/pgsql-pwd-output-disabled/input.pcap')).sessions[0]!;
  assert.deepEqual([clear.auth.method, clear.auth.outcome, clear.sslRequested], ['cleartext', 'success', true]);
  assert.ok(!JSON.stringify(clear).includes('password'), 'no password field in the session record');
  const bad = (await load('arkime/postgres-badpass.pcap')).sessions[0]!;
  assert.deepEqual([bad.auth.method, bad.auth.outcome], ['md5', 'unknown']);
  const trust = (await load('arkime/postgres-no-sslrequest.pcap')).sessions[0]!;
  assert.deepEqual([trust.auth.method, trust.auth.outcome, trust.serverVersion, trust.endedBy], ['trust', 'success', '7.4.5', 'terminate']);
  const repl = (await load('suricata-verify/pgsql-upgrade-tls/input.pcap')).sessions;
  assert.ok(repl.some((s) => s.encryption === 'tls'));
  const fatal = repl.find((s) => s.auth.outcome === 'failure');
  assert.equal(fatal?.auth.sqlstate, '28000');
  assert.equal(fatal?.startupParameters['replication'], 'true');
  const gss = (await load('nDPI/pgsql.pcap')).sessions;
  assert.equal(gss.filter((s) => s.encryption === 'gss').length, 2);
});

test('public corpus: 5000 DataRows folded into counts', { skip: SKIP }, async () => {
  const { queries } = await load('suricata-verify/pgsql-5000-query-results/input.pcap');
  const q = queries.find((x) => x.sql === 'select * from rule limit 5000;');
  assert.ok(q);
  assert.equal(q.rows, 5000);
  assert.equal(q.rowsReturned, 5000);
  assert.ok(q.bytesReturned > 3_000_000 * 0.9);
  assert.equal(q.rowValues, undefined);
});

test('public corpus: pipelined extended protocol with statement reuse (2004 capture)', { skip: SKIP }, async () => {
  const { queries } = await load('nDPI/pgsql.pcap');
  const reused = queries.filter((q) => q.sql?.startsWith('select u.id, u.address'));
  assert.equal(reused.length, 2);
  assert.deepEqual(reused.map((q) => q.params[0]?.value), ['ams', 'arnt']);
  assert.ok(queries.every((q) => q.protocol === 'extended' && !q.skipped && !q.incomplete));
});
