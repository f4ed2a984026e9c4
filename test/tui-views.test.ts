/**
 * Issue 16, the parts of the UI around the panes, in a real pseudo-terminal at 80x24 and
 * larger: a value too long for its pane read whole in the viewer (a 6.8 KB multi-line query,
 * a JSON document), pane sizes (+ / -) and one pane maximised (z), F back to the frame list
 * from any view, labels with meaning (column names, $n, SQLSTATE condition names), and the
 * dashboard of charts (blessed-contrib) following the display filter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTui, gotoFrame, tmuxAvailable, SKIP_NO_TMUX, type TmuxUi } from './helpers/tui-tmux.js';
import { conversation, pcapFile } from './helpers/build-packets.js';
import {
  startup, query, readyForQuery, commandComplete, rowDescription, dataRow, authentication, errorResponse, parse, bind, execute, sync,
} from './helpers/pg-builder.js';
import { width } from '../src/tui/term-width.js';
import { TuiStore } from '../src/tui/store.js';
import { FrameFilter } from '../src/tui/frame-filter.js';
import { StatsAccumulator } from '../src/tui/text-views.js';
import { dashboardSeries } from '../src/tui/dashboard-data.js';
import { feedSynthetic } from './helpers/tui-synthetic.js';
import { valueLines } from '../src/tui/value-view.js';

const skip = tmuxAvailable() ? false : SKIP_NO_TMUX;

/** An ORM-style query of many lines, about 6.8 KB, ending on a marker the viewer must reach. */
const LONG_SQL = ['SELECT', ...Array.from({ length: 230 }, (_, i) => `  t.column_${i} AS "日本語_${i}",`), '  1 AS last', 'FROM wide_table t', '-- end of the long query'].join('\n');
const JSON_DOC = JSON.stringify({ user: { id: 7, email: 'a@example.com', tags: ['x', 'y'] }, note: 'line one\nline two 🐘' });

function capture(): Buffer {
  const rows = Buffer.concat([rowDescription([{ name: 'email', typeOid: 25 }, { name: 'doc', typeOid: 3802 }])]);
  const frames = conversation([
    { from: 'client', data: startup({ user: 'alice', database: 'db' }) },
    { from: 'server', data: Buffer.concat([authentication(0), readyForQuery()]) },
    { from: 'client', data: query(LONG_SQL) },
    { from: 'server', data: Buffer.concat([rows, commandComplete('SELECT 0'), readyForQuery()]) },
    { from: 'client', data: query('SELECT email, doc FROM users') },
    { from: 'server', data: rows },
    { from: 'server', data: dataRow(['a@example.com', JSON_DOC]) },
    { from: 'server', data: Buffer.concat([commandComplete('SELECT 1'), readyForQuery()]) },
    { from: 'client', data: Buffer.concat([parse('', 'INSERT INTO t VALUES ($1, $2)', [23, 20]), bind('', '', ['1', '2']), execute(''), sync()]) },
    { from: 'server', data: Buffer.concat([errorResponse({ S: 'ERROR', V: 'ERROR', C: '23505', M: 'duplicate key value violates unique constraint "t_pkey"' }), readyForQuery()]) },
  ], { close: 'fin' });
  return pcapFile(frames);
}

/** Frame numbers of the capture, by what they carry (found once through the UI's find). */
async function frameOf(ui: TmuxUi, text: string): Promise<string> {
  ui.keys(':');
  await ui.waitFor('Find:');
  ui.type(text);
  ui.keys('Enter');
  return ui.waitFor((s) => !s.includes('Find:'));
}

function assertIntact(screen: string, cols: number): void {
  for (const [i, line] of screen.split('\n').slice(0, -1).entries()) {
    const l = line.trimEnd();
    if (/^[│┌└]/.test(l)) assert.equal(width(l), cols, `row ${i} is ${width(l)} columns:\n${screen}`);
  }
}

