/**
 * Streaming replication messages and pgoutput logical replication messages, built by hand from
 * the documented layouts ("Streaming Replication Protocol", "Logical Replication Message
 * Formats"), decoded through decodeCopyData in a CopyBoth context.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCopyData, newLogicalState, decodePgoutput, type CopyHints } from '../dissectors/copy/index.js';
import { copyDataFieldsSchema } from '../dissectors/copy/schema.js';
import { MAX_RELATIONS } from '../dissectors/copy/logical-state.js';
import type { DissectContext } from '../dissectors/types.js';

/** decodeCopyData, and its result must match the published schema. */
function decode(...args: Parameters<typeof decodeCopyData>): Record<string, unknown> {
  const r = decodeCopyData(...args);
  const check = copyDataFieldsSchema.safeParse(r);
  assert.ok(check.success, `schema: ${check.success ? '' : JSON.stringify(check.error.issues.slice(0, 3))} for ${JSON.stringify(r).slice(0, 300)}`);
  return r;
}


function ctx(extra: Partial<CopyHints> = {}): DissectContext {
  const copy: CopyHints = { kind: 'both', format: 'text', columnFormats: [], columnTypes: null, ...extra };
  return { showSecrets: false, protocolMinor: 0, authType: null, copy, statementParamTypes: () => undefined, resultColumns: () => undefined };
}

const u8 = (n: number): Buffer => Buffer.from([n]);
function i16(n: number): Buffer { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; }
function i32(n: number): Buffer { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; }
function u32(n: number): Buffer { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; }
function i64(n: bigint): Buffer { const b = Buffer.alloc(8); b.writeBigInt64BE(n); return b; }
const str = (s: string): Buffer => Buffer.concat([Buffer.from(s, 'utf8'), u8(0)]);
const tag = (c: string): Buffer => Buffer.from(c, 'latin1');
const cat = (...parts: Buffer[]): Buffer => Buffer.concat(parts);
/** "16/B374D848" */
const LSN = i64(0x16b374d848n);
/** 2024-05-01T12:00:00.5Z as µs since 2000-01-01 */
const TIME = i64((BigInt(Date.parse('2024-05-01T12:00:00Z')) - 946_684_800_000n) * 1000n + 500_000n);
const TIME_ISO = '2024-05-01T12:00:00.5Z';

const xlog = (payload: Buffer): Buffer => cat(tag('w'), LSN, i64(0x16b374d900n), TIME, payload);

test('XLogData, keepalive, standby status update, hot standby feedback', () => {
  const c = ctx();
  assert.deepEqual(decode(cat(tag('k'), LSN, TIME, u8(1)), 'backend', c),
    { size: 18, replication: 'PrimaryKeepalive', walEnd: '16/B374D848', serverTime: TIME_ISO, replyRequested: true });
  assert.deepEqual(decode(cat(tag('r'), LSN, i64(0x1n), i64(0n), TIME, u8(0)), 'frontend', c),
    { size: 34, replication: 'StandbyStatusUpdate', written: '16/B374D848', flushed: '0/1', applied: '0/0', clientTime: TIME_ISO, replyRequested: false });
  assert.deepEqual(decode(cat(tag('h'), TIME, u32(1000), u32(0), u32(990), u32(1)), 'frontend', c),
    { size: 25, replication: 'HotStandbyFeedback', clientTime: TIME_ISO, xmin: 1000, xminEpoch: 0, catalogXmin: 990, catalogXminEpoch: 1 });
  const w = decode(xlog(Buffer.alloc(0)), 'backend', c);
  assert.deepEqual(w, { size: 25, replication: 'XLogData', walStart: '16/B374D848', walEnd: '16/B374D900', serverTime: TIME_ISO, payloadSize: 0, payload: { size: 0, preview: '' } });
});

test('replication messages of the wrong size, unknown tags, empty', () => {
  const c = ctx();
  const short = decode(cat(tag('k'), LSN), 'backend', c);
  assert.equal(short.replication, 'PrimaryKeepalive');
  assert.match(short.malformed as string, /ends early/);
  const long = decode(cat(tag('k'), LSN, TIME, u8(0), u8(9)), 'backend', c);
  assert.equal(long.trailingBytes, 1);
  assert.deepEqual(decode(tag('z'), 'backend', c), { size: 1, replication: 'Unknown', tag: 'z', reason: 'unknown replication message tag', preview: '7a' });
  assert.deepEqual(decode(Buffer.alloc(0), 'backend', c), { size: 0, replication: 'Unknown', reason: 'empty message' });
});

