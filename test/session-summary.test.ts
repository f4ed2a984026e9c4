/**
 * Summary query records (TrackerOptions.detail 'summary', for stats and checks) must pair and
 * count exactly as full ones: the only differences allowed are the fields the option drops
 * (time, startTime, columns, and Bind parameters). Checked two ways:
 *  - bindNames (dissectors/ranges.ts), which reads a Bind without decoding its values, accepts exactly the bodies the
 *    dissector decodes as Bind (and so the requests the tracker pairs), over many damaged Binds;
 *    so do the other lean reads for their messages, each also given its body as a range of a
 *    larger buffer (as src/pg's FramedMessage holds it) whose bytes around the range differ;
 *  - every message of every sample and public capture replayed into a full and a summary
 *    tracker side by side.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { analyzeFile } from '../src/pipeline/analyze.js';
import type { MessageRecord, OutRecord, PipelineSink } from '../src/pipeline/events.js';
import { SessionTracker } from '../src/session/tracker.js';
import { SessionRegistry } from '../src/session/registry.js';
import { bindNames, commandTag, executePortal, parseNames, readyStatus, tagRows, targetName } from '../dissectors/ranges.js';
import { traceDecode } from '../dissectors/dissect.js';
import { FramedMessage } from '../src/pg/framer.js';
import type { QueryRecord, SessionRecord } from '../src/session/schema.js';
import type { ConnectionEnd, ConnectionInfo } from '../src/reassembly/types.js';
import { splitTag } from '../dissectors/index.js';
import type { DecodedMessage, RawMessage } from '../dissectors/types.js';
import { bind, commandComplete, describe, execute, makeContext, parse, readyForQuery, toRaw, withBody } from './helpers/pg-builder.js';
import { publicCapture, publicCaptures, sampleCaptures } from './helpers/public-captures.js';

function* prng(seed: number): Generator<number> {
  let x = seed >>> 0;
  for (;;) {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    yield x;
  }
}

/**
 * A FramedMessage whose body is a range of a larger buffer, the bytes before and after it set
 * to `pad`; reading `body` (a view) fails the test, so the reader must use the range.
 */
class RangeOnly extends FramedMessage {
  override get body(): Buffer {
    throw new Error('the lean reads must read the body range, not make a view');
  }
}

/** Bytes around a body: zeros (a NUL to find, a zero count), 0xff (no NUL, negative counts), 'I', and a copy of the body. */
function pads(body: Buffer): Buffer[] {
  return [Buffer.alloc(7), Buffer.alloc(9, 0xff), Buffer.alloc(3, 0x49), Buffer.from(body)];
}

/** `raw` as the framer could hand it out: its body inside a larger buffer, `pad` before and after it. */
function inRange(raw: RawMessage, pad: Buffer): RangeOnly {
  const src = Buffer.concat([pad, raw.body, pad]);
  return new RangeOnly(raw.dir, raw.code, raw.length, src, pad.length, pad.length + raw.body.length,
    raw.offset, raw.firstFrame, raw.startTimeUs, raw.frame, raw.timeUs);
}

/** A range reader applied to a message's body range, as the tracker applies it. */
const at = <T>(read: (src: Buffer, start: number, end: number) => T) => (raw: RawMessage): T => read(raw.source, raw.bodyStart, raw.bodyEnd);

/** CommandComplete's tag and rows as the tracker reads them. */
function leanTag(raw: RawMessage): { tag: string; rows: number | null } | null {
  const t = commandTag(raw.source, raw.bodyStart, raw.bodyEnd);
  return t === null ? null : { tag: t, rows: tagRows(t) };
}

/** The Reader's way (a tracing reader never takes a range reader): its result, or Malformed when it found fault. */
function readerWay(raw: RawMessage, ctx: ReturnType<typeof makeContext>): DecodedMessage {
  const t = traceDecode(raw, ctx);
  if (typeof t.result === 'string' || t.reader.fault !== null) return { type: 'Malformed', name: '', reason: '', fault: 'invalid', raw: '', size: 0, offset: 0, partial: {} };
  return t.result;
}