/** Rows of the pane whose top border carries `title`. */
function paneRows(screen: string, title: string): number {
  const lines = screen.split('\n');
  const top = lines.findIndex((l) => l.startsWith('┌') && l.includes(title));
  if (top < 0) return 0;
  let k = top + 1;
  while (k < lines.length && !(lines[k] ?? '').startsWith('└')) k++;
  return k - top - 1;
}

test('the value viewer: a 6.8 KB multi-line query and a JSON document whole, wrapped, scrollable; labels with meaning', { skip, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-tui-views-'));
  const file = join(dir, 'values.pcap');
  writeFileSync(file, capture());
  try {
    for (const size of [{ width: 80, height: 24 }, { width: 150, height: 45 }]) {
      const ui = await openTui([file], size);
      try {
        // The long query: its Query field in the tree (shown cut), Enter on it opens the viewer.
        // Tree rows: Frame, IP, TCP, the Query message, its Type, Length, then the Query field.
        await frameOf(ui, 'column_0');
        let s = await ui.press('Tab', 'z', 'j', 'j', 'j', 'j', 'j', 'j');
        assert.match(s, /Query: SELECT\\n  t\.column_0/);
        s = await ui.press('Enter');
        assert.match(s, new RegExp(`Query: ${Buffer.byteLength(LONG_SQL)} bytes, ${LONG_SQL.split('\n').length} lines as sent`));
        assert.ok(Buffer.byteLength(LONG_SQL) > 6800, 'a query of more than 6.8 KB');
        assert.match(s, /^│SELECT\\n\s+│$/m);
        assert.match(s, /^│  t\.column_0 AS "日本語_0",\\n\s+│$/m);
        assertIntact(s, size.width);
        s = await ui.press('G');
        assert.match(s, /-- end of the long query/);
        assertIntact(s, size.width);
        s = await ui.press('Escape');
        assert.match(s, /Details/);
        // The JSON document: Value 2 of the DataRow, with its column's name and type.
        await gotoFrame(ui, 1);
        s = await frameOf(ui, 'DataRow');
        s = await ui.press('Tab', 'z');
        assert.match(s, /Value 1 \(email, text\): a@example\.com/);
        assert.match(s, /Value 2 \(doc, jsonb\): \{"user"/);
        // Frame, IP, TCP, DataRow, Type, Length, Number of columns, Value 1, Value 2.
        s = await ui.press('j', 'j', 'j', 'j', 'j', 'j', 'j', 'j');
        s = await ui.press('v');
        assert.match(s, /Value 2 \(doc, jsonb\): \d+ bytes, 1 line as sent/);
        assert.match(s, /JSON, indented:/);
        assert.match(s, /^│\s+"email": "a@example\.com",\s+│$/m);
        assert.match(s, /"note": "line one\\nline two 🐘"/);
        assertIntact(s, size.width);
        // F: back to the frame list from anywhere (here the viewer, two views deep).
        s = await ui.press('F');
        assert.match(s, /^┌─ Frames /m);
        assert.ok(paneRows(s, 'Frames') >= 4, s);
        // Labels: $n with its type, SQLSTATE with its condition name (a tall pane holds them).
        if (size.height < 40) continue;
        s = await frameOf(ui, 'INSERT INTO t');
        s = await ui.press('Tab', 'z');
        assert.match(s, /Parameter \$1 \(int4\): 1/);
        assert.match(s, /Parameter \$2 \(int8\): 2/);
        s = await frameOf(ui, 'duplicate key');
        s = await ui.press('Tab', 'z');
        assert.match(s, /SQLSTATE: 23505 unique_violation/);
      } finally {
        ui.stop();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('pane sizes: + and - change the focused pane, z maximises it and gives it back; Tab moves the maximised pane', { skip }, async () => {
  const ui = await openTui(['--synthetic'], { width: 80, height: 24 });
  try {
    let s = ui.screen();
    const list0 = paneRows(s, 'Frames');
    s = await ui.press('+', '+');
    const list1 = paneRows(s, 'Frames');
    assert.ok(list1 > list0, `the frame list grew: ${list0} -> ${list1}\n${s}`);
    assertIntact(s, 80);
    s = await ui.press('-', '-', '-', '-');
    assert.ok(paneRows(s, 'Frames') < list0, s);
    s = await ui.press('Tab', 'z');
    assert.ok(paneRows(s, 'Details') >= 16, s);
    assert.equal(paneRows(s, 'Frames'), 0, s);
    s = await ui.press('Tab');
    assert.ok(paneRows(s, 'Bytes') >= 16, s);
    s = await ui.press('z');
    assert.ok(paneRows(s, 'Frames') >= 3 && paneRows(s, 'Details') >= 3 && paneRows(s, 'Bytes') >= 3, s);
    assertIntact(s, 80);
    // F from the queries view: the frame list, focused.
    s = await ui.press('q');
    assert.match(s, /Queries \(/);
    s = await ui.press('F');
    assert.match(s, /^┌─ Frames 67/m);
  } finally {
    ui.stop();
  }
});

test('dashboard (d): charts drawn by blessed-contrib at 80x22, 80x24 and 200x50, following the display filter', { skip }, async () => {
  for (const size of [{ width: 80, height: 24 }, { width: 200, height: 50 }, { width: 80, height: 22 }]) {
    const ui = await openTui(['--synthetic', '--sessions', '6', '--rounds', '20'], size);
    try {
      let s = await ui.press('q');
      const total = Number(/Queries \((\d+)\)/.exec(s)?.[1]);
      // Separate presses: Escape then d at once reads as Alt-d.
      await ui.press('Escape');
      s = await ui.press('d');
      s = await ui.waitFor(/Dashboard · \d+ queries/);
      assert.match(s, new RegExp(`Dashboard · ${total} queries`));
      // The title whole, not cut, at 80 columns too; where the sessions chart gives way (below
      // 23 rows) it says so first.
      const title = s.split('\n')[0]!.trimEnd();
      assert.match(title, /^Dashboard · \d+ queries( · sessions chart: 23\+ rows)? · [\d.]+ \S+ · [\d.]+ m?s buckets( · Esc back)?$/, s);
      assert.equal(title.endsWith('Esc back'), size.height >= 23, title);
      assert.equal(title.includes('sessions chart'), size.height < 23, title);
      const wide = size.width >= 120;
      // Wide: legend boxes and the plain names. 80 columns: no legend box over the plot, the
      // label names the series' colours instead.
      const labels = wide
        ? ['Queries/s, errors/s', 'Latency p50/p95/p99 (ms)', 'Bytes/s by direction']
        : ['Queries/s green, errors/s red', 'Latency p50/95/99: green/yellow/red', 'Bytes/s: client cyan, server green'];
      for (const t of [...labels, 'Top, total ms', 'Statements']) assert.ok(s.includes(t), `${t}:\n${s}`);
      const legendBox = /│(queries|errors|p50|p95|p99|client|server) *│/;
      if (wide) assert.match(s, legendBox);
      else assert.doesNotMatch(s, legendBox);
      assert.equal(s.includes('Sessions active'), size.height >= 23, s);
      assert.equal(s.includes('Errors per second'), size.height >= 23, s);
      // Braille cells: the line charts are drawn.
      assert.match(s, /[\u2801-\u28ff]/);
      assert.match(s, /#1 [\d.]+ m?s ×\d+ S/);
      assertIntact(s, size.width);
      // The display filter: only the slow statement's frames, so fewer queries.
      s = await ui.press('/');
      ui.type('durationMs > 5');
      ui.keys('Enter');
      s = await ui.press('d');
      s = await ui.waitFor(/filter: durationMs > 5/);
      const shown = Number(/Dashboard · (\d+) quer/.exec(s)?.[1]);
      assert.ok(shown > 0 && shown < total, `${shown} of ${total}:\n${s}`);
    } finally {
      ui.stop();
    }
  }
});

test('dashboard figures: per-bucket rates add up to the queries, percentiles ordered, top statements by total time', async () => {
  const store = new TuiStore();
  await feedSynthetic(store, new AbortController().signal, { sessions: 4, rounds: 10 });
  const filter = new FrameFilter(store);
  const d = dashboardSeries(store, filter, new StatsAccumulator(store), 20);
  assert.equal(d.queries, store.queryCount);
  const counted = d.qps.reduce((a, b) => a + b * d.bucketS, 0);
  assert.ok(Math.abs(counted - store.queryCount) < 1e-6, `${counted} vs ${store.queryCount}`);
  for (let i = 0; i < 20; i++) assert.ok((d.p50[i] as number) <= (d.p95[i] as number) && (d.p95[i] as number) <= (d.p99[i] as number));
  for (let i = 1; i < d.top.length; i++) assert.ok((d.top[i - 1]?.total as number) >= (d.top[i]?.total as number));
  const bytes = (d.frontendBps.reduce((a, b) => a + b, 0) + d.backendBps.reduce((a, b) => a + b, 0)) * d.bucketS;
  assert.ok(Math.abs(bytes - store.bytes) < 1e-3, `${bytes} vs ${store.bytes}`);
  filter.set('durationMs > 5');
  while (filter.pending) filter.step();
  const f = dashboardSeries(store, filter, new StatsAccumulator(store), 20);
  assert.ok(f.queries > 0 && f.queries < d.queries);
  // No packets yet (a live capture before any traffic): finite buckets and axis labels.
  const empty = new TuiStore();
  const e = dashboardSeries(empty, new FrameFilter(empty), new StatsAccumulator(empty), 20);
  assert.equal(e.queries, 0);
  assert.ok(Number.isFinite(e.bucketS) && e.bucketS > 0, String(e.bucketS));
  assert.ok(e.x.every((x) => !x.includes('NaN')), e.x.join(' '));
  assert.ok([...e.qps, ...e.p99, ...e.frontendBps].every(Number.isFinite));
});

test('the viewer wraps by grapheme and keeps the escaping rule', () => {
  const lines = valueLines('ab\tc\n日本語🐘日本語', 5);
  assert.deepEqual(lines, ['ab\\tc', '\\n', '日本', '語🐘', '日本', '語']);
  for (const l of lines) assert.ok(width(l) <= 5);
});

test('apply as filter (a) and prepare as filter (A) from a field of the details tree', { skip }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-tui-views-'));
  const file = join(dir, 'values.pcap');
  writeFileSync(file, capture());
  const ui = await openTui([file], { width: 120, height: 40 });
  try {
    await frameOf(ui, 'SELECT email, doc');
    // Frame, IP, TCP, the Query message, Type, Length, then the Query field.
    let s = await ui.press('Tab', 'j', 'j', 'j', 'j', 'j', 'j');
    assert.match(s, /Query: SELECT email, doc FROM users/);
    s = await ui.press('A');
    assert.match(s, /Filter: pgsql\.query == "SELECT email, doc FROM users"/);
    ui.keys('Escape');
    await ui.waitFor((x) => !x.includes('Filter:'));
    s = await ui.press('a');
    s = await ui.waitFor(/Frames \d+ of \d+ shown/);
    // The query's frames: its request, the description, the row and the completion.
    assert.match(s, /Frames 4 of 21 shown/);
    assert.match(s, /filter: pgsql\.query/);
    assert.match(s, /^│\s+13 .*>Q Query "SELECT email, doc FROM users"/m);
  } finally {
    ui.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('timeline: rows say port, user and application; e jumps to the next failed query, x to the slowest', { skip }, async () => {
  const ui = await openTui(['--synthetic'], { width: 100, height: 30 });
  try {
    let s = await ui.press('t');
    assert.match(s, /#0 :50000 user0\/demo/);
    s = await ui.press('e');
    assert.match(s, /missing_table/);
    s = await ui.press('x');
    // The slowest of the synthetic feed is the last session's orders query (latency grows per session).
    assert.match(s, /SELECT \* FROM orders/);
  } finally {
    ui.stop();
  }
});
