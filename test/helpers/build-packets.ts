/**
 * Builders for hand-made captures, for any stage's tests: TCP/IP packets inside any link type
 * the decoder reads, whole TCP conversations, and pcap / pcapng files made of such frames.
 *
 *   const f = tcpFrame({ src: '10.0.0.1', dst: '10.0.0.2', sport: 40000, dport: 5432,
 *                        seq: 1, flags: TCP_PSH | TCP_ACK, payload: Buffer.from('Q...') });
 *   writeFileSync(path, pcapFile([f], { nanos: true }));
 *   pcapngFile([{ block: 'idb', linkType: 1 }, { block: 'epb', data: f, timeUs: 1e15 }]);
 *   pcapFile(conversation([{ from: 'client', data: startup }, { from: 'server', data: reply }]));
 *
 * Addresses containing ':' make IPv6. Checksums (IPv4 header, TCP) are filled in, so tshark
 * shows the files without complaints.
 */
import { TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from '../../src/net/segment.js';

export type Link = 'ethernet' | 'sll' | 'sll2' | 'null' | 'null-be' | 'loop' | 'loop-le' | 'raw' | 'ipv4' | 'ipv6';

/** LINKTYPE_* of each builder link. */
export const LINK_TYPE: Record<Link, number> = {
  ethernet: 1,
  sll: 113,
  sll2: 276,
  null: 0,
  'null-be': 0,
  loop: 108,
  'loop-le': 108,
  raw: 101,
  ipv4: 228,
  ipv6: 229,
};

// ---------------------------------------------------------------- addresses

function ipv4Bytes(s: string): Buffer {
  const parts = s.split('.').map(Number);
  if (parts.length !== 4 || parts.some((n) => !(n >= 0 && n <= 255))) throw new Error(`bad IPv4 address ${s}`);
  return Buffer.from(parts);
}

/** Full and "::"-compressed forms, and a trailing dotted quad (::ffff:1.2.3.4). */
export function ipv6Bytes(s: string): Buffer {
  let text = s;
  if (text.includes('.')) {
    const cut = text.lastIndexOf(':') + 1;
    const v4 = ipv4Bytes(text.slice(cut));
    text = text.slice(0, cut) + v4.readUInt16BE(0).toString(16) + ':' + v4.readUInt16BE(2).toString(16);
  }
  const halves = text.split('::');
  if (halves.length > 2) throw new Error(`bad IPv6 address ${s}`);
  const nums = (t: string) => (t === '' ? [] : t.split(':').map((x) => (/^[0-9a-fA-F]{1,4}$/.test(x) ? parseInt(x, 16) : NaN)));
  const head = nums(halves[0]!);
  const tail = halves.length === 2 ? nums(halves[1]!) : [];
  const groups = halves.length === 2 ? [...head, ...new Array<number>(Math.max(0, 8 - head.length - tail.length)).fill(0), ...tail] : head;
  if (groups.length !== 8 || groups.some((g) => Number.isNaN(g))) throw new Error(`bad IPv6 address ${s}`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(g, 2 * i));
  return b;
}

function isV6(addr: string): boolean {
  return addr.includes(':');
}

// ---------------------------------------------------------------- checksums

function sum16(b: Buffer, acc = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) acc += b.readUInt16BE(i);
  if (b.length % 2) acc += b[b.length - 1]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return ~acc & 0xffff;
}

// ---------------------------------------------------------------- TCP

interface TcpHeaderSpec {
  sport?: number;
  dport?: number;
  seq?: number;
  ack?: number;
  /** TCP_* flag bits from src/net/segment.ts. Default ACK. */
  flags?: number;
  window?: number;
  /** Raw option bytes, zero-padded (end of options) to a multiple of 4. */
  options?: Buffer;
}

