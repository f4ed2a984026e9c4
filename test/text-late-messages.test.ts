/**
 * The text view prints a message on its own frame's line even when a later frame delivered it: a
 * segment that came out of order waits for the one before it, and both are delivered when that one
 * arrives. The NDJSON had those messages; the text view used to leave them out, silently.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LoggedInConnections } from './helpers/logged-in-connections.js';
import { pcapFile } from './helpers/build-packets.js';
import { commandComplete, dataRow, query, readyForQuery, rowDescription } from './helpers/pg-builder.js';
import { projectRoot } from './helpers/public-captures.js';
import { tempDir } from './helpers/temp-dir.js';

const MAIN = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const dir = tempDir('pgsniff-late-');

const select = (n: number): Buffer => Buffer.concat([
  rowDescription([{ name: 'n', typeOid: 23 }]), dataRow([String(n)]), commandComplete('SELECT 1'), readyForQuery(),
]);

/** Two pipelined Query messages in two segments, the second captured before the first. */
function reordered(): { file: string; q2: number; q3: number } {
  const net = new LoggedInConnections();
  const c = net.conn('10.0.0.1', '10.0.0.2', 5432);
  c.c(query('SELECT 1'));
  c.s(select(1));
  c.c(query('SELECT 2'));
  c.c(query('SELECT 3'));
  c.s(Buffer.concat([select(2), select(3)]));
  const frames = net.frames.slice();
  const at = frames.length - 3;
  [frames[at], frames[at + 1]] = [frames[at + 1]!, frames[at]!];
  const file = join(dir, 'reordered.pcap');
  writeFileSync(file, pcapFile(frames));
  // Frame numbers are 1-based: SELECT 3 is captured first, at `at + 1`, then SELECT 2.
  return { file, q3: at + 1, q2: at + 2 };
}

function read(args: string[]): string[] {
  const r = spawnSync(process.execPath, [MAIN, 'read', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => l.length > 0);
}

test('a Query delivered by a later frame is printed on its own frame\'s line, as the NDJSON says', () => {
  const { file, q2, q3 } = reordered();
  const recs = read(['--json', file]).map((l) => JSON.parse(l) as Record<string, unknown>);
  const queries = recs.filter((r) => r.kind === 'message' && r.type === 'Query');
  const byFrame = new Map(queries.map((r) => [r.frame as number, r]));
  assert.ok(byFrame.has(q2) && byFrame.has(q3), `NDJSON has both queries on their frames: ${[...byFrame.keys()].join(', ')}`);

  const text = read([file]);
  const line = (n: number): string | undefined => text.find((l) => l.trimStart().startsWith(`${n} `));
  assert.match(line(q2) ?? '', /SELECT 2/, text.join('\n'));
  assert.match(line(q3) ?? '', /SELECT 3/, text.join('\n'));
  assert.match(line(q3) ?? '', /10\.0\.0\.1:\d+ → 10\.0\.0\.2:5432/, 'the line has the frame\'s own addresses');
});
