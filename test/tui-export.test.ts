/**
 * Issue 16, the filter and what leaves the UI, through the real CLI in a pseudo-terminal
 * (tmux): field-name completion in the filter prompt (Tab) and unknown names refused as -Y
 * refuses them; the display filter over the queries and sessions views (record fields the index
 * does not keep: params.value, user); the frames matching the filter written to a pcap in the
 * capture's own link type (read back by tshark and by pgsniff's reader, bytes compared); the
 * records written to NDJSON with the same bytes `pgsniff read --json -Y` writes; a path that
 * cannot be written said in the status line; and a FunctionCallResponse read in the format its
 * FunctionCall asked for, or said to be unknown.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TmuxUi, tmuxAvailable, SKIP_NO_TMUX } from './helpers/tui-tmux.js';
import { conversation, pcapFile, pcapngFile, LINK_TYPE, BASE_TIME_US, type FrameRecord } from './helpers/build-packets.js';
import {
  startup, query, readyForQuery, commandComplete, rowDescription, dataRow, authentication, errorResponse, parse, bind, execute, sync,
  msg, int16, uint32, lenBytes,
} from './helpers/pg-builder.js';
import { readCapture } from '../src/capture/open.js';
import type { Packet } from '../src/capture/packet.js';
import { completeField } from '../src/tui/filter-complete.js';
import { exportFrames } from '../src/tui/export.js';
import { projectRoot, SKIP_NO_TSHARK, tshark } from './helpers/public-captures.js';
import { width } from '../src/tui/term-width.js';

const skip = tmuxAvailable() ? false : SKIP_NO_TMUX;

const dir = mkdtempSync(join(tmpdir(), 'pgsniff-tui-export-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const CLI = join(projectRoot, 'dist', 'src', 'cli', 'main.js');

/** FunctionCall (oid, no arguments) asking its result in `format`; FunctionCallResponse with `result`. */
function functionCall(oid: number, format: 0 | 1): Buffer {
  return msg('F', uint32(oid), int16(0), int16(0), int16(format));
}
const parseComplete = (): Buffer => msg('1');
const bindComplete = (): Buffer => msg('2');
function functionCallResponse(result: Buffer): Buffer {
  return msg('V', lenBytes(result));
}

/**
 * Three connections over Linux cooked capture (link type 113, not Ethernet): alice's (simple,
 * extended with a parameter 42, a failure, a function call asking a binary result of bytes
 * that read as text), bob's (one query), and one caught mid-stream whose first message is a
 * FunctionCallResponse (its FunctionCall was never seen). Frames interleaved by time.
 */
function buildCapture(): Buffer {
  const a = conversation([
    { from: 'client', data: startup({ user: 'alice', database: 'db', application_name: 'billing' }) },
    { from: 'server', data: Buffer.concat([authentication(0), readyForQuery()]) },
    { from: 'client', data: query('SELECT 1 AS one') },
    { from: 'server', data: Buffer.concat([rowDescription([{ name: 'one', typeOid: 23 }]), dataRow(['1']), commandComplete('SELECT 1'), readyForQuery()]) },
    { from: 'client', data: Buffer.concat([parse('s1', 'SELECT $1::int AS 日本語', [23]), bind('', 's1', ['42']), execute(''), sync()]) },
    { from: 'server', data: Buffer.concat([parseComplete(), bindComplete(), dataRow(['42']), commandComplete('SELECT 1'), readyForQuery()]) },
    { from: 'client', data: query('SELECT * FROM missing_table') },
    { from: 'server', data: Buffer.concat([errorResponse({ S: 'ERROR', V: 'ERROR', C: '42P01', M: 'relation "missing_table" does not exist' }), readyForQuery()]) },
    { from: 'client', data: functionCall(1598, 1) },
    { from: 'server', data: Buffer.concat([functionCallResponse(Buffer.from('ABCD')), readyForQuery()]) },
  ], { link: 'sll', clientPort: 40000, startTimeUs: BASE_TIME_US });
  const b = conversation([
    { from: 'client', data: startup({ user: 'bob', database: 'db' }) },
    { from: 'server', data: Buffer.concat([authentication(0), readyForQuery()]) },
    { from: 'client', data: query('SELECT 2 AS two') },
    { from: 'server', data: Buffer.concat([rowDescription([{ name: 'two', typeOid: 23 }]), dataRow(['2']), commandComplete('SELECT 1'), readyForQuery()]) },
  ], { link: 'sll', clientPort: 40001, startTimeUs: BASE_TIME_US + 500 });
  const c = conversation([
    { from: 'server', data: Buffer.concat([functionCallResponse(Buffer.from('WXYZ')), readyForQuery()]) },
    { from: 'client', data: query('SELECT 3 AS three') },
    { from: 'server', data: Buffer.concat([commandComplete('SELECT 0'), readyForQuery()]) },
  ], { link: 'sll', clientPort: 40002, handshake: false, startTimeUs: BASE_TIME_US + 30_250 });
  const frames: FrameRecord[] = [...a, ...b, ...c].sort((x, y) => (x.timeUs ?? 0) - (y.timeUs ?? 0));
  return pcapFile(frames, { linkType: LINK_TYPE.sll });
}

