/**
 * Classic libpcap files, through the npm package `pcap-parser`, which this module drives and
 * guards:
 *  - pcap-parser knows only the microsecond magic; the nanosecond magic (0xa1b23c4d, either
 *    byte order) is rewritten to the microsecond one before the parser sees it, and the
 *    sub-second field is then read as nanoseconds here.
 *  - it would wait forever (buffering everything) for a record whose captured length is absurd;
 *    its 'packetHeader' event comes before it waits for the body, so the read stops there with
 *    a capture-corrupt anomaly.
 *  - it concatenates its pending buffer with every chunk it is given, even an empty one, which
 *    would copy the whole capture once more. Chunks are therefore handed to it only once they
 *    complete the record it waits for (ChunkJoiner), which keeps the copying linear however
 *    small the reads are (pipes); a record that straddles two chunks is completed with just the
 *    bytes it lacks, and the rest of the chunk follows as a view once the parser's buffer is
 *    drained (releaseDrained), so a file's bytes are copied only where a record straddles.
 *  - it takes an input stream; it is given a bare emitter that this module feeds, so reading,
 *    stopping and backpressure stay in open.ts's plain read loop.
 * The global header is checked here (pcap-parser's own version check lets most versions pass).
 */
import { EventEmitter } from 'node:events';
import { UserError } from '../core/errors.js';
import type { Packet } from './packet.js';
import type { PcapParser, PcapParserInput, PcapParserPacket, PcapRecordHeader } from './pcap-parser-lib.js';
import { createPcapParser, releaseDrained } from './pcap-parser-lib.js';
import { ChunkJoiner } from './chunk-joiner.js';
import { MAX_BLOCK, MAX_SNAPLEN, type FormatReader, type ReaderContext } from './types.js';

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

/** The four pcap magics as the first four bytes read big-endian. */
export const PCAP_MAGIC = {
  usLE: 0xd4c3b2a1,
  usBE: 0xa1b2c3d4,
  nsLE: 0x4d3cb2a1,
  nsBE: 0xa1b23c4d,
} as const;

/** The emitter pcap-parser reads from: pause/resume are meaningless because this module pushes. */
class FeedInput extends EventEmitter implements PcapParserInput {
  pause(): void {}
  resume(): void {}
}

export class PcapReader implements FormatReader {
  stopped = false;
  private readonly ctx: ReaderContext;
  private readonly input = new FeedInput();
  private readonly parser: PcapParser;
  private readonly joiner = new ChunkJoiner();
  private headerDone = false;
  private nanos = false;
  private linkType = 0;
  /** Largest captured length accepted before the read is declared corrupt. */
  private maxCaplen = MAX_SNAPLEN;
  /** File offset up to which bytes were handed to the parser. */
  private fed = 0;
  /** File offset of the record the parser is in (everything before it was delivered). */
  private recordStart = GLOBAL_HEADER;
  /** Bytes from recordStart the parser needs before it can make progress. */
  private need = GLOBAL_HEADER;
  private inBody = false;

  constructor(ctx: ReaderContext) {
    this.ctx = ctx;
    this.parser = createPcapParser(this.input);
    // The header is validated before the parser sees it, so an 'error' would be a parser bug;
    // it must still be handled, or EventEmitter would throw it.
    this.parser.on('error', (e: Error) => this.corrupt(`pcap-parser: ${e.message}`));
    this.parser.on('packetHeader', (h: PcapRecordHeader) => this.onRecordHeader(h));
    this.parser.on('packet', (p: PcapParserPacket) => this.onPacket(p));
  }

  push(chunk: Buffer): void {
    if (this.stopped) return;
    this.joiner.add(chunk);
    if (!this.headerDone) {
      if (this.joiner.total >= GLOBAL_HEADER) this.feed(this.globalHeader(this.joiner.take(null)));
      return;
    }
    const joiner = this.joiner;
    while (!this.stopped) {
      const have = this.fed - this.recordStart;
      const missing = this.need - have;
      if (joiner.total === 0 || joiner.total < missing) return;
      const data = joiner.take(null);
      if (have === 0 || data.length === missing) {
        this.feed(data);
        return;
      }
      // The parser holds the start of a record: complete it alone (the parser copies only that
      // record), then go on with the rest, which it can then view.
      this.feed(data.subarray(0, missing));
      joiner.add(data.subarray(missing));
    }
  }

