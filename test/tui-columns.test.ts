/**
 * The TUI's index stores less than it shows (src/tui/store.ts): a message's frame is found from
 * the frames' first-message column, its direction, code, label, type and flags come from one
 * table id, and repeated summaries, query details and errors are stored once. These tests hold
 * what the index gives against what the pipeline handed it, message by message and query by
 * query: on every sample, on captures damaged with gaps, duplicates and swapped packets, and on
 * a producer that delivers a frame's messages after later frames (strays).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { basename } from 'node:path';
import { TuiStore } from '../src/tui/store.js';
import { SharedArena, ZeroColumn } from '../src/tui/grow.js';
import { queryDetail, queryError } from '../src/tui/record-fields.js';
import { analyzeFile, PacketPipeline, type AnalyzeOptions } from '../src/pipeline/analyze.js';
import type { OutRecord } from '../src/pipeline/events.js';
import type { RawMessage, DecodedMessage, DissectContext } from '../dissectors/types.js';
import { rawMessage } from '../dissectors/raw-message.js';
import { messageSign } from '../dissectors/info-column.js';
import { summarize } from '../dissectors/summary.js';
import { sampleCaptures } from './helpers/public-captures.js';
import { loadCapture, damage, type Damage } from './helpers/loss-compare.js';
import { prng } from './helpers/prng.js';

interface Want {
  frame: number;
  firstFrame: number;
  dir: 'frontend' | 'backend';
  code: string | null;
  label: string;
  type: string;
  summary: string;
  length: number;
  tls: boolean;
}

/** The TUI's store, noting what the pipeline gave it for each message and query. */
class Recording extends TuiStore {
  readonly want: Want[] = [];
  readonly queries: Array<{ sql: string; detail: string; error: string }> = [];
  override rawMessage(session: number, raw: RawMessage, decode: () => DecodedMessage, ctx: DissectContext, tls: boolean): void {
    let decoded: DecodedMessage | null = null;
    const once = (): DecodedMessage => (decoded ??= decode());
    super.rawMessage(session, raw, once, ctx, tls);
    const d = once();
    let summary: string;
    try {
      summary = summarize(d);
    } catch {
      summary = d.type;
    }
    this.want.push({
      frame: raw.frame, firstFrame: raw.firstFrame, dir: raw.dir, code: raw.code, label: messageSign(raw.code, d),
      type: d.type, summary: cut(summary, 240), length: raw.length, tls,
    });
  }
  override record(rec: OutRecord): void {
    super.record(rec);
    if (rec.kind !== 'query') return;
    const r = rec as unknown as Record<string, unknown>;
    this.queries.push({ sql: cut(typeof r.sql === 'string' ? r.sql : '', 4000), detail: cut(queryDetail(r), 2000), error: cut(queryError(r)?.text ?? '', 2000) });
  }
}

