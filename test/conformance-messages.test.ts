/**
 * Conformance: on every public capture (and every sample), the number of PostgreSQL messages of
 * each type equals tshark's (`-T fields -e pgsql.type`), where tshark decodes correctly. Where
 * tshark is known to be wrong or silent the test says so and checks our own expectation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { publicCaptures, publicCapture, sampleCaptures, tshark, SKIP_NO_PUBLIC, SKIP_NO_TSHARK } from './helpers/public-captures.js';
import { collect, countTypes } from './helpers/run-pipeline.js';

/** tshark's pgsql.type labels -> our type names (Authentication* fold into one label, as tshark has it). */
const TSHARK_NAMES: Record<string, string> = {
  'Startup message': 'StartupMessage', 'SSL request': 'SSLRequest', 'GSS encrypt request': 'GSSENCRequest',
  'Cancel request': 'CancelRequest', 'Simple query': 'Query', Parse: 'Parse', Bind: 'Bind', Execute: 'Execute',
  Describe: 'Describe', Close: 'Close', Sync: 'Sync', Flush: 'Flush', Termination: 'Terminate',
  'Function call': 'FunctionCall', 'Copy data': 'CopyData', 'Copy completion': 'CopyDone', 'Copy failure': 'CopyFail',
  'Password message': 'PasswordMessage', 'SASLInitialResponse message': 'SASLInitialResponse', 'SASLResponse message': 'SASLResponse',
  'GSSResponse message': 'GSSResponse', 'Authentication request': 'Authentication', 'Backend key data': 'BackendKeyData',
  'Parameter status': 'ParameterStatus', 'Ready for query': 'ReadyForQuery', 'Parse completion': 'ParseComplete',
  'Bind completion': 'BindComplete', 'Close completion': 'CloseComplete', 'Parameter description': 'ParameterDescription',
  'Row description': 'RowDescription', 'No data': 'NoData', 'Data row': 'DataRow', 'Command completion': 'CommandComplete',
  'Empty query': 'EmptyQueryResponse', 'Portal suspended': 'PortalSuspended', Error: 'ErrorResponse', Notice: 'NoticeResponse',
  Notification: 'NotificationResponse', 'CopyIn response': 'CopyInResponse', 'CopyOut response': 'CopyOutResponse',
  'CopyBoth response': 'CopyBothResponse', 'Function call response': 'FunctionCallResponse',
  'Negotiate protocol version': 'NegotiateProtocolVersion',
};

/** Server ports tshark needs "decode as" for, and that we are told with -p. */
const DECODE_AS: Record<string, number> = {
  'deepflow/pgsql-all.pcap': 8000,
  'nDPI/pgsql2.pcapng': 60102,
  'zeek/psql-aws-ssl-disable-15432.pcap': 15432,
  'zeek/psql-aws-ssl-require-15432.pcap': 15432,
};

/** Samples with a PostgreSQL port besides 5432 that tshark must be told of: PgBouncer's client legs. */
const SAMPLE_DECODE_AS: Record<string, number> = {
  'pgbouncer.pcap': 6432,
};

/** Captures where tshark is known to be wrong, with what we expect instead. */
const TSHARK_WRONG: Record<string, { why: string; want: Record<string, number> | 'no-messages' | 'anomaly' }> = {
  'zeek/mysql-on-port-5432.pcap': { why: 'tshark force-decodes MySQL on 5432 as pgsql; it is not PostgreSQL', want: 'no-messages' },
  'zeek/http-on-port-5432.pcap': { why: 'HTTP on 5432 is not PostgreSQL', want: 'no-messages' },
  'suricata-verify/pgsql-bug-6080-probe-test-01/input.pcap': { why: 'IRC-like bytes on 5432 are not PostgreSQL', want: 'no-messages' },
  'zeek/bad-backend-message-1.pcap': { why: 'a ReadyForQuery with length 1 is malformed: tshark marks the frame malformed, we report an anomaly', want: 'anomaly' },
  'zeek/bad-startup-message-1.pcap': { why: 'a startup length of 3 is malformed: tshark marks it, we report an anomaly', want: 'anomaly' },
  'suricata-verify/pgsql-events/UnknownMessage.pcap': { why: 'an unknown startup request code: tshark calls it Unknown, so do we, and the N answer is ours alone', want: 'anomaly' },
};

/**
 * Samples where tshark is known to be wrong: what it labels Unknown, and what those messages are.
 * Its Unknown count must be exactly that many, and once they are relabelled every count must
 * agree with ours; so our counts of those types are checked as well. (The samples' own content is
 * checked against the manifest in conformance-new-samples.test.ts.)
 */
