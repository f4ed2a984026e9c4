/**
 * A million-packet capture through the real pipeline: the first screen comes while the rest
 * loads behind a progress figure, keys work during the load, and Ctrl-C cancels it.
 * The capture is written to the system's temporary directory and removed afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TmuxUi, tmuxAvailable, SKIP_NO_TMUX } from './helpers/tui-tmux.js';
import { writeBigCapture } from './helpers/tui-bigpcap.js';

const skip = tmuxAvailable() ? false : SKIP_NO_TMUX;

test('a million packets: first screen at once, progress, keys during the load, Ctrl-C cancels', { skip, timeout: 180_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-tui-'));
  const file = join(dir, 'million.pcap');
  try {
    assert.equal(writeBigCapture(file, 1_000_000), 1_000_000);
    const ui = TmuxUi.start([file]);
    try {
      // Functional, not timed (time to first screen is docs/BENCHMARK.md's): the first rows
      // show while the load is still under way.
      let s = await ui.waitFor(/>@ StartupMessage user=bench database=big/, 60_000);
      s = await ui.waitFor(/loading \d+%/);
      const loaded = Number(/│ (\d+) packets/.exec(s)?.[1] ?? 0);
      assert.ok(loaded < 1_000_000, 'the screen came before the load finished');
      // Keys are handled while the load goes on.
      ui.keys('j', 'j', 'j');
      await ui.waitFor('Frame 4:', 3000);
      ui.keys('C-c');
      s = await ui.waitFor(/load cancelled at \d+ packets/, 5000);
      const at = Number(/load cancelled at (\d+) packets/.exec(s)?.[1] ?? 0);
      assert.ok(at > 0 && at < 1_000_000, s);
      // What was loaded stays browsable.
      s = await ui.press('G');
      assert.match(s, /Frame \d+:/);
      ui.keys('C-c');
      await ui.waitFor('[exit 0]', 5000);
    } finally {
      ui.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