/** A TCP header followed by the payload; checksum left 0 (ipPacket fills it in). */
export function tcpSegmentBytes(spec: TcpHeaderSpec, payload: Buffer): Buffer {
  const opts = spec.options ?? Buffer.alloc(0);
  const optLen = (opts.length + 3) & ~3;
  const h = Buffer.alloc(20 + optLen);
  h.writeUInt16BE(spec.sport ?? 40000, 0);
  h.writeUInt16BE(spec.dport ?? 5432, 2);
  h.writeUInt32BE((spec.seq ?? 1) >>> 0, 4);
  h.writeUInt32BE((spec.ack ?? 0) >>> 0, 8);
  h[12] = ((20 + optLen) / 4) << 4;
  h[13] = spec.flags ?? TCP_ACK;
  h.writeUInt16BE(spec.window ?? 65535, 14);
  opts.copy(h, 20);
  return Buffer.concat([h, payload]);
}

// ---------------------------------------------------------------- IP

interface Ipv6ExtHeader {
  /** 0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options. */
  type: number;
  /** Total header length in bytes: a multiple of 8 (AH: of 4), at least 8. Default 8. */
  length?: number;
  /** Fragment header only. */
  fragmentOffset?: number;
  moreFragments?: boolean;
}

interface IpSpec {
  src?: string;
  dst?: string;
  /** Upper-layer protocol number; default 6 (TCP). */
  protocol?: number;
  /** IPv4 options (padded to a multiple of 4). */
  ipOptions?: Buffer;
  /** IPv4: fragment offset in 8-byte units and the more-fragments flag. IPv6: use ipv6ExtHeaders. */
  fragmentOffset?: number;
  moreFragments?: boolean;
  ipId?: number;
  ttl?: number;
  /** Override the IPv4 total length / IPv6 payload length field (e.g. 0 as segmentation offload writes it). */
  ipLength?: number;
  ipv6ExtHeaders?: Ipv6ExtHeader[];
}

/** An IPv4 or IPv6 packet (by the form of src) around an upper-layer payload; TCP checksums filled in. */
export function ipPacket(spec: IpSpec, upper: Buffer): Buffer {
  const src = spec.src ?? '10.0.0.1';
  const dst = spec.dst ?? '10.0.0.2';
  const proto = spec.protocol ?? 6;
  if (isV6(src) !== isV6(dst)) throw new Error('src and dst must be the same IP version');
  if (!isV6(src)) {
    const s = ipv4Bytes(src);
    const d = ipv4Bytes(dst);
    if (proto === 6 && upper.length >= 20) {
      const pseudo = Buffer.alloc(12);
      s.copy(pseudo, 0);
      d.copy(pseudo, 4);
      pseudo[9] = 6;
      pseudo.writeUInt16BE(upper.length, 10);
      upper = Buffer.from(upper);
      upper.writeUInt16BE(0, 16);
      upper.writeUInt16BE(fold(sum16(upper, sum16(pseudo))), 16);
    }
    const opts = spec.ipOptions ?? Buffer.alloc(0);
    const ihl = 20 + ((opts.length + 3) & ~3);
    const h = Buffer.alloc(ihl);
    h[0] = 0x40 | (ihl / 4);
    h.writeUInt16BE(spec.ipLength ?? ihl + upper.length, 2);
    h.writeUInt16BE(spec.ipId ?? 1, 4);
    h.writeUInt16BE(((spec.moreFragments ? 1 : 0) << 13) | (spec.fragmentOffset ?? 0), 6);
    h[8] = spec.ttl ?? 64;
    h[9] = proto;
    s.copy(h, 12);
    d.copy(h, 16);
    opts.copy(h, 20);
    h.writeUInt16BE(fold(sum16(h)), 10);
    return Buffer.concat([h, upper]);
  }
  const s = ipv6Bytes(src);
  const d = ipv6Bytes(dst);
  if (proto === 6 && upper.length >= 20) {
    const pseudo = Buffer.alloc(40);
    s.copy(pseudo, 0);
    d.copy(pseudo, 16);
    pseudo.writeUInt32BE(upper.length, 32);
    pseudo[39] = 6;
    upper = Buffer.from(upper);
    upper.writeUInt16BE(0, 16);
    upper.writeUInt16BE(fold(sum16(upper, sum16(pseudo))), 16);
  }
  const exts = spec.ipv6ExtHeaders ?? [];
  const extBufs: Buffer[] = [];
  exts.forEach((e, i) => {
    const next = i + 1 < exts.length ? exts[i + 1]!.type : proto;
    const len = e.type === 44 ? 8 : e.length ?? 8;
    const b = Buffer.alloc(len);
    b[0] = next;
    if (e.type === 51) b[1] = len / 4 - 2;
    else if (e.type !== 44) b[1] = len / 8 - 1;
    else b.writeUInt16BE(((e.fragmentOffset ?? 0) << 3) | (e.moreFragments ? 1 : 0), 2);
    extBufs.push(b);
  });
  const body = Buffer.concat([...extBufs, upper]);
  const h = Buffer.alloc(40);
  h.writeUInt32BE(0x60000000, 0);
  h.writeUInt16BE(spec.ipLength ?? body.length, 4);
  h[6] = exts.length > 0 ? exts[0]!.type : proto;
  h[7] = spec.ttl ?? 64;
  s.copy(h, 8);
  d.copy(h, 24);
  return Buffer.concat([h, body]);
}

