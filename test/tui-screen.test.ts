/**
 * The terminal UI driven in a real pseudo-terminal (tmux) on the synthetic conversation
 * (test/helpers/tui-synthetic.ts): what the screen shows after each key press. Frame numbers below are
 * the synthetic feed's (3 sessions, 4 rounds): 9 is session 0's first Parse/Bind/Execute/Sync,
 * 15-16 the first failing query, 63 the query carrying escape sequences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TmuxUi, openTui, gotoFrame, tmuxAvailable, SKIP_NO_TMUX } from './helpers/tui-tmux.js';

const skip = tmuxAvailable() ? false : SKIP_NO_TMUX;

function open(args: string[] = ['--synthetic'], size?: { width: number; height: number }): Promise<TmuxUi> {
  return openTui(args, size);
}

const goto = gotoFrame;

function frameRows(screen: string): string[] {
  return screen.split('\n').filter((l) => /^│\s+\d+ \d+\.\d{6} /.test(l));
}

test('opening shows the frame list with columns, Info and the status line', { skip }, async () => {
  const ui = await open();
  try {
    const s = ui.screen();
    assert.match(s, /No\. Time\s+Source\s+Destination\s+Length Info/);
    assert.match(s, /^│\s+1 0\.000000\s+10\.0\.0\.10:50000\s+10\.0\.0\.1:5432\s+\d+ >@ StartupMessage user=user0 database=shop/m);
    assert.match(s, /^│\s+9 \S+\s+10\.0\.0\.10:50000\s+10\.0\.0\.1:5432\s+\d+ >P\/B\/E\/S Parse "SELECT \* FROM orders WHERE id = \$1"/m);
    assert.match(s, /<T\/D×2\/C\/Z RowDescription/);
    assert.match(s, /67 packets │ .* │ 3 sessions │ 29 queries │ 0 anomalies/);
    assert.match(s, /Frames 67/);
  } finally {
    ui.stop();
  }
});

test('selecting a Parse shows its fields and query in the tree and its bytes with the field highlighted', { skip }, async () => {
  const ui = await open();
  try {
    // Eight rows down from frame 1 with vim keys, as a user would.
    let s = await ui.press('j', 'j', 'j', 'j', 'j', 'j', 'j', 'j');
    await ui.waitFor('Frame 9:');
    s = ui.screen();
    assert.match(s, /▾ Parse \(frontend 'P', length 42\)/);
    assert.match(s, /Query: SELECT \* FROM orders WHERE id = \$1/);
    assert.match(s, /▸ Query #2: [\d.]+ ms, 1 row\b/);
    assert.match(s, /Bytes: Parse message, 43 bytes/);
    assert.match(s, /0000  50 00 00 00 2a 00 53 45  4c 45 43 54 20 2a 20 46  P\.\.\.\*\.SELECT \* F/);
    // Into the tree, down to the Query field: its bytes are drawn inverse (SGR 7).
    await ui.press('Tab', 'j', 'j', 'j', 'j', 'j');
    const coloured = ui.screenWithColours();
    const hexLine = coloured.split('\n').find((l) => l.includes('0000  50 00 00 00 2a 00')) ?? '';
    assert.match(hexLine, /\x1b\[7m53/, 'the first byte of the query text is highlighted');
    assert.doesNotMatch(hexLine.split('2a 00')[0] ?? '', /\x1b\[7m/, 'the type and length bytes are not');
    // Enter on the query node expands it: SQL, latency, and the frames it spans.
    s = await ui.press('j', 'j', 'Enter');
    assert.match(s, /SQL: SELECT \* FROM orders WHERE id = \$1/);
    assert.match(s, /latency: [\d.]+ ms/);
    // Further down, the frames it spans (the pane scrolls to keep the cursor in view).
    s = await ui.press('j', 'j', 'j', 'j', 'j', 'j');
    assert.match(s, /frames 9–10 \(Enter: go to request\)/);
  } finally {
    ui.stop();
  }
});

test('t opens the timeline: one row per session, bars, and Enter jumps to the query', { skip }, async () => {
  const ui = await open();
  try {
    let s = await ui.press('t');
    assert.match(s, /Timeline: 3 sessions, 29 queries/);
    assert.match(s, /^│#0 :50000 user0\/demo\s+.*█/m);
    assert.match(s, /^│#1 :50001 user1\/demo\s+.*█/m);
    assert.match(s, /^│#2 :50002 user2\/demo\s+.*█/m);
    assert.match(s, /\|0\.0*s/);
    // The axis steps evenly: every gap between two labels is the same.
    const axis = s.split('\n').find((l) => /^│session\s+\|/.test(l)) ?? '';
    const ticks = [...axis.matchAll(/\|(\d+\.\d+)s/g)].map((m) => Number(m[1]));
    assert.ok(ticks.length >= 3, axis);
    const gaps = ticks.slice(1).map((t, i) => +(t - (ticks[i] as number)).toFixed(6));
    assert.ok(gaps.every((g) => g === gaps[0]), `uneven axis: ${axis}`);
    assert.match(s, /Query #1\s+session #0 .* latency [\d.]+ ms\s+rows 2\s+frames 7–8\s+ok/);
    s = await ui.press('l');
    assert.match(s, /Query #2\s+session #0 .* frames 9–10/);
    s = await ui.press('j');
    assert.match(s, /session #1/);
    s = await ui.press('Enter');
    assert.match(s, /Frames 67/);
    assert.match(s, /Frame 1[13]: /);
  } finally {
    ui.stop();
  }
});

test('/ applies a display filter; Esc-free empty filter clears it', { skip }, async () => {
  const ui = await open();
  try {
    ui.keys('/');
    await ui.waitFor('Filter:');
    ui.type('type == "Parse"');
    await ui.waitFor('✓');
    ui.keys('Enter');
    const s = await ui.waitFor('12 of 67 shown');
    const rows = frameRows(s);
    assert.ok(rows.length >= 10, s);
    for (const r of rows) assert.match(r, />P\/B\/E\/S Parse/);
    assert.match(s, /filter: type == "Parse" \(12\)/);
    // Reopen with the expression, clear it, Enter: every frame again.
    ui.keys('/');
    await ui.waitFor('Filter:');
    ui.keys('C-u', 'Enter');
    await ui.waitFor(/Frames 67 /);
  } finally {
    ui.stop();
  }
});

test('-Y gives the filter to start with; an invalid one is reported and the list stays whole', { skip }, async () => {
  let ui = await open(['--synthetic', '-Y', 'type == "Parse"']);
  try {
    const s = await ui.waitFor('12 of 67 shown');
    for (const r of frameRows(s)) assert.match(r, />P\/B\/E\/S Parse/);
  } finally {
    ui.stop();
  }
  ui = await open(['--synthetic', '-Y', 'type ==']);
  try {
    const s = ui.screen();
    assert.match(s, /invalid filter at column \d+/);
    assert.match(s, /Frames 67 /);
  } finally {
    ui.stop();
  }
});

test('an invalid filter is rejected with its reason and the prompt stays open', { skip }, async () => {
  const ui = await open();
  try {
    ui.keys('/');
    await ui.waitFor('Filter:');
    ui.type('type == ');
    let s = await ui.waitFor('✗');
    assert.match(s, /invalid filter at column \d+/);
    ui.keys('Enter');
    s = await ui.press();
    assert.match(s, /Filter: type ==/, 'Enter on an invalid filter keeps the prompt');
    assert.match(s, /Frames 67 /, 'and the list unfiltered');
    await ui.press('Escape');
    s = await ui.press();
    assert.doesNotMatch(s, /Filter:/);
    assert.doesNotMatch(s, /filter: /);
  } finally {
    ui.stop();
  }
});

test('f follows the session: its messages in order, both directions', { skip }, async () => {
  const ui = await open();
  try {
    await goto(ui, 16);
    const s = await ui.press('f');
    assert.match(s, /Follow session #1 10\.0\.0\.11:50001 → 10\.0\.0\.1:5432 user user1 db shop/);
    const lines = s.split('\n');
    const q = lines.findIndex((l) => /^│\s+11 \S+\s+>\s+Q Query "SELECT name FROM users WHERE id = 0"/.test(l));
    assert.ok(q > 0, s);
    assert.match(lines[q + 1] ?? '', /^│\s+12 \S+\s+<\s+T RowDescription/);
    assert.match(s, /<\s+E Error 42P01 relation "missing_table" does not exist/);
    assert.doesNotMatch(s, /user0|user2/, 'only the one session');
    // Esc goes back to the frame list, where it was.
    const back = await ui.press('Escape');
    assert.match(back, /Frame 16:/);
  } finally {
    ui.stop();
  }
});

test('a query with ANSI escape sequences and blessed tags renders escaped', { skip }, async () => {
  const ui = await open();
  try {
    const s = await goto(ui, 63);
    assert.match(s, /SELECT '\\e\[31mRED\\e\]0;pwned\\x07\\e\[2J\{red-fg\}tag\{\/red-fg\}' AS x/);
    const coloured = ui.screenWithColours();
    // Nothing from the wire reached the terminal: no red from \e[31m, no title, no clear.
    const line = coloured.split('\n').find((l) => l.includes('Query: SELECT')) ?? '';
    assert.ok(line.length > 0, coloured);
    assert.doesNotMatch(line, /\x1b\[31m/);
    assert.notEqual(ui.title(), 'pwned');
    // The column name and the data row value carry escapes too.
    await ui.press('j');
    const next = await ui.waitFor('Frame 64:');
    assert.match(next, /x\\e\[7m/);
  } finally {
    ui.stop();
  }
});

test(': finds text, n and N move between matches', { skip }, async () => {
  const ui = await open();
  try {
    ui.keys(':');
    await ui.waitFor('Find:');
    ui.type('missing_table');
    ui.keys('Enter');
    await ui.waitFor('Frame 15:');
    await ui.press('n');
    await ui.waitFor('Frame 16:');
    await ui.press('n');
    await ui.waitFor(/Frame (2\d|3\d):/);
    await ui.press('N');
    await ui.waitFor('Frame 16:');
  } finally {
    ui.stop();
  }
});

test('q lists queries, sortable by latency and errors; Enter goes to the frame', { skip }, async () => {
  const ui = await open();
  try {
    let s = await ui.press('q');
    assert.match(s, /Queries \(29\) by time/);
    assert.match(s, /^│1\s+#0\s+\S+\s+[\d.]+ ms\s+2 ok\s+SELECT name FROM users WHERE id = 0/m);
    s = await ui.press('2');
    assert.match(s, /Queries \(29\) by latency/);
    const first = s.split('\n').find((l) => /^│\d+\s+#\d/.test(l)) ?? '';
    assert.match(first, /#2\s+\S+\s+7\.000 ms/);
    s = await ui.press('4');
    const err = s.split('\n').find((l) => /^│\d+\s+#\d/.test(l)) ?? '';
    assert.match(err, /ERROR 42P01\s+SELECT \* FROM missing_table/);
    s = await ui.press('Enter');
    assert.match(s, /Frame \d+: /);
    assert.match(s, /Query "SELECT \* FROM missing_table"/);
  } finally {
    ui.stop();
  }
});

test('s lists sessions, S shows statistics, ? lists every key', { skip }, async () => {
  const ui = await open();
  try {
    let s = await ui.press('s');
    assert.match(s, /Sessions \(3\)/);
    assert.match(s, /#0\s+10\.0\.0\.10:50000\s+10\.0\.0\.1:5432\s+user0\s+shop\s+demo/);
    await ui.press('Escape');
    s = await ui.press('S');
    assert.match(s, /packets 67/);
    assert.match(s, /Query latency/);
    assert.match(s, /p50/);
    assert.match(s, /42P01\s+4/);
    await ui.press('Escape');
    s = await ui.press('?');
    // The help scrolls: its end (the timeline's keys) is read after G.
    s += await ui.press('G');
    for (const k of ['Ctrl-C', 'Tab / Shift-Tab', 'n / N', 'Esc', '1 2 3 4', '+ / - / 0']) assert.ok(s.includes(k), `help lists ${k}`);
  } finally {
    ui.stop();
  }
});

test('Q quits with status 0 and restores the terminal', { skip }, async () => {
  const ui = await open();
  try {
    ui.keys('Q');
    const s = await ui.waitFor('[exit 0]');
    assert.doesNotMatch(s, /Frames 67/);
  } finally {
    ui.stop();
  }
});

test('Ctrl-C cancels a long load first, then quits', { skip }, async () => {
  const ui = TmuxUi.start(['--synthetic', '--filler', '4000000']);
  try {
    await ui.waitFor(/loading/, 8000);
    ui.keys('C-c');
    const s = await ui.waitFor(/load cancelled at \d+ packets/, 5000);
    assert.doesNotMatch(s, /\[exit/);
    ui.keys('C-c');
    await ui.waitFor('[exit 0]', 5000);
  } finally {
    ui.stop();
  }
});

test('resizing the terminal lays the screen out again', { skip }, async () => {
  const ui = await open(['--synthetic'], { width: 160, height: 48 });
  try {
    assert.equal((ui.screen().split('\n')[0] ?? '').length, 160);
    ui.resize(100, 30);
    const s = await ui.waitFor((x) => /^┌─ Frames 67 ─+┐$/.test((x.split('\n')[0] ?? '').trimEnd()));
    assert.equal((s.split('\n')[0] ?? '').trimEnd().length, 100);
    assert.equal(s.trimEnd().split('\n').length, 30);
    assert.match(s, /pgsniff synthetic │ 67 packets/);
  } finally {
    ui.stop();
  }
});

test('live mode follows new frames until the user scrolls away', { skip }, async () => {
  const ui = await open(['--synthetic', '--live', '--filler', '400']);
  try {
    let s = await ui.waitFor(/\(following\)/);
    await ui.waitFor('Frame 467:');
    s = await ui.press('k');
    assert.doesNotMatch(s, /\(following\)/);
    assert.match(s, /Frame 466:/);
    s = await ui.press('G');
    assert.match(s, /\(following\)/);
    // Follow session keeps the newest message in view after G.
    s = await ui.press('f');
    assert.match(s, /Follow session #\d+ /);
    s = await ui.press('G');
    assert.match(s, /messages, following\)/);
    await ui.press('Escape');
    ui.keys('C-c');
    await ui.waitFor('capture stopped');
  } finally {
    ui.stop();
  }
});