  finish(): void {
    if (this.stopped) return;
    if (!this.headerDone) {
      throw new UserError('BAD_CAPTURE', `${this.ctx.name}: the pcap file header is cut short (${this.joiner.total} of 24 bytes)`);
    }
    const left = this.fed - this.recordStart + this.joiner.total;
    if (left > 0) {
      const s = this.ctx.summary;
      const where = this.inBody ? 'packet data' : 'a record header';
      this.ctx.handlers.anomaly({
        code: 'capture-truncated',
        reason: `${this.ctx.name}: the file ends inside ${where} of record ${s.packets + 1} at byte ${this.recordStart}; the last ${left} bytes were not read`,
        frame: null,
        timeUs: s.lastTimeUs,
        session: null,
        skipped: left,
      });
      s.complete = false;
    }
    this.stopped = true;
  }

  /** Checks and records the global header; returns the data with a nanosecond magic rewritten. */
  private globalHeader(data: Buffer): Buffer {
    const magic = data.readUInt32BE(0);
    let le: boolean;
    if (magic === PCAP_MAGIC.usLE || magic === PCAP_MAGIC.nsLE) le = true;
    else if (magic === PCAP_MAGIC.usBE || magic === PCAP_MAGIC.nsBE) le = false;
    else throw new UserError('NOT_A_CAPTURE', `${this.ctx.name} is not a pcap or pcapng capture file`);
    this.nanos = magic === PCAP_MAGIC.nsLE || magic === PCAP_MAGIC.nsBE;
    const major = le ? data.readUInt16LE(4) : data.readUInt16BE(4);
    const minor = le ? data.readUInt16LE(6) : data.readUInt16BE(6);
    if (major !== 2) {
      throw new UserError('BAD_CAPTURE', `${this.ctx.name}: pcap version ${major}.${minor} is not readable (only 2.x is)`);
    }
    const snaplen = le ? data.readUInt32LE(16) : data.readUInt32BE(16);
    // The upper bits of the link type field carry FCS information (pcap spec), not the type.
    this.linkType = (le ? data.readUInt32LE(20) : data.readUInt32BE(20)) & 0x03ffffff;
    // A file may declare a snaplen above 256 KiB (some link types need it); honour it up to the
    // pcapng block limit, so a lying header cannot make the reader buffer without bound.
    this.maxCaplen = Math.max(MAX_SNAPLEN, Math.min(snaplen, MAX_BLOCK));
    this.headerDone = true;
    this.need = RECORD_HEADER;
    const s = this.ctx.summary;
    s.interfaces.push({ id: 0, linkType: this.linkType, snaplen, tsresol: this.nanos ? 9 : 6 });
    s.linkTypes.push(this.linkType);
    this.ctx.handlers.linkType?.(0, this.linkType, this.nanos ? 9 : 6);
    if (!this.nanos) return data;
    // pcap-parser rejects the nanosecond magic: give it the microsecond magic of the same byte
    // order, in a copy (the chunk may belong to the caller).
    const copy = Buffer.from(data);
    copy.writeUInt32BE(le ? PCAP_MAGIC.usLE : PCAP_MAGIC.usBE, 0);
    return copy;
  }

  private feed(data: Buffer): void {
    releaseDrained(this.parser);
    this.fed += data.length;
    this.input.emit('data', data);
  }

  private onRecordHeader(h: PcapRecordHeader): void {
    if (this.stopped) return;
    this.inBody = true;
    const caplen = h.capturedLength;
    if (caplen > this.maxCaplen) {
      this.corrupt(`record ${this.ctx.summary.packets + 1} at byte ${this.recordStart} claims ${caplen} captured bytes (more than ${this.maxCaplen}); the rest of the file is not read`);
      return;
    }
    this.need = RECORD_HEADER + caplen;
  }

  private onPacket(rec: PcapParserPacket): void {
    if (this.stopped) return;
    const ctx = this.ctx;
    const s = ctx.summary;
    const h = rec.header;
    const sub = this.nanos ? Math.floor(h.timestampMicroseconds / 1000) : h.timestampMicroseconds;
    const timeUs = h.timestampSeconds * 1_000_000 + sub;
    const packet: Packet = {
      frame: s.packets + 1,
      timeUs,
      linkType: this.linkType,
      data: rec.data,
      origLen: h.originalLength,
      interfaceId: 0,
      fileOffset: ctx.offsets ? this.recordStart : -1,
    };
    s.packets++;
    if (s.firstTimeUs === null) s.firstTimeUs = timeUs;
    s.lastTimeUs = timeUs;
    this.recordStart += RECORD_HEADER + h.capturedLength;
    this.need = RECORD_HEADER;
    this.inBody = false;
    ctx.handlers.packet(packet);
    if (ctx.signal?.aborted) {
      s.aborted = true;
      this.stopped = true;
    }
  }

  private corrupt(reason: string): void {
    const s = this.ctx.summary;
    this.ctx.handlers.anomaly({
      code: 'capture-corrupt',
      reason: `${this.ctx.name}: ${reason}`,
      frame: null,
      timeUs: s.lastTimeUs,
      session: null,
    });
    s.complete = false;
    this.stopped = true;
  }
}
