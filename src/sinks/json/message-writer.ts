/**
 * A message record written straight into the NDJSON batch, without building the record object
 * (src/pipeline/records.ts) or running JSON.stringify over it: that object and that call were
 * most of the time of `read --json` (docs/BENCHMARK.md, "NDJSON writers"). The bytes are the
 * same as JSON.stringify(messageRecord(...)) (test/ndjson-fast.test.ts compares both on every
 * sample and public capture).
 *
 * Three ways, fastest first:
 *  - the busiest messages are written from what the dissectors' range readers find in the wire
 *    bytes, with no object made: DataRow and text COPY rows (row-fields.ts, with
 *    dissectors/rows.ts and dissectors/copy's TextRowCursor), Execute, Describe, Close,
 *    CommandComplete, ReadyForQuery (dissectors/ranges.ts) and the empty messages; anything
 *    irregular (a malformed body, a row past the cap, a partial row) gives up and the next way
 *    takes over;
 *  - Parse, Bind and Query, which the session layer decodes anyway, are written field by field
 *    from the decoded message, in the decoder's key order;
 *  - any other message: its decoded fields in their own order after the envelope, as
 *    records.ts's messageRecord() lays them out.
 */
import type { Bind, DecodedMessage, Direction, DissectContext, Parse, Query, RawMessage, TypedValue } from '../../../dissectors/types.js';
import { typeName } from '../../../dissectors/rows.js';
import {
  commandTag, executeMaxRows, executePortal, readyStatus, tagCount, tagCountAt, tagInsertOid, targetByte,
} from '../../../dissectors/ranges.js';
import { lookup } from '../../../dissectors/registry.js';
import { copyDataFields, dataRowFields } from './row-fields.js';
import { JsonWriter } from './writer.js';

const enc = (s: string): Buffer => Buffer.from(s, 'utf8');

const FIRST_FRAME = enc(',"firstFrame":');
const TLS = enc(',"tls":true');

const START_SESSION = enc('{"kind":"message","session":');
const START_TIME = enc(',"time":');
const START_FRAME = enc(',"frame":');

/** `,"dir":…,"type":…,"code":…,"length":` per direction, type byte (256: none) and type name. */
class HeadCache {
  private readonly types: Array<string | undefined> = new Array<string | undefined>(257);
  private readonly bytes: Array<Buffer | undefined> = new Array<Buffer | undefined>(257);
  constructor(private readonly dir: 'frontend' | 'backend') {}

  get(code: string | null, type: string): Buffer {
    const i = code === null ? 256 : code.charCodeAt(0) & 0xff;
    const b = this.bytes[i];
    if (b !== undefined && this.types[i] === type) return b;
    const made = enc(`,"dir":"${this.dir}","type":${JSON.stringify(type)},"code":${JSON.stringify(code)},"length":`);
    this.types[i] = type;
    this.bytes[i] = made;
    return made;
  }
}

/** `,"key":` as bytes. */
const key = (k: string): Buffer => enc(`,${JSON.stringify(k)}:`);
/** The decoded messages' field keys the writers below write, each as `,"key":`. */
const FIELD = {
  portal: key('portal'), statement: key('statement'), paramFormats: key('paramFormats'), params: key('params'),
  resultFormats: key('resultFormats'), maxRows: key('maxRows'), target: key('target'), name: key('name'), tag: key('tag'),
  command: key('command'), rows: key('rows'), oid: key('oid'), status: key('status'), transactionStatus: key('transactionStatus'),
  query: key('query'), paramTypes: key('paramTypes'),
};

function formats(w: JsonWriter, list: ReadonlyArray<'text' | 'binary'>): void {
  w.byte(0x5b);
  for (let i = 0; i < list.length; i++) {
    if (i > 0) w.byte(0x2c);
    w.ascii(list[i] === 'binary' ? '"binary"' : '"text"');
  }
  w.byte(0x5d);
}

function numbers(w: JsonWriter, list: readonly number[]): void {
  w.byte(0x5b);
  for (let i = 0; i < list.length; i++) {
    if (i > 0) w.byte(0x2c);
    w.number(list[i]);
  }
  w.byte(0x5d);
}

/** `{"oid":…,"typeName":…,"format":…,"value":` by oid and format, with the type name it was made for. */
const typedPrefixes = new Map<number, { typeName: string | null; bytes: Buffer }>();

