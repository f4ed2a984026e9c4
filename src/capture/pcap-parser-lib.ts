/**
 * Typed access to the npm package `pcap-parser` (CommonJS, no types). Only what pcap.ts uses
 * is declared. The parser reads from anything with pause/resume/on('data'|'error'|'end'), and
 * emits, synchronously inside each 'data' event: 'packetHeader' as soon as a record header is
 * complete (before it waits for the body), then 'packet' when the body is there.
 */
import { createRequire } from 'node:module';
import type { EventEmitter } from 'node:events';

export interface PcapRecordHeader {
  timestampSeconds: number;
  /** Microseconds, or nanoseconds in a nanosecond file (the parser does not know the difference). */
  timestampMicroseconds: number;
  capturedLength: number;
  originalLength: number;
}

export interface PcapParserPacket {
  header: PcapRecordHeader;
  data: Buffer;
}

export interface PcapParser extends EventEmitter {
  on(event: 'packetHeader', listener: (h: PcapRecordHeader) => void): this;
  on(event: 'packet', listener: (p: PcapParserPacket) => void): this;
  on(event: 'error', listener: (e: Error) => void): this;
  on(event: 'globalHeader' | 'end' | 'packetData', listener: (...args: unknown[]) => void): this;
}

/** The input the parser reads; pcap.ts gives it a plain emitter it drives itself. */
export interface PcapParserInput extends EventEmitter {
  pause(): void;
  resume(): void;
}

interface PcapParserModule {
  parse(input: PcapParserInput): PcapParser;
}

const require = createRequire(import.meta.url);
const lib = require('pcap-parser') as PcapParserModule;

export function createPcapParser(input: PcapParserInput): PcapParser {
  return lib.parse(input);
}

/**
 * The parser keeps its unparsed bytes in its `buffer` field and concatenates every new chunk to
 * it, into a fresh zero-filled buffer, unless the field is null (as it is before the first
 * chunk). Once everything it was given is parsed, the field holds an empty buffer: setting it
 * back to null lets the next chunk be parsed in place instead of copied. Used between feeds only.
 * Should a later version keep its buffer differently, this does nothing and only costs the copy.
 */
export function releaseDrained(parser: PcapParser): void {
  const p = parser as PcapParser & { buffer?: unknown };
  const b = p.buffer;
  if (b instanceof Buffer && b.length === 0) p.buffer = null;
}
