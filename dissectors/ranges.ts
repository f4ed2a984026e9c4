/**
 * The range readers: the busiest messages of both query protocols ("Message Formats": Parse,
 * Bind, Describe, Execute, Close, CommandComplete, ReadyForQuery, CopyInResponse,
 * CopyOutResponse, CopyBothResponse) read straight from their body range, src[start, end)
 * (RawMessage's source, bodyStart, bodyEnd), with neither a Buffer view nor the Reader's
 * per-field bookkeeping. They are the way those messages are read when nobody traces: dissect()
 * tries them first (Entry.direct), the session layer calls the narrower ones (names only, a tag,
 * a status byte) where it needs no decoded object. Reading the range spares the view that
 * `body` makes, which costs more than reading most of these messages.
 *
 * Each applies exactly the bounds the Reader's decoder applies (extended-query.ts,
 * simple-query.ts, copy-messages.ts): on anything that decoder would find fault with it returns
 * null, and the decoder then runs and says what is wrong. test/dissectors-ranges.test.ts holds
 * both ways to the same answers, and the lean tracker to the full one (session-summary.test.ts).
 * Nothing outside the range is read: the bytes around it may be other messages.
 */
import { asciiIntern } from './ascii-intern.js';
import { formatFor } from './typed.js';
import { decodeValue, typeName } from './values/index.js';
import type {
  Bind, Close, CommandComplete, CopyResponse, Describe, DissectContext, Execute, Parse, ReadyForQuery, TypedValue,
} from './types.js';

/** Past this many bytes a NUL is looked for natively rather than byte by byte in JavaScript. */
const NATIVE_SCAN = 32;

/**
 * The first NUL in src[from, end), or -1. A long range is searched with indexOf, which has no
 * end bound: when the range holds no NUL it reads on past `end` up to the first zero byte, and
 * the result is then refused. That stays cheap on framed data: a message header (type byte and
 * Int32 length) holds a zero byte unless the length is 16 MiB or more, so the search stops at
 * the next header, and in all a source buffer is searched about twice at most.
 */
function nul(src: Buffer, from: number, end: number): number {
  if (end - from > NATIVE_SCAN) {
    const i = src.indexOf(0, from);
    return i >= 0 && i < end ? i : -1;
  }
  for (let i = from; i < end; i++) if (src[i] === 0) return i;
  return -1;
}

/** Int16 at p (signed), the caller having checked p + 2 <= end. */
function int16(src: Buffer, p: number): number {
  return ((src[p]! << 24) | (src[p + 1]! << 16)) >> 16;
}

/** Int32 at p (signed), the caller having checked p + 4 <= end. */
function int32(src: Buffer, p: number): number {
  return (src[p]! << 24) | (src[p + 1]! << 16) | (src[p + 2]! << 8) | src[p + 3]!;
}

/** A name, a tag or a statement's text: the short ones repeat from message to message (ascii-intern.ts). */
function text(src: Buffer, start: number, end: number): string {
  return start === end ? '' : asciiIntern(src, start, end);
}

/** n Int16 format codes at p: 0 text, 1 binary; null for any other code. */
function formats(src: Buffer, p: number, n: number): Array<'text' | 'binary'> | null {
  const out: Array<'text' | 'binary'> = [];
  for (let i = 0; i < n; i++, p += 2) {
    const c = int16(src, p);
    if (c === 0) out.push('text');
    else if (c === 1) out.push('binary');
    else return null;
  }
  return out;
}

// ---- Parse ----

/** Parse's statement name and SQL, without its parameter types (null): what summary records keep. */
interface ParseNames { statement: string; query: string; paramTypes: null }

/** The NUL after Parse's SQL when src[start, end) is two strings and a list of type OIDs, else -1. */
function parseEnd(src: Buffer, start: number, end: number, n1: number): number {
  if (n1 < 0) return -1;
  const n2 = nul(src, n1 + 1, end);
  if (n2 < 0 || end - (n2 + 1) < 2) return -1;
  const n = int16(src, n2 + 1);
  return n >= 0 && end === n2 + 3 + n * 4 ? n2 : -1;
}

