/**
 * The few fields summary query records need (TrackerOptions.detail 'summary': stats, checks),
 * read straight from message bodies ("Message Formats": Parse, Bind, Describe, Execute,
 * CommandComplete, ReadyForQuery) instead of through the dissector. Decoding every Bind
 * parameter by type is most of what a Bind costs, and those consumers never look at the values
 * (nor at Parse's parameter types); for the others, the dissector's generic reader and decoded
 * object cost more than the fields. Each body is still checked with the bounds the dissector
 * applies (dissectors/extended-query.ts, simple-query.ts): a body it would call Malformed,
 * which the tracker ignores, reads as null here, so both modes pair the same requests
 * (test/session-summary.test.ts holds them to it). request-read.ts picks one way or the other.
 *
 * Each reader takes the body as a range, src[start, end): src/pg's FramedMessage keeps its body
 * that way (source, bodyStart, bodyEnd), and reading the range spares the Buffer view that
 * `body` makes, which costs more than reading most of these messages. Nothing outside the range
 * is read; the bytes around it may be other messages.
 */
import type { RawMessage, TypedValue } from '../../dissectors/types.js';
import { FramedMessage } from '../pg/framer.js';
import { asciiIntern } from './ascii-intern.js';
import type { TransactionStatus } from './schema.js';

/** Summary requests share these (records are never mutated by their consumers). */
const NO_PARAMS: TypedValue[] = [];
const NO_FORMATS: Array<'text' | 'binary'> = [];

/** What a Bind says that the tracker keeps: read lean, no values (params and result formats empty). */
export interface BindRead {
  portal: string;
  statement: string;
  params: TypedValue[];
  resultFormats: Array<'text' | 'binary'>;
}

/** What a Parse says that the tracker keeps: read lean, no parameter types (null). */
export interface ParseRead {
  statement: string;
  query: string;
  /** Only ever used to decode Bind values, which summary records leave out (unless they keep the bytes: withTypes). */
  paramTypes: number[] | null;
}

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

/** A name or tag: the bytes repeat from message to message (ascii-intern.ts). */
function text(src: Buffer, start: number, end: number): string {
  return start === end ? '' : asciiIntern(src, start, end);
}

/** Bind's portal and statement names, or null when src[start, end) does not match Bind's format. */
export function bindNames(src: Buffer, start = 0, end = src.length): BindRead | null {
  const n1 = nul(src, start, end);
  if (n1 < 0) return null;
  const n2 = nul(src, n1 + 1, end);
  if (n2 < 0) return null;
  let pos = n2 + 1;
  // parameter format codes: a count, then that many Int16, each 0 (text) or 1 (binary)
  if (end - pos < 2) return null;
  const nf = int16(src, pos);
  pos += 2;
  if (nf < 0 || nf * 2 > end - pos) return null;
  for (let i = 0; i < nf; i++, pos += 2) if (src[pos] !== 0 || src[pos + 1]! > 1) return null;
  // parameter values: a count (matching the format codes when there are several), then Int32 length (-1: NULL) and bytes
  if (end - pos < 2) return null;
  const np = int16(src, pos);
  pos += 2;
  if ((nf > 1 && nf !== np) || np < 0 || np * 4 > end - pos) return null;
  for (let i = 0; i < np; i++) {
    if (end - pos < 4) return null;
    const len = (src[pos]! << 24) | (src[pos + 1]! << 16) | (src[pos + 2]! << 8) | src[pos + 3]!;
    pos += 4;
    if (len < -1) return null;
    if (len > 0) {
      if (len > end - pos) return null;
      pos += len;
    }
  }
  // result format codes, then nothing may be left over
  if (end - pos < 2) return null;
  const nr = int16(src, pos);
  pos += 2;
  if (nr < 0 || nr * 2 > end - pos) return null;
  for (let i = 0; i < nr; i++, pos += 2) if (src[pos] !== 0 || src[pos + 1]! > 1) return null;
  if (pos !== end) return null;
  return { portal: text(src, start, n1), statement: text(src, n1 + 1, n2), params: NO_PARAMS, resultFormats: NO_FORMATS };
}