// ---------------------------------------------------------------- link layer

interface LinkSpec {
  /** Default 'ethernet'. */
  link?: Link;
  /** Ethernet only: VLAN ids, outermost first. With two or more, the outer tags use 0x88a8 (QinQ). */
  vlans?: number[];
  /** Ethernet only: bytes appended after the IP packet (minimum-frame padding, FCS). */
  trailer?: Buffer;
}

const ETHERNET_MIN = 60;

/** An IP packet wrapped in a link-layer header. Ethernet frames under 60 bytes are zero-padded, as on the wire. */
export function linkFrame(ip: Buffer, spec: LinkSpec = {}): Buffer {
  const link = spec.link ?? 'ethernet';
  const v6 = ip.length > 0 && ip[0]! >> 4 === 6;
  const etherType = v6 ? 0x86dd : 0x0800;
  switch (link) {
    case 'ethernet': {
      const vlans = spec.vlans ?? [];
      const h = Buffer.alloc(14 + 4 * vlans.length);
      Buffer.from([0x02, 0, 0, 0, 0, 0x02, 0x02, 0, 0, 0, 0, 0x01]).copy(h, 0);
      let o = 12;
      vlans.forEach((id, i) => {
        h.writeUInt16BE(i < vlans.length - 1 ? 0x88a8 : 0x8100, o);
        h.writeUInt16BE(id & 0x0fff, o + 2);
        o += 4;
      });
      h.writeUInt16BE(etherType, o);
      let frame = Buffer.concat([h, ip]);
      if (frame.length < ETHERNET_MIN) frame = Buffer.concat([frame, Buffer.alloc(ETHERNET_MIN - frame.length)]);
      return spec.trailer ? Buffer.concat([frame, spec.trailer]) : frame;
    }
    case 'sll': {
      const h = Buffer.alloc(16);
      h.writeUInt16BE(0, 0); // to us
      h.writeUInt16BE(1, 2); // ARPHRD_ETHER
      h.writeUInt16BE(6, 4);
      Buffer.from([0x02, 0, 0, 0, 0, 0x01]).copy(h, 6);
      h.writeUInt16BE(etherType, 14);
      return Buffer.concat([h, ip]);
    }
    case 'sll2': {
      const h = Buffer.alloc(20);
      h.writeUInt16BE(etherType, 0);
      h.writeUInt32BE(1, 4); // interface index
      h.writeUInt16BE(772, 8); // ARPHRD_LOOPBACK
      h[10] = 0;
      h[11] = 6;
      return Buffer.concat([h, ip]);
    }
    case 'null':
    case 'null-be':
    case 'loop':
    case 'loop-le': {
      const h = Buffer.alloc(4);
      // AF_INET 2; AF_INET6 as macOS writes it (30).
      const fam = v6 ? 30 : 2;
      if (link === 'null' || link === 'loop-le') h.writeUInt32LE(fam, 0);
      else h.writeUInt32BE(fam, 0);
      return Buffer.concat([h, ip]);
    }
    case 'raw':
    case 'ipv4':
    case 'ipv6':
      return ip;
  }
}

export interface TcpFrameSpec extends TcpHeaderSpec, IpSpec, LinkSpec {
  payload?: Buffer | string;
}

