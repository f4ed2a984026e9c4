/**
 * pcapng, read as a stream of blocks (the pcapng specification, draft-ietf-opsawg-pcapng):
 * Section Header (either byte order; a file may hold several sections), Interface Description
 * (link type, snaplen, if_tsresol, if_tsoffset per interface), Enhanced, Simple and obsolete
 * Packet blocks, Decryption Secrets; every other block type is skipped by its length.
 *
 * Damage: a block length that cannot be right (under 12, not a multiple of 4, over 16 MiB, or
 * not repeated at the block's end) means block boundaries are lost, so the read stops there
 * with a capture-corrupt anomaly. A packet block that is inconsistent inside a sound frame
 * (captured length past its block, unknown interface) is skipped with an anomaly, and reading
 * goes on. The reader holds at most one incomplete block.
 */
import { UserError } from '../core/errors.js';
import type { Packet } from './packet.js';
import { ChunkJoiner } from './chunk-joiner.js';
import { TsConverter } from './pcapng-time.js';
import { MAX_BLOCK, type FormatReader, type ReaderContext } from './types.js';

/** Block types (pcapng specification, "Block Types"). */
export const BLOCK = {
  SHB: 0x0a0d0d0a,
  IDB: 0x00000001,
  OPB: 0x00000002,
  SPB: 0x00000003,
  NRB: 0x00000004,
  ISB: 0x00000005,
  EPB: 0x00000006,
  DSB: 0x0000000a,
} as const;

const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_ENDOFOPT = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;
const EMPTY = Buffer.alloc(0);
/** Interfaces per file: real captures have a handful; a file declaring more is hostile, and each
 * one costs memory here and in the decoder. (The obsolete Packet Block numbers them in 16 bits.) */
export const MAX_INTERFACES = 65536;

interface Iface {
  globalId: number;
  linkType: number;
  snaplen: number;
  ts: TsConverter;
}

export class PcapngReader implements FormatReader {
  stopped = false;
  private readonly ctx: ReaderContext;
  private readonly joiner = new ChunkJoiner();
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** File offset of buf[0]. */
  private base = 0;
  /** Bytes from pos needed before the next block can be handled. */
  private need = 12;
  private le = true;
  private sections = 0;
  /** Interfaces of the current section, by their section-local index. */
  private ifaces: Iface[] = [];
  /** Link types seen, for the summary's distinct list. */
  private readonly linkTypes = new Set<number>();
  /** Time of the last packet: Simple Packet Blocks carry none and get this one. */
  private lastTimeUs = 0;

  constructor(ctx: ReaderContext) {
    this.ctx = ctx;
  }

  push(chunk: Buffer): void {
    if (this.stopped) return;
    const rest = this.buf.length - this.pos;
    if (rest === 0 && this.joiner.total === 0) {
      this.base += this.buf.length;
      this.buf = chunk;
      this.pos = 0;
    } else {
      this.joiner.add(chunk);
      if (rest + this.joiner.total < this.need) return;
      this.base += this.pos;
      this.buf = this.joiner.take(rest === 0 ? null : this.buf.subarray(this.pos));
      this.pos = 0;
    }
    this.parse();
  }

  finish(): void {
    if (this.stopped) return;
    this.stopped = true;
    const left = this.buf.length - this.pos + this.joiner.total;
    if (this.sections === 0) {
      throw new UserError('BAD_CAPTURE', `${this.ctx.name}: the pcapng section header is cut short (${left} bytes)`);
    }
    if (left > 0) {
      const s = this.ctx.summary;
      this.ctx.handlers.anomaly({
        code: 'capture-truncated',
        reason: `${this.ctx.name}: the file ends inside the block at byte ${this.base + this.pos}; the last ${left} bytes were not read`,
        frame: null,
        timeUs: s.lastTimeUs,
        session: null,
        skipped: left,
      });
      s.complete = false;
    }
  }

  private u32(off: number): number {
    return this.le ? this.buf.readUInt32LE(off) : this.buf.readUInt32BE(off);
  }

