/**
 * The terminal UI on the project's sample captures, through the real pipeline: the launcher
 * (scripts/tui-demo.ts) and the CLI (`pgsniff read FILE` on a terminal). Frame numbers change when
 * the samples are regenerated, so the screens are checked by content (SQL, errors), not by
 * position.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from './helpers/public-captures.js';
import { TmuxUi, tmuxAvailable, SKIP_NO_TMUX } from './helpers/tui-tmux.js';

const sample = (name: string) => join(projectRoot, 'samples', name);
const skip = !tmuxAvailable() ? SKIP_NO_TMUX
  : !existsSync(sample('extended-query.pcap')) || !existsSync(sample('errors.pcap')) ? 'samples/*.pcap absent (npm run samples): skipped'
  : false;

function frameRows(screen: string): string[] {
  return screen.split('\n').filter((l) => /^│\s+\d+ \d+\.\d{6} /.test(l));
}

test('extended-query.pcap: frame list, a Parse in the tree and its bytes, the Parse filter', { skip }, async () => {
  const ui = TmuxUi.start([sample('extended-query.pcap')]);
  try {
    let s = await ui.waitFor('loaded in', 8000);
    assert.match(s, />@ StartupMessage user=postgres database=pgsniff_samples application_name=extended-q/);
    assert.match(s, />P\/B\/D\/E\/S Parse "SELECT \$1::int \+ \$2::int AS sum"/);
    assert.match(s, /<R AuthenticationSASL SCRAM-SHA-256/);
    // The named statement, through find.
    ui.keys(':');
    ui.type('type_name');
    ui.keys('Enter');
    s = await ui.waitFor('Statement: type_name');
    assert.match(s, /▾ Parse \(frontend 'P', length \d+\)/);
    assert.match(s, /Query: SELECT typname FROM pg_type WHERE oid = \$1/);
    assert.match(s, /▸ Query #\d+: [\d.]+ ms, 1 row\b/);
    assert.match(s, /Bytes: frame \d+, \d+ bytes \(from the capture file\)/);
    // Into the tree: the Parse message's own bytes.
    s = await ui.press('Tab', 'j', 'j', 'j'); // past the Frame, IP and TCP nodes
    assert.match(s, /Bytes: Parse message, \d+ bytes/);
    assert.match(s, /^│0000  50 00 00 00 /m);
    // The display filter.
    await ui.press('Escape');
    ui.keys('/');
    ui.type('type == "Parse"');
    ui.keys('Enter');
    s = await ui.waitFor(/Frames \d+ of \d+ shown/);
    const rows = frameRows(s);
    assert.ok(rows.length >= 4, s);
    for (const r of rows) assert.match(r, />P\//);
  } finally {
    ui.stop();
  }
});

test('errors.pcap: red failures in the timeline, queries and follow views', { skip }, async () => {
  const ui = TmuxUi.start([sample('errors.pcap')]);
  try {
    let s = await ui.waitFor('loaded in', 8000);
    assert.match(s, /<E Error 22012 division by zero/);
    s = await ui.press('t');
    assert.match(s, /Timeline: 1 session, \d+ queries/);
    assert.match(s, /^│#0 :\d+ postgres\/errors\s+.*█/m);
    const coloured = ui.screenWithColours();
    assert.match(coloured, /\x1b\[31m█/, 'a failed query is a red bar');
    await ui.press('Escape');
    s = await ui.press('q');
    assert.match(s, /ERROR 22012\s+SELECT 1\/0/);
    await ui.press('Escape');
    s = await ui.press('f');
    assert.match(s, /Follow session #0 127\.0\.0\.1:\d+ → 127\.0\.0\.1:5432 user postgres db pgsniff_samples/);
    assert.match(s, />\s+Q Query "SELECT 1\/0"/);
    assert.match(s, /<\s+E Error 22012 division by zero/);
  } finally {
    ui.stop();
  }
});

test('pgsniff read FILE on a terminal opens the UI', { skip }, async () => {
  const ui = TmuxUi.start(['read', sample('errors.pcap')], { script: '../cli/main.js' });
  try {
    const s = await ui.waitFor('loaded in', 8000);
    assert.match(s, /No\. Time\s+Source\s+Destination\s+Length Info/);
    assert.match(s, /<E Error 22012 division by zero/);
    assert.match(s, /pgsniff \S*errors\.pcap │ \d+ packets/);
    ui.keys('Q');
    await ui.waitFor('[exit 0]');
  } finally {
    ui.stop();
  }
});
