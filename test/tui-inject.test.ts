/**
 * The terminal UI with injected streams (no pseudo-terminal): what bytes reach the terminal.
 * Nothing from the wire may arrive raw (no escape sequence, no bell, no title change), and
 * mouse reports on the input select rows.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { runTui } from '../src/tui/app.js';
import { feedSynthetic, HOSTILE_SQL } from './helpers/tui-synthetic.js';
import { analyzeFile } from '../src/pipeline/analyze.js';
import { publicCaptures, publicCapture, SKIP_NO_PUBLIC } from './helpers/public-captures.js';

interface Harness {
  input: PassThrough;
  output(): string;
  clear(): void;
  done: Promise<number>;
  /** Resolves when the synthetic feed has been delivered to the UI's store. */
  fed: Promise<void>;
}

function start(): Harness {
  const input = new PassThrough();
  const out = new PassThrough() as PassThrough & { columns: number; rows: number; isTTY: boolean };
  out.columns = 160;
  out.rows = 48;
  out.isTTY = true;
  let text = '';
  out.on('data', (d: Buffer) => { text += d.toString('utf8'); });
  let fedResolve: () => void = () => {};
  const fed = new Promise<void>((r) => { fedResolve = r; });
  const done = runTui({
    title: 'injected', live: false, input, output: out, renderMs: 20,
    start: async (sink, signal) => { await feedSynthetic(sink, signal); fedResolve(); },
  });
  return { input, output: () => text, clear: () => { text = ''; }, done, fed };
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls the terminal output until `re` matches. blessed writes only the cells that changed, so
 * only text that is redrawn whole (a row changing colour) can be waited for this way.
 */
async function until(h: Harness, re: RegExp, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!re.test(h.output())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${re}`);
    await pause(20);
  }
}

test('wire text never reaches the terminal raw: no escape sequence, bell or title from a query', async () => {
  const h = start();
  await h.fed;
  await pause(200);
  // Go to the hostile query's frame and open every view that shows it.
  h.input.write(':63\r');
  await pause(200);
  for (const k of ['\t', 'j', 'j', 'q', 'G', '\x1b', 't', 'G', '\x1b', 'S']) {
    h.input.write(k);
    await pause(80);
  }
  const all = h.output();
  assert.ok(HOSTILE_SQL.includes('\x1b]0;pwned\x07'));
  assert.ok(!all.includes('\x1b]0;pwned'), 'no window-title sequence from the wire');
  assert.ok(!all.includes('\x07'), 'no bell');
  assert.ok(!all.includes('\x1b[31mRED'), 'no colour change from the wire');
  assert.ok(!all.includes('\x1b[2J{'), 'no clear-screen from the wire');
  assert.ok(all.includes('\\e[31mRED'), 'the sequence is shown escaped');
  assert.ok(all.includes('{red-fg}tag{/red-fg}'), 'blessed tags are shown literally');
  h.input.write('Q');
  assert.equal(await h.done, 0);
});

test('a mouse click on a row selects that frame', async () => {
  const h = start();
  await h.fed;
  await pause(200);
  h.clear();
  // X10/UTF-8 mouse report: button 1 press and release at column 6, row 6 (1-based, +32):
  // the fourth data row under the border and the header.
  h.input.write('\x1b[M &&');
  h.input.write('\x1b[M#&&');
  // The row of frame 4 is redrawn inverse (SGR 7).
  await until(h, /\x1b\[7;\d+m\s+4 0\.002100/);
  h.input.write('Q');
  assert.equal(await h.done, 0);
});

test('every public capture opens and every view draws, whatever the capture holds', async (t) => {
  const list = publicCaptures();
  if (!list) {
    t.skip(SKIP_NO_PUBLIC);
    return;
  }
  const keys = ['j', 'j', 'j', 'j', 'j', '\t', 'j', 'j', 'j', '\r', '*', '\t', 'G', 'f', 'G', '\x1b', 't', 'l', '+', 'j', '\x1b',
    's', 'j', '\x1b', 'q', '2', '4', '\x1b', 'S', '\x1b', '?', '\x1b', ':', 'x', '\r', 'n', '/', 't', 'y', 'p', 'e', '\r'];
  for (const rel of list) {
    const input = new PassThrough();
    const out = new PassThrough() as PassThrough & { columns: number; rows: number; isTTY: boolean };
    out.columns = 120;
    out.rows = 40;
    out.isTTY = true;
    out.resume();
    const errors: unknown[] = [];
    let fed: () => void = () => {};
    const loaded = new Promise<void>((r) => { fed = r; });
    const path = publicCapture(rel);
    const done = runTui({
      title: rel, live: false, input, output: out, capturePath: path, renderMs: 10,
      onDisplayError: (e) => errors.push(e),
      start: async (sink, signal) => {
        try { await analyzeFile(path, sink, { signal }); } finally { fed(); }
      },
    });
    await loaded;
    for (const k of keys) {
      input.write(k);
      await pause(10);
    }
    await pause(50);
    input.write('Q');
    assert.equal(await done, 0, rel);
    assert.deepEqual(errors.map(String), [], rel);
  }
});
