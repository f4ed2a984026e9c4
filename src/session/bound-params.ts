/**
 * Bind parameters kept as bytes (TrackerOptions.boundBytes) on summary query records, decoded
 * only when a consumer asks (boundParams). The report shows the parameters of each statement's
 * slowest execution: decoding every Bind by type for that costs a quarter of a summary pass,
 * while a copy of each Bind body costs a few percent and only a new slowest is decoded. The
 * decoding is the dissector's (dissectors/ranges.ts bindRange), typed with the
 * statement's parameter types as they were when the Bind came (a later Parse may replace them).
 */
import { bindRange } from '../../dissectors/ranges.js';
import type { DissectContext, TypedValue } from '../../dissectors/types.js';
import type { QueryRecord } from './schema.js';

/**
 * A Bind body (a copy: the framer's buffers are valid only during the call) and the parameter
 * types in force. The copy is a latin1 string, one character per byte: one is made per Bind,
 * and a short string costs about half what a Buffer of its own does (no typed array object, no
 * slice of the shared allocation pool to keep alive): docs/BENCHMARK.md, "`pgsniff report` at
 * scale (session 9)".
 */
export interface BoundBytes {
  body: string;
  types: readonly number[] | undefined;
}

/** The key summary records carry their BoundBytes under: a symbol, so that no JSON output ever shows it. */
export const BOUND = Symbol('pgsniff.bound');

/** The Bind body src[start, end) copied, with the statement's parameter types. */
export function keepBound(src: Buffer, start: number, end: number, types: readonly number[] | null): BoundBytes {
  return { body: src.toString('latin1', start, end), types: types ?? undefined };
}

/** The record's parameters: decoded ones (full records), else those kept as bytes, else none. */
export function boundParams(rec: QueryRecord): TypedValue[] {
  if (rec.params.length > 0) return rec.params;
  const b = (rec as QueryRecord & { [BOUND]?: BoundBytes })[BOUND];
  if (b === undefined) return rec.params;
  const ctx: DissectContext = {
    showSecrets: false, protocolMinor: 0, authType: null, copy: null,
    statementParamTypes: () => b.types, resultColumns: () => undefined,
  };
  const body = Buffer.from(b.body, 'latin1');
  // bindNames accepted the body with the same bounds, so this is not null in practice
  return bindRange(body, 0, body.length, ctx)?.params ?? rec.params;
}
