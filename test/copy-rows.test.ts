/** COPY data rows: text, CSV and binary format, chunked, typed, hostile. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeCopyData, type CopyHints } from '../dissectors/copy/index.js';
import { copyDataFieldsSchema } from '../dissectors/copy/schema.js';
import { looksLikeCsv } from '../dissectors/copy/text-rows.js';
import { OID } from '../dissectors/values/index.js';
import type { DissectContext, PgValue } from '../dissectors/types.js';

/** decodeCopyData, and its result must match the published schema. */
function decode(...args: Parameters<typeof decodeCopyData>): Record<string, unknown> {
  const r = decodeCopyData(...args);
  const check = copyDataFieldsSchema.safeParse(r);
  assert.ok(check.success, `schema: ${check.success ? '' : JSON.stringify(check.error.issues.slice(0, 3))} for ${JSON.stringify(r).slice(0, 300)}`);
  return r;
}


function ctx(copy: CopyHints | null): DissectContext {
  return { showSecrets: false, protocolMinor: 0, authType: null, copy, statementParamTypes: () => undefined, resultColumns: () => undefined };
}
function textCopy(columns: number, columnTypes: number[] | null = null, extra: Partial<CopyHints> = {}): CopyHints {
  return { kind: 'out', format: 'text', columnFormats: Array<'text'>(columns).fill('text'), columnTypes, ...extra };
}
function binaryCopy(columns: number, columnTypes: number[] | null = null): CopyHints {
  return { kind: 'in', format: 'binary', columnFormats: Array<'binary'>(columns).fill('binary'), columnTypes };
}
const utf8 = (s: string): Buffer => Buffer.from(s, 'utf8');

test('text format: tabs, \\N, escapes, typed columns', () => {
  const body = utf8('1\tone\t\\N\n2\ta\\tb\\nc\\\\d\\101\\x42\\303\\251\\q\t3.50\n');
  const r = decode(body, 'backend', ctx(textCopy(3, [OID.int4, OID.text, OID.numeric])));
  assert.equal(r.format, 'text');
  assert.equal(r.size, body.length);
  assert.equal(r.rowCount, 2);
  assert.deepEqual(r.rows, [[1, 'one', null], [2, 'a\tb\nc\\dABéq', '3.50']]);
  assert.equal(r.partial, undefined);
});

test('text format: untyped columns stay strings; CRLF line ends; "\\." ends the data', () => {
  const r = decode(utf8('1\tx\r\n\\.\n'), 'frontend', ctx(textCopy(2)));
  assert.deepEqual(r.rows, [['1', 'x']]);
  assert.equal(r.endOfData, true);
  const r2 = decode(utf8('\\.'), 'frontend', ctx(textCopy(2)));
  assert.equal(r2.endOfData, true);
  assert.equal(r2.rowCount, 0);
});

test('text format: a row cut at the message end is partial, with its size', () => {
  const r = decode(utf8('1\ta\n2\tb'), 'frontend', ctx(textCopy(2)));
  assert.equal(r.rowCount, 1);
  assert.deepEqual(r.partial, { size: 3, preview: '2\tb' });
  const long = decode(utf8('x'.repeat(100_000)), 'frontend', ctx(textCopy(1)));
  assert.deepEqual(long.partial, { size: 100_000, preview: 'x'.repeat(64) });
});

test('text format: every split of a stream keeps every row exactly once', () => {
  const stream = utf8('1\talpha\n2\t\\N\n3\tgamma \\t\\\\\n4\té\n');
  const want = [['1', 'alpha'], ['2', null], ['3', 'gamma \t\\'], ['4', 'é']];
  for (let cut = 0; cut <= stream.length; cut++) {
    const c = ctx(textCopy(2));
    const a = decode(stream.subarray(0, cut), 'frontend', c);
    const tail = (a.partial as { size: number } | undefined)?.size ?? 0;
    const b = decode(stream.subarray(cut - tail), 'frontend', c);
    assert.deepEqual([...(a.rows as PgValue[][]), ...(b.rows as PgValue[][])], want, `cut ${cut}`);
  }
});

