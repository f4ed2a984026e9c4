/**
 * What the tracker takes from Parse and Bind: through the dissector for full query records
 * (their parameter types and values), or read directly (lean-read.ts) for summary ones. Either
 * way, null means the message is malformed and the tracker ignores it. Lean reads take src/pg's
 * FramedMessage body range (no Buffer view), any other RawMessage's body. (Describe, Execute,
 * CommandComplete and ReadyForQuery are always read directly, lean-read.ts: what the tracker
 * takes from them is the same either way, and the NDJSON export writes their records from the
 * bytes too, so nothing needs their decoded form.)
 */
import type { DecodedMessage, RawMessage } from '../../dissectors/types.js';
import { FramedMessage } from '../pg/framer.js';
import { bindNames, parseStatement, type BindRead, type ParseRead } from './lean-read.js';

type Decode = () => DecodedMessage;

export function readParse(raw: RawMessage, decode: Decode, lean: boolean, withTypes = false): ParseRead | null {
  if (lean) {
    if (raw instanceof FramedMessage) return parseStatement(raw.source, raw.bodyStart, raw.bodyEnd, withTypes);
    const b = raw.body;
    return parseStatement(b, 0, b.length, withTypes);
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
