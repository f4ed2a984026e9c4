/**
 * CopyData in context: the payload of a CopyData message decoded with the COPY state in force
 * (DissectContext.copy, set from the last CopyInResponse / CopyOutResponse / CopyBothResponse):
 *   COPY IN / OUT, text format  rows split into columns (text-rows.ts), CSV when hinted or evident
 *   COPY IN / OUT, binary       header, tuples, trailer (binary-rows.ts)
 *   CopyBoth                    streaming replication messages (replication.ts), and inside
 *                               XLogData logical replication messages (pgoutput.ts)
 *   no COPY state               size and a hex preview
 * Column values are typed when DissectContext.copy.columnTypes is known (COPY does not say; the
 * session stage may learn them from the statement). Never throws; keeps big payloads cheap.
 */
import type { Direction, DissectContext } from '../types.js';
import { decodeBinaryRows } from './binary-rows.js';
import { previewOf } from './preview.js';
import { decodeReplication, type ReplicationOutput } from './replication.js';
import { decodeCsvRows, decodeTextRows, looksLikeCsv } from './text-rows.js';

export { TextRowCursor } from './text-rows.js';

export { newLogicalState } from './logical-state.js';
export { decodePgoutput } from './pgoutput.js';

/**
 * Optional hints a later stage may put on DissectContext.copy (the fields are not in the
 * contract type yet, so they are read through this wider type):
 *   csv     the COPY statement said FORMAT csv (true) or text (false); absent: guessed, see looksLikeCsv
 *   header  (DissectContext.copy.header) the data's first line is COPY's HEADER line, not a row
 *   output  what START_REPLICATION asked for; absent: guessed, see replication.ts
 */
export type CopyHints = NonNullable<DissectContext['copy']> & { csv?: boolean; output?: ReplicationOutput };

interface DecodeCopyOptions {
  /** Rows decoded per message (the count covers all of them). Default DEFAULT_MAX_ROWS. */
  maxRows?: number;
  /** Hex of every byte of undecodable payloads instead of a 64-byte preview. */
  fullHex?: boolean;
}

export const DEFAULT_MAX_ROWS = 1000;

/** The CSV guess per COPY, once a complete line decided it, so every chunk of one COPY reads the same way. */
const csvGuess = new WeakMap<object, boolean>();

/** Whether this COPY's text-format data is CSV when that is already settled (said, or guessed from an earlier chunk); undefined when the next chunk would be looked at. */
function copyCsvSettled(copy: CopyHints): boolean | undefined {
  return copy.csv !== undefined ? copy.csv : csvGuess.get(copy);
}

/** Whether this COPY's text-format data is CSV (said by the statement, or guessed once per COPY). */
function copyIsCsv(copy: CopyHints, body: Buffer): boolean {
  if (copy.csv !== undefined) return copy.csv;
  const known = csvGuess.get(copy);
  if (known !== undefined) return known;
  const guess = looksLikeCsv(body, copy.columnFormats.length);
  if (body.includes(0x0a)) csvGuess.set(copy, guess);
  return guess;
}

/**
 * Whether a CopyData body, src[start, end), is whole rows of text-format COPY data (a COPY IN or
 * OUT in text format, no HEADER line to come, not CSV, ending with a newline): what a reader of
 * its rows in place (TextRowCursor) may read as decodeCopyData would. Past this, that reader
 * still leaves to decodeCopyData an end-of-data line, a NUL byte and more than DEFAULT_MAX_ROWS
 * rows. `body` is the same bytes as a Buffer of their own (asked for only when the CSV guess
 * is still to be made).
 */
export function copyTextRowsInPlace(ctx: DissectContext, src: Buffer, start: number, end: number, body: () => Buffer): boolean {
  const copy = ctx.copy as CopyHints | null;
  if (copy === null || copy.kind === 'both' || copy.format !== 'text' || copy.header === true) return false;
  if (end === start || src[end - 1] !== 0x0a) return false;
  const csv = copyCsvSettled(copy);
  if (csv !== undefined) return !csv;
  // The CSV guess is made per COPY, exactly when decodeCopyData would make it (after its NUL
  // test); once settled, the row reader finds a NUL itself.
  const b = body();
  return !b.includes(0) && !copyIsCsv(copy, b);
}

/** Fields of a CopyData message's record, decoded with the COPY state in force. Never throws. */
export function decodeCopyData(body: Buffer, dir: Direction, ctx: DissectContext, opts: DecodeCopyOptions = {}): Record<string, unknown> {
  void dir; // The layouts are told apart by their tags and the COPY state, not by direction.
  const size = body.length;
  const fullHex = opts.fullHex === true;
  const maxRows = opts.maxRows ?? DEFAULT_MAX_ROWS;
  try {
    const copy = ctx.copy as CopyHints | null;
    if (copy === null) return { size, payload: previewOf(body, fullHex) };
    if (copy.kind === 'both') return { size, ...decodeReplication(body, ctx, copy.output, fullHex) };
    if (copy.format === 'binary') return { size, ...decodeBinaryRows(body, copy.columnTypes, maxRows, fullHex) };
    // Text-format COPY data never holds a NUL byte (PostgreSQL text cannot): such a payload is
    // something else on a COPY OUT, e.g. a BASE_BACKUP archive stream; shown, not split into rows.
    if (body.includes(0)) return { size, reason: 'NUL byte in text-format COPY data', payload: previewOf(body, fullHex) };
    const header = copy.header === true;
    const rows = copyIsCsv(copy, body) ? decodeCsvRows(body, copy.columnTypes, maxRows, header) : decodeTextRows(body, copy.columnTypes, maxRows, header);
    return { size, ...rows };
  } catch (e) {
    // A decoder bug must not take the capture down: report it with the bytes.
    return { size, decodeError: e instanceof Error ? e.message : 'undecodable', payload: previewOf(body, fullHex) };
  }
}
