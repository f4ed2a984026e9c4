/**
 * Peak resident size of `pgsniff` itself on generated hostile captures (issue 19), against
 * --memory-limit. The captures are written by the test into a temporary directory (never
 * committed): the budget shapes of scripts/fuzz-shapes-budgets.ts, large, and the many-connection
 * shapes of test/helpers/hostile-captures.ts.
 *
 * How it measures: the command runs under /usr/bin/time (GNU time, `%M`: the peak resident size
 * of the process it ran and of the children it waited for, here read's or stats' relaunched
 * engine process). The process measured is exec'd from time's own small image: a child spawned
 * from this test process would inherit this process's mark (Linux records the address space it
 * replaces at exec in ru_maxrss, and this process holds the generated captures), which is what
 * read 259-261 MB for a ~180 MB run before. A trivial capture is measured first, to show the
 * method reads sane. No wall-clock assertion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { projectRoot } from './helpers/public-captures.js';
import { arrayRows, openBlocks, pendingExtended, pendingQueries } from '../scripts/fuzz-shapes-budgets.js';
import { conflictingOverlaps, declaredLengths, manyConnections } from './helpers/hostile-captures.js';

const MAIN = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const TIME = '/usr/bin/time';
const tmp = mkdtempSync(join(tmpdir(), 'pgsniff-hostile-memory-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

/** Peak resident size (MB) of `pgsniff ARGS`, output to /dev/null. */
function peakMb(args: string[]): number {
  const out = openSync('/dev/null', 'w');
  try {
    const r = spawnSync(TIME, ['-f', 'pgsniff-peak-kb %M', process.execPath, MAIN, ...args], {
      encoding: 'utf8', stdio: ['ignore', out, 'pipe'], maxBuffer: 1 << 24,
    });
    const m = /pgsniff-peak-kb (\d+)\s*$/.exec(r.stderr);
    assert.ok(m, `no peak from ${TIME}: ${r.stderr.slice(-2000)}`);
    assert.equal(r.status, 0, r.stderr.slice(-2000));
    return Number(m[1]) / 1024;
  } finally {
    closeSync(out);
  }
}

function write(name: string, data: Buffer): string {
  const f = join(tmp, name);
  writeFileSync(f, data);
  return f;
}

const skip = existsSync(TIME) ? false : `${TIME} (Debian package time) is not installed`;

test('the measure reads sane: a trivial capture peaks between 20 and 128 MB', { skip }, (t) => {
  const mb = peakMb(['read', join(projectRoot, 'samples', 'copy.pcap'), '--json']);
  t.diagnostic(`read --json samples/copy.pcap: ${mb.toFixed(0)} MB`);
  assert.ok(mb > 20 && mb < 128, `${mb.toFixed(0)} MB`);
});

/** The shapes, each made once (sizes: a few seconds of CPU each, past every share of a 128 MB limit). */
const shapes: Array<[string, () => Buffer]> = [
  // 1,000 connections x 2,000 unanswered empty Query messages (2M requests, 13 MB)
  ['pending-queries', () => pendingQueries(1000, 20, '')],
  // 300 connections x 500 Parse/Bind/Execute of distinct statements and portals, never synced
  ['pending-extended', () => pendingExtended(300, 10)],
  // 10 queries x 100 rows of 20,000-element int8 arrays (40 MB of rows)
  ['array-rows', () => arrayRows(100, 20_000, 10)],
  // 500 connections x 8 SELECTs of 16 KB in blocks never committed (held records)
  ['open-blocks-sql', () => openBlocks(500, 8, 16_384, 100)],
  // the same with 16 KB rows
  ['open-blocks-rows', () => openBlocks(500, 8, 100, 16_384)],
  // 10,000 connections, each an out-of-order copy overwritten by a conflicting in-order one
  ['conflicting-overlaps', () => conflictingOverlaps(10_000)],
  // 10,000 connections each declaring a 60 MiB DataRow with 1 byte of it
  ['declared-lengths', () => declaredLengths(10_000, 60 * 1024 * 1024)],
  // 50,000 connections that send a StartupMessage and nothing more
  ['startup-only', () => manyConnections(50_000, 'startup')],
];

for (const [name, make] of shapes) {
  test(`${name}: peak resident size under --memory-limit 128 (read --json, read --json --queries --rows, stats)`, { skip, timeout: 900_000 }, (t) => {
    const file = write(`${name}.pcap`, make());
    // stats loads libpg-query after the pass (or when its groups need it): the pass runs without it.
    for (const [args, limit] of [[['read', file, '--json'], 128], [['read', file, '--json', '--queries', '--rows'], 128], [['stats', file], 128]] as const) {
      const mb = peakMb([...args, '--memory-limit', String(limit)]);
      t.diagnostic(`${args[0]} ${args.slice(2).join(' ')} --memory-limit ${limit}: ${mb.toFixed(0)} MB`);
      assert.ok(mb < limit, `${name}: ${args[0]} ${args.slice(2).join(' ')} peaked at ${mb.toFixed(0)} MB, over --memory-limit ${limit}`);
    }
  });
}
