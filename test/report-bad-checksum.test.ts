/**
 * The report counts query records built from bytes whose TCP checksum was wrong (badChecksum:
 * the segment was taken because no correct copy came): the overview says how many, and the trust
 * line says the numbers cannot all be verified, as it says gaps and drops (the whole capture's,
 * whatever -Y shows). A correct retransmission after the bad copy leaves nothing to say.
 * Captures are generated here, as in bad-checksum-records.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ReportData } from '../src/sinks/report/data.js';
import { pcapFile } from './helpers/build-packets.js';
import { LoggedInConnections } from './helpers/logged-in-connections.js';
import { commandComplete, dataRow, query, readyForQuery, rowDescription } from './helpers/pg-builder.js';
import { projectRoot } from './helpers/public-captures.js';
import { corrupt } from './helpers/tcp-checksum.js';
import { tempDir } from './helpers/temp-dir.js';

const MAIN = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const dir = tempDir('pgsniff-report-badsum-');

/**
 * Three simple queries on one session; the frames of the Queries named in `bad` get a wrong TCP
 * checksum, each followed by a correct copy when `retransmit`.
 */
function capture(bad: number[], retransmit: boolean): Buffer {
  const net = new LoggedInConnections();
  const c = net.conn('10.0.0.1', '10.0.0.2', 5432);
  const at: number[] = [];
  for (let n = 1; n <= 3; n++) {
    c.c(query(`SELECT ${n}`));
    if (bad.includes(n)) at.push(net.frames.length - 1);
    c.s(Buffer.concat([rowDescription([{ name: 'n', typeOid: 23 }]), dataRow([String(n)]), commandComplete('SELECT 1'), readyForQuery()]));
  }
  const frames = net.frames.slice();
  for (const i of at.reverse()) {
    const good = frames[i]!;
    const wrong = corrupt(good);
    frames.splice(i, 1, ...(retransmit ? [wrong, good] : [wrong]));
  }
  return pcapFile(frames);
}

function report(name: string, pcap: Buffer, args: string[] = []): ReportData {
  const file = join(dir, name + '.pcap');
  const out = join(dir, name + '.html');
  writeFileSync(file, pcap);
  const r = spawnSync(process.execPath, [MAIN, 'report', file, '-o', out, ...args], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const m = /<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/.exec(readFileSync(out, 'utf8'));
  assert.ok(m, 'the data block');
  return JSON.parse(m[1]!) as ReportData;
}

test('query records with a wrong TCP checksum: counted in the overview, said in the trust line (also under -Y); a correct retransmission leaves nothing to say', () => {
  const one = report('one', capture([2], false));
  assert.equal(one.overview.queries, 3);
  assert.equal(one.overview.badChecksum, 1);
  assert.equal(one.overview.trust.level, 'bad', one.overview.trust.line);
  assert.match(one.overview.trust.line, /1 query record built from bytes with a wrong TCP checksum \(what it says could not be verified\)/);

  const two = report('two', capture([1, 3], false));
  assert.equal(two.overview.badChecksum, 2);
  assert.match(two.overview.trust.line, /2 query records built from bytes with a wrong TCP checksum/);

  // -Y shows no query: the trust line is still the capture's
  const filtered = report('filtered', capture([2], false), ['-Y', 'kind == session']);
  assert.equal(filtered.overview.queries, 0);
  assert.equal(filtered.overview.badChecksum, 1);
  assert.match(filtered.overview.trust.line, /1 query record built from bytes with a wrong TCP checksum/);

  const fixed = report('fixed', capture([2], true));
  assert.equal(fixed.overview.queries, 3);
  assert.equal(fixed.overview.badChecksum, 0);
  assert.doesNotMatch(fixed.overview.trust.line, /checksum/);
});