const CAPTURE = join(dir, 'three.pcap');
writeFileSync(CAPTURE, buildCapture());

/** The real CLI's TUI on the capture, loaded. */
async function openCli(args: string[], size = { width: 200, height: 50 }): Promise<TmuxUi> {
  const ui = TmuxUi.start(['read', CAPTURE, ...args], { ...size, script: '../cli/main.js' });
  await ui.waitFor(/loaded in/, 15_000);
  return ui;
}

function cli(args: string[]): Buffer {
  return execFileSync('node', [CLI, 'read', CAPTURE, ...args], { maxBuffer: 64 * 1024 * 1024 });
}

async function packets(file: string): Promise<Packet[]> {
  const out: Packet[] = [];
  await readCapture(file, { packet: (p) => out.push({ ...p, data: Buffer.from(p.data) }), anomaly: () => {} });
  return out;
}

/** Waits until the prompt is gone and the status line names what was written (or why not). */
async function submit(ui: TmuxUi, key: string, file: string, want: RegExp): Promise<string> {
  ui.keys(key);
  await ui.waitFor(/Write .* to:/);
  ui.type(file);
  ui.keys('Enter');
  return ui.waitFor(want, 20_000);
}

function assertIntact(screen: string, cols: number): void {
  for (const [i, line] of screen.split('\n').slice(0, -1).entries()) {
    const l = line.trimEnd();
    if (/^[│┌└]/.test(l)) assert.equal(width(l), cols, `row ${i} is ${width(l)} columns:\n${screen}`);
  }
}

test('completion of field names: one fitting name is written whole, several are listed; unknown names rejected', () => {
  const one = completeField('error.sqls', 10);
  assert.deepEqual(one, { text: 'error.sqlstate ', pos: 15, candidates: [] });
  const many = completeField('durationMs > 1 && pgsql.err', 27);
  assert.ok(many && many.text.startsWith('durationMs > 1 && pgsql.error'), JSON.stringify(many));
  assert.ok(many.candidates.includes('pgsql.error.sqlstate'));
  assert.equal(completeField('sql contains "err', 17), null, 'no completion inside a string');
  assert.equal(completeField('zzzqq', 5), null);
});