/** Execute's portal name in src[start, end), or null when the body is not a name and an Int32. */
export function executeName(src: Buffer, start = 0, end = src.length): string | null {
  // The unnamed portal, the usual case: an empty name and the row limit.
  if (end - start === 5 && src[start] === 0) return '';
  const n = nul(src, start, end);
  if (n < 0 || end !== n + 5) return null;
  return text(src, start, n);
}

/** Describe's target and name, or null when the body is not 'S' or 'P' and a name. */
export function describeOf(raw: RawMessage): { target: 'statement' | 'portal'; name: string } | null {
  if (raw instanceof FramedMessage) return describeTarget(raw.source, raw.bodyStart, raw.bodyEnd);
  const b = raw.body;
  return describeTarget(b, 0, b.length);
}

/** Execute's portal name, or null when the body is not a name and an Int32. */
export function executePortal(raw: RawMessage): string | null {
  if (raw instanceof FramedMessage) return executeName(raw.source, raw.bodyStart, raw.bodyEnd);
  const b = raw.body;
  return executeName(b, 0, b.length);
}

/** CommandComplete's tag in src[start, end), or null when the body is not one string. */
export function commandTag(src: Buffer, start = 0, end = src.length): string | null {
  const n = nul(src, start, end);
  if (n < 0 || n !== end - 1) return null;
  return text(src, start, n);
}

/**
 * The row count a tag ends with ("SELECT 5", "INSERT 0 5"), or null: the dissector's splitTag
 * rows, without the strings and the object it makes for the command and the OID.
 */
export function tagRows(tag: string): number | null {
  const end = tag.length;
  let i = end;
  while (i > 0) {
    const c = tag.charCodeAt(i - 1);
    if (c < 0x30 || c > 0x39) break;
    i--;
  }
  const digits = end - i;
  if (digits === 0 || digits > 20 || i === 0 || tag.charCodeAt(i - 1) !== 0x20) return null;
  // Up to 15 digits the sum is exact; longer counts are rounded as Number() rounds them.
  if (digits > 15) return Number(tag.slice(i));
  let n = 0;
  for (let k = i; k < end; k++) n = n * 10 + (tag.charCodeAt(k) - 0x30);
  return n;
}

/** ReadyForQuery's transaction status, or null when the body is not one of the three status bytes. */
export function readyStatus(raw: RawMessage): TransactionStatus | null {
  let b: number | undefined;
  if (raw instanceof FramedMessage) {
    if (raw.bodyEnd - raw.bodyStart !== 1) return null;
    b = raw.source[raw.bodyStart];
  } else {
    if (raw.body.length !== 1) return null;
    b = raw.body[0];
  }
  return b === 0x49 ? 'idle' : b === 0x54 ? 'transaction' : b === 0x45 ? 'failed' : null;
}

/** Parse's statement name and SQL, or null when src[start, end) is not two strings and a list of type OIDs. */
export function parseStatement(src: Buffer, start = 0, end = src.length, withTypes = false): ParseRead | null {
  const n1 = nul(src, start, end);
  if (n1 < 0) return null;
  const n2 = nul(src, n1 + 1, end);
  if (n2 < 0 || end - (n2 + 1) < 2) return null;
  const n = int16(src, n2 + 1);
  if (n < 0 || end !== n2 + 3 + n * 4) return null;
  let paramTypes: number[] | null = null;
  // Bind bytes kept for a later decode (bound-params.ts) are typed by these
  if (withTypes && n > 0) {
    paramTypes = [];
    for (let i = 0, p = n2 + 3; i < n; i++, p += 4) paramTypes.push(src.readUInt32BE(p));
  }
  return { statement: text(src, start, n1), query: text(src, n1 + 1, n2), paramTypes };
}

/** Describe's target and name, or null when src[start, end) is not 'S' or 'P' and a name. */
export function describeTarget(src: Buffer, start = 0, end = src.length): { target: 'statement' | 'portal'; name: string } | null {
  if (end - start < 2) return null;
  const t = src[start];
  if (t !== 0x53 && t !== 0x50) return null;
  const n = nul(src, start + 1, end);
  if (n !== end - 1) return null;
  return { target: t === 0x53 ? 'statement' : 'portal', name: text(src, start + 1, n) };
}
