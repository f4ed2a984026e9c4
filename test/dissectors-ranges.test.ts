/**
 * The range readers (dissectors/ranges.ts) are the way dissect() reads Parse, Bind, Describe,
 * Execute, Close, CommandComplete, ReadyForQuery and the COPY responses when nobody traces; the
 * Reader's decoder (which tracing always takes) is the other. For every body, well formed, cut
 * short, one byte longer or with bytes set to extreme values, and each given as a range of a
 * larger buffer whose bytes around it differ: a range reader that answers gives exactly the
 * Reader's object, and it answers whenever the Reader finds no fault (so the fast way is taken
 * on every well-formed message).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reader } from '../dissectors/reader.js';
import { lookup } from '../dissectors/registry.js';
import { rawMessage } from '../dissectors/raw-message.js';
import type { ColumnDescription, DecodedMessage, DissectContext, RawMessage } from '../dissectors/types.js';
import { splitTag } from '../dissectors/ranges.js';
import {
  bind, commandComplete, dataRow, describe, execute, int16, int8, makeContext, msg, parse, readyForQuery, cstring, toRaw,
} from './helpers/pg-builder.js';
import { prng } from './helpers/prng.js';

/** The Reader's answer, as dissect() takes it when a range reader refuses: its object, or null when it found fault. */
function readerWay(raw: RawMessage, ctx: DissectContext): DecodedMessage | null {
  const r = new Reader(raw.body);
  const m = lookup(raw.dir, raw.code!).decode(r, ctx);
  r.finish();
  return r.fault !== null ? null : m;
}

/** `body` inside a larger buffer, `pad` before and after it; `body` itself is not handed over. */
function inRange(base: RawMessage, body: Buffer, pad: Buffer): RawMessage {
  const src = Buffer.concat([pad, body, pad]);
  const m = rawMessage({ ...base, length: body.length + 4, body });
  return { ...m, source: src, bodyStart: pad.length, bodyEnd: pad.length + body.length };
}

function damaged(base: Buffer, next: () => number, count: number): Buffer[] {
  const cases: Buffer[] = [base];
  for (let cut = 0; cut < base.length; cut++) cases.push(base.subarray(0, cut));
  cases.push(Buffer.concat([base, Buffer.from([0])]), Buffer.concat([base, Buffer.from([0x41])]));
  for (let k = 0; k < count && base.length > 0; k++) {
    const b = Buffer.from(base);
    const flips = 1 + Math.floor(next() * 3);
    for (let f = 0; f < flips; f++) {
      const v = Math.floor(next() * 0x10000);
      b[Math.floor(next() * b.length)] = v % 4 === 0 ? 0xff : v % 4 === 1 ? 0 : v % 4 === 2 ? v % 3 : (v >>> 8) & 0xff;
    }
    cases.push(b);
  }
  return cases;
}

const copyResponse = (code: string, format: number, cols: number[]): Buffer => msg(code, int8(format), int16(cols.length), ...cols.map(int16));
const close = (t: 'S' | 'P', name: string): Buffer => msg('C', int8(t.charCodeAt(0)), cstring(name));