  private u16(off: number): number {
    return this.le ? this.buf.readUInt16LE(off) : this.buf.readUInt16BE(off);
  }

  private parse(): void {
    const buf = this.buf;
    while (!this.stopped) {
      const pos = this.pos;
      const avail = buf.length - pos;
      if (avail < 12) {
        this.need = 12;
        return;
      }
      const type = this.u32(pos);
      if (type === BLOCK.SHB) {
        // The Section Header's own byte-order magic decides how its length (and the section) reads.
        const bom = buf.readUInt32LE(pos + 8);
        if (bom === BYTE_ORDER_MAGIC) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else {
          this.damage(`the section header at byte ${this.base + pos} has no byte-order magic`);
          return;
        }
      } else if (this.sections === 0) {
        this.damage(`the file does not start with a section header`);
        return;
      }
      const len = this.u32(pos + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_BLOCK) {
        this.damage(`the block at byte ${this.base + pos} has an impossible length ${len}; the rest of the file is not read`);
        return;
      }
      if (avail < len) {
        this.need = len;
        return;
      }
      if (this.u32(pos + len - 4) !== len) {
        this.damage(`the block at byte ${this.base + pos} does not end with its length ${len}; the rest of the file is not read`);
        return;
      }
      this.block(type, pos, len);
      this.pos = pos + len;
    }
  }

  private block(type: number, pos: number, len: number): void {
    switch (type) {
      case BLOCK.SHB:
        return this.sectionHeader(pos, len);
      case BLOCK.IDB:
        return this.interfaceDescription(pos, len);
      case BLOCK.EPB: {
        if (len < 32) return this.badBlock(pos, 'Enhanced Packet Block too short');
        const ifId = this.u32(pos + 8);
        return this.packet(pos, len, ifId, this.u32(pos + 12), this.u32(pos + 16), this.u32(pos + 20), this.u32(pos + 24), 28);
      }
      case BLOCK.OPB: {
        if (len < 32) return this.badBlock(pos, 'Packet Block too short');
        const ifId = this.u16(pos + 8);
        return this.packet(pos, len, ifId, this.u32(pos + 12), this.u32(pos + 16), this.u32(pos + 20), this.u32(pos + 24), 28);
      }
      case BLOCK.SPB: {
        if (len < 16) return this.badBlock(pos, 'Simple Packet Block too short');
        const iface = this.ifaces[0];
        if (iface === undefined) return this.badBlock(pos, 'Simple Packet Block before any interface');
        const origLen = this.u32(pos + 8);
        // No captured length in the block: the smallest of the original length, the room in
        // the block and the interface's snaplen (specification, "Simple Packet Block").
        let caplen = Math.min(origLen, len - 16);
        if (iface.snaplen > 0 && caplen > iface.snaplen) caplen = iface.snaplen;
        return this.deliver(iface, pos, 12, caplen, origLen, this.lastTimeUs);
      }
      case BLOCK.DSB:
        return this.secrets(pos, len);
      default:
        // Name resolution, statistics, custom and future blocks carry nothing the pipeline uses.
        return;
    }
  }

  private sectionHeader(pos: number, len: number): void {
    if (len < 28) return this.damage(`the section header at byte ${this.base + pos} is too short (${len} bytes)`);
    const major = this.u16(pos + 12);
    if (major !== 1) {
      return this.damage(`the section header at byte ${this.base + pos} has version ${major}.${this.u16(pos + 14)}; only 1.x is readable`);
    }
    this.sections++;
    this.ifaces = [];
  }