/** Parse's names, or null when src[start, end) is not two strings and a list of type OIDs. */
export function parseNames(src: Buffer, start: number, end: number): ParseNames | null {
  const n1 = nul(src, start, end);
  const n2 = parseEnd(src, start, end, n1);
  if (n2 < 0) return null;
  return { statement: text(src, start, n1), query: text(src, n1 + 1, n2), paramTypes: null };
}

/** Parse, or null when it is not well formed. */
export function parseRange(src: Buffer, start: number, end: number): Parse | null {
  const n1 = nul(src, start, end);
  const n2 = parseEnd(src, start, end, n1);
  if (n2 < 0) return null;
  const paramTypes: number[] = [];
  for (let p = n2 + 3; p < end; p += 4) paramTypes.push(int32(src, p) >>> 0);
  return { type: 'Parse', statement: text(src, start, n1), query: text(src, n1 + 1, n2), paramTypes };
}

// ---- Bind ----

/** Bind's portal and statement names, without its values: what summary records keep. */
type BindNames = Pick<Bind, 'portal' | 'statement' | 'params' | 'resultFormats'>;

/** Summary reads share these (records are never mutated by their consumers). */
const NO_PARAMS: TypedValue[] = [];
const NO_FORMATS: Array<'text' | 'binary'> = [];

/**
 * Where a Bind's parts lie in its body, found by bindShape: the NULs after the portal and the
 * statement name, the parameter format codes (count, first byte), the values (count, first
 * length) and the result format codes. One scratch, reused: read it before the next call.
 */
const SHAPE = { n1: 0, n2: 0, nf: 0, formatsAt: 0, np: 0, valuesAt: 0, nr: 0, resultsAt: 0 };

/** Whether the format codes at p are all 0 (text) or 1 (binary). */
function validFormats(src: Buffer, p: number, n: number): boolean {
  for (let i = 0; i < n; i++, p += 2) if (src[p] !== 0 || src[p + 1]! > 1) return false;
  return true;
}

/** Whether src[start, end) is a Bind (its parts then in SHAPE): the one walk of its layout. */
function bindShape(b: Buffer, start: number, end: number): boolean {
  const n1 = nul(b, start, end);
  if (n1 < 0) return false;
  const n2 = nul(b, n1 + 1, end);
  if (n2 < 0) return false;
  let p = n2 + 1;
  // parameter format codes: a count, then that many Int16, each 0 (text) or 1 (binary)
  if (end - p < 2) return false;
  const nf = int16(b, p);
  p += 2;
  if (nf < 0 || nf * 2 > end - p || !validFormats(b, p, nf)) return false;
  const formatsAt = p;
  p += nf * 2;
  // parameter values: a count (matching the format codes when there are several), then Int32 length (-1: NULL) and bytes
  if (end - p < 2) return false;
  const np = int16(b, p);
  p += 2;
  if ((nf > 1 && nf !== np) || np < 0 || np * 4 > end - p) return false;
  const valuesAt = p;
  for (let i = 0; i < np; i++) {
    if (end - p < 4) return false;
    const len = int32(b, p);
    p += 4;
    if (len < -1 || len > end - p) return false;
    if (len > 0) p += len;
  }
  // result format codes, then nothing may be left over
  if (end - p < 2) return false;
  const nr = int16(b, p);
  p += 2;
  if (nr < 0 || nr * 2 !== end - p || !validFormats(b, p, nr)) return false;
  const s = SHAPE;
  s.n1 = n1; s.n2 = n2; s.nf = nf; s.formatsAt = formatsAt; s.np = np; s.valuesAt = valuesAt; s.nr = nr; s.resultsAt = p;
  return true;
}

/** Bind's names (params and result formats empty), or null when src[start, end) does not match Bind's format. */
export function bindNames(src: Buffer, start: number, end: number): BindNames | null {
  if (!bindShape(src, start, end)) return null;
  const s = SHAPE;
  return { portal: text(src, start, s.n1), statement: text(src, s.n1 + 1, s.n2), params: NO_PARAMS, resultFormats: NO_FORMATS };
}