/** A TypedValue ({oid, typeName, format, value}) as JSON.stringify writes it. */
export function typedValue(w: JsonWriter, v: TypedValue): void {
  const k = v.oid * 2 + (v.format === 'binary' ? 1 : 0);
  const cached = typedPrefixes.get(k);
  let p: Buffer;
  // The type name follows from the oid, so one entry per oid and format; checked all the same.
  if (cached !== undefined && cached.typeName === v.typeName) p = cached.bytes;
  else {
    p = enc(JSON.stringify({ oid: v.oid, typeName: v.typeName, format: v.format, value: 0 }).slice(0, -2));
    if (typedPrefixes.size < 4096 && v.typeName === (v.oid === 0 ? null : typeName(v.oid))) typedPrefixes.set(k, { typeName: v.typeName, bytes: p });
  }
  w.raw(p);
  w.value(v.value);
  w.byte(0x7d);
}

/**
 * Decoded messages written field by field in the decoder's key order instead of through
 * JSON.stringify. (Execute, Describe, Close, CommandComplete and ReadyForQuery never come here:
 * when their range reader refuses them, the decoder makes a Malformed record.)
 */
const DECODED: Partial<Record<DecodedMessage['type'], (w: JsonWriter, d: DecodedMessage) => void>> = {
  Bind(w, d) {
    const m = d as Bind;
    w.raw(FIELD.portal); w.string(m.portal);
    w.raw(FIELD.statement); w.string(m.statement);
    w.raw(FIELD.paramFormats); formats(w, m.paramFormats);
    w.raw(FIELD.params); w.byte(0x5b);
    for (let i = 0; i < m.params.length; i++) {
      if (i > 0) w.byte(0x2c);
      typedValue(w, m.params[i]);
    }
    w.byte(0x5d);
    w.raw(FIELD.resultFormats); formats(w, m.resultFormats);
  },
  Parse(w, d) {
    const m = d as Parse;
    w.raw(FIELD.statement); w.string(m.statement);
    w.raw(FIELD.query); w.string(m.query);
    w.raw(FIELD.paramTypes); numbers(w, m.paramTypes);
  },
  Query(w, d) {
    w.raw(FIELD.query); w.string((d as Query).query);
  },
};

/** Writes fields from the body b[start, end); false to leave the message to the decoder. */
type BodyWriter = (w: JsonWriter, b: Buffer, start: number, end: number, ctx: DissectContext, raw: RawMessage) => boolean;

/** Messages that have no body: anything in it is a Malformed record, which the decoder makes. */
const empty: BodyWriter = (_w, _b, start, end) => start === end;

/*
 * Execute, Describe, Close, CommandComplete and ReadyForQuery: written from the parts the range
 * readers find (dissectors/ranges.ts), the same readers dissect() builds their objects with,
 * without building the object: the session layer reads these messages through the same narrow
 * readers, so here nobody else wants the object. Null from a reader: the decoder says why.
 */

const PORTAL_TARGET = enc(',"target":"portal","name":');
const STATEMENT_TARGET = enc(',"target":"statement","name":');
const READY = {
  idle: enc(',"status":"I","transactionStatus":"idle"'),
  transaction: enc(',"status":"T","transactionStatus":"transaction"'),
  failed: enc(',"status":"E","transactionStatus":"failed"'),
};
const ROWS_NULL = enc(',"rows":null');
const INSERT_COMMAND = enc('"INSERT"');

const executeFields: BodyWriter = (w, b, start, end) => {
  const portal = executePortal(b, start, end);
  if (portal === null) return false;
  w.raw(FIELD.portal); w.string(portal);
  w.raw(FIELD.maxRows); w.number(executeMaxRows(b, end));
  return true;
};

const targetFields: BodyWriter = (w, b, start, end) => {
  const t = targetByte(b, start, end);
  if (t === 0) return false;
  w.raw(t === 0x50 ? PORTAL_TARGET : STATEMENT_TARGET);
  w.utf8String(b, start + 1, end - 1);
  return true;
};

const readyFields: BodyWriter = (w, b, start, end) => {
  const s = readyStatus(b, start, end);
  if (s === null) return false;
  w.raw(READY[s]);
  return true;
};

/** The tag, then splitTag's command, rows and (INSERT) oid, in the decoder's key order. */
const commandCompleteFields: BodyWriter = (w, b, start, end) => {
  const tag = commandTag(b, start, end);
  if (tag === null) return false;
  w.raw(FIELD.tag); w.string(tag);
  w.raw(FIELD.command);
  const at = tagCountAt(tag);
  if (at < 0) {
    w.string(tag);
    w.raw(ROWS_NULL);
    return true;
  }
  const oid = tagInsertOid(tag, at);
  if (oid >= 0) w.raw(INSERT_COMMAND);
  else w.stringSlice(tag, 0, at - 1);
  w.raw(FIELD.rows); w.number(tagCount(tag, at));
  if (oid >= 0) { w.raw(FIELD.oid); w.number(oid); }
  return true;
};