test('XLogData payloads: test_decoding text, physical WAL, and the output hint', () => {
  const c = ctx();
  const text = decode(xlog(Buffer.from("table public.t: INSERT: id[integer]:1 v[text]:'a'")), 'backend', c);
  assert.equal(text.payloadText, "table public.t: INSERT: id[integer]:1 v[text]:'a'");
  const begin = decode(xlog(Buffer.from('BEGIN 734')), 'backend', c);
  assert.equal(begin.payloadText, 'BEGIN 734', 'a "B" that is not a 21-byte Begin is text');
  // A WAL page header (magic 0xD118, little-endian) and records: binary, previewed.
  const wal = Buffer.alloc(8192, 0);
  wal.writeUInt16LE(0xd118, 0);
  const phys = decode(xlog(wal), 'backend', c);
  assert.deepEqual(phys.payload, { size: 8192, preview: '18d1' + '00'.repeat(62), truncated: true });
  assert.equal(phys.payloadSize, 8192);
  const hinted = decode(xlog(Buffer.from('BEGIN 1')), 'backend', ctx({ output: 'physical' }));
  assert.deepEqual(hinted.payload, { size: 7, preview: Buffer.from('BEGIN 1').toString('hex') });
  const forced = decode(xlog(Buffer.from('BEGIN 1')), 'backend', ctx({ output: 'pgoutput' }));
  assert.match(forced.logicalError as string, /ends early/);
});

// ---- pgoutput ----

const relation = (id: number, withXid: number | null = null): Buffer => cat(tag('R'), withXid === null ? Buffer.alloc(0) : u32(withXid), u32(id), str('public'), str('items'), tag('d'), i16(3),
  u8(1), str('id'), u32(23), i32(-1),
  u8(0), str('name'), u32(25), i32(-1),
  u8(0), str('doc'), u32(3802), i32(-1));
const tupleText = (...vals: Array<string | null | 'u'>): Buffer => cat(i16(vals.length), ...vals.map((v) => (v === null ? tag('n')
  : v === 'u' ? tag('u') : cat(tag('t'), i32(Buffer.byteLength(v)), Buffer.from(v)))));

function logical(c: DissectContext, payload: Buffer): Record<string, unknown> {
  const r = decode(xlog(payload), 'backend', c);
  assert.ok(r.logical, `not pgoutput: ${JSON.stringify(r)}`);
  return r.logical as Record<string, unknown>;
}

test('pgoutput: Begin, Relation, Insert, Update, Delete, Commit with column names and typed values', () => {
  const c = ctx();
  assert.deepEqual(logical(c, cat(tag('B'), LSN, TIME, u32(734))), { message: 'Begin', finalLsn: '16/B374D848', commitTime: TIME_ISO, xid: 734 });
  const rel = logical(c, relation(16384));
  assert.equal(rel.message, 'Relation');
  assert.equal(rel.relation, 'items');
  assert.deepEqual(rel.columns, [
    { name: 'id', typeOid: 23, typeModifier: -1, key: true, typeName: 'int4' },
    { name: 'name', typeOid: 25, typeModifier: -1, key: false, typeName: 'text' },
    { name: 'doc', typeOid: 3802, typeModifier: -1, key: false, typeName: 'jsonb' }]);
  assert.deepEqual(logical(c, cat(tag('I'), u32(16384), tag('N'), tupleText('1', 'one', '{"a": 1}'))),
    { message: 'Insert', relationId: 16384, relation: 'public.items', new: { id: 1, name: 'one', doc: { a: 1 } } });
  assert.deepEqual(logical(c, cat(tag('U'), u32(16384), tag('K'), tupleText('1', null, null), tag('N'), tupleText('2', 'two', 'u'))),
    { message: 'Update', relationId: 16384, relation: 'public.items', key: { id: 1, name: null, doc: null }, new: { id: 2, name: 'two' }, unchanged: ['doc'] });
  assert.deepEqual(logical(c, cat(tag('U'), u32(16384), tag('O'), tupleText('1', 'x', null), tag('N'), tupleText('1', 'y', null))).old, { id: 1, name: 'x', doc: null });
  assert.deepEqual(logical(c, cat(tag('D'), u32(16384), tag('K'), tupleText('2', null, null))),
    { message: 'Delete', relationId: 16384, relation: 'public.items', key: { id: 2, name: null, doc: null } });
  assert.deepEqual(logical(c, cat(tag('C'), u8(0), LSN, i64(0x16b374d900n), TIME)),
    { message: 'Commit', flags: 0, commitLsn: '16/B374D848', endLsn: '16/B374D900', commitTime: TIME_ISO });
});

