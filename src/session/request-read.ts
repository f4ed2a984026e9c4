/**
 * What the tracker takes from the requests it pairs (Parse, Bind, Describe, Execute) and from
 * ReadyForQuery: through the dissector for full query records, or read directly (lean-read.ts)
 * for summary ones. Either way, null means the message is malformed and the tracker ignores it.
 * Lean reads take src/pg's FramedMessage body range (no Buffer view), any other RawMessage's body.
 */
import type { DecodedMessage, RawMessage } from '../../dissectors/types.js';
import { FramedMessage } from '../pg/framer.js';
import { bindNames, describeTarget, executePortal, parseStatement, readyStatus, type BindRead, type ParseRead } from './lean-read.js';
import type { TransactionStatus } from './schema.js';

type Decode = () => DecodedMessage;

export function readParse(raw: RawMessage, decode: Decode, lean: boolean): ParseRead | null {
  if (lean) {
    if (raw instanceof FramedMessage) return parseStatement(raw.source, raw.bodyStart, raw.bodyEnd);
    const b = raw.body;
    return parseStatement(b, 0, b.length);
  }
  const d = decode();
  return d.type === 'Parse' ? d : null;
}

export function readBind(raw: RawMessage, decode: Decode, lean: boolean): BindRead | null {
  if (lean) {
    if (raw instanceof FramedMessage) return bindNames(raw.source, raw.bodyStart, raw.bodyEnd);
    const b = raw.body;
    return bindNames(b, 0, b.length);
  }
  const d = decode();
  return d.type === 'Bind' ? d : null;
}

export function readDescribe(raw: RawMessage, decode: Decode, lean: boolean): { target: 'statement' | 'portal'; name: string } | null {
  if (lean) {
    if (raw instanceof FramedMessage) return describeTarget(raw.source, raw.bodyStart, raw.bodyEnd);
    const b = raw.body;
    return describeTarget(b, 0, b.length);
  }
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