test('range readers give the Reader\'s object, and answer whenever it finds no fault', () => {
  const next = prng(15);
  const col = (typeOid: number, format: 'text' | 'binary'): ColumnDescription => ({
    name: 'c', tableOid: 0, columnNumber: 0, typeOid, typeName: null, typeSize: -1, typeModifier: -1, format,
  });
  const contexts = [
    makeContext(), makeContext({ paramTypes: [23, 25, 17] }),
    // DataRow typed by its columns: int4, bool, int8, float8 (decoded), bytea binary, one past the list
    makeContext({ columns: [col(23, 'text'), col(16, 'text'), col(20, 'text'), col(701, 'text'), col(17, 'binary')] }),
    makeContext({ columns: [col(23, 'binary'), col(21, 'text')], decodeRows: false }),
  ];
  const wires: Array<['frontend' | 'backend', Buffer]> = [];
  for (const n of ['', 'S_1', 'é', `portal_${'n'.repeat(40)}`]) {
    wires.push(['frontend', parse(n, 'select $1::int', [23]), ], ['frontend', parse(n, `select ${'1, '.repeat(30)}$1`, [])]);
    wires.push(['frontend', bind(n, n, ['1', null, '\x00\x01'], [0, 0, 1], [1])], ['frontend', bind(n, 'S_1', ['42'], [], [])]);
    wires.push(['frontend', describe('S', n)], ['frontend', describe('P', n)], ['frontend', close('S', n)], ['frontend', close('P', n)]);
    wires.push(['frontend', execute(n, 0)], ['frontend', execute(n, 100)]);
  }
  for (const tag of ['SELECT 12', 'INSERT 0 5', 'INSERT 16384 1', 'BEGIN', 'UPDATE 18446744073709551615', 'COPY 1000000', 'CREATE TABLE', '']) {
    wires.push(['backend', commandComplete(tag)]);
  }
  for (const s of ['I', 'T', 'E'] as const) wires.push(['backend', readyForQuery(s)]);
  wires.push(['backend', dataRow(['1', 't', '12345678901', '1.5e3', Buffer.from([0, 1, 0xff]), 'six'])], ['backend', dataRow([null, 'f', null])]);
  wires.push(['backend', dataRow(['-0', 'x', '007', 'NaN', '', ''])], ['backend', dataRow([])], ['backend', dataRow(['é', '2147483648'])]);
  for (const code of ['G', 'H', 'W']) wires.push(['backend', copyResponse(code, 0, [0, 0])], ['backend', copyResponse(code, 1, [1, 1, 1])], ['backend', copyResponse(code, 0, [])]);

  const pads = [Buffer.alloc(7), Buffer.alloc(9, 0xff), Buffer.alloc(3, 0x49)];
  let answered = 0;
  let refused = 0;
  for (const [dir, wire] of wires) {
    const base = toRaw(dir, wire);
    const direct = lookup(dir, base.code!).direct;
    assert.ok(direct !== undefined, `${dir} ${base.code} has a range reader`);
    for (const body of damaged(base.body, next, 60)) {
      for (const ctx of contexts) {
        const want = readerWay(rawMessage({ ...base, length: body.length + 4, body }), ctx);
        for (const pad of [...pads, Buffer.from(body)]) {
          const raw = inRange(base, body, pad);
          const got = direct(raw.source, raw.bodyStart, raw.bodyEnd, ctx);
          const what = `${dir} ${base.code} ${body.toString('hex')} pad ${pad.toString('hex')}`;
          if (want === null) assert.equal(got, null, what);
          else assert.deepEqual(got, want, what);
        }
        if (want === null) refused++;
        else answered++;
      }
    }
  }
  assert.ok(answered > 500 && refused > 2000, `${answered} answered, ${refused} refused`);
});

/** splitTag as it read tags before it was built on tagCountAt: the last word as the count. */
function splitTagByWords(tag: string): { command: string; rows: number | null; oid?: number } {
  const sp = tag.lastIndexOf(' ');
  if (sp < 0 || !/^[0-9]{1,20}$/.test(tag.slice(sp + 1))) return { command: tag, rows: null };
  const rows = Number(tag.slice(sp + 1));
  const head = tag.slice(0, sp);
  if (head.startsWith('INSERT ') && /^[0-9]{1,10}$/.test(head.slice(7))) return { command: 'INSERT', rows, oid: Number(head.slice(7)) };
  return { command: head, rows };
}

test('splitTag reads every tag as the last-word reading does', () => {
  const tags = [
    'SELECT 12', 'INSERT 0 5', 'INSERT 16384 1', 'INSERT 12345678901 1', 'INSERT 1234567890 1', 'INSERT  5', 'INSERT x 5', 'INSERT 5',
    'INSERT ', 'INSERT 0 ', 'BEGIN', 'CREATE TABLE', '', ' ', ' 5', 'SELECT ', '5', 'SELECT 1 2', 'UPDATE 18446744073709551615',
    'COPY 123456789012345', 'COPY 1234567890123456', 'COPY 123456789012345678901', 'FETCH 007', 'é 5', 'x\u0001 3', 'MERGE 1000000000',
    'SELECT 1a', 'SELECT -1', 'SELECT +1', 'INSERT -1 5', 'INSERT 0x1 5',
  ];
  const next = prng(3);
  const alphabet = ['I', 'N', 'S', 'E', 'R', 'T', ' ', '0', '1', '9', 'x'];
  for (let k = 0; k < 3000; k++) {
    let t = Math.floor(next() * 2) === 0 ? 'INSERT ' : '';
    const n = Math.floor(next() * 12);
    for (let i = 0; i < n; i++) t += alphabet[Math.floor(next() * alphabet.length)];
    tags.push(t);
  }
  for (const tag of tags) assert.deepEqual(splitTag(tag), splitTagByWords(tag), JSON.stringify(tag));
});