  private interfaceDescription(pos: number, len: number): void {
    if (len < 20) return this.badBlock(pos, 'Interface Description Block too short');
    const linkType = this.u16(pos + 8);
    const snaplen = this.u32(pos + 12);
    let tsresol = 6;
    let tsoffset = 0;
    // Options: code, length, value padded to 4 bytes; bounded by the block.
    const end = pos + len - 4;
    let o = pos + 16;
    while (o + 4 <= end) {
      const code = this.u16(o);
      const olen = this.u16(o + 2);
      if (code === OPT_ENDOFOPT || o + 4 + olen > end) break;
      if (code === OPT_IF_TSRESOL && olen >= 1) tsresol = this.buf[o + 4]!;
      else if (code === OPT_IF_TSOFFSET && olen >= 8) {
        tsoffset = Number(this.le ? this.buf.readBigInt64LE(o + 4) : this.buf.readBigInt64BE(o + 4));
      }
      o += 4 + ((olen + 3) & ~3);
    }
    const s = this.ctx.summary;
    const globalId = s.interfaces.length;
    if (globalId >= MAX_INTERFACES) {
      return this.damage(`more than ${MAX_INTERFACES} interfaces (block at byte ${this.base + pos}); the rest of the file is not read`);
    }
    this.ifaces.push({ globalId, linkType, snaplen, ts: new TsConverter(tsresol, tsoffset) });
    s.interfaces.push({ id: globalId, linkType, snaplen, tsresol });
    if (!this.linkTypes.has(linkType)) {
      this.linkTypes.add(linkType);
      s.linkTypes.push(linkType);
    }
    this.ctx.handlers.linkType?.(globalId, linkType, tsresol);
  }

  private packet(pos: number, len: number, ifId: number, tsHigh: number, tsLow: number, caplen: number, origLen: number, dataAt: number): void {
    const iface = this.ifaces[ifId];
    if (iface === undefined) return this.badBlock(pos, `packet for interface ${ifId}, which the section does not describe`);
    if (caplen > len - dataAt - 4) return this.badBlock(pos, `captured length ${caplen} does not fit its ${len}-byte block`);
    this.deliver(iface, pos, dataAt, caplen, origLen, iface.ts.toUs(tsHigh, tsLow));
  }

  private deliver(iface: Iface, pos: number, dataAt: number, caplen: number, origLen: number, timeUs: number): void {
    const ctx = this.ctx;
    const s = ctx.summary;
    const packet: Packet = {
      frame: s.packets + 1,
      timeUs,
      linkType: iface.linkType,
      data: this.buf.subarray(pos + dataAt, pos + dataAt + caplen),
      origLen,
      interfaceId: iface.globalId,
      fileOffset: ctx.offsets ? this.base + pos : -1,
    };
    s.packets++;
    if (s.firstTimeUs === null) s.firstTimeUs = timeUs;
    s.lastTimeUs = timeUs;
    this.lastTimeUs = timeUs;
    ctx.handlers.packet(packet);
    if (ctx.signal?.aborted) {
      s.aborted = true;
      this.stopped = true;
    }
  }

  private secrets(pos: number, len: number): void {
    if (len < 20) return this.badBlock(pos, 'Decryption Secrets Block too short');
    const type = this.u32(pos + 8);
    const size = this.u32(pos + 12);
    if (size > len - 20) return this.badBlock(pos, `secrets length ${size} does not fit its ${len}-byte block`);
    this.ctx.handlers.secrets?.(type, Buffer.from(this.buf.subarray(pos + 16, pos + 16 + size)));
  }

  /** A block whose frame is sound but whose content is not: skipped, reading goes on. */
  private badBlock(pos: number, what: string): void {
    const s = this.ctx.summary;
    this.ctx.handlers.anomaly({
      code: 'capture-corrupt',
      reason: `${this.ctx.name}: block at byte ${this.base + pos} skipped: ${what}`,
      frame: null,
      timeUs: s.lastTimeUs,
      session: null,
      skipped: this.u32(pos + 4),
    });
  }

  /** Block boundaries are lost: report and stop. Before the first section, the file is unreadable. */
  private damage(what: string): void {
    if (this.sections === 0) throw new UserError('BAD_CAPTURE', `${this.ctx.name}: ${what}`);
    const s = this.ctx.summary;
    this.ctx.handlers.anomaly({
      code: 'capture-corrupt',
      reason: `${this.ctx.name}: ${what}`,
      frame: null,
      timeUs: s.lastTimeUs,
      session: null,
    });
    s.complete = false;
    this.stopped = true;
  }
}
