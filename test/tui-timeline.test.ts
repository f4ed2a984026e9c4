/**
 * Issue 16, the timeline on busy traffic, in tmux at 80x24 and 200x50: 400 back-to-back queries
 * on one connection (many to a cell), one failure and one slow query among them, and two idle
 * stretches. Many bars to a cell show as heights (how many were in flight), while the failed
 * query's cell stays red and full and the slow one's magenta; < / > pan anywhere, not only
 * around the selected bar; [ / ] jump to the idle periods.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TmuxUi, tmuxAvailable, SKIP_NO_TMUX } from './helpers/tui-tmux.js';
import { conversation, pcapFile, type FrameRecord, type ConversationStep } from './helpers/build-packets.js';
import { startup, query, readyForQuery, commandComplete, authentication, errorResponse } from './helpers/pg-builder.js';
import { width } from '../src/tui/term-width.js';

const skip = tmuxAvailable() ? false : SKIP_NO_TMUX;
const dir = mkdtempSync(join(tmpdir(), 'pgsniff-tui-timeline-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const N = 400;
const FAIL_AT = 150;
const SLOW_AT = 300;
const IDLE_1_AFTER = 100;
const IDLE_2_AFTER = 250;

/**
 * One connection, N simple queries 1 ms apart (frames every 0.5 ms); query FAIL_AT fails,
 * query SLOW_AT takes 80 ms; after queries IDLE_1_AFTER and IDLE_2_AFTER nothing happens for
 * 0.6 s and 0.9 s.
 */
function busyCapture(): Buffer {
  const steps: ConversationStep[] = [
    { from: 'client', data: startup({ user: 'bench', database: 'db', application_name: 'pgbench' }) },
    { from: 'server', data: Buffer.concat([authentication(0), readyForQuery()]) },
  ];
  for (let i = 0; i < N; i++) {
    steps.push({ from: 'client', data: query(i === FAIL_AT ? 'SELECT broken_column FROM t' : i === SLOW_AT ? 'SELECT pg_sleep(0.08)' : `SELECT ${i}`) });
    steps.push({ from: 'server', data: i === FAIL_AT
      ? Buffer.concat([errorResponse({ S: 'ERROR', V: 'ERROR', C: '42703', M: 'column "broken_column" does not exist' }), readyForQuery()])
      : Buffer.concat([commandComplete('SELECT 1'), readyForQuery()]) });
  }
  const frames: FrameRecord[] = conversation(steps, { stepUs: 500 });
  // Frames after a point move later: the slow answer, then the idle stretches (3 handshake + 2 startup frames first).
  const shift = (fromStep: number, us: number) => {
    const first = 3 + fromStep;
    for (let k = first; k < frames.length; k++) (frames[k] as FrameRecord).timeUs = ((frames[k] as FrameRecord).timeUs ?? 0) + us;
  };
  shift(2 + 2 * SLOW_AT + 1, 80_000);
  shift(2 + 2 * (IDLE_2_AFTER + 1), 900_000);
  shift(2 + 2 * (IDLE_1_AFTER + 1), 600_000);
  return pcapFile(frames);
}

const CAPTURE = join(dir, 'busy.pcap');
writeFileSync(CAPTURE, busyCapture());

async function open(size: { width: number; height: number }): Promise<TmuxUi> {
  const ui = TmuxUi.start([CAPTURE], size);
  await ui.waitFor(/loaded in/, 15_000);
  return ui;
}

/** The session's row of the timeline, as text and with colours. */
function row(ui: TmuxUi, screen: string): { text: string; coloured: string } {
  const text = screen.split('\n').find((l) => l.startsWith('│#0 ')) ?? '';
  const coloured = ui.screenWithColours().split('\n').find((l) => l.includes('#0 :40000')) ?? '';
  return { text, coloured };
}