/** One TCP segment as a link-layer frame. Everything has a default: 10.0.0.1:40000 -> 10.0.0.2:5432, seq 1, ACK, Ethernet. */
export function tcpFrame(spec: TcpFrameSpec = {}): Buffer {
  const payload = typeof spec.payload === 'string' ? Buffer.from(spec.payload) : spec.payload ?? Buffer.alloc(0);
  return linkFrame(ipPacket(spec, tcpSegmentBytes(spec, payload)), spec);
}

/** A UDP datagram (no checksum) as a link-layer frame: traffic the TCP decoder must ignore. */
export function udpFrame(spec: IpSpec & LinkSpec & { sport?: number; dport?: number; payload?: Buffer } = {}): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const u = Buffer.alloc(8);
  u.writeUInt16BE(spec.sport ?? 53, 0);
  u.writeUInt16BE(spec.dport ?? 53, 2);
  u.writeUInt16BE(8 + payload.length, 4);
  return linkFrame(ipPacket({ ...spec, protocol: 17 }, Buffer.concat([u, payload])), spec);
}

// ---------------------------------------------------------------- pcap

export interface FrameRecord {
  data: Buffer;
  /** Default: 1.7e15 (2023-11-14) plus 1 ms per record index. */
  timeUs?: number;
  /** Default data.length. */
  origLen?: number;
  /** Override the record's captured-length field (lie about it). */
  caplen?: number;
  /** Nanoseconds within the second, for nanosecond files (overrides timeUs's sub-second part). */
  nanos?: number;
}

type FrameInput = Buffer | FrameRecord;

export const BASE_TIME_US = 1_700_000_000_000_000;

function record(f: FrameInput, i: number): Required<Omit<FrameRecord, 'nanos'>> & { nanos: number | undefined } {
  const r: FrameRecord = Buffer.isBuffer(f) ? { data: f } : f;
  return {
    data: r.data,
    timeUs: r.timeUs ?? BASE_TIME_US + i * 1000,
    origLen: r.origLen ?? r.data.length,
    caplen: r.caplen ?? r.data.length,
    nanos: r.nanos,
  };
}

interface PcapOptions {
  /** Nanosecond timestamps (magic 0xa1b23c4d). */
  nanos?: boolean;
  bigEndian?: boolean;
  /** Default 1 (Ethernet). */
  linkType?: number;
  /** Default 262144. */
  snaplen?: number;
  /** Default [2, 4]. */
  version?: [number, number];
}

