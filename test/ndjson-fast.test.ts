/**
 * The NDJSON export's fast path (src/sinks/json) writes message records from the wire bytes;
 * its output must be byte for byte JSON.stringify of the record objects the generic path
 * builds; so must query records written from their executions. Checked on every sample (with
 * and without kept rows), every public capture and bit-flipped copies of the samples (hostile
 * bodies must fall back, not diverge), execution by execution on made-up ones, and value by
 * value for the writer's escapes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { analyzeFile, type AnalyzeOptions } from '../src/pipeline/analyze.js';
import { NdjsonSink } from '../src/sinks/ndjson.js';
import { JsonWriter } from '../src/sinks/json/writer.js';
import { MessageWriter } from '../src/sinks/json/message-writer.js';
import { writeExecution } from '../src/sinks/json/query-writer.js';
import { Execution } from '../src/session/execution.js';
import { messageRecord } from '../src/pipeline/records.js';
import { isoTime } from '../src/core/time.js';
import { dissect } from '../dissectors/dissect.js';
import type { RawMessage } from '../dissectors/types.js';
import type { Direction } from '../src/core/direction.js';
import { authentication, bytes, commandComplete, cstring, describe, execute, int16, int8, makeContext, msg, query, readyForQuery, startup, toRaw, withBody } from './helpers/pg-builder.js';
import { pcapFile, tcpFrame } from './helpers/build-packets.js';
import { TCP_ACK, TCP_PSH, TCP_SYN } from '../src/net/segment.js';
import { prng as rng } from './helpers/prng.js';
import { publicCapture, publicCaptures, sampleCaptures, SKIP_NO_PUBLIC } from './helpers/public-captures.js';

const dir = mkdtempSync(join(tmpdir(), 'pgsniff-ndjson-fast-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));

/** The export of `path` through the fast path, and through the generic one (a filter that keeps everything forces it). */
async function bothWays(path: string, opts: AnalyzeOptions): Promise<{ fast: string; generic: string }> {
  const out: string[] = [];
  for (const generic of [false, true]) {
    const file = join(dir, generic ? 'generic.ndjson' : 'fast.ndjson');
    const fd = openSync(file, 'w');
    try {
      await analyzeFile(path, new NdjsonSink(fd, generic ? { filter: () => true } : {}), opts);
    } finally {
      closeSync(fd);
    }
    out.push(readFileSync(file, 'utf8'));
  }
  return { fast: out[0]!, generic: out[1]! };
}

function firstDifference(a: string, b: string): string {
  const la = a.split('\n');
  const lb = b.split('\n');
  for (let i = 0; i < Math.max(la.length, lb.length); i++) {
    if (la[i] !== lb[i]) return `line ${i + 1}:\n fast    ${la[i]?.slice(0, 400)}\n generic ${lb[i]?.slice(0, 400)}`;
  }
  return 'no difference';
}

function optionsFor(path: string): AnalyzeOptions {
  const keylog = path.replace(/\.pcap(ng)?$/, '.keylog');
  return { keylog: existsSync(keylog) ? keylog : null };
}

test('fast NDJSON equals the generic export on every sample', async () => {
  const samples = sampleCaptures();
  assert.ok(samples.length >= 20);
  let messages = 0;
  for (const path of samples) {
    const { fast, generic } = await bothWays(path, optionsFor(path));
    assert.ok(fast === generic, `${path}: ${firstDifference(fast, generic)}`);
    messages += (fast.match(/"kind":"message"/g) ?? []).length;
  }
  assert.ok(messages > 1500, `${messages} message records compared`);
});

test('fast NDJSON equals the generic export on every sample with kept rows (--rows)', async () => {
  let kept = 0;
  for (const path of sampleCaptures()) {
    const { fast, generic } = await bothWays(path, { ...optionsFor(path), keepRows: true });
    assert.ok(fast === generic, `${path}: ${firstDifference(fast, generic)}`);
    kept += (fast.match(/"rowValues":/g) ?? []).length;
  }
  assert.ok(kept > 50, `${kept} query records with kept rows compared`);
});

test('fast NDJSON equals the generic export on every public capture', async (t) => {
  const list = publicCaptures();
  if (list === null) {
    t.skip(SKIP_NO_PUBLIC);
    return;
  }
  for (const rel of list) {
    const path = publicCapture(rel);
    // The public corpus uses other server ports too; the extra ports make those connections PostgreSQL.
    const { fast, generic } = await bothWays(path, { ports: [5433, 5434, 5435, 6432, 26257, 15432] });
    assert.ok(fast === generic, `${rel}: ${firstDifference(fast, generic)}`);
  }
});