for (const size of [{ width: 80, height: 24 }, { width: 200, height: 50 }]) {
  test(`timeline at ${size.width}x${size.height}: density heights, the failed and the slow query kept visible, pan anywhere, idle periods`, { skip, timeout: 120_000 }, async () => {
    const ui = await open(size);
    try {
      let s = await ui.press('t');
      s = await ui.waitFor(/Timeline: 1 session, 400 queries, slow > [\d.]+ ms/);
      let r = row(ui, s);
      // Many bars to a cell: heights below the full block appear.
      assert.match(r.text, /[▁▂▃▄▅▆▇]/, r.text);
      // The failed query's cell: red and full; the slow one's: magenta and full.
      assert.match(r.coloured, /\x1b\[(?:\d+;)*31m█/, 'the failed query stays a red block');
      assert.match(r.coloured, /\x1b\[(?:\d+;)*35m█/, 'the slow query stays a magenta block');
      for (const line of s.split('\n').slice(0, -1)) if (/^[│┌└]/.test(line.trimEnd())) assert.equal(width(line.trimEnd()), size.width, line);

      // Zoom in around the selected (first) bar, then pan right, away from it: the axis moves on.
      for (let i = 0; i < 4; i++) s = await ui.press('+');
      const axis = (t: string) => [...(t.split('\n').find((l) => /^│session\s+\|/.test(l)) ?? '').matchAll(/\|(\d+\.\d+)s/g)].map((m) => Number(m[1]));
      const before = axis(s);
      s = await ui.press('>');
      s = await ui.press('>');
      s = await ui.press('>');
      const afterPan = axis(s);
      assert.match(s, /panned/);
      assert.ok((afterPan[0] ?? 0) > (before[0] ?? 0), `panned right: ${before} -> ${afterPan}`);
      assert.match(s, /Query #1\s/, 'the selection stays where it was');
      s = await ui.press('<');
      assert.ok((axis(s)[0] ?? 0) < (afterPan[0] ?? 0));

      // The idle periods, in order; the second is 0.9 s long.
      s = await ui.press('0');
      ui.keys(']');
      s = await ui.waitFor(/idle 6\d\d\.\d+ ms: no query in flight from \+0\.\d+ s/);
      ui.keys(']');
      s = await ui.waitFor(/idle 9\d\d\.\d+ ms/);
      ui.keys(']');
      s = await ui.waitFor(/no later idle period/);
      ui.keys('[');
      s = await ui.waitFor(/idle 6\d\d\.\d+ ms/);
      r = row(ui, s);
      assert.ok(r.text.length > 0);
      // h/l follow the bar again.
      s = await ui.press('l');
      assert.doesNotMatch(s, /panned/);
      assert.match(s, /Query #2\s/);
    } finally {
      ui.stop();
    }
  });
}

/**
 * Twelve queries of 2.4 ms, one every 3 ms, in a capture of exactly 51 ms: at 80 columns the
 * chart is 51 cells of 1 ms, so each bar takes three cells and the next begins in the very next
 * cell. Without a mark they would read as one bar.
 */
function sideBySideCapture(): Buffer {
  const steps: ConversationStep[] = [
    { from: 'client', data: startup({ user: 'bench', database: 'db' }) },
    { from: 'server', data: Buffer.concat([authentication(0), readyForQuery()]) },
  ];
  const K = 12;
  for (let k = 0; k < K; k++) {
    steps.push({ from: 'client', data: query(`SELECT ${k}`) });
    steps.push({ from: 'server', data: Buffer.concat([commandComplete('SELECT 1'), readyForQuery()]) });
  }
  const frames: FrameRecord[] = conversation(steps, { stepUs: 100 });
  const t0 = frames[0]!.timeUs ?? 0;
  for (let k = 0; k < K; k++) {
    frames[3 + 2 + 2 * k]!.timeUs = t0 + 10_100 + 3000 * k;
    frames[3 + 3 + 2 * k]!.timeUs = t0 + 12_500 + 3000 * k;
  }
  for (let i = 3 + 2 + 2 * K; i < frames.length; i++) frames[i]!.timeUs = t0 + 51_000;
  return pcapFile(frames);
}

test('timeline: bars in neighbouring cells keep a gap between them (▌ at 80 columns; blank cells at 200)', { skip, timeout: 120_000 }, async () => {
  const file = join(dir, 'side-by-side.pcap');
  writeFileSync(file, sideBySideCapture());
  for (const size of [{ width: 80, height: 24 }, { width: 200, height: 50 }]) {
    const ui = TmuxUi.start([file], size);
    try {
      await ui.waitFor(/loaded in/, 15_000);
      const s = await ui.press('t');
      const text = (s.split('\n').find((l) => l.startsWith('│#0 ')) ?? '').slice(1 + 26 + 1);
      // A bar: its cells, ended by a half block when the next bar follows at once.
      const bars = text.match(/[▓█]+▌?/g) ?? [];
      assert.equal(bars.length, 12, `twelve bars told apart at ${size.width} columns: ${text}`);
      if (size.width === 80) {
        // Each bar: two full cells and a half one (the last, followed by none, three full); the first is the selected one (▓).
        assert.ok(text.includes('▓▓▌' + '██▌'.repeat(10) + '███─'), text);
      }
      // The selected bar keeps its own colour (white), the others green; l moves the selection on.
      const coloured = () => ui.screenWithColours().split('\n').find((l) => l.includes('#0 :40000')) ?? '';
      assert.match(coloured(), /\x1b\[(?:\d+;)*37m▓/, 'the selected bar is white');
      await ui.press('l');
      const after = (ui.screen().split('\n').find((l) => l.startsWith('│#0 ')) ?? '').slice(1 + 26 + 1);
      assert.match(after, size.width === 80 ? /^─+██▌▓▓▌/ : /^─+█+─+▓+─/, after);
      assert.match(coloured(), /\x1b\[(?:\d+;)*37m▓/);
    } finally {
      ui.stop();
    }
  }
});
