/**
 * Conformance with tshark on the public corpus: every statement result tshark decodes
 * (CommandComplete, EmptyQueryResponse, PortalSuspended, FunctionCallResponse, or an
 * ErrorResponse outside authentication) is exactly one completed query record of ours.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { analyzeFile } from '../src/pipeline/analyze.js';
import { publicCaptures, publicCapture, SKIP_NO_PUBLIC, tshark, SKIP_NO_TSHARK } from './helpers/public-captures.js';

const all = publicCaptures();
const SKIP = all === null ? SKIP_NO_PUBLIC : tshark() === null ? SKIP_NO_TSHARK : false;

/** Where the two must differ, and why (facts from the corpus INDEX.md). */
const EXCEPT: Record<string, string> = {
  'deepflow/prepare_stat.pcap': 'two unrelated packets: the BindComplete/CommandComplete answer requests not in the capture',
  'zeek/mysql-on-port-5432.pcap': 'negative sample: tshark decodes MySQL bytes as a CommandComplete',
  'zeek/bad-startup-message-1.pcap': 'crafted start-up of length 3: not PostgreSQL for pgsniff, while tshark decodes the reply as an ErrorResponse',
};

/** Non-default server ports, as the INDEX lists them. */
function portsOf(rel: string): number[] {
  if (rel.includes('deepflow/pgsql-all')) return [8000];
  if (rel.includes('pgsql2.pcapng')) return [60102];
  if (rel.includes('15432')) return [15432];
  return [];
}

test('public corpus: completed query records equal tshark\'s statement results', { skip: SKIP }, async () => {
  for (const rel of all ?? []) {
    if (rel in EXCEPT) continue;
    const ports = portsOf(rel);
    let done = 0;
    let authFailures = 0;
    await analyzeFile(publicCapture(rel), {
      record: (r) => {
        if (r.kind === 'query' && r['skipped'] === false && r['incomplete'] === false) done++;
        if (r.kind === 'session' && (r['auth'] as { outcome: string }).outcome === 'failure') authFailures++;
      },
    }, { messages: false, ports });
    const args = ['-r', publicCapture(rel), '-Y', 'pgsql', '-T', 'fields', '-e', 'pgsql.type'];
    for (const p of ports) args.push('-d', `tcp.port==${p},pgsql`);
    // tshark exits non-zero on captures cut short; what it decoded before still counts
    const out = spawnSync(tshark()!, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }).stdout;
    let results = 0;
    let errors = 0;
    for (const line of out.split('\n')) {
      for (const t of line.split(',')) {
        if (t === 'Command completion' || t === 'Empty query' || t === 'Portal suspended' || t === 'Function call response') results++;
        else if (t === 'Error') errors++;
      }
    }
    assert.equal(done, results + errors - authFailures, rel);
  }
});