test('fast NDJSON equals the generic export on bit-flipped samples', async () => {
  const samples = sampleCaptures().filter((p) => p.endsWith('.pcap'));
  for (const path of samples) {
    const original = readFileSync(path);
    for (let k = 0; k < 25; k++) {
      const seed = 1000 * samples.indexOf(path) + k;
      const next = rng(seed);
      const bytes = Buffer.from(original);
      // Past the file header, so the reader accepts the file; 1 to 40 flips.
      const flips = 1 + Math.floor(next() * 40);
      for (let i = 0; i < flips; i++) {
        const at = 24 + Math.floor(next() * (bytes.length - 24));
        bytes[at] ^= 1 << Math.floor(next() * 8);
      }
      const file = join(dir, 'flipped.pcap');
      writeFileSync(file, bytes);
      const { fast, generic } = await bothWays(file, optionsFor(path));
      assert.ok(fast === generic, `${path} seed ${seed}: ${firstDifference(fast, generic)}`);
    }
  }
});

test('the JSON writer writes values as JSON.stringify does', () => {
  const values: unknown[] = [
    0, -0, 1, 9, 10, 123456789, 999999999, 1e9, 2 ** 31, -1, -2147483648, 2 ** 53, 1.5, -3.25e-7, 1e21, Number.NaN,
    Number.POSITIVE_INFINITY, true, false, null, '', 'plain', 'quote " and \\ backslash', '\u0000\u0001\b\t\n\f\r\u001f\u007f',
    'naïve café 日本語 🐘', '\ud800 lone', 'x'.repeat(65), 'é'.repeat(70), [1, 'a', null, [true]], { a: 1, 'b"': ['\n'] },
  ];
  for (const v of values) {
    const w = new JsonWriter(8);
    w.value(v);
    assert.equal(w.buf.toString('utf8', 0, w.pos), JSON.stringify(v), `value ${String(v)}`);
  }
});

test('the JSON writer writes objects as JSON.stringify does', () => {
  let deep: unknown = 1;
  for (let i = 0; i < 100; i++) deep = [deep, { d: i }];
  const bare = Object.create(null) as Record<string, unknown>;
  bare.user = 'postgres';
  bare['é"'] = 'x';
  const objects: Array<Record<string, unknown>> = [
    {}, { a: undefined, b: () => 1, c: Symbol('s'), d: null, e: [undefined, () => 1, 2] }, { 2: 'b', 1: 'a', z: 'z', 10: 'c' },
    { when: new Date(0), buf: Buffer.from('ab'), n: Number.NaN, neg: -0, big: 1e300, nested: { x: [[], {}, [{}]] } },
    bare, { deep }, { s: 'line\nbreak \u2028 \ud83d', k: 'x'.repeat(200) },
  ];
  for (const o of objects) {
    const w = new JsonWriter(4);
    w.object(o);
    assert.equal(w.buf.toString('utf8', 0, w.pos), JSON.stringify(o));
  }
});