/** A classic pcap file. */
export function pcapFile(frames: FrameInput[], opts: PcapOptions = {}): Buffer {
  const be = opts.bigEndian ?? false;
  const w32 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt32BE(v >>> 0, o) : b.writeUInt32LE(v >>> 0, o));
  const w16 = (b: Buffer, v: number, o: number) => (be ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  const g = Buffer.alloc(24);
  w32(g, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  w16(g, opts.version?.[0] ?? 2, 4);
  w16(g, opts.version?.[1] ?? 4, 6);
  w32(g, opts.snaplen ?? 262144, 16);
  w32(g, opts.linkType ?? 1, 20);
  const parts: Buffer[] = [g];
  frames.forEach((f, i) => {
    const r = record(f, i);
    const h = Buffer.alloc(16);
    const sec = Math.floor(r.timeUs / 1e6);
    const us = r.timeUs - sec * 1e6;
    w32(h, sec, 0);
    w32(h, opts.nanos ? r.nanos ?? us * 1000 : us, 4);
    w32(h, r.caplen, 8);
    w32(h, r.origLen, 12);
    parts.push(h, r.data);
  });
  return Buffer.concat(parts);
}

// ---------------------------------------------------------------- pcapng

export type PcapngItem =
  /** Starts a section; the byte order of its blocks follows it. */
  | { block: 'shb'; bigEndian?: boolean; major?: number }
  /** tsresol: the if_tsresol byte (n: 10^-n s; 0x80 | n: 2^-n s); omitted: no option (µs). tsoffset: seconds. */
  | { block: 'idb'; linkType: number; snaplen?: number; tsresol?: number; tsoffset?: number }
  | ({ block: 'epb'; interfaceId?: number; /** Raw timestamp units; else from timeUs and the interface's tsresol. */ ts?: bigint } & FrameRecord)
  | ({ block: 'opb'; interfaceId?: number } & FrameRecord)
  | { block: 'spb'; data: Buffer; origLen?: number }
  | { block: 'dsb'; secretsType: number; data: Buffer }
  /** Any other block type, e.g. 5 (Interface Statistics) or 0x0bad (custom). */
  | { block: 'other'; type: number; body: Buffer }
  /** Bytes appended as they are (damage). */
  | { block: 'raw'; bytes: Buffer };

interface PcapngOptions {
  /** Byte order of the implicit first section (when items do not start with an shb). */
  bigEndian?: boolean;
}

function pad4(b: Buffer): Buffer {
  const n = (4 - (b.length % 4)) % 4;
  return n ? Buffer.concat([b, Buffer.alloc(n)]) : b;
}

function tsUnits(timeUs: number, tsresol: number | undefined): bigint {
  const us = BigInt(Math.round(timeUs));
  const r = tsresol ?? 6;
  if (r & 0x80) return (us << BigInt(r & 0x7f)) / 1_000_000n;
  if (r >= 6) return us * 10n ** BigInt(r - 6);
  return us / 10n ** BigInt(6 - r);
}

/** A pcapng file from blocks; a Section Header is put first unless the first item is one. */
export function pcapngFile(items: PcapngItem[], opts: PcapngOptions = {}): Buffer {
  const all: PcapngItem[] = items[0]?.block === 'shb' ? items : [{ block: 'shb', bigEndian: opts.bigEndian }, ...items];
  let be = false;
  let ifaces: (number | undefined)[] = [];
  const out: Buffer[] = [];
  const block = (type: number, body: Buffer) => {
    const b = pad4(body);
    const h = Buffer.alloc(8);
    const t = Buffer.alloc(4);
    const len = 12 + b.length;
    if (be) {
      h.writeUInt32BE(type >>> 0, 0);
      h.writeUInt32BE(len, 4);
      t.writeUInt32BE(len, 0);
    } else {
      h.writeUInt32LE(type >>> 0, 0);
      h.writeUInt32LE(len, 4);
      t.writeUInt32LE(len, 0);
    }
    out.push(h, b, t);
  };
  const u32 = (v: number) => {
    const b = Buffer.alloc(4);
    if (be) b.writeUInt32BE(v >>> 0);
    else b.writeUInt32LE(v >>> 0);
    return b;
  };
  const u16 = (v: number) => {
    const b = Buffer.alloc(2);
    if (be) b.writeUInt16BE(v);
    else b.writeUInt16LE(v);
    return b;
  };
  const option = (code: number, value: Buffer) => Buffer.concat([u16(code), u16(value.length), pad4(value)]);
  all.forEach((it, i) => {
    switch (it.block) {
      case 'shb': {
        be = it.bigEndian ?? false;
        ifaces = [];
        const sectionLen = Buffer.alloc(8, 0xff);
        block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), u16(it.major ?? 1), u16(0), sectionLen]));
        break;
      }
      case 'idb': {
        const opts: Buffer[] = [];
        if (it.tsresol !== undefined) opts.push(option(9, Buffer.from([it.tsresol])));
        if (it.tsoffset !== undefined) {
          const v = Buffer.alloc(8);
          if (be) v.writeBigInt64BE(BigInt(it.tsoffset));
          else v.writeBigInt64LE(BigInt(it.tsoffset));
          opts.push(option(14, v));
        }
        if (opts.length) opts.push(u32(0));
        ifaces.push(it.tsresol);
        block(1, Buffer.concat([u16(it.linkType), u16(0), u32(it.snaplen ?? 262144), ...opts]));
        break;
      }
      case 'epb':
      case 'opb': {
        const r = record(it, i);
        const ifId = it.interfaceId ?? 0;
        const ts = it.block === 'epb' && it.ts !== undefined ? it.ts : tsUnits(r.timeUs, ifaces[ifId]);
        const hi = Number(ts >> 32n);
        const lo = Number(ts & 0xffffffffn);
        const head = it.block === 'epb' ? u32(ifId) : Buffer.concat([u16(ifId), u16(0)]);
        block(it.block === 'epb' ? 6 : 2, Buffer.concat([head, u32(hi), u32(lo), u32(r.caplen), u32(r.origLen), r.data]));
        break;
      }
      case 'spb':
        block(3, Buffer.concat([u32(it.origLen ?? it.data.length), it.data]));
        break;
      case 'dsb':
        block(10, Buffer.concat([u32(it.secretsType), u32(it.data.length), it.data]));
        break;
      case 'other':
        block(it.type, it.body);
        break;
      case 'raw':
        out.push(it.bytes);
        break;
    }
  });
  return Buffer.concat(out);
}

