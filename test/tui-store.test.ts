/**
 * The TUI's store, filter, tree and frame reader without a terminal: what the views read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TuiStore, FF_ERROR, FF_NOT_TCP } from '../src/tui/store.js';
import { FrameFilter } from '../src/tui/frame-filter.js';
import { buildTree, expand, flatten, messageBytes } from '../src/tui/detail-tree.js';
import { FrameReader, hexLines } from '../src/tui/frame-reader.js';
import { StringArena, RunList, SmallColumn, Column } from '../src/tui/grow.js';
import { rawMessage } from '../dissectors/raw-message.js';
import { fit, fitLeft, width } from '../src/tui/text.js';
import { BodyCache } from '../src/tui/body-cache.js';
import { feedSynthetic } from './helpers/tui-synthetic.js';
import { isUserError } from '../src/core/errors.js';
import { writeBigCapture } from './helpers/tui-bigpcap.js';

async function synthetic(budget?: number): Promise<TuiStore> {
  const store = new TuiStore({ bodyBudget: budget, keptBudget: budget });
  await feedSynthetic(store, new AbortController().signal);
  return store;
}

test('frames, messages, queries and sessions of the synthetic feed', async () => {
  const s = await synthetic();
  assert.equal(s.frameCount, 67);
  assert.equal(s.sessions.size, 3);
  assert.equal(s.queryCount, 29);
  assert.equal(s.queryErrors, 4);
  assert.ok(s.ended);
  const info = s.sessions.get(1);
  assert.equal(info?.client, '10.0.0.11:50001');
  assert.equal(info?.server, '10.0.0.1:5432');
  assert.equal(info?.user, 'user1');
  assert.equal(info?.application, 'demo');
  assert.equal(info?.auth, 'trust');
});

test('the Info column (dissectors/info-column.ts, as --text has it): direction, codes with runs folded, the first summaries', async () => {
  const s = await synthetic();
  assert.equal(s.info(s.frameIndexOf(8)), '<T/D×2/C/Z RowDescription (1 column: name), DataRow (1 column), CommandComplete SELECT 2, …');
  assert.equal(s.info(s.frameIndexOf(9)), '>P/B/E/S Parse "SELECT * FROM orders WHERE id = $1", Bind "" -> portal "" (1 param), Execute portal "", Sync');
  assert.equal(s.info(s.frameIndexOf(1)), '>@ StartupMessage user=user0 database=shop application_name=demo');
  assert.equal(s.info(s.frameIndexOf(16)), '<E/Z Error 42P01 relation "missing_table" does not exist, ReadyForQuery idle');
  assert.ok(s.fFlags.get(s.frameIndexOf(16)) & FF_ERROR);
});

test('queryAt finds the query a frame belongs to, from request to completion', async () => {
  const s = await synthetic();
  const q = s.queryAt(0, 9);
  assert.ok(q >= 0);
  assert.equal(s.qSql.get(q), 'SELECT * FROM orders WHERE id = $1');
  assert.equal(s.qStartFrame.get(q), 9);
  assert.equal(s.qEndFrame.get(q), 10);
  assert.equal(s.queryAt(0, 10), q);
  assert.equal(s.queryAt(0, 1), -1, 'the startup belongs to no query');
  assert.equal(s.queryAt(99, 9), -1);
});

test('frames without a session join the one their address pair carries, handshake included', () => {
  const s = new TuiStore();
  const t = 1_700_000_000_000_000;
  const fr = (frame: number, src: string | null, dst: string | null) =>
    s.frame({ frame, timeUs: t + frame, fileOffset: -1, length: 60, capLen: 60, src, dst, session: null });
  fr(1, '1.1.1.1:1000', '2.2.2.2:5432');
  fr(2, '2.2.2.2:5432', '1.1.1.1:1000');
  fr(3, null, null);
  fr(4, '1.1.1.1:1000', '2.2.2.2:5432');
  const body = Buffer.from('SELECT 1\0');
  s.message(
    { kind: 'message', session: 7, time: '', frame: 4, dir: 'frontend', type: 'Query', code: 'Q', length: body.length + 4, query: 'SELECT 1' },
    rawMessage({ dir: 'frontend', code: 'Q', length: body.length + 4, body, offset: 0, firstFrame: 4, frame: 4, startTimeUs: t + 4, timeUs: t + 4 }),
    { type: 'Query', query: 'SELECT 1' },
  );
  fr(5, '2.2.2.2:5432', '1.1.1.1:1000');
  assert.deepEqual([0, 1, 2, 3, 4].map((i) => s.fSess.get(i)), [7, 7, -1, 7, 7]);
  assert.ok(s.fFlags.get(2) & FF_NOT_TCP);
  assert.equal(s.info(2), '(not TCP/IP)');
  assert.equal(s.info(1), 'TCP');
  const info = s.sessions.get(7);
  assert.equal(info?.frames, 4);
  assert.equal(info?.firstFrame, 1);
  assert.equal(info?.client, '1.1.1.1:1000');
});

test('message bodies beyond the budget are dropped; the index and the tree still answer', async () => {
  const s = await synthetic(8 * 1024);
  assert.ok(s.cache.evicted > 0);
  assert.ok(s.cache.usedBytes <= 8 * 1024);
  const fi = s.frameIndexOf(9);
  const m = s.messagesOf(fi)[0] as number;
  assert.equal(s.cached(m), undefined);
  assert.equal(s.typeName(m), 'Parse');
  assert.match(s.summary(m), /^Parse "SELECT/);
  const rec = s.envelopeRecord(m);
  assert.equal(rec.type, 'Parse');
  assert.equal(rec.session, 0);
  const lines = flatten(buildTree(s, fi)).map((l) => l.node.label);
  assert.ok(lines.some((l) => l.startsWith('(fields not in memory')), lines.join('\n'));
  assert.ok(lines.some((l) => l.startsWith('Query #')));
});

test('the body cache gives a recently read message a second chance', () => {
  const c = new BodyCache(3 * 512 + 10);
  const raw = (n: number) => rawMessage({ dir: 'frontend' as const, code: 'S', length: 4, body: Buffer.alloc(0), offset: n, firstFrame: 1, frame: 1, startTimeUs: 0, timeUs: 0 });
  const put = (n: number) => c.put(n, { raw: raw(n), decoded: { type: 'Sync' }, rec: { kind: 'message', session: 0, time: '', frame: 1, dir: 'frontend', type: 'Sync', code: 'S', length: 4 } });
  put(0); put(1); put(2);
  assert.ok(c.get(0));
  put(3);
  assert.ok(c.peek(0), 'read since it came in: kept');
  assert.equal(c.peek(1), undefined, 'the oldest unread went');
  assert.equal(c.size, 3);
});

test('the display filter over frames: message fields, query fields, frame fields; invalid input is a BAD_FILTER', async () => {
  const s = await synthetic();
  const f = new FrameFilter(s);
  const run = (expr: string): number[] => {
    f.set(expr);
    while (f.pending) f.step();
    const out: number[] = [];
    for (let i = 0; i < f.count(); i++) out.push(s.fNo.get(f.at(i)));
    return out;
  };
  assert.equal(run('type == "Parse"').length, 12);
  assert.deepEqual(run('fields.sqlstate == "42P01" && dir == backend'), [16, 26, 48, 58]);
  // Query records: every frame of a slow query, request and answer.
  const slow = run('kind == query && durationMs > 5');
  assert.ok(slow.length > 0 && slow.length % 2 === 0, String(slow));
  assert.deepEqual(run('src == "10.0.0.12:50002" && info contains "Parse"'), [19, 33, 45, 61]);
  assert.equal(run('').length, 67);
  assert.equal(f.rows, null);
  assert.throws(() => f.set('type =='), (e: unknown) => isUserError(e) && e.code === 'BAD_FILTER');
});

test('message bytes are rebuilt as on the wire, and the hex dump marks the selected range', () => {
  const body = Buffer.from('SELECT 1\0');
  const raw = rawMessage({ dir: 'frontend' as const, code: 'Q', length: body.length + 4, body, offset: 0, firstFrame: 1, frame: 1, startTimeUs: 0, timeUs: 0 });
  const bytes = messageBytes(raw);
  assert.equal(bytes.toString('latin1', 0, 1), 'Q');
  assert.equal(bytes.readUInt32BE(1), 13);
  assert.equal(bytes.length, 14);
  const ssl = messageBytes(rawMessage({ ...raw, dir: 'backend', code: null, length: 1, body: Buffer.from('N') }));
  assert.equal(ssl.toString('latin1'), 'N');
  const [line] = hexLines(bytes, { start: 5, length: 2 }, 0, 1);
  assert.match(line ?? '', /^0000  51 00 00 00 0d \{inverse\}53\{\/inverse\} \{inverse\}45\{\/inverse\} 4c/);
  // Braces from the wire show as themselves and never open a tag in the ASCII column.
  const [b] = hexLines(Buffer.from('{red-fg}'), null, 0, 1);
  assert.match(b ?? '', /\{open\}red-fg\{close\}$/);
});

test('frames are re-read from a pcap by offset; damaged offsets give null', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-tui-'));
  try {
    const file = join(dir, 'small.pcap');
    writeBigCapture(file, 30, 1);
    const r = new FrameReader(file);
    const first = r.read(24);
    assert.equal(first?.length, 54, 'Ethernet + IPv4 + TCP, no payload: the SYN');
    const second = r.read(24 + 16 + 54);
    assert.equal(second?.readUInt16BE(34), 5432, 'the SYN-ACK from the server port');
    assert.equal(r.read(-1), null);
    assert.equal(r.read(10_000_000), null);
    assert.equal(r.read(25), null, 'a misaligned offset reads a nonsense length: refused');
    r.close();
    const junk = join(dir, 'junk.pcap');
    writeFileSync(junk, Buffer.from('not a capture at all'));
    assert.equal(new FrameReader(junk).read(0), null);
    assert.equal(new FrameReader(join(dir, 'missing.pcap')).read(24), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('odd records from a producer do not throw: missing fields, wrong types', () => {
  const s = new TuiStore();
  s.record({ kind: 'query', session: null, time: 'garbage', frame: null });
  s.record({ kind: 'query', session: 3, time: '2024-01-01T00:00:00.000001Z', frame: 99, durationMs: 'x', rows: {}, error: 'boom', params: 'no' });
  s.record({ kind: 'session', session: null, time: '', frame: null });
  s.record({ kind: 'session', session: 3, time: '', frame: 1, client: 5, server: { ip: 1 }, auth: 'x', tls: {} });
  s.record({ kind: 'anomaly', session: null, time: '', frame: 12345, code: 'gap', reason: 'lost' });
  assert.equal(s.queryCount, 2);
  assert.equal(s.anomalyCount, 1);
  assert.equal(s.sessions.get(3)?.tls, true);
});

test('the string arena cuts long strings and keeps multi-byte text intact', () => {
  const a = new StringArena(10, 4);
  const i = a.add('héllo wörld, and more');
  const j = a.add('日本語');
  assert.equal(a.get(i), 'héllo wör…');
  assert.equal(a.get(j), '日本語');
  assert.equal(a.get(99), '');
});

test('columns are measured in terminal cells: wide characters count two, cuts never overflow', () => {
  assert.equal(fit('abc', 5), 'abc  ');
  assert.equal(fit('abcdef', 4), 'abc…');
  assert.equal(width('日本語'), 6);
  assert.equal(fit('日本語', 6), '日本語');
  assert.equal(fit('日本語', 5), '日本…');
  assert.equal(fit('日本語', 4), '日… ');
  assert.equal(width(fit('日本語テキスト', 7)), 7);
  assert.equal(fitLeft('日本', 6), '  日本');
  assert.equal(width('e\u0301'), 1, 'a combining accent takes no column');
});

test('a frame of many messages builds each message\'s fields only when it is expanded', () => {
  const s = new TuiStore();
  const t = 1_700_000_000_000_000;
  s.frame({ frame: 1, timeUs: t, fileOffset: -1, length: 9000, capLen: 9000, src: '2.2.2.2:5432', dst: '1.1.1.1:1000', session: 0 });
  for (let k = 0; k < 100; k++) {
    const body = Buffer.concat([Buffer.from([0, 1, 0, 0, 0, 1]), Buffer.from(String(k % 10))]);
    const decoded = { type: 'DataRow' as const, values: [{ oid: 25, typeName: 'text', format: 'text' as const, value: String(k % 10) }] };
    s.message(
      { kind: 'message', session: 0, time: '', frame: 1, dir: 'backend', code: 'D', length: body.length + 4, ...decoded },
      rawMessage({ dir: 'backend', code: 'D', length: body.length + 4, body, offset: k * 11, firstFrame: 1, frame: 1, startTimeUs: t, timeUs: t }),
      decoded,
    );
  }
  assert.equal(s.info(0), '<D×100 DataRow (1 column), …');
  const roots = buildTree(s, 0);
  assert.equal(roots.length, 101);
  const row = roots[1]!;
  assert.equal(row.expanded, false);
  assert.equal(row.children.length, 0);
  assert.match(row.label, /^DataRow \(backend 'D', length 11\) · DataRow \(1 column\)$/);
  expand(row);
  assert.ok(row.expanded);
  assert.ok(row.children.some((c) => c.range !== null && c.range.length > 0), 'fields with byte ranges');
  assert.equal(flatten(roots).length, 101 + row.children.length);
});

test('compact columns read back what was pushed: chunks, two-byte values with the large ones beside, runs', async () => {
  const col = new Column(Uint32Array, 4);
  const small = new SmallColumn();
  const runs = new RunList();
  const plain: number[] = [];
  let v = 0;
  for (let i = 0; i < 200_000; i++) {
    col.push(i * 7);
    small.push(i % 1000 === 0 ? 70_000 + i : i % 3 === 0 ? -1 : i % 65_535);
    // Runs of 1 to 9 consecutive indices with gaps between them.
    v += i % 10 === 0 ? 5 : 1;
    runs.push(v);
    plain.push(v);
  }
  for (let i = 0; i < 200_000; i += 997) {
    assert.equal(col.get(i), i * 7);
    assert.equal(small.get(i), i % 1000 === 0 ? 70_000 + i : i % 3 === 0 ? -1 : i % 65_535);
    assert.equal(runs.get(i), plain[i]);
  }
  assert.equal(runs.n, plain.length);
  assert.ok(runs.bytes() < plain.length * 4, 'runs take less than an index each');
  // A session's list is its messages in arrival order.
  const s = await synthetic();
  for (const id of s.sessionOrder) {
    const want: number[] = [];
    for (let m = 0; m < s.messageCount; m++) if (s.sessionOf(m) === id) want.push(m);
    const list = s.sessionMessages(id);
    assert.deepEqual(Array.from({ length: list?.n ?? 0 }, (_, i) => list!.get(i)), want);
  }
});

test('the time axes leave out a first or last frame dated far from its neighbour (1970, 2106), not a capture that is sparse throughout', () => {
  const at = (s: TuiStore, frame: number, timeUs: number) =>
    s.frame({ frame, timeUs, fileOffset: -1, length: 60, capLen: 60, src: '10.0.0.1:5000', dst: '10.0.0.2:5432', session: null });
  const t = 1_700_000_000_000_000;
  const far = new TuiStore({});
  at(far, 1, 0); // dated 1970
  for (let i = 2; i <= 20; i++) at(far, i, t + i * 1000);
  at(far, 21, 4_320_000_000_000_000); // dated 2106
  assert.deepEqual(far.timeSpan(), [t + 2000, t + 20_000]);
  assert.equal(far.baseUs, 0, 'the frame list still counts from the first frame, as Wireshark does');

  const whole = new TuiStore({});
  for (let i = 1; i <= 20; i++) at(whole, i, t + i * 1000);
  assert.deepEqual(whole.timeSpan(), [t + 1000, t + 20_000]);

  const sparse = new TuiStore({});
  for (let i = 1; i <= 5; i++) at(sparse, i, t + i * 60_000_000);
  assert.deepEqual(sparse.timeSpan(), [t + 60_000_000, t + 300_000_000], 'every frame a minute apart: nothing is an outlier');

  const one = new TuiStore({});
  at(one, 1, t);
  assert.deepEqual(one.timeSpan(), [t, t]);
});