/**
 * Bind with its parameters typed by the statement's parameter types (a Bind is sent for every
 * execution, and the NDJSON export and the session tracker both want its values), or null when
 * it is not well formed.
 */
export function bindRange(b: Buffer, start: number, end: number, ctx: DissectContext): Bind | null {
  if (!bindShape(b, start, end)) return null;
  const { n1, n2, nf, formatsAt, np, valuesAt, nr, resultsAt } = SHAPE;
  const paramFormats = formats(b, formatsAt, nf)!;
  const statement = text(b, n1 + 1, n2);
  const types = np > 0 ? ctx.statementParamTypes(statement) : undefined;
  const params: TypedValue[] = [];
  let p = valuesAt;
  for (let i = 0; i < np; i++) {
    const len = int32(b, p);
    p += 4;
    const oid = types !== undefined && i < types.length ? types[i]! : 0;
    const format = formatFor(paramFormats, i);
    let value: TypedValue['value'] = null;
    if (len >= 0) {
      if (oid !== 0) value = decodeValue(oid, format, b.subarray(p, p + len));
      else value = format === 'text' ? b.toString('utf8', p, p + len) : '\\x' + b.toString('hex', p, p + len);
      p += len;
    }
    params.push({ oid, typeName: oid === 0 ? null : typeName(oid), format, value });
  }
  return { type: 'Bind', portal: text(b, start, n1), statement, paramFormats, params, resultFormats: formats(b, resultsAt, nr)! };
}

// ---- Describe, Close, Execute ----

/**
 * Describe's or Close's target byte, 0x53 ('S', statement) or 0x50 ('P', portal), when
 * src[start, end) is a target and a name (the name is then src[start + 1, end - 1)), else 0.
 */
export function targetByte(src: Buffer, start: number, end: number): number {
  if (end - start < 2) return 0;
  const t = src[start]!;
  if (t !== 0x53 && t !== 0x50) return 0;
  return nul(src, start + 1, end) === end - 1 ? t : 0;
}

/** Describe's or Close's target and name, or null when src[start, end) is not 'S' or 'P' and a name. */
export function targetName(src: Buffer, start: number, end: number): { target: 'statement' | 'portal'; name: string } | null {
  const t = targetByte(src, start, end);
  if (t === 0) return null;
  return { target: t === 0x53 ? 'statement' : 'portal', name: text(src, start + 1, end - 1) };
}

export function describeRange(src: Buffer, start: number, end: number): Describe | null {
  const t = targetName(src, start, end);
  return t === null ? null : { type: 'Describe', target: t.target, name: t.name };
}

export function closeRange(src: Buffer, start: number, end: number): Close | null {
  const t = targetName(src, start, end);
  return t === null ? null : { type: 'Close', target: t.target, name: t.name };
}

/** Execute's portal name, or null when src[start, end) is not a name and an Int32. */
export function executePortal(src: Buffer, start: number, end: number): string | null {
  // The unnamed portal, the usual case: an empty name and the row limit.
  if (end - start === 5 && src[start] === 0) return '';
  const n = nul(src, start, end);
  if (n < 0 || end !== n + 5) return null;
  return text(src, start, n);
}

/** Execute's row limit, once executePortal has found src[start, end) well formed. */
export function executeMaxRows(src: Buffer, end: number): number {
  return int32(src, end - 4);
}

export function executeRange(src: Buffer, start: number, end: number): Execute | null {
  const portal = executePortal(src, start, end);
  return portal === null ? null : { type: 'Execute', portal, maxRows: executeMaxRows(src, end) };
}

// ---- CommandComplete, ReadyForQuery ----

/**
 * A CommandComplete tag's command and row count: "INSERT oid rows", "SELECT rows",
 * "UPDATE rows", "COPY rows", ...; tags without a trailing count ("BEGIN", "CREATE TABLE")
 * have rows null.
 */
export function splitTag(tag: string): { command: string; rows: number | null; oid?: number } {
  const at = tagCountAt(tag);
  if (at < 0) return { command: tag, rows: null };
  const rows = tagCount(tag, at);
  const oid = tagInsertOid(tag, at);
  return oid >= 0 ? { command: 'INSERT', rows, oid } : { command: tag.slice(0, at - 1), rows };
}