test('pgoutput: binary tuple values, unknown relations, a "__proto__" column', () => {
  const c = ctx();
  logical(c, relation(1));
  const bin = logical(c, cat(tag('I'), u32(1), tag('N'), i16(2), tag('b'), i32(4), i32(42), tag('b'), i32(2), Buffer.from('hi')));
  assert.deepEqual(bin.new, { id: 42, name: 'hi' });
  const unknown = logical(c, cat(tag('I'), u32(999), tag('N'), i16(2), tag('t'), i32(1), Buffer.from('7'), tag('b'), i32(1), u8(0xff)));
  assert.deepEqual(unknown, { message: 'Insert', relationId: 999, new: { $1: '7', $2: '\\xff' } });
  logical(c, cat(tag('R'), u32(2), str(''), str('odd'), tag('f'), i16(1), u8(0), str('__proto__'), u32(25), i32(-1)));
  const odd = logical(c, cat(tag('I'), u32(2), tag('N'), tupleText('x')));
  assert.equal(JSON.stringify(odd.new), '{"__proto__":"x"}');
  assert.equal(odd.relation, 'odd', 'pg_catalog relations have an empty namespace');
});

test('pgoutput: Origin, Type, Message, Truncate', () => {
  const c = ctx();
  assert.deepEqual(logical(c, cat(tag('O'), LSN, str('node_a'))), { message: 'Origin', commitLsn: '16/B374D848', name: 'node_a' });
  assert.deepEqual(logical(c, cat(tag('Y'), u32(70000), str('public'), str('mood'))), { message: 'Type', typeOid: 70000, namespace: 'public', name: 'mood' });
  assert.deepEqual(logical(c, cat(tag('M'), u8(1), LSN, str('pfx'), i32(5), Buffer.from('hello'))),
    { message: 'Message', transactional: true, lsn: '16/B374D848', prefix: 'pfx', contentSize: 5, content: 'hello' });
  assert.deepEqual(logical(c, cat(tag('M'), u8(0), LSN, str('pfx'), i32(2), Buffer.from([0, 0xff]))).contentHex, { size: 2, preview: '00ff' });
  logical(c, relation(5));
  assert.deepEqual(logical(c, cat(tag('T'), i32(2), u8(3), u32(5), u32(6))),
    { message: 'Truncate', relationIds: [5, 6], relations: ['public.items', null], cascade: true, restartIdentity: true });
});

test('pgoutput: streamed transactions carry an xid between Stream Start and Stream Stop', () => {
  const c = ctx();
  assert.deepEqual(logical(c, cat(tag('S'), u32(900), u8(1))), { message: 'StreamStart', xid: 900, firstSegment: true });
  logical(c, relation(7, 900));
  const ins = logical(c, cat(tag('I'), u32(900), u32(7), tag('N'), tupleText('1', 'a', null)));
  assert.deepEqual(ins, { message: 'Insert', xid: 900, relationId: 7, relation: 'public.items', new: { id: 1, name: 'a', doc: null } });
  assert.deepEqual(logical(c, cat(tag('M'), u32(900), u8(1), LSN, str('p'), i32(0))).xid, 900);
  assert.deepEqual(logical(c, tag('E')), { message: 'StreamStop' });
  // Outside the stream the same relation is addressed without an xid.
  assert.equal(logical(c, cat(tag('I'), u32(7), tag('N'), tupleText('2', 'b', null))).xid, undefined);
  assert.deepEqual(logical(c, cat(tag('c'), u32(900), u8(0), LSN, LSN, TIME)),
    { message: 'StreamCommit', xid: 900, flags: 0, commitLsn: '16/B374D848', endLsn: '16/B374D848', commitTime: TIME_ISO });
  assert.deepEqual(logical(c, cat(tag('A'), u32(900), u32(901))), { message: 'StreamAbort', xid: 900, subxid: 901 });
  assert.deepEqual(logical(c, cat(tag('A'), u32(900), u32(901), LSN, TIME)),
    { message: 'StreamAbort', xid: 900, subxid: 901, abortLsn: '16/B374D848', abortTime: TIME_ISO });
});

