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
 */
import type { RawMessage, TypedValue } from '../../dissectors/types.js';
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
  /** Only ever used to decode Bind values, which summary records leave out. */
  paramTypes: number[] | null;
}

/** The names, or null when the body does not match Bind's format. */
export function bindNames(body: Buffer): BindRead | null {
  const end = body.length;
  const n1 = body.indexOf(0);
  if (n1 < 0) return null;
  const n2 = body.indexOf(0, n1 + 1);
  if (n2 < 0) return null;
  let pos = n2 + 1;
  // parameter format codes: a count, then that many Int16, each 0 (text) or 1 (binary)
  if (end - pos < 2) return null;
  const nf = body.readInt16BE(pos);
  pos += 2;
  if (nf < 0 || nf * 2 > end - pos) return null;
  for (let i = 0; i < nf; i++, pos += 2) if (body[pos] !== 0 || body[pos + 1]! > 1) return null;
  // parameter values: a count (matching the format codes when there are several), then Int32 length (-1: NULL) and bytes
  if (end - pos < 2) return null;
  const np = body.readInt16BE(pos);
  pos += 2;
  if ((nf > 1 && nf !== np) || np < 0 || np * 4 > end - pos) return null;
  for (let i = 0; i < np; i++) {
    if (end - pos < 4) return null;
    const len = body.readInt32BE(pos);
    pos += 4;
    if (len < -1) return null;
    if (len > 0) {
      if (len > end - pos) return null;
      pos += len;
    }
  }
  // result format codes, then nothing may be left over
  if (end - pos < 2) return null;
  const nr = body.readInt16BE(pos);
  pos += 2;
  if (nr < 0 || nr * 2 > end - pos) return null;
  for (let i = 0; i < nr; i++, pos += 2) if (body[pos] !== 0 || body[pos + 1]! > 1) return null;
  if (pos !== end) return null;
  return {
    portal: n1 === 0 ? '' : body.toString('utf8', 0, n1),
    statement: n2 === n1 + 1 ? '' : body.toString('utf8', n1 + 1, n2),
    params: NO_PARAMS,
    resultFormats: NO_FORMATS,
  };
}

/**
 * What src/pg's FramedMessage offers besides `body`: the body's size and first byte without
 * making a Buffer view of it (a view costs more than reading these two messages).
 */
interface Peek {
  readonly bodyLength: number;
  firstByte(): number;
}

function peekable(raw: RawMessage): raw is RawMessage & Peek {
  return typeof (raw as Partial<Peek>).firstByte === 'function';
}

/** Execute's portal name, or null when the body is not a name and an Int32. */
export function executePortal(raw: RawMessage): string | null {
  // The unnamed portal, the usual case: an empty name and the row limit.
  if (peekable(raw) && raw.bodyLength === 5 && raw.firstByte() === 0) return '';
  const body = raw.body;
  const nul = body.indexOf(0);
  if (nul < 0 || body.length !== nul + 5) return null;
  return nul === 0 ? '' : body.toString('utf8', 0, nul);
}

/** CommandComplete's tag, or null when the body is not one string. */
export function commandTag(body: Buffer): string | null {
  const nul = body.indexOf(0);
  if (nul < 0 || nul !== body.length - 1) return null;
  return body.toString('utf8', 0, nul);
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
  if (peekable(raw)) {
    if (raw.bodyLength !== 1) return null;
    b = raw.firstByte();
  } else {
    if (raw.body.length !== 1) return null;
    b = raw.body[0];
  }
  return b === 0x49 ? 'idle' : b === 0x54 ? 'transaction' : b === 0x45 ? 'failed' : null;
}

/** Parse's statement name and SQL, or null when the body is not two strings and a list of type OIDs. */
export function parseStatement(body: Buffer): ParseRead | null {
  const n1 = body.indexOf(0);
  if (n1 < 0) return null;
  const n2 = body.indexOf(0, n1 + 1);
  if (n2 < 0 || body.length - (n2 + 1) < 2) return null;
  const n = body.readInt16BE(n2 + 1);
  if (n < 0 || body.length !== n2 + 3 + n * 4) return null;
  return { statement: n1 === 0 ? '' : body.toString('utf8', 0, n1), query: body.toString('utf8', n1 + 1, n2), paramTypes: null };
}

/** Describe's target and name, or null when the body is not 'S' or 'P' and a name. */
export function describeTarget(body: Buffer): { target: 'statement' | 'portal'; name: string } | null {
  if (body.length < 2) return null;
  const t = body[0];
  if (t !== 0x53 && t !== 0x50) return null;
  const nul = body.indexOf(0, 1);
  if (nul !== body.length - 1) return null;
  return { target: t === 0x53 ? 'statement' : 'portal', name: nul === 1 ? '' : body.toString('utf8', 1, nul) };
}