/** The arena's cut (grow.ts StringArena). */
function cut(s: string, max: number): string {
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** Every message and query of the index against what the pipeline gave; every frame's message list against the messages that name it. */
function check(s: Recording, name: string): void {
  assert.equal(s.messageCount, s.want.length, name);
  // Each message lies in the list of exactly one frame, the one frameIndexOfMessage names, which carries its number.
  const owner = new Map<number, number>();
  for (let fi = 0; fi < s.frameCount; fi++) {
    const list = s.messagesOf(fi);
    for (let k = 0; k < list.length; k++) {
      const m = list[k]!;
      assert.ok(!owner.has(m), `${name}: message ${m} in the lists of frames ${owner.get(m)} and ${fi}`);
      owner.set(m, fi);
      if (k > 0) assert.ok(m > list[k - 1]!, `${name}: frame ${fi}'s messages in arrival order`);
    }
  }
  for (let m = 0; m < s.want.length; m++) {
    const w = s.want[m]!;
    const at = `${name}: message ${m} (${w.type}, frame ${w.frame})`;
    assert.equal(s.mFrame.get(m), w.frame, at);
    assert.equal(s.fNo.get(s.frameIndexOfMessage(m)), w.frame, at);
    assert.equal(s.mFirstFrame.get(m), w.firstFrame, at);
    assert.equal(s.dirOf(m), w.dir, at);
    assert.equal(s.code(m), w.code, at);
    assert.equal(String.fromCharCode(s.mLabel.get(m)), w.label, at);
    assert.equal(s.typeName(m), w.type, at);
    assert.equal(s.summary(m), w.summary, at);
    assert.equal(s.mLen.get(m), w.length, at);
    assert.equal((s.mFlags.get(m) & 8) !== 0, w.tls, at);
    assert.equal((s.mFlags.get(m) & 1) !== 0, w.type === 'ErrorResponse', at);
    assert.equal(owner.get(m), s.frameIndexOfMessage(m), at);
  }
  assert.equal(s.queryCount, s.queries.length, name);
  for (let q = 0; q < s.queries.length; q++) {
    const w = s.queries[q]!;
    assert.equal(s.qSql.get(q), w.sql, `${name}: query ${q}`);
    assert.equal(s.qDetail.get(q), w.detail, `${name}: query ${q}`);
    assert.equal(s.qError.get(q), w.error, `${name}: query ${q}`);
  }
}

function options(path: string): AnalyzeOptions {
  const keylog = path.replace(/\.pcap(ng)?$/, '.keylog');
  return { keylog: existsSync(keylog) ? keylog : null };
}

test('every sample: the derived frame, label, type, summary and query lines are what the pipeline gave', async () => {
  const samples = sampleCaptures();
  assert.ok(samples.length > 20);
  let messages = 0;
  for (const path of samples) {
    const s = new Recording({ capturePath: path });
    await analyzeFile(path, s, options(path));
    check(s, basename(path));
    messages += s.messageCount;
    s.bodies.close();
  }
  assert.ok(messages > 1000);
});

test('captures with gaps, duplicates and packets out of order: the same', async () => {
  const rnd = prng(16);
  let damaged = 0;
  for (const name of ['concurrent.pcap', 'large-row.pcap', 'copy.pcap', 'pipeline.pcap', 'extended-query.pcap']) {
    const path = sampleCaptures().find((p) => basename(p) === name);
    if (!path) continue;
    const c = await loadCapture(path);
    const pick = () => c.payload[Math.floor(rnd() * c.payload.length)]!;
    // Several damages at once: two packets lost, one sent twice, two pairs swapped.
    let packets = c.packets;
    const ds: Damage[] = [{ kind: 'swap', at: pick() }, { kind: 'swap', at: pick() }, { kind: 'duplicate', at: pick() }, { kind: 'delete', at: [pick(), pick()] }];
    for (const d of ds) if (d.kind !== 'swap' || d.at + 1 < packets.length) packets = damage(packets, d);
    const s = new Recording();
    const p = new PacketPipeline(s, {});
    for (const pkt of packets) p.packet(pkt);
    await p.finish();
    check(s, `${name} damaged`);
    assert.ok(s.messageCount > 0, name);
    damaged++;
  }
  assert.ok(damaged >= 3);
});

test('messages delivered after a later frame (strays) keep their frame, and the frames after them theirs', () => {
  const s = new Recording();
  const t = 1_700_000_000_000_000;
  const frame = (no: number) => s.frame({ frame: no, timeUs: t + no, fileOffset: -1, length: 60, capLen: 60, src: '1.1.1.1:1000', dst: '2.2.2.2:5432', session: 0 });
  const msg = (no: number, first = no) => {
    const body = Buffer.from('SELECT 1\0');
    const raw = rawMessage({ dir: 'frontend', code: 'Q', length: body.length + 4, body, offset: 0, firstFrame: first, frame: no, startTimeUs: t + first, timeUs: t + no });
    const decoded: DecodedMessage = { type: 'Query', query: `SELECT ${no}` } as DecodedMessage;
    s.rawMessage(0, raw, () => decoded, { showSecrets: false } as DissectContext, false);
  };
  frame(1); msg(1); msg(1);
  frame(2); frame(3); msg(3);
  msg(1); // stray: frame 1 after frame 3
  msg(2); // stray: frame 2 had none while it was last
  frame(4); msg(4, 2); msg(4);
  msg(3); // stray: frame 3 is no longer the last
  frame(5);
  frame(6); msg(6);
  check(s, 'strays');
  assert.deepEqual(s.messagesOf(0), [0, 1, 3]);
  assert.deepEqual(s.messagesOf(1), [4]);
  assert.deepEqual(s.messagesOf(2), [2, 7]);
  assert.deepEqual(s.messagesOf(3), [5, 6]);
  assert.deepEqual(s.messagesOf(4), []);
  assert.deepEqual(s.messagesOf(5), [8]);
  assert.equal(s.mFirstFrame.get(5), 2);
});

test('a producer without frames: each message gets a row of its own, in order', () => {
  const s = new TuiStore();
  const t = 1_700_000_000_000_000;
  for (const no of [3, 3, 7, 9, 9, 9]) {
    const body = Buffer.from([0x49]);
    const decoded = { type: 'ReadyForQuery' as const, transactionStatus: 'idle' as const };
    s.message({ kind: 'message', session: 0, time: '', frame: no, dir: 'backend', code: 'Z', length: 5, ...decoded } as never,
      rawMessage({ dir: 'backend', code: 'Z', length: 5, body, offset: 0, firstFrame: no, frame: no, startTimeUs: t, timeUs: t }), decoded as DecodedMessage);
  }
  assert.deepEqual([0, 1, 2, 3, 4, 5].map((m) => s.mFrame.get(m)), [3, 3, 7, 9, 9, 9]);
  assert.deepEqual([0, 1, 2].map((fi) => s.messagesOf(fi)), [[0, 1], [2], [3, 4, 5]]);
  assert.equal(s.info(2), `<Z×3 ${s.summary(3)}, …`);
});

test('a query\'s detail line is the same, cut the same, from its two stored parts', () => {
  const s = new TuiStore();
  const recs: Array<Record<string, unknown>> = [
    { kind: 'query', session: 1, frame: 1, sql: 'SELECT $1', command: 'SELECT 1', protocol: 'extended', statement: 'S1', params: ['x'.repeat(3000)] },
    { kind: 'query', session: 1, frame: 2, sql: 'SELECT $1', command: 'SELECT 1', protocol: 'extended', statement: 'S'.repeat(2500), params: ['1'] },
    { kind: 'query', session: 1, frame: 3, sql: 'SELECT $1', params: ['日本語🐘', null, 7] },
    { kind: 'query', session: 1, frame: 4, sql: 'SELECT 1', command: 'SELECT 1', protocol: 'simple' },
    { kind: 'query', session: 1, frame: 5, sql: 'SELECT 1' },
  ];
  for (const r of recs) s.record(r as unknown as OutRecord);
  recs.forEach((r, q) => assert.equal(s.qDetail.get(q), cut(queryDetail(r), 2000), `query ${q}`));
});

test('shared strings: repeats stored once, long ones and those past 65,535 distinct stored on their own, all read back', () => {
  const a = new SharedArena(100, 20);
  const want: string[] = [];
  for (let i = 0; i < 200_000; i++) {
    const v = i % 3 === 0 ? `same ${i % 7}` : i % 3 === 1 ? `distinct ${i}` : `long ${'y'.repeat(30)} ${i}`;
    want.push(v);
    a.add(v);
  }
  a.add('z'.repeat(150));
  want.push(cut('z'.repeat(150), 100));
  assert.equal(a.length, want.length);
  for (let i = 0; i < want.length; i += 7) assert.equal(a.get(i), want[i], `entry ${i}`);
  assert.equal(a.get(want.length - 1), want[want.length - 1]);
  // 7 repeated, 66,667 distinct short (past the 65,535 ids), 66,666 long and the last: repeats are not stored again.
  assert.ok(a.distinct < 134_000, `${a.distinct} stored`);
  const z = new ZeroColumn();
  for (let i = 0; i < 10_000; i++) z.push(i % 100 === 0 ? i : 0);
  for (let i = 0; i < 10_000; i += 13) assert.equal(z.get(i), i % 100 === 0 ? i : 0);
  assert.ok(z.bytes() < 10_000, 'zeros take nothing');
});