test('bindNames accepts exactly the Bind bodies the dissector decodes, with the same names', () => {
  const ctx = makeContext();
  const bodies: Buffer[] = [
    bind('', '', []), bind('p1', 'S_1', ['1', null, '\x00\x01'], [0, 1, 0], [1]), bind('', 'stmt', ['a', 'b'], [1]),
    bind('portal', '', [Buffer.alloc(300, 7)], [], [0, 1, 1]), bind('ü', 'ñ', ['x'], [0]),
  ].map((w) => toRaw('frontend', w).body);
  const r = prng(42);
  let accepted = 0;
  let rejected = 0;
  for (const base of bodies) {
    const cases: Buffer[] = [base];
    for (let cut = 0; cut < base.length; cut++) cases.push(base.subarray(0, cut));
    cases.push(Buffer.concat([base, Buffer.from([0])]));
    for (let k = 0; k < 400; k++) {
      const b = Buffer.from(base);
      const flips = 1 + (r.next().value! % 3);
      for (let f = 0; f < flips; f++) {
        const at = r.next().value! % b.length;
        const v = r.next().value!;
        // extreme and small values where counts and lengths live, random bytes elsewhere
        b[at] = v % 4 === 0 ? 0xff : v % 4 === 1 ? 0 : v % 4 === 2 ? v % 3 : (v >>> 8) & 0xff;
      }
      cases.push(b);
    }
    for (const body of cases) {
      const raw = withBody(toRaw('frontend', bind('', '', [])), body);
      const d = readerWay(raw, ctx);
      const names = bindNames(body, 0, body.length);
      for (const pad of pads(body)) {
        const framed = inRange(raw, pad);
        const ranged = bindNames(framed.source, framed.bodyStart, framed.bodyEnd);
        assert.deepEqual(ranged, names, `${body.toString('hex')} in a range, pad ${pad.toString('hex')}`);
        assert.deepEqual(bindNames(framed.source, framed.bodyStart, framed.bodyEnd), names);
      }
      if (d.type === 'Bind') {
        accepted++;
        assert.deepEqual(names && { portal: names.portal, statement: names.statement }, { portal: d.portal, statement: d.statement }, body.toString('hex'));
        assert.deepEqual([names!.params, names!.resultFormats], [[], []]);
      } else {
        rejected++;
        assert.equal(names, null, `${body.toString('hex')}: ${d.type} ${'reason' in d ? String(d.reason) : ''}`);
      }
    }
  }
  assert.ok(accepted > 50 && rejected > 500, `${accepted} accepted, ${rejected} rejected`);
});

/** Every body of `base` cut short, one byte longer, and with 1 to 3 bytes set to extreme or random values. */
function damaged(base: Buffer, r: Generator<number>, count: number): Buffer[] {
  const cases: Buffer[] = [base];
  for (let cut = 0; cut < base.length; cut++) cases.push(base.subarray(0, cut));
  cases.push(Buffer.concat([base, Buffer.from([0])]), Buffer.concat([base, Buffer.from([0x41])]));
  for (let k = 0; k < count && base.length > 0; k++) {
    const b = Buffer.from(base);
    const flips = 1 + (r.next().value! % 3);
    for (let f = 0; f < flips; f++) {
      const v = r.next().value!;
      b[r.next().value! % b.length] = v % 4 === 0 ? 0xff : v % 4 === 1 ? 0 : v % 4 === 2 ? 0x49 + (v % 3) * 0x0b : (v >>> 8) & 0xff;
    }
    cases.push(b);
  }
  return cases;
}

test('Parse, Describe, Execute, CommandComplete and ReadyForQuery read directly: the dissector\'s verdict and fields', () => {
  const ctx = makeContext();
  const r = prng(7);
  let ranges = 0;
  const check = (wire: Buffer, dir: 'frontend' | 'backend', own: (raw: RawMessage) => unknown, fromDecoded: (d: DecodedMessage) => unknown): void => {
    const base = toRaw(dir, wire);
    for (const body of damaged(base.body, r, 200)) {
      const raw = withBody(base, body);
      const want = fromDecoded(readerWay(raw, ctx));
      assert.deepEqual(own(raw), want, `${base.code} ${body.toString('hex')}`);
      for (const pad of pads(body)) {
        assert.deepEqual(own(inRange(raw, pad)), want, `${base.code} ${body.toString('hex')} in a range, pad ${pad.toString('hex')}`);
      }
      ranges++;
    }
  };
  // names and texts past 32 bytes are searched natively for their NUL (dissectors/ranges.ts)
  for (const p of ['', 'C_1', 'é', `portal_${'n'.repeat(40)}`]) {
    check(execute(p, 7), 'frontend', at(executePortal), (d) => (d.type === 'Execute' ? d.portal : null));
    for (const t of ['S', 'P'] as const) {
      check(describe(t, p), 'frontend', at(targetName), (d) => (d.type === 'Describe' ? { target: d.target, name: d.name } : null));
    }
    for (const types of [[], [23], [23, 25, 0]]) {
      for (const sql of ['select $1::int, \'x\'', `select ${'1, '.repeat(30)}$1`]) {
        check(parse(p, sql, types), 'frontend', at(parseNames), (d) => (d.type === 'Parse' ? { statement: d.statement, query: d.query, paramTypes: null } : null));
      }
    }
  }
  for (const tag of ['SELECT 12', 'INSERT 0 5', 'BEGIN', 'UPDATE 18446744073709551615', 'COPY 1000000', 'FETCH 3', 'CREATE TABLE', '', `${'X'.repeat(40)} 7`]) {
    check(commandComplete(tag), 'backend', leanTag, (d) => (d.type === 'CommandComplete' ? { tag: d.tag, rows: d.rows } : null));
  }
  // tagRows against splitTag on tags made of spaces, digits, letters and other characters
  const alphabet = ' 0123456789 9 0xé\u00a0';
  for (let k = 0; k < 20_000; k++) {
    let tag = '';
    const len = r.next().value! % 26;
    for (let i = 0; i < len; i++) tag += alphabet[r.next().value! % alphabet.length];
    assert.equal(tagRows(tag), splitTag(tag).rows, JSON.stringify(tag));
  }
  for (const tag of ['SELECT 123456789012345', 'SELECT 1234567890123456', 'COPY 99999999999999999999', 'COPY 999999999999999999999', 'X 00012']) {
    assert.equal(tagRows(tag), splitTag(tag).rows, tag);
  }
  for (const st of ['I', 'T', 'E'] as const) {
    check(readyForQuery(st), 'backend', at(readyStatus), (d) => (d.type === 'ReadyForQuery' ? d.transactionStatus : null));
  }
  assert.ok(ranges > 5000, `${ranges} bodies read in ranges`);
});