/**
 * Writers from the wire bytes by type byte, with the type name their record carries: the
 * registry's name for that byte (dissectors/registry.ts), which is the decoder's `type` for
 * these messages (none of them is named by its body).
 */
function fastTable(dir: Direction, entries: Array<[string, BodyWriter]>): Array<[string, BodyWriter] | undefined> {
  const t = new Array<[string, BodyWriter] | undefined>(256).fill(undefined);
  for (const [code, writer] of entries) {
    const e = lookup(dir, code);
    if (e.name === 'Unknown' || e.nameFor !== undefined) throw new Error(`message-writer: ${dir} ${code} has no fixed name in the registry`);
    t[code.charCodeAt(0)] = [e.name, writer];
  }
  return t;
}
const FRONTEND_FAST = fastTable('frontend', [
  ['S', empty], ['H', empty], ['c', empty], ['d', copyDataFields], ['E', executeFields], ['D', targetFields], ['C', targetFields],
]);
const BACKEND_FAST = fastTable('backend', [
  ['D', dataRowFields], ['d', copyDataFields], ['Z', readyFields], ['C', commandCompleteFields], ['1', empty], ['2', empty],
  ['3', empty], ['n', empty], ['s', empty], ['I', empty], ['c', empty],
]);

export class MessageWriter {
  // Two fields, not an object keyed by direction: a keyed load per message was megamorphic.
  private readonly frontendHeads = new HeadCache('frontend');
  private readonly backendHeads = new HeadCache('backend');
  /** `{"kind":"message","session":…,"time":…,"frame":…` of the last record, and what it was made of. */
  private start: Uint8Array = new Uint8Array(0);
  private startLength = 0;
  /** remakeStart's scratch: one per writer, where a Buffer per frame was a large share of the export's garbage. */
  private readonly startScratch = new JsonWriter(256);
  private lastFrame = -1;
  private lastSession = -1;
  private lastTimeUs = Number.NaN;

  constructor(private readonly w: JsonWriter) {}

  /**
   * Writes the record of one message and its newline.
   */
  write(session: number, raw: RawMessage, decode: () => DecodedMessage, ctx: DissectContext, tls: boolean): void {
    const w = this.w;
    const mark = w.pos;
    const code = raw.code;
    if (code !== null) {
      const fast = (raw.dir === 'backend' ? BACKEND_FAST : FRONTEND_FAST)[code.charCodeAt(0) & 0xff];
      if (fast !== undefined) {
        this.envelope(session, raw, fast[0], tls);
        // The body's range in a larger buffer: no view per message.
        if (fast[1](w, raw.source, raw.bodyStart, raw.bodyEnd, ctx, raw)) {
          w.byte(0x7d);
          w.byte(0x0a);
          return;
        }
        w.pos = mark;
      }
    }
    const d = decode();
    const fields = DECODED[d.type];
    if (fields !== undefined) {
      this.envelope(session, raw, d.type, tls);
      fields(w, d);
      w.byte(0x7d);
      w.byte(0x0a);
      return;
    }
    this.envelope(session, raw, d.type, tls);
    w.fieldsAfter(d, 'type');
    w.byte(0x7d);
    w.byte(0x0a);
  }

  private remakeStart(session: number, timeUs: number, frame: number): void {
    const s = this.startScratch;
    s.pos = 0;
    s.raw(START_SESSION);
    s.number(session);
    s.raw(START_TIME);
    s.isoTime(timeUs);
    s.raw(START_FRAME);
    s.number(frame);
    this.start = s.buf.subarray(0, s.pos);
    this.startLength = s.pos;
  }

  private envelope(session: number, raw: RawMessage, type: string, tls: boolean): void {
    const w = this.w;
    // A frame holds several messages: their records share session, time and frame.
    if (raw.frame !== this.lastFrame || session !== this.lastSession || raw.timeUs !== this.lastTimeUs) {
      this.lastFrame = raw.frame;
      this.lastSession = session;
      this.lastTimeUs = raw.timeUs;
      this.remakeStart(session, raw.timeUs, raw.frame);
    }
    // Not raw(): the run is dozens of bytes, where TypedArray#set is faster than a loop.
    w.need(this.startLength);
    w.buf.set(this.start, w.pos);
    w.pos += this.startLength;
    w.raw((raw.dir === 'backend' ? this.backendHeads : this.frontendHeads).get(raw.code, type));
    w.number(raw.length);
    if (raw.firstFrame !== raw.frame) {
      w.raw(FIRST_FRAME);
      w.number(raw.firstFrame);
    }
    if (tls) w.raw(TLS);
  }

}