test('filter prompt: Tab completes from the -Y registry, an unknown field is refused with -Y\'s message (80x24 and 200x50)', { skip, timeout: 120_000 }, async () => {
  for (const size of [{ width: 80, height: 24 }, { width: 200, height: 50 }]) {
    const ui = await openCli([], size);
    try {
      ui.keys('/');
      await ui.waitFor('Filter:');
      ui.type('pgsql.error.sql');
      ui.keys('Tab');
      let s = await ui.waitFor('pgsql.error.sqlstate');
      ui.type('== "42P01"');
      s = await ui.waitFor(/Filter: pgsql\.error\.sqlstate == "42P01"\s*✓/);
      ui.keys('C-u');
      ui.type('pgsql.err');
      ui.keys('Tab');
      // Several names fit: the line under the prompt lists them.
      s = await ui.waitFor((t) => /pgsql\.error\.\S*\s+pgsql\.error\./.test(t));
      ui.keys('C-u');
      ui.type('qurey == 1');
      s = await ui.waitFor('unknown field "qurey"');
      // -Y says the same thing.
      let cliErr = '';
      try { cli(['--json', '-Y', 'qurey == 1']); } catch (e) { cliErr = String((e as { stderr: Buffer }).stderr); }
      assert.match(cliErr, /unknown field "qurey"; did you mean query\?/);
      assert.match(s, /did you mean query\?/);
      ui.keys('Enter');
      s = await ui.press();
      assert.match(s, /Filter: qurey == 1/, 'Enter keeps an invalid filter in the prompt');
      assertIntact(s, size.width);
      ui.keys('Escape');
    } finally {
      ui.stop();
    }
  }
});

