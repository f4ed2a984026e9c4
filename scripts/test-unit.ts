/**
 * `npm run test:unit [-- FILTER...]`: the tests that need no PostgreSQL server, no tshark, no
 * tmux and no live capture, for the edit-build-test loop. `npm test` stays the full suite that CI
 * runs.
 *
 * A test file is an integration test when its TypeScript source uses one of the INTEGRATION
 * markers below (the real-server helper, the tmux driver, a live capture, tshark, a spawned
 * client or server, pgsniff itself run as a child process, or the public capture corpus); so a new test file is sorted by
 * what it does, with no list to keep. FILTER words keep only the files
 * whose names contain one of them (`npm run test:unit -- session filter`).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Source fragments that mark a test as needing more than Node.js and the repository. */
const INTEGRATION: readonly string[] = [
  'helpers/pg-server', // a real PostgreSQL server
  'helpers/tui-tmux', // the terminal UI in tmux
  'helpers/tls-capture', // tcpdump on loopback
  'tcpdump',
  'SKIP_NO_TSHARK', // the reference decoder
  'tshark()',
  '/usr/bin/python3', // the Python drivers
  'java',
  'pgbouncer',
  'chromium',
  'clickhouse',
  'prometheus',
  // End to end: the test starts pgsniff (or node) as a child process per case, or many worker
  // processes; these are the slow files of the old unit set (secrets, hostile-cli, cli-relaunch,
  // check-command, capture-open, fuzz-short, readme-examples took most of its time).
  'process.execPath',
  'runFuzz',
  'scripts/readme-examples',
  // Conformance: walks the public capture corpus (../shared/captures/public, outside the project).
  'publicCaptures()',
];

const here = dirname(fileURLToPath(import.meta.url));
const sourceDir = join(here, '..', '..', 'test'); // dist/scripts -> the repository's test/
const testDir = join(here, '..', 'test'); // dist/test
const filters = process.argv.slice(2);

const files = readdirSync(testDir)
  .filter((f) => f.endsWith('.test.js'))
  .filter((f) => filters.length === 0 || filters.some((w) => f.includes(w)))
  // A compiled test whose source is gone (renamed or deleted since the last build) is stale:
  // tsc does not remove its output, and running it would test code that no longer exists.
  .filter((f) => existsSync(join(sourceDir, f.replace(/\.js$/, '.ts'))))
  .filter((f) => {
    const src = readFileSync(join(sourceDir, f.replace(/\.js$/, '.ts')), 'utf8');
    return !INTEGRATION.some((m) => src.includes(m));
  })
  .sort()
  .map((f) => join(testDir, f));

if (files.length === 0) {
  process.stderr.write('test:unit: no unit test file matches\n');
  process.exit(2);
}
const run = spawnSync(process.execPath, ['--test', ...files], { stdio: 'inherit' });
process.exit(run.status ?? 1);
