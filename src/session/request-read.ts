/**
 * What the tracker takes from the requests it pairs (Parse, Bind, Describe, Execute) and from
 * ReadyForQuery. Parse and Bind: through the dissector for full query records (their parameter
 * types and values), or read directly (lean-read.ts) for summary ones. Describe, Execute and
 * ReadyForQuery always directly: what the tracker takes from them (a target, a name, a status)
 * is the same either way, and the NDJSON export writes their records from the bytes too
 * (src/sinks/json/message-writer.ts), so nothing needs their decoded form. Either way, null means
 * the message is malformed and the tracker ignores it. Lean reads take src/pg's FramedMessage
 * body range (no Buffer view), any other RawMessage's body.
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

export function readDescribe(raw: RawMessage): { target: 'statement' | 'portal'; name: string } | null {
  if (raw instanceof FramedMessage) return describeTarget(raw.source, raw.bodyStart, raw.bodyEnd);
  const b = raw.body;
  return describeTarget(b, 0, b.length);
}

/** Execute's portal name. */
export function readExecute(raw: RawMessage): string | null {
  return executePortal(raw);
}

/** ReadyForQuery's transaction status (null when malformed: the message still ends the request it answers). */
export function readStatus(raw: RawMessage): TransactionStatus | null {
  return readyStatus(raw);
}