// ---------------------------------------------------------------- conversations

interface ConversationSpec {
  client?: string;
  server?: string;
  clientPort?: number;
  serverPort?: number;
  link?: Link;
  vlans?: number[];
  /** SYN, SYN-ACK, ACK first. Default true; false makes a capture that starts mid-stream. */
  handshake?: boolean;
  /** How the connection ends: FIN both ways (default), RST from the client, or not at all. */
  close?: 'fin' | 'rst' | 'none';
  /** Largest payload per segment; longer data is split. Default 1460. */
  mss?: number;
  clientIsn?: number;
  serverIsn?: number;
  /** Time of the first frame (default BASE_TIME_US) and between frames (default 1000 µs). */
  startTimeUs?: number;
  stepUs?: number;
}

export interface ConversationStep {
  from: 'client' | 'server';
  data: Buffer | string;
}

/**
 * A well-formed TCP connection carrying `steps` in order, as frames with timestamps (feed them
 * to pcapFile / pcapngFile). Sequence and acknowledgement numbers are consistent, so tshark
 * reports no analysis flags; sequence numbers wrap past 2^32 when the ISNs are chosen so.
 */
export function conversation(steps: ConversationStep[], spec: ConversationSpec = {}): FrameRecord[] {
  const client = spec.client ?? '10.0.0.1';
  const server = spec.server ?? '10.0.0.2';
  const cport = spec.clientPort ?? 40000;
  const sport = spec.serverPort ?? 5432;
  const mss = spec.mss ?? 1460;
  const step = spec.stepUs ?? 1000;
  let time = spec.startTimeUs ?? BASE_TIME_US;
  let cseq = (spec.clientIsn ?? 1000) >>> 0;
  let sseq = (spec.serverIsn ?? 5000) >>> 0;
  const out: FrameRecord[] = [];
  const emit = (fromClient: boolean, flags: number, payload: Buffer) => {
    const data = tcpFrame({
      link: spec.link,
      vlans: spec.vlans,
      src: fromClient ? client : server,
      dst: fromClient ? server : client,
      sport: fromClient ? cport : sport,
      dport: fromClient ? sport : cport,
      seq: fromClient ? cseq : sseq,
      ack: flags & TCP_ACK ? (fromClient ? sseq : cseq) : 0,
      flags,
      payload,
    });
    out.push({ data, timeUs: time });
    time += step;
    const advance = payload.length + (flags & (TCP_SYN | TCP_FIN) ? 1 : 0);
    if (fromClient) cseq = (cseq + advance) >>> 0;
    else sseq = (sseq + advance) >>> 0;
  };
  const none = Buffer.alloc(0);
  if (spec.handshake ?? true) {
    emit(true, TCP_SYN, none);
    emit(false, TCP_SYN | TCP_ACK, none);
    emit(true, TCP_ACK, none);
  }
  for (const s of steps) {
    const data = typeof s.data === 'string' ? Buffer.from(s.data, 'latin1') : s.data;
    for (let i = 0; i < data.length; i += mss) emit(s.from === 'client', TCP_PSH | TCP_ACK, data.subarray(i, i + mss));
  }
  const close = spec.close ?? 'fin';
  if (close === 'fin') {
    emit(true, TCP_FIN | TCP_ACK, none);
    emit(false, TCP_FIN | TCP_ACK, none);
    emit(true, TCP_ACK, none);
  } else if (close === 'rst') {
    emit(true, TCP_RST | TCP_ACK, none);
  }
  return out;
}
