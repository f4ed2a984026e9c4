/**
 * What each dissector family exports: one entry per (direction, type byte), in the manner of
 * gopacket's layer registry. registry.ts builds the lookup tables from these lists.
 */
import type { Reader } from './reader.js';
import type { DecodedMessage, DissectContext, Direction } from './types.js';

export interface Entry {
  dir: Direction;
  /** The one-letter type byte. */
  code: string;
  /** The documentation's message name (for codes whose name depends on the body, the family's name). */
  name: string;
  /**
   * Decode the body. Never throws: faults are left on the reader (dissect.ts turns them into a
   * Malformed record), and the reader's position after the last field is checked by the caller.
   */
  decode(r: Reader, ctx: DissectContext): DecodedMessage;
  /**
   * The range reader (ranges.ts), tried first when nobody traces: the message read from
   * src[start, end) without the Reader, or null for anything irregular, which `decode` then reads
   * and reports.
   */
  direct?(src: Buffer, start: number, end: number, ctx: DissectContext): DecodedMessage | null;
  /** The message name when it depends on the body or the context ('R', frontend 'p'). */
  nameFor?(body: Buffer, ctx: DissectContext): string;
}