test('row cap: rows beyond maxRows are counted, not decoded', () => {
  const body = utf8('1\n'.repeat(50));
  const r = decode(body, 'backend', ctx(textCopy(1, [OID.int4])), { maxRows: 10 });
  assert.equal(r.rowCount, 50);
  assert.equal((r.rows as PgValue[][]).length, 10);
  assert.equal(r.rowsTruncated, true);
});

test('CSV: quotes, doubled quotes, newlines in quotes, NULL versus empty string', () => {
  const body = utf8('1,"a,b","say ""hi""",\n2,"line\nbreak","",x\n');
  const r = decode(body, 'backend', ctx(textCopy(4, [OID.int4, OID.text, OID.text, OID.text], { csv: true })));
  assert.equal(r.format, 'csv');
  assert.deepEqual(r.rows, [[1, 'a,b', 'say "hi"', null], [2, 'line\nbreak', '', 'x']]);
  const cut = decode(utf8('1,"open\n'), 'backend', ctx(textCopy(2, null, { csv: true })));
  assert.equal(cut.rowCount, 0);
  assert.deepEqual(cut.partial, { size: 8, preview: '1,"open\n' });
  const end = decode(utf8('1,2\n\\.\n'), 'backend', ctx(textCopy(2, null, { csv: true })));
  assert.equal(end.endOfData, true);
  assert.equal(end.rowCount, 1);
  const quotedMarker = decode(utf8('"\\."\n'), 'backend', ctx(textCopy(1, null, { csv: true })));
  assert.deepEqual(quotedMarker.rows, [['\\.']], 'a quoted \\. is data');
});

test('CSV or text without a hint: the documented rule', () => {
  assert.equal(looksLikeCsv(utf8('1\ta,b\n'), 2), false, 'N-1 tabs: text');
  assert.equal(looksLikeCsv(utf8('1,"a b"\n'), 2), true, 'N comma fields: CSV');
  assert.equal(looksLikeCsv(utf8('1,"a\tb"\n'), 2), false, 'both readings fit: text, the default');
  assert.equal(looksLikeCsv(utf8('1,2,3\n'), 2), false, 'neither fits: text');
  assert.equal(looksLikeCsv(utf8('a,b\n'), 1), false, 'one column: text');
  assert.equal(looksLikeCsv(utf8('1,"a\nb"\n'), 2), true, 'a quoted newline');
  // The hint wins over the guess.
  assert.equal(decode(utf8('1,2\n'), 'backend', ctx(textCopy(2, null, { csv: false }))).format, 'text');
  // One COPY keeps the format its first complete line decided.
  const copy = textCopy(2);
  assert.equal(decode(utf8('1,x\n'), 'backend', ctx(copy)).format, 'csv');
  assert.equal(decode(utf8('2\ty\n'), 'backend', ctx(copy)).format, 'csv');
});

// ---- binary ----

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');
function i16(n: number): Buffer { const b = Buffer.alloc(2); b.writeInt16BE(n); return b; }
function i32(n: number): Buffer { const b = Buffer.alloc(4); b.writeInt32BE(n); return b; }
function field(v: Buffer | null): Buffer { return v === null ? i32(-1) : Buffer.concat([i32(v.length), v]); }
function tuple(...fields: Array<Buffer | null>): Buffer { return Buffer.concat([i16(fields.length), ...fields.map(field)]); }
const header = (flags = 0, ext: Buffer = Buffer.alloc(0)): Buffer => Buffer.concat([SIGNATURE, i32(flags), i32(ext.length), ext]);

test('binary format: header, tuples with NULLs, trailer, typed', () => {
  const body = Buffer.concat([header(), tuple(i32(7), utf8('seven'), null), tuple(i32(-1), utf8(''), i32(0)), i16(-1)]);
  const r = decode(body, 'frontend', ctx(binaryCopy(3, [OID.int4, OID.text, OID.int4])));
  assert.deepEqual(r.header, { flags: 0, oids: false, extensionLength: 0 });
  assert.deepEqual(r.rows, [[7, 'seven', null], [-1, '', 0]]);
  assert.equal(r.rowCount, 2);
  assert.equal(r.endOfData, true);
  assert.equal(r.partial, undefined);
  assert.equal(r.malformed, undefined);
});

