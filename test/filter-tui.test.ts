/**
 * The terminal UI's `/` speaks the same field names as `-Y` (src/filter/fields.ts): an unknown
 * field is refused in the status line with the same words and the nearest names, the list stays
 * whole; a registry key filters the frames of the messages and queries that carry it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { TmuxUi, tmuxAvailable, SKIP_NO_TMUX } from './helpers/tui-tmux.js';
import { projectRoot } from './helpers/public-captures.js';

const skip = tmuxAvailable() ? false : SKIP_NO_TMUX;
const ERRORS = join(projectRoot, 'samples', 'errors.pcap');

test("/ with an unknown field shows -Y's error in the status line; a registry key filters", { skip }, async () => {
  const cli = spawnSync(process.execPath, [join(projectRoot, 'dist', 'src', 'cli', 'main.js'), 'read', ERRORS, '--json', '-Y', 'durationMss > 1'], { encoding: 'utf8' });
  assert.equal(cli.status, 2);
  assert.match(cli.stderr, /unknown field "durationMss"; did you mean durationMs\?/);
  const ui = TmuxUi.start(['read', ERRORS], { script: '../cli/main.js', width: 200, height: 48 });
  try {
    const first = await ui.waitFor(/Frames \d+/);
    const total = /Frames (\d+)/.exec(first)![1];
    ui.keys('/');
    await ui.waitFor('Filter:');
    ui.type('durationMss > 1');
    let s = await ui.waitFor('✗');
    assert.match(s, /unknown field "durationMss"; did you mean durationMs\?/);
    ui.keys('Enter');
    s = await ui.press();
    assert.match(s, new RegExp(`Frames ${total} `), 'the list stays whole');
    ui.keys('C-u');
    ui.type('pgsql.error.sqlstate == "42P01"');
    await ui.waitFor('✓');
    ui.keys('Enter');
    s = await ui.waitFor(/filter: pgsql\.error\.sqlstate == "42P01" \(\d+\)/);
    // the Bind/Execute frame whose query failed, and the ErrorResponse's frame
    assert.match(s, /filter: pgsql\.error\.sqlstate == "42P01" \(2\)/);
  } finally {
    ui.stop();
  }
});