/** Replays the pipeline's messages, per session, into a full and a summary tracker. */
class Twin implements PipelineSink {
  constructor(private readonly keepRows = false) {}

  private readonly registry = { full: new SessionRegistry(), summary: new SessionRegistry() };
  private readonly trackers = new Map<number, { full: SessionTracker; summary: SessionTracker }>();
  readonly full: QueryRecord[] = [];
  readonly summary: QueryRecord[] = [];

  message(rec: MessageRecord, raw: RawMessage, decoded: DecodedMessage): void {
    let t = this.trackers.get(rec.session);
    if (!t) {
      const conn: ConnectionInfo = {
        id: rec.session, client: { ip: '10.0.0.1', port: 1 }, server: { ip: '10.0.0.2', port: 5432 },
        serverBy: 'syn', sawSyn: true, startFrame: 1, startTimeUs: 0,
      };
      const keep = (list: QueryRecord[]) => (r: QueryRecord | SessionRecord): void => { if (r.kind === 'query') list.push(r); };
      t = {
        full: new SessionTracker(conn, keep(this.full), { registry: this.registry.full, keepRows: this.keepRows }),
        summary: new SessionTracker(conn, keep(this.summary), { registry: this.registry.summary, detail: 'summary', keepRows: this.keepRows }),
      };
      this.trackers.set(rec.session, t);
    }
    // the body is valid only during this call: both trackers see it now
    t.full.message(raw, () => decoded);
    t.summary.message(raw, () => decoded);
  }

  record(_r: OutRecord): void {}

  end(): void {
    const end: ConnectionEnd = { reason: 'capture-end', frame: 0, timeUs: 0 };
    for (const t of this.trackers.values()) {
      t.full.close(end);
      t.summary.close(end);
    }
  }
}

/** What summary records leave out, blanked in a full record for the comparison (with kept rows, params stay). */
function asSummary(r: QueryRecord, keepRows: boolean): QueryRecord {
  return { ...r, time: '', startTime: '', columns: null, params: r.protocol === 'extended' && !keepRows ? [] : r.params };
}

for (const keepRows of [false, true]) {
  test(`summary and full trackers pair the same requests on every sample and public capture${keepRows ? ', rows kept' : ''}`, async () => {
    const files = [...sampleCaptures(), ...(publicCaptures() ?? []).map(publicCapture)];
    let queries = 0;
    let rows = 0;
    for (const f of files) {
      const twin = new Twin(keepRows);
      const keylog = f.replace(/\.pcapng?$/, '.keylog');
      await analyzeFile(f, twin, { ports: [8000, 15432, 60102], keylog: existsSync(keylog) ? keylog : null });
      assert.deepEqual(twin.summary, twin.full.map((r) => asSummary(r, keepRows)), f);
      queries += twin.full.length;
      for (const q of twin.summary) rows += q.rowValues?.length ?? 0;
    }
    assert.ok(queries > 250, `${queries} query records compared`);
    assert.equal(rows > 0, keepRows, `${rows} rows kept`);
  });
}