test('binary format: header flags and extension, untyped values as hex', () => {
  const r = decode(Buffer.concat([header(0x10000, utf8('ext')), tuple(utf8('ab'))]), 'frontend', ctx(binaryCopy(1)));
  assert.deepEqual(r.header, { flags: 0x10000, oids: true, extensionLength: 3 });
  assert.deepEqual(r.rows, [['\\x6162']]);
  const big = decode(tuple(Buffer.alloc(5000, 1)), 'frontend', ctx(binaryCopy(1)));
  assert.deepEqual((big.rows as PgValue[][])[0]?.[0], { size: 5000, preview: '01'.repeat(64) });
});

test('binary format: cut tuples are partial, junk is malformed, bytes after the trailer too', () => {
  const stream = Buffer.concat([header(), tuple(i32(1), utf8('x')), tuple(i32(2), null), i16(-1)]);
  for (let cut = 0; cut < stream.length; cut++) {
    const r = decode(stream.subarray(0, cut), 'frontend', ctx(binaryCopy(2, [OID.int4, OID.text])));
    assert.equal(r.malformed, undefined, `cut ${cut}`);
    assert.ok((r.rowCount as number) <= 2);
    if (cut > 0 && r.endOfData === undefined) assert.ok(r.partial !== undefined || (r.rowCount as number) > 0 || cut === 19, `cut ${cut}`);
  }
  const junk = decode(Buffer.from([0xff, 0x00, 1, 2, 3]), 'frontend', ctx(binaryCopy(1)));
  assert.equal((junk.malformed as { reason: string }).reason, 'not a tuple: field count -256');
  const after = decode(Buffer.concat([i16(-1), utf8('zz')]), 'frontend', ctx(binaryCopy(1)));
  assert.equal(after.endOfData, true);
  assert.equal((after.malformed as { reason: string }).reason, 'bytes after the trailer');
  const negLen = decode(Buffer.concat([i16(1), i32(-5)]), 'frontend', ctx(binaryCopy(1)));
  assert.match((negLen.malformed as { reason: string }).reason, /field length -5/);
});

test('text-format COPY data with a NUL byte is not split into rows (a base backup stream, say)', () => {
  const r = decode(Buffer.from('d\0\0ustar\n', 'latin1'), 'backend', ctx(textCopy(0)));
  assert.equal(r.reason, 'NUL byte in text-format COPY data');
  assert.equal(r.rows, undefined);
});

test('no COPY state: size and a capped preview; fullHex on request', () => {
  const body = Buffer.alloc(1 << 20, 0xab);
  const r = decode(body, 'backend', ctx(null));
  assert.deepEqual(r, { size: 1 << 20, payload: { size: 1 << 20, preview: 'ab'.repeat(64), truncated: true } });
  const full = decode(Buffer.from([1, 2]), 'backend', ctx(null), { fullHex: true });
  assert.deepEqual(full, { size: 2, payload: { size: 2, preview: '0102' } });
});

test('random bytes in every COPY mode never throw', () => {
  let s = 7;
  const rand = (): number => {
    s = (s * 1_664_525 + 1_013_904_223) >>> 0;
    return s / 4_294_967_296;
  };
  const modes: Array<CopyHints | null> = [null, textCopy(3, [OID.int4, OID.text, 1007]), textCopy(3, null, { csv: true }),
    binaryCopy(3, [OID.int4, OID.numeric, 1009]), binaryCopy(2), { kind: 'both', format: 'text', columnFormats: [], columnTypes: null }];
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.alloc(Math.floor(rand() * 300));
    for (let k = 0; k < b.length; k++) b[k] = rand() < 0.3 ? [0x09, 0x0a, 0x5c, 0x22, 0x2c, 0xff, 0][Math.floor(rand() * 7)]! : Math.floor(rand() * 256);
    if (i % 5 === 0 && b.length > 11) SIGNATURE.copy(b, 0);
    for (const m of modes) {
      const r = decode(b, 'frontend', ctx(m));
      assert.equal(r.decodeError, undefined, JSON.stringify(r));
      JSON.stringify(r);
    }
  }
});