/**
 * Where a tag's row count starts: after its last space, when what follows is 1 to 20 digits;
 * else -1 (no count: the whole tag is the command). splitTag's reading, without its strings
 * and object, for callers that write the parts (the NDJSON writer) or want only the count.
 */
export function tagCountAt(tag: string): number {
  const end = tag.length;
  let i = end;
  while (i > 0) {
    const c = tag.charCodeAt(i - 1);
    if (c < 0x30 || c > 0x39) break;
    i--;
  }
  const digits = end - i;
  return digits === 0 || digits > 20 || i === 0 || tag.charCodeAt(i - 1) !== 0x20 ? -1 : i;
}

/** The row count of a tag whose count starts at `at` (tagCountAt), as Number() reads it. */
export function tagCount(tag: string, at: number): number {
  const end = tag.length;
  // Up to 15 digits the sum is exact; longer counts are rounded as Number() rounds them.
  if (end - at > 15) return Number(tag.slice(at));
  let n = 0;
  for (let k = at; k < end; k++) n = n * 10 + (tag.charCodeAt(k) - 0x30);
  return n;
}

/** "INSERT oid rows": the OID (1 to 10 digits between the two spaces), else -1; `at` is tagCountAt's. */
export function tagInsertOid(tag: string, at: number): number {
  // "INSERT " + oid + " " before the count
  const sp = at - 1;
  if (sp - 7 < 1 || sp - 7 > 10 || !tag.startsWith('INSERT ')) return -1;
  let oid = 0;
  for (let k = 7; k < sp; k++) {
    const d = tag.charCodeAt(k) - 0x30;
    if (d < 0 || d > 9) return -1;
    oid = oid * 10 + d;
  }
  return oid;
}

/** CommandComplete's tag, or null when src[start, end) is not one string. */
export function commandTag(src: Buffer, start: number, end: number): string | null {
  const n = nul(src, start, end);
  if (n < 0 || n !== end - 1) return null;
  return text(src, start, n);
}

/** The row count a tag ends with ("SELECT 5", "INSERT 0 5"), or null. */
export function tagRows(tag: string): number | null {
  const at = tagCountAt(tag);
  return at < 0 ? null : tagCount(tag, at);
}

export function commandCompleteRange(src: Buffer, start: number, end: number): CommandComplete | null {
  const tag = commandTag(src, start, end);
  if (tag === null) return null;
  const s = splitTag(tag);
  const m: CommandComplete = { type: 'CommandComplete', tag, command: s.command, rows: s.rows };
  if (s.oid !== undefined) m.oid = s.oid;
  return m;
}

/** ReadyForQuery's transaction status, or null when src[start, end) is not one of the three status bytes. */
export function readyStatus(src: Buffer, start: number, end: number): 'idle' | 'transaction' | 'failed' | null {
  if (end - start !== 1) return null;
  const b = src[start];
  return b === 0x49 ? 'idle' : b === 0x54 ? 'transaction' : b === 0x45 ? 'failed' : null;
}

export function readyRange(src: Buffer, start: number, end: number): ReadyForQuery | null {
  const t = readyStatus(src, start, end);
  if (t === null) return null;
  return { type: 'ReadyForQuery', status: t === 'idle' ? 'I' : t === 'transaction' ? 'T' : 'E', transactionStatus: t };
}

// ---- CopyInResponse, CopyOutResponse, CopyBothResponse ----

/** A COPY response: the overall format (Int8), a column count and that many Int16 formats. */
export function copyResponseRange(type: CopyResponse['type'], src: Buffer, start: number, end: number): CopyResponse | null {
  if (end - start < 3) return null;
  const f = src[start];
  if (f !== 0 && f !== 1) return null;
  const n = int16(src, start + 1);
  if (n < 0 || end !== start + 3 + n * 2) return null;
  const columnFormats = formats(src, start + 3, n);
  if (columnFormats === null) return null;
  return { type, format: f === 1 ? 'binary' : 'text', columnFormats };
}
