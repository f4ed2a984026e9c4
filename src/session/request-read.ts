/**
 * What the tracker takes from the requests it pairs (Parse, Bind, Describe, Execute) and from
 * ReadyForQuery: through the dissector for full query records, or read directly (lean-read.ts)
 * for summary ones. Either way, null means the message is malformed and the tracker ignores it.
 */
import type { DecodedMessage, RawMessage, TypedValue } from '../../dissectors/types.js';
import { bindNames, describeTarget, executePortal, parseStatement, readyStatus } from './lean-read.js';
import type { TransactionStatus } from './schema.js';

type Decode = () => DecodedMessage;

/** Summary requests share these (records are never mutated by their consumers). */
const NO_PARAMS: TypedValue[] = [];
const NO_FORMATS: Array<'text' | 'binary'> = [];

export interface ParseRead {
  statement: string;
  query: string;
  /** null when read lean: the types only ever serve to decode Bind values, which summary records leave out. */
  paramTypes: number[] | null;
}

export function readParse(raw: RawMessage, decode: Decode, lean: boolean): ParseRead | null {
  if (lean) {
    const p = parseStatement(raw.body);
    return p === null ? null : { statement: p.statement, query: p.query, paramTypes: null };
  }
  const d = decode();
  return d.type === 'Parse' ? { statement: d.statement, query: d.query, paramTypes: d.paramTypes } : null;
}

export interface BindRead {
  portal: string;
  statement: string;
  /** Empty when read lean. */
  params: TypedValue[];
  resultFormats: Array<'text' | 'binary'>;
}

export function readBind(raw: RawMessage, decode: Decode, lean: boolean): BindRead | null {
  if (lean) {
    const b = bindNames(raw.body);
    return b === null ? null : { portal: b.portal, statement: b.statement, params: NO_PARAMS, resultFormats: NO_FORMATS };
  }
  const d = decode();
  return d.type === 'Bind' ? d : null;
}

export function readDescribe(raw: RawMessage, decode: Decode, lean: boolean): { target: 'statement' | 'portal'; name: string } | null {
  if (lean) return describeTarget(raw.body);
  const d = decode();
  return d.type === 'Describe' ? d : null;
}

/** Execute's portal name. */
export function readExecute(raw: RawMessage, decode: Decode, lean: boolean): string | null {
  if (lean) return executePortal(raw);
  const d = decode();
  return d.type === 'Execute' ? d.portal : null;
}

/** ReadyForQuery's transaction status (null when malformed: the message still ends the request it answers). */
export function readStatus(raw: RawMessage, decode: Decode, lean: boolean): TransactionStatus | null {
  if (lean) return readyStatus(raw);
  const d = decode();
  return d.type === 'ReadyForQuery' ? d.transactionStatus : null;
}