const TSHARK_WRONG_SAMPLES: Record<string, { why: string; unknownAre: Record<string, number> }> = {
  'protocol-32.pcap': {
    why: 'tshark recognises a startup packet only by the 3.0 version code: the StartupMessages asking for 3.2 and 3.9 and ' +
      'the 44-byte CancelRequest (3.2, 32-byte key) are Unknown to it',
    unknownAre: { StartupMessage: 2, CancelRequest: 1 },
  },
  'replication.pcap': {
    why: 'tshark has a CopyBoth response label but labels the W message Unknown (its CopyData it counts right, as bytes)',
    unknownAre: { CopyBothResponse: 1 },
  },
  'replication-streaming.pcap': {
    why: 'as in replication.pcap: the CopyBothResponse is Unknown to tshark',
    unknownAre: { CopyBothResponse: 1 },
  },
  'physical-replication.pcap': {
    why: 'as in replication.pcap: the CopyBothResponse of START_REPLICATION PHYSICAL is Unknown to tshark',
    unknownAre: { CopyBothResponse: 1 },
  },
};

function tsharkCounts(file: string, port: number | undefined): Map<string, number> {
  const args = ['-r', file, '-T', 'fields', '-e', 'pgsql.type'];
  if (port) args.push('-d', `tcp.port==${port},pgsql`);
  // tshark exits 2 on a capture cut short in its last packet, after printing all it decoded.
  const run = spawnSync(tshark()!, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] });
  const out = run.stdout ?? '';
  assert.ok(out.length > 0 || run.status === 0, `tshark failed on ${file}`);
  const m = new Map<string, number>();
  for (const line of out.split('\n')) {
    if (!line) continue;
    for (const name of line.split(',')) {
      const ours = TSHARK_NAMES[name] ?? `tshark:${name}`;
      m.set(ours, (m.get(ours) ?? 0) + 1);
    }
  }
  return m;
}

/** Our counts in tshark's categories: Authentication* folded, the one-byte SSL/GSS answers left out (tshark gives them no type). */
function ourCounts(types: Map<string, number>): Map<string, number> {
  const m = new Map<string, number>();
  for (const [t, n] of types) {
    if (t === 'SSLResponse' || t === 'GSSENCResponse') continue;
    const k = t.startsWith('Authentication') ? 'Authentication' : t;
    m.set(k, (m.get(k) ?? 0) + n);
  }
  return m;
}

function sorted(m: Map<string, number>): Record<string, number> {
  return Object.fromEntries([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));
}

const files = publicCaptures();
test('public captures: message counts per type agree with tshark', { skip: files === null ? SKIP_NO_PUBLIC : tshark() === null ? SKIP_NO_TSHARK : false }, async (t) => {
  for (const rel of files!) {
    await t.test(rel, async () => {
      const path = publicCapture(rel);
      const port = DECODE_AS[rel];
      const { records } = await collect(path, { ports: port ? [port] : [] });
      const ours = ourCounts(countTypes(records));
      const wrong = TSHARK_WRONG[rel];
      if (wrong) {
        if (wrong.want === 'no-messages') assert.equal(ours.size, 0, `${wrong.why}: got ${JSON.stringify(sorted(ours))}`);
        else if (wrong.want === 'anomaly') assert.ok(records.some((r) => r.kind === 'anomaly' || r.type === 'Unknown' || r.type === 'Malformed'), wrong.why);
        return;
      }
      assert.deepEqual(sorted(ours), sorted(tsharkCounts(path, port)));
    });
  }
});

test('samples: message counts per type agree with tshark', { skip: tshark() === null ? SKIP_NO_TSHARK : false }, async (t) => {
  const samples = sampleCaptures().filter((p) => !basename(p).startsWith('tls-'));
  for (const path of samples) {
    await t.test(basename(path), async () => {
      const { records } = await collect(path, {});
      const theirs = tsharkCounts(path, SAMPLE_DECODE_AS[basename(path)]);
      const wrong = TSHARK_WRONG_SAMPLES[basename(path)];
      if (wrong) {
        const unknown = Object.values(wrong.unknownAre).reduce((a, b) => a + b, 0);
        assert.equal(theirs.get('tshark:Unknown') ?? 0, unknown, wrong.why);
        theirs.delete('tshark:Unknown');
        for (const [type, n] of Object.entries(wrong.unknownAre)) theirs.set(type, (theirs.get(type) ?? 0) + n);
      }
      assert.deepEqual(sorted(ourCounts(countTypes(records))), sorted(theirs));
    });
  }
});