test('the display filter over the queries and sessions views, on record fields the index does not keep, with the count', { skip, timeout: 120_000 }, async () => {
  const ui = await openCli(['-Y', 'params.value == 42']);
  try {
    let s = await ui.press('q');
    s = await ui.waitFor(/Queries \(1 of \d+ match the filter\)/);
    assert.match(s, /SELECT \$1::int AS 日本語/);
    assert.doesNotMatch(s, /SELECT 1 AS one|SELECT 2 AS two/);
    assertIntact(s, 200);
    s = await ui.press('s');
    s = await ui.waitFor(/Sessions \(1 of 3 match the filter\)/);
    assert.match(s, /alice/);
    assert.doesNotMatch(s, /bob/);
    // A session record field: bob's session, and none of the queries (their records have no user).
    ui.keys('/');
    await ui.waitFor('Filter:');
    ui.keys('C-u');
    ui.type('user == "bob"');
    ui.keys('Enter');
    s = await ui.press('s');
    s = await ui.waitFor(/Sessions \(1 of 3 match the filter\)/);
    assert.match(s, /bob/);
    assert.doesNotMatch(s, /alice/);
    s = await ui.press('q');
    s = await ui.waitFor(/Queries \(0 of \d+ match the filter\)/);
    // The filter cleared: every query again.
    ui.keys('/');
    await ui.waitFor('Filter:');
    ui.keys('C-u', 'Enter');
    s = await ui.press('q');
    s = await ui.waitFor(/Queries \(\d+\) by time/);
  } finally {
    ui.stop();
  }
  // At 80x24 the count stays in the title.
  const small = await openCli(['-Y', 'error.sqlstate == "42P01"'], { width: 80, height: 24 });
  try {
    await small.press('q');
    const s = await small.waitFor(/Queries \(1 of \d+ match/);
    assert.match(s, /missing_table/);
    assertIntact(s, 80);
  } finally {
    small.stop();
  }
});

test('w writes the frames the filter shows to a pcap in the capture\'s link type: tshark reads it, the bytes are the capture\'s', { skip: skip || (tshark() === null && SKIP_NO_TSHARK), timeout: 120_000 }, async () => {
  const out = join(dir, 'chosen.pcap');
  const ui = await openCli(['-Y', 'pgsql.query contains "SELECT"']);
  let count = 0;
  try {
    const s0 = await ui.waitFor(/filter: .* \((\d+)\)/);
    count = Number(/filter: .* \((\d+)\)/.exec(s0)![1]);
    assert.ok(count >= 4, s0);
    const s = await submit(ui, 'w', out, /wrote \d+ frames? to/);
    assert.match(s, new RegExp(`wrote ${count} frames to`));
  } finally {
    ui.stop();
  }
  const got = await packets(out);
  assert.equal(got.length, count);
  assert.ok(got.every((p) => p.linkType === LINK_TYPE.sll), 'written in the capture\'s link type (Linux cooked), not Ethernet');
  const orig = await packets(CAPTURE);
  const byData = new Map(orig.map((p) => [p.data.toString('hex'), p]));
  for (const p of got) {
    const o = byData.get(p.data.toString('hex'));
    assert.ok(o, 'every written frame is one of the capture, byte for byte');
    assert.equal(p.timeUs, o.timeUs);
  }
  // tshark reads it as Linux cooked capture and finds the same queries.
  const decoded = execFileSync('tshark', ['-r', out, '-T', 'fields', '-e', 'sll.pkttype', '-e', 'pgsql.query'], { encoding: 'utf8' });
  const lines = decoded.replace(/\n$/, '').split('\n');
  assert.equal(lines.length, count);
  assert.ok(lines.every((l) => /^\d+\t/.test(l)), decoded);
  assert.match(decoded, /SELECT \* FROM missing_table/);
});

/** Every frame's capture time as tshark prints it (seconds since the epoch, to the nanosecond). */
function tsharkTimes(file: string): string[] {
  return execFileSync('tshark', ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8' }).trim().split('\n');
}

test('w keeps a nanosecond capture\'s times to the nanosecond (pcap nanosecond magic), from a nanosecond pcap and a pcapng of if_tsresol 9', { skip: skip || (tshark() === null && SKIP_NO_TSHARK), timeout: 120_000 }, async () => {
  // The three-connection capture again, each frame given nanoseconds that a microsecond file cannot hold.
  const frames = (await packets(CAPTURE)).map((p, i) => ({ data: p.data, timeUs: p.timeUs, nanos: (p.timeUs % 1_000_000) * 1000 + ((i * 137 + 1) % 1000) }));
  const nsPcap = join(dir, 'nanos.pcap');
  writeFileSync(nsPcap, pcapFile(frames, { nanos: true, linkType: LINK_TYPE.sll }));
  // The same as a big-endian pcapng whose interface counts nanoseconds, with an if_tsoffset.
  const nsPcapng = join(dir, 'nanos.pcapng');
  const unit = (f: { timeUs: number; nanos: number }, off: number): bigint => BigInt(Math.floor(f.timeUs / 1e6) - off) * 1_000_000_000n + BigInt(f.nanos);
  writeFileSync(nsPcapng, pcapngFile([
    { block: 'shb', bigEndian: true },
    { block: 'idb', linkType: LINK_TYPE.sll, tsresol: 9, tsoffset: 100 },
    ...frames.map((f) => ({ block: 'epb' as const, data: f.data, ts: unit(f, 100) })),
  ]));
  const want = tsharkTimes(nsPcap);
  assert.ok(want.every((t) => /\.\d{9}$/.test(t)) && new Set(want.map((t) => t.slice(-3))).size > 3, want.join(' '));
  assert.deepEqual(tsharkTimes(nsPcapng), want, 'the two sources hold the same times');
  // Through the UI: every frame of the nanosecond pcap.
  const out = join(dir, 'nanos-out.pcap');
  const ui = TmuxUi.start(['read', nsPcap], { width: 80, height: 24, script: '../cli/main.js' });
  try {
    await ui.waitFor(/loaded in/, 15_000);
    await submit(ui, 'w', out, new RegExp(`wrote ${frames.length} frames to`));
  } finally {
    ui.stop();
  }
  assert.equal(readFileSync(out).readUInt32LE(0), 0xa1b23c4d, 'the nanosecond magic');
  assert.deepEqual(tsharkTimes(out), want);
  // From the pcapng (the chosen frames only), and a microsecond capture stays microsecond.
  const chosen = Uint32Array.from([2, 5, 9]);
  const out2 = join(dir, 'nanos-out2.pcap');
  assert.equal(await exportFrames(nsPcapng, chosen, out2), 3);
  assert.equal(readFileSync(out2).readUInt32LE(0), 0xa1b23c4d);
  assert.deepEqual(tsharkTimes(out2), [...chosen].map((f) => want[f - 1]));
  const out3 = join(dir, 'micro-out.pcap');
  await exportFrames(CAPTURE, chosen, out3);
  assert.equal(readFileSync(out3).readUInt32LE(0), 0xa1b2c3d4);
  assert.deepEqual(tsharkTimes(out3), [...chosen].map((f) => tsharkTimes(CAPTURE)[f - 1]));
});

test('W writes the records the filter matches as NDJSON, the bytes of read --json -Y (and --queries from the queries view)', { skip, timeout: 120_000 }, async () => {
  const expr = 'error.sqlstate == "42P01" || params.value == 42';
  const all = join(dir, 'records.ndjson');
  const queries = join(dir, 'queries.ndjson');
  const ui = await openCli(['-Y', expr]);
  try {
    await submit(ui, 'W', all, /wrote \d+ records? to/);
    await ui.press('q');
    await submit(ui, 'W', queries, /wrote \d+ records? to .*queries/);
  } finally {
    ui.stop();
  }
  const want = cli(['--json', '-Y', expr]);
  assert.ok(want.length > 0);
  assert.deepEqual(readFileSync(all), want);
  const wantQ = cli(['--json', '--queries', '-Y', expr]);
  assert.deepEqual(readFileSync(queries), wantQ);
  assert.equal(wantQ.toString().trim().split('\n').length, 2);
});

test('an export that cannot be written is said in the status line; the UI goes on', { skip, timeout: 60_000 }, async () => {
  const ui = await openCli([], { width: 80, height: 24 });
  try {
    let s = await submit(ui, 'w', '/nonexistent-dir/x.pcap', /cannot write/);
    assert.match(s, /cannot write \/nonexistent-dir\/x\.pcap: no such directory/);
    s = await submit(ui, 'W', dir, /cannot write/);
    assert.match(s, /is a directory/);
    s = await ui.press('q');
    assert.match(s, /Queries \(\d+\)/, 'still answering keys');
    assert.ok(!existsSync('/nonexistent-dir'));
  } finally {
    ui.stop();
  }
});

test('-V reads a FunctionCallResponse as the TUI does: in the format its FunctionCall asked, or says the format is unknown', () => {
  const out = execFileSync(process.execPath, [CLI, 'read', '-V', CAPTURE], { encoding: 'utf8' });
  const trees = out.split('\n    FunctionCallResponse\n').slice(1).map((t) => t.split('\n    ReadyForQuery')[0]);
  assert.equal(trees.length, 2, out);
  // alice's call asked for binary: bytes that read as text ("ABCD") are still read as binary.
  assert.match(trees[0], /Result: \\x41424344 \(binary 41424344\)/);
  assert.match(trees[0], /Result format: binary \(1\), as its FunctionCall asked$/m);
  // The stray answer's call was never seen: read as text, and said to be a reading of the bytes.
  assert.match(trees[1], /Result: WXYZ\n/);
  assert.match(trees[1], /Result format: unknown \(the FunctionCall that asked for it was not seen\); read as text because the bytes read as text/);
  // The NDJSON record says the same: resultFormat is the call's, or null.
  const recs = execFileSync(process.execPath, [CLI, 'read', '--json', '-Y', 'type == "FunctionCallResponse"', CAPTURE], { encoding: 'utf8' })
    .trim().split('\n').map((l) => JSON.parse(l) as { resultFormat: string | null; result: { format: string } });
  assert.deepEqual(recs.map((r) => [r.resultFormat, r.result.format]), [['binary', 'binary'], [null, 'text']]);
});

test('FunctionCallResponse: read in the format the FunctionCall asked (binary here), or said unknown when that call was not seen', { skip, timeout: 60_000 }, async () => {
  const ui = await openCli([]);
  try {
    ui.keys(':');
    await ui.waitFor('Find:');
    // alice's answer comes first (frame order), the stray one later: n finds it.
    ui.type('FunctionCallResponse');
    ui.keys('Enter');
    let s = await ui.waitFor(/Result format: binary \(1\), as its FunctionCall asked in frame \d+/);
    // Bytes that read as text ("ABCD") are not guessed as text: the call asked for binary, so
    // the typed reading beside the wire text is the binary one (hex, the type being unknown).
    assert.match(s, /Result: \\x41424344 \(binary 41424344\)/);
    ui.keys('n');
    s = await ui.waitFor(/Result format: unknown/);
    assert.match(s, /read as text because the bytes read as text/);
  } finally {
    ui.stop();
  }
});