test('the JSON writer escapes wire bytes as JSON.stringify escapes their UTF-8 decoding', () => {
  const inputs: Buffer[] = [
    Buffer.from('plain ascii'), Buffer.from('tab\there "q" \\ \u0001 \u007f'), Buffer.from('naïve 日本語 🐘'),
    Buffer.from([0xff, 0x41, 0xc3]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from([0xe6, 0x97]), Buffer.alloc(0),
    Buffer.from([0x22, 0x00, 0x5c, 0x1b, 0x5b, 0x33, 0x31, 0x6d]),
  ];
  const next = rng(7);
  for (let i = 0; i < 200; i++) {
    const b = Buffer.alloc(1 + Math.floor(next() * 20));
    for (let j = 0; j < b.length; j++) b[j] = Math.floor(next() * 256);
    inputs.push(b);
  }
  for (const b of inputs) {
    const w = new JsonWriter(4);
    w.byte(0x5b);
    w.utf8String(b, 0, b.length);
    w.byte(0x5d);
    assert.equal(w.buf.toString('utf8', 0, w.pos), JSON.stringify([b.toString('utf8')]), `bytes ${b.toString('hex')}`);
    const h = new JsonWriter(4);
    h.hexString(b, 0, b.length);
    assert.equal(h.buf.toString('utf8', 0, h.pos), JSON.stringify('\\x' + b.toString('hex')));
  }
});

/** One message's record from MessageWriter, and JSON.stringify of the generic record of the same message. */
function writtenAndGeneric(raw: RawMessage, ctx = makeContext()): { written: string; generic: string } {
  const out = new JsonWriter(8);
  new MessageWriter(out).write(3, raw, () => dissect(raw, ctx), ctx, false);
  return { written: out.buf.toString('utf8', 0, out.pos), generic: JSON.stringify(messageRecord(3, raw, dissect(raw, ctx), false)) + '\n' };
}

test('Execute, Describe, Close, CommandComplete and ReadyForQuery written from their bytes equal their decoded records, damaged or not', () => {
  const wires: Array<[Direction, Buffer]> = [];
  for (const name of ['', 'P_1', 'é', 'quote"back\\slash', `long_${'n'.repeat(70)}`]) {
    wires.push(['frontend', execute(name, 0)], ['frontend', execute(name, -1)], ['frontend', execute(name, 2147483647)]);
    for (const t of ['S', 'P'] as const) {
      wires.push(['frontend', describe(t, name)], ['frontend', msg('C', bytes(t), cstring(name))]);
    }
  }
  for (const tag of [
    'SELECT 12', 'INSERT 0 5', 'INSERT 16384 1', 'INSERT 12345678901 1', 'INSERT  5', 'INSERT x 5', 'BEGIN', 'CREATE TABLE', '', ' ', 'SELECT ',
    'UPDATE 18446744073709551615', 'COPY 123456789012345', 'COPY 1234567890123456', 'FETCH 007', 'é 5', 'x\u0001 3', 'MERGE 1000000000',
  ]) wires.push(['backend', commandComplete(tag)]);
  for (const s of ['I', 'T', 'E'] as const) wires.push(['backend', readyForQuery(s)]);
  wires.push(['backend', msg('Z', bytes('X'))], ['backend', msg('Z')], ['backend', msg('Z', bytes('II'))]);
  const next = rng(11);
  let compared = 0;
  for (const [dir, wire] of wires) {
    const base = toRaw(dir, wire);
    const bodies = [base.body, Buffer.alloc(0), base.body.subarray(0, base.body.length - 1), Buffer.concat([base.body, Buffer.from([0])])];
    // and random damage: bytes set to NUL, to the type letters, to anything
    for (let k = 0; k < 30; k++) {
      const b = Buffer.from(base.body);
      if (b.length === 0) break;
      const at = Math.floor(next() * b.length);
      b[at] = [0, 0x53, 0x50, 0x20, 0x31, Math.floor(next() * 256)][Math.floor(next() * 6)]!;
      bodies.push(b);
    }
    for (const body of bodies) {
      const { written, generic } = writtenAndGeneric(withBody(base, body));
      assert.equal(written, generic, `${base.code} ${body.toString('hex')}`);
      compared++;
    }
  }
  assert.ok(compared > 1000, `${compared} bodies compared`);
});

test('the JSON writer writes capture times as isoTime does', () => {
  const times = [0, 1, 999_999, 1_000_000, 1_764_000_000_123_456, -1, -1_000_001, 253_402_300_799_999_999, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 1.5, Number.NaN];
  const next = rng(5);
  for (let i = 0; i < 200; i++) times.push(Math.floor(next() * 4e15) - 1e15);
  for (const t of times) {
    const w = new JsonWriter(4);
    w.isoTime(t);
    assert.equal(w.buf.toString('utf8', 0, w.pos), JSON.stringify(isoTime(t)), `time ${t}`);
  }
});

test('the JSON writer writes durations (microseconds / 1000) as JSON.stringify does', () => {
  const values = [0, 0.001, 0.01, 0.1, 0.085, 0.12, 1, 1.5, 12.345, 999.999, 1000, 123456.789, 999999999.999, 1e9, 1e9 + 0.001, 86400000.5, 0.0005, 1 / 3, -1, -0, Number.NaN, 1e12];
  const next = rng(3);
  for (let i = 0; i < 5000; i++) values.push(Math.floor(next() * 10 ** (1 + Math.floor(next() * 12))) / 1000);
  for (const v of values) {
    const w = new JsonWriter(2);
    w.millis(v);
    assert.equal(w.buf.toString('utf8', 0, w.pos), JSON.stringify(v), `millis ${v}`);
  }
});

test('query records written from their executions equal JSON.stringify of toRecord', () => {
  const next = rng(7071);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const sqls = ['SELECT 1', 'INSERT INTO t VALUES ($1)', null, 'x'.repeat(3000), 'say "hi"\n', '日本語 🐘'];
  const times = [1764136354023718, 0, -5, 1764136354000000, 1e17, 2 ** 53 + 2, 1764136354999999];
  const error = { severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate: '42P01', message: 'relation "t" does not exist' };
  const column = { name: 'n', tableOid: 16384, columnNumber: 1, typeOid: 23, typeName: 'int4', typeSize: 4, typeModifier: -1, format: 'text' as const };
  for (let i = 0; i < 5000; i++) {
    const e = new Execution(pick(['simple', 'extended', 'function'] as const), pick(sqls), 1 + Math.floor(next() * 1e6), pick(times));
    // The same SQL text with other statement fields: the statement-run cache must not mix them up.
    e.statementIndex = pick([0, 0, 1, 3]);
    e.statementCount = e.statementIndex + pick([1, 1, 2]);
    e.statement = pick([null, '', 'P_1', 's"q']);
    e.portal = pick([null, '', 'C_2']);
    e.params = pick([[], [{ oid: 23, typeName: 'int4', format: 'text', value: 42 }, { oid: 0, typeName: null, format: 'binary', value: '\\x00ff' }]]);
    e.parsed = next() < 0.5;
    if (next() < 0.8) e.touch(pick(times));
    if (next() < 0.5) e.dataRow(17, pick(times));
    if (next() < 0.7) e.finish(1 + Math.floor(next() * 1e6), pick(times), pick(times));
    e.tagRows = pick([null, 0, 7]);
    e.command = pick([null, 'SELECT 1', 'UPDATE 0']);
    if (next() < 0.2) e.error = error;
    if (next() < 0.2) e.notice(error);
    if (next() < 0.2) e.notices = [];
    e.skipped = next() < 0.1;
    e.incomplete = next() < 0.1;
    e.suspended = next() < 0.1;
    e.columns = pick([null, [], [column, { ...column, name: 'é"', typeName: null }]]);
    if (next() < 0.1) e.copy = { direction: 'in', format: 'text', messagesIn: 3, bytesIn: 99, messagesOut: 0, bytesOut: 0, failed: null };
    if (next() < 0.1) {
      e.isFunction = true;
      e.functionOid = 1598;
      e.functionResult = pick([null, { oid: 25, typeName: 'text', format: 'text', value: 'r' }]);
    }
    if (next() < 0.1) e.cancelledBy = { session: 3, frame: 99, time: '2025-11-26T05:52:34.023718Z' };
    if (next() < 0.1) e.keepRow([{ oid: 23, typeName: 'int4', format: 'text', value: 1 }], 5, 6, 7);
    const status = pick([null, 'idle', 'transaction', 'failed'] as const);
    const session = Math.floor(next() * 100);
    const w = new JsonWriter(16);
    writeExecution(w, e, session, status);
    assert.equal(w.buf.toString('utf8', 0, w.pos), JSON.stringify(e.toRecord(session, status)) + '\n', `execution ${i}`);
  }
});

test('a text COPY with HEADER: the fast path leaves the header line to the decoder, same export', async () => {
  const C = '10.9.1.1';
  const S = '10.9.1.2';
  let cseq = 1000;
  let sseq = 5000;
  const frames: Buffer[] = [
    tcpFrame({ src: C, dst: S, sport: 40001, dport: 5432, seq: cseq++, flags: TCP_SYN }),
    tcpFrame({ src: S, dst: C, sport: 5432, dport: 40001, seq: sseq++, ack: cseq, flags: TCP_SYN | TCP_ACK }),
  ];
  const c = (payload: Buffer): void => { frames.push(tcpFrame({ src: C, dst: S, sport: 40001, dport: 5432, seq: cseq, flags: TCP_PSH | TCP_ACK, payload })); cseq += payload.length; };
  const s = (payload: Buffer): void => { frames.push(tcpFrame({ src: S, dst: C, sport: 5432, dport: 40001, seq: sseq, flags: TCP_PSH | TCP_ACK, payload })); sseq += payload.length; };
  c(startup({ user: 'u', database: 'd' }));
  s(Buffer.concat([authentication(0), readyForQuery()]));
  c(query('COPY t TO STDOUT WITH (HEADER)'));
  s(msg('H', int8(0), int16(2), int16(0), int16(0)));
  for (const line of ['i\tt\n', '1\ta\n', '2\tb\n']) s(msg('d', bytes(line)));
  s(Buffer.concat([msg('c'), commandComplete('COPY 2'), readyForQuery()]));
  const path = join(dir, 'copy-header.pcap');
  writeFileSync(path, pcapFile(frames));
  const { fast, generic } = await bothWays(path, {});
  assert.ok(fast === generic, firstDifference(fast, generic));
  const data = fast.split('\n').filter((l) => l.includes('"type":"CopyData"')).map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.deepEqual(data.map((r) => [r.rowCount, r.headerLine]), [[0, ['i', 't']], [1, undefined], [1, undefined]]);
});
