/**
 * CopyData in context (COPY rows, streaming and logical replication).
 * PLACEHOLDER until the COPY/replication work lands: the payload as hex and its size.
 */
import type { DissectContext, Direction } from '../types.js';

/** Fields of a CopyData message's record, decoded with the COPY state in force. Never throws. */
export function decodeCopyData(body: Buffer, dir: Direction, ctx: DissectContext): Record<string, unknown> {
  void dir; void ctx;
  return { size: body.length, data: body.toString('hex') };
}