test('pgoutput: a capture that starts inside a stream still finds the xid', () => {
  const c = ctx();
  logical(c, relation(7));
  // No Stream Start seen: the reading without xid does not fit, the one with it does.
  const ins = logical(c, cat(tag('I'), u32(900), u32(7), tag('N'), tupleText('1', 'a', null)));
  assert.equal(ins.xid, 900);
  assert.equal(ins.relation, 'public.items');
});

test('pgoutput: two-phase commit messages', () => {
  const c = ctx();
  assert.deepEqual(logical(c, cat(tag('b'), LSN, LSN, TIME, u32(5), str('g1'))),
    { message: 'BeginPrepare', prepareLsn: '16/B374D848', endLsn: '16/B374D848', prepareTime: TIME_ISO, xid: 5, gid: 'g1' });
  assert.deepEqual(logical(c, cat(tag('P'), u8(0), LSN, LSN, TIME, u32(5), str('g1'))),
    { message: 'Prepare', flags: 0, prepareLsn: '16/B374D848', endLsn: '16/B374D848', prepareTime: TIME_ISO, xid: 5, gid: 'g1' });
  assert.deepEqual(logical(c, cat(tag('K'), u8(0), LSN, LSN, TIME, u32(5), str('g1'))),
    { message: 'CommitPrepared', flags: 0, commitLsn: '16/B374D848', endLsn: '16/B374D848', commitTime: TIME_ISO, xid: 5, gid: 'g1' });
  assert.deepEqual(logical(c, cat(tag('r'), u8(0), LSN, LSN, TIME, TIME, u32(5), str('g1'))),
    { message: 'RollbackPrepared', flags: 0, prepareEndLsn: '16/B374D848', rollbackEndLsn: '16/B374D848', prepareTime: TIME_ISO, rollbackTime: TIME_ISO, xid: 5, gid: 'g1' });
  assert.equal(logical(c, cat(tag('p'), u8(0), LSN, LSN, TIME, u32(5), str('g1'))).message, 'StreamPrepare');
});

test('the connection state: a given logicalReplication object is used, relations are capped', () => {
  const state = newLogicalState();
  const c = ctx();
  c.logicalReplication = state;
  logical(c, relation(42));
  assert.equal(state.relations.get(42)?.name, 'items');
  for (let id = 1000; id < 1000 + MAX_RELATIONS + 50; id++) {
    assert.equal(decodePgoutput(relation(id), state, false).ok, true);
  }
  assert.equal(state.relations.size, MAX_RELATIONS);
  assert.equal(state.relations.has(42), false, 'the oldest were forgotten');
  // A relation message claiming more columns than it has bytes is refused before building them.
  const liar = cat(tag('R'), u32(1), str('s'), str('t'), tag('d'), i16(30000));
  assert.deepEqual(decodePgoutput(liar, state, false), { ok: false, reason: 'more columns than bytes' });
});

test('every pgoutput message cut at every offset, and random bytes, never throw', () => {
  const c = ctx();
  const samples = [cat(tag('B'), LSN, TIME, u32(1)), relation(3), cat(tag('I'), u32(3), tag('N'), tupleText('1', 'a', '{}')),
    cat(tag('U'), u32(3), tag('K'), tupleText('1', null, null), tag('N'), tupleText('1', 'b', 'u')),
    cat(tag('T'), i32(1), u8(0), u32(3)), cat(tag('M'), u8(1), LSN, str('p'), i32(3), Buffer.from('abc')),
    cat(tag('r'), u8(0), LSN, LSN, TIME, TIME, u32(5), str('g1'))];
  for (const s of samples) {
    for (let cut = 0; cut <= s.length; cut++) {
      const r = decode(xlog(s.subarray(0, cut)), 'backend', c);
      assert.equal(r.replication, 'XLogData');
      if (cut === s.length) assert.ok(r.logical);
      JSON.stringify(r);
    }
  }
  let seed = 99;
  const rand = (): number => {
    seed = (seed * 1_664_525 + 1_013_904_223) >>> 0;
    return seed / 4_294_967_296;
  };
  const tags = 'BMCORYIUDTSEcAbPKrpwkrhz';
  for (let i = 0; i < 20_000; i++) {
    const b = Buffer.alloc(1 + Math.floor(rand() * 80));
    for (let k = 0; k < b.length; k++) b[k] = Math.floor(rand() * 256);
    b[0] = tags.charCodeAt(Math.floor(rand() * tags.length));
    const r = i % 2 === 0 ? decode(xlog(b), 'backend', c) : decode(b, 'frontend', c);
    assert.equal(r.decodeError, undefined);
    JSON.stringify(r);
  }
});
