/**
 * Link layer -> IP -> TCP, for the link types in link-types.ts: Ethernet with any stack of
 * 802.1Q / 802.1ad / QinQ tags (and PPPoE session, MPLS), Linux SLL and SLL2, BSD NULL and
 * LOOP (family in either byte order), raw IP. IPv4 with options, IPv6 with extension headers.
 *
 * This is the per-packet hot path: no closures, no per-packet objects besides the payload view;
 * the decoder hands out one TcpSegment object that it refills for every packet (see
 * TcpDecoder.decode). Non-TCP traffic is not an anomaly: it returns null silently. Headers that
 * do not fit are 'malformed-packet' (or 'packet-truncated' when snaplen cut them), fragments
 * 'ip-fragment', and an undecodable link type one 'unsupported-link-type' per interface.
 */
import type { Anomaly, AnomalyCode, AnomalyHandler } from '../core/anomaly.js';
import type { Packet } from '../capture/packet.js';
import { PacketSegment, TCP_SYN, type TcpSegment } from './segment.js';
import { Ipv4Names, Ipv6Names } from './address.js';
import { LINKTYPE, linkTypeName } from './link-types.js';

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD1 = 0x9100;
const ETH_QINQ_OLD2 = 0x9200;
const ETH_PPPOE_SESSION = 0x8864;
const ETH_MPLS = 0x8847;
const ETH_MPLS_MC = 0x8848;
const PPP_IPV4 = 0x0021;
const PPP_IPV6 = 0x0057;
const IPPROTO_TCP = 6;

/** Address families in BSD loopback headers: AF_INET is 2 everywhere; AF_INET6 differs by OS. */
function isInet6Family(f: number): boolean {
  // Linux 10, Windows 23, NetBSD/OpenBSD 24, FreeBSD 28, macOS 30.
  return f === 10 || f === 23 || f === 24 || f === 28 || f === 30;
}

/** Big-endian reads without Buffer's argument checks (offsets are checked by the caller); V8 inlines these. */
function u16(d: Buffer, o: number): number {
  return (d[o]! << 8) | d[o + 1]!;
}

function u32(d: Buffer, o: number): number {
  return d[o]! * 0x1000000 + ((d[o + 1]! << 16) | (d[o + 2]! << 8) | d[o + 3]!);
}

/** The window scale option's shift count in the options d[from, to), or -1 (RFC 7323: at most 14). */
function windowScale(d: Buffer, from: number, to: number): number {
  let o = from;
  while (o < to) {
    const kind = d[o]!;
    if (kind === 0) break;
    if (kind === 1) {
      o++;
      continue;
    }
    if (o + 1 >= to) break;
    const len = d[o + 1]!;
    if (len < 2 || o + len > to) break;
    if (kind === 3 && len === 3) {
      const shift = d[o + 2]!;
      return shift > 14 ? 14 : shift;
    }
    o += len;
  }
  return -1;
}

/** Pseudo "ethertype" for raw IP: pick IPv4 or IPv6 by the version nibble. */
const BY_VERSION = -1;

/** Address text caches, shared by every decoder: they only map bytes to text, so sharing is safe
 * and keeps a decoder cheap to create (decodeTcp creates one per call). */
const V4_NAMES = new Ipv4Names();
const V6_NAMES = new Ipv6Names();

interface TcpDecoderStats {
  /** Packets given to decode(). */
  packets: number;
  /** TCP segments returned. */
  tcp: number;
  /** Packets that were not TCP/IP (returned null without an anomaly). */
  other: number;
  /** Packets reported as anomalies (malformed, truncated, fragments, unsupported link type). */
  anomalies: number;
}

export class TcpDecoder {
  /** Counts since construction. */
  readonly stats: TcpDecoderStats = { packets: 0, tcp: 0, other: 0, anomalies: 0 };
  private readonly onAnomaly: AnomalyHandler;
  private readonly v4 = V4_NAMES;
  private readonly v6 = V6_NAMES;
  /** Interfaces already told about their unsupported link type. */
  private readonly unsupported = new Set<number>();
  private readonly seg = new PacketSegment();

  constructor(onAnomaly: AnomalyHandler) {
    this.onAnomaly = onAnomaly;
  }

  /**
   * The packet's TCP segment, or null (not TCP/IP, or an anomaly was reported). The returned
   * object is the decoder's own and is refilled by the next call; its payload is a range of
   * p.data (viewed on demand), valid as long as p.data is (during the packet handler): copy
   * what you keep.
   */
  decode(p: Packet): PacketSegment | null {
    this.stats.packets++;
    const d = p.data;
    const len = d.length;
    let off = 0;
    let et: number;
    switch (p.linkType) {
      case LINKTYPE.ETHERNET:
        if (len < 14) return this.short(p, 'Ethernet header');
        et = u16(d, 12);
        off = 14;
        break;
      case LINKTYPE.LINUX_SLL:
        if (len < 16) return this.short(p, 'Linux cooked (SLL) header');
        et = u16(d, 14);
        off = 16;
        break;
      case LINKTYPE.LINUX_SLL2:
        if (len < 20) return this.short(p, 'Linux cooked (SLL2) header');
        et = u16(d, 0);
        off = 20;
        break;
      case LINKTYPE.NULL:
      case LINKTYPE.LOOP: {
        if (len < 4) return this.short(p, 'loopback header');
        // Host byte order of the capturing machine for NULL, network order for LOOP, but files
        // of both kinds exist with either: families are small, so the non-zero half tells.
        let fam = d.readUInt32LE(0);
        if (fam > 0xffff) fam = u32(d, 0);
        off = 4;
        if (fam === 2) et = ETH_IPV4;
        else if (isInet6Family(fam)) et = ETH_IPV6;
        else return this.other();
        break;
      }
      case LINKTYPE.RAW:
      case LINKTYPE.RAW_DLT12:
      case LINKTYPE.RAW_DLT14:
        et = BY_VERSION;
        break;
      case LINKTYPE.IPV4:
        et = ETH_IPV4;
        break;
      case LINKTYPE.IPV6:
        et = ETH_IPV6;
        break;
      default:
        return this.unsupportedLink(p);
    }

    // Tags and shims between the link header and IP. Each step consumes bytes, so the loop ends.
    for (;;) {
      if (et === ETH_VLAN || et === ETH_QINQ || et === ETH_QINQ_OLD1 || et === ETH_QINQ_OLD2) {
        if (off + 4 > len) return this.short(p, 'VLAN tag');
        et = u16(d, off + 2);
        off += 4;
      } else if (et === ETH_PPPOE_SESSION) {
        if (off + 8 > len) return this.short(p, 'PPPoE header');
        const proto = u16(d, off + 6);
        off += 8;
        if (proto === PPP_IPV4) et = ETH_IPV4;
        else if (proto === PPP_IPV6) et = ETH_IPV6;
        else return this.other();
      } else if (et === ETH_MPLS || et === ETH_MPLS_MC) {
        // Label stack until the bottom-of-stack bit; what follows carries no type: use the version.
        let bottom = false;
        while (!bottom) {
          if (off + 4 > len) return this.short(p, 'MPLS label');
          bottom = (d[off + 2]! & 0x01) !== 0;
          off += 4;
        }
        et = BY_VERSION;
      } else {
        break;
      }
    }

    if (et === BY_VERSION) {
      if (off >= len) return this.short(p, 'IP header');
      const v = d[off]! >> 4;
      if (v === 4) et = ETH_IPV4;
      else if (v === 6) et = ETH_IPV6;
      else return this.report(p, 'malformed-packet', `frame ${p.frame}: IP version ${v} in a raw IP packet`);
    }
    if (et === ETH_IPV4) return this.ipv4(p, off);
    if (et === ETH_IPV6) return this.ipv6(p, off);
    return this.other();
  }

  private ipv4(p: Packet, off: number): PacketSegment | null {
    const d = p.data;
    const len = d.length;
    if (off + 20 > len) return this.short(p, 'IPv4 header');
    const vihl = d[off]!;
    if (vihl >> 4 !== 4) return this.report(p, 'malformed-packet', `frame ${p.frame}: IPv4 header with version ${vihl >> 4}`);
    const ihl = (vihl & 0x0f) * 4;
    if (ihl < 20) return this.report(p, 'malformed-packet', `frame ${p.frame}: IPv4 header length ${ihl} is under 20`);
    if (d[off + 9] !== IPPROTO_TCP) return this.other();
    const total = u16(d, off + 2);
    let ipEnd: number;
    if (total === 0) {
      // Segmentation offload on the capturing host leaves 0 here; the frame is the packet.
      ipEnd = Math.max(len, p.origLen);
    } else if (total < ihl) {
      return this.report(p, 'malformed-packet', `frame ${p.frame}: IPv4 total length ${total} is under its header length ${ihl}`);
    } else {
      ipEnd = off + total;
    }
    if (off + ihl > len) {
      if (off + ihl > ipEnd) return this.report(p, 'malformed-packet', `frame ${p.frame}: IPv4 options run past the packet`);
      return this.short(p, 'IPv4 options');
    }
    if ((u16(d, off + 6) & 0x3fff) !== 0) {
      return this.report(p, 'ip-fragment', `frame ${p.frame}: IPv4 fragment of a TCP packet (fragments are not reassembled)`);
    }
    const seg = this.seg;
    seg.ipVersion = 4;
    seg.src = this.v4.get(d, off + 12);
    seg.dst = this.v4.get(d, off + 16);
    seg.addrStart = off + 12;
    return this.tcp(p, off + ihl, ipEnd);
  }

  private ipv6(p: Packet, off: number): PacketSegment | null {
    const d = p.data;
    const len = d.length;
    if (off + 40 > len) return this.short(p, 'IPv6 header');
    if (d[off]! >> 4 !== 6) return this.report(p, 'malformed-packet', `frame ${p.frame}: IPv6 header with version ${d[off]! >> 4}`);
    const plen = u16(d, off + 4);
    // 0 means a jumbogram or segmentation offload: the frame is the packet.
    const ipEnd = plen === 0 ? Math.max(len, p.origLen) : off + 40 + plen;
    let next = d[off + 6]!;
    let h = off + 40;
    // Extension headers: each is at least 8 bytes, so the walk is bounded by the packet.
    for (;;) {
      if (next === IPPROTO_TCP) break;
      let hlen: number;
      if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
        if (h + 8 > len) return h + 8 > ipEnd ? this.malformedExt(p) : this.short(p, 'IPv6 extension header');
        hlen = (d[h + 1]! + 1) * 8;
      } else if (next === 51) {
        if (h + 8 > len) return h + 8 > ipEnd ? this.malformedExt(p) : this.short(p, 'IPv6 authentication header');
        hlen = (d[h + 1]! + 2) * 4;
      } else if (next === 44) {
        if (h + 8 > len) return h + 8 > ipEnd ? this.malformedExt(p) : this.short(p, 'IPv6 fragment header');
        // Offset or more-fragments set: a real fragment. Offset 0 without M is an atomic fragment.
        if ((u16(d, h + 2) & 0xfff9) !== 0) {
          if (d[h] !== IPPROTO_TCP) return this.other();
          return this.report(p, 'ip-fragment', `frame ${p.frame}: IPv6 fragment of a TCP packet (fragments are not reassembled)`);
        }
        hlen = 8;
      } else {
        // Another upper layer, ESP (encrypted) or no next header.
        return this.other();
      }
      next = d[h]!;
      h += hlen;
      if (h > ipEnd) return this.malformedExt(p);
    }
    const seg = this.seg;
    seg.ipVersion = 6;
    seg.src = this.v6.get(d, off + 8);
    seg.dst = this.v6.get(d, off + 24);
    seg.addrStart = off + 8;
    return this.tcp(p, h, ipEnd);
  }

  private tcp(p: Packet, t: number, ipEnd: number): PacketSegment | null {
    const d = p.data;
    const len = d.length;
    // An IP length beyond the frame's length on the wire promises bytes that never existed:
    // report it, and decode what the frame holds instead of announcing a phantom gap.
    const wire = p.origLen > len ? p.origLen : len;
    if (ipEnd > wire) {
      this.note(p, 'malformed-packet', `frame ${p.frame}: the IP length claims ${ipEnd - wire} bytes more than the ${wire}-byte frame`);
      ipEnd = wire;
    }
    if (t + 20 > ipEnd) return this.report(p, 'malformed-packet', `frame ${p.frame}: the IP payload is too short for a TCP header`);
    if (t + 20 > len) return this.short(p, 'TCP header');
    const hlen = (d[t + 12]! >> 4) * 4;
    if (hlen < 20) return this.report(p, 'malformed-packet', `frame ${p.frame}: TCP header length ${hlen} is under 20`);
    if (t + hlen > ipEnd) return this.report(p, 'malformed-packet', `frame ${p.frame}: TCP header length ${hlen} runs past the IP payload`);
    const seg = this.seg;
    seg.frame = p.frame;
    seg.timeUs = p.timeUs;
    seg.tcpStart = t;
    seg.ipEnd = ipEnd;
    seg.srcPort = u16(d, t);
    seg.dstPort = u16(d, t + 2);
    seg.seq = u32(d, t + 4);
    seg.ack = u32(d, t + 8);
    const flags = d[t + 13]!;
    seg.flags = flags;
    seg.window = u16(d, t + 14);
    // Options are read only on a SYN: the window scale (RFC 7323) is announced there and nowhere else.
    seg.wscale = (flags & TCP_SYN) !== 0 && hlen > 20 ? windowScale(d, t + 20, t + hlen) : -1;
    const start = t + hlen;
    // Bytes past the IP length are link padding (Ethernet minimum frame, FCS): not payload.
    const capEnd = ipEnd < len ? ipEnd : len;
    if (start >= capEnd) {
      seg.setPayload(d, capEnd, capEnd);
      seg.missing = ipEnd > start ? ipEnd - start : 0;
    } else {
      seg.setPayload(d, start, capEnd);
      seg.missing = ipEnd - capEnd;
    }
    this.stats.tcp++;
    return seg;
  }

  private other(): null {
    this.stats.other++;
    return null;
  }

  private malformedExt(p: Packet): null {
    return this.report(p, 'malformed-packet', `frame ${p.frame}: IPv6 extension headers run past the packet`);
  }

  /** A header does not fit the captured bytes: snaplen's doing when the wire length was larger. */
  private short(p: Packet, what: string): null {
    if (p.origLen > p.data.length) {
      return this.report(p, 'packet-truncated', `frame ${p.frame}: snaplen cut the ${what} (${p.data.length} of ${p.origLen} bytes captured)`);
    }
    return this.report(p, 'malformed-packet', `frame ${p.frame}: ${p.data.length}-byte packet too short for its ${what}`);
  }

  private unsupportedLink(p: Packet): null {
    if (this.unsupported.has(p.interfaceId)) {
      this.stats.other++;
      return null;
    }
    this.unsupported.add(p.interfaceId);
    return this.report(p, 'unsupported-link-type', `interface ${p.interfaceId}: ${linkTypeName(p.linkType)} (${p.linkType}) is not decoded; its packets are skipped`);
  }

  /** Reports an anomaly that ends the packet's decoding. */
  private report(p: Packet, code: AnomalyCode, reason: string): null {
    this.stats.anomalies++;
    this.note(p, code, reason);
    return null;
  }

  /** Reports an anomaly; the caller decides whether decoding goes on. */
  private note(p: Packet, code: AnomalyCode, reason: string): void {
    const a: Anomaly = { code, reason, frame: p.frame, timeUs: p.timeUs, session: null };
    this.onAnomaly(a);
  }
}

/**
 * One-shot form of TcpDecoder.decode for callers that decode a few packets: returns a segment
 * object of its own (not reused). It keeps no state, so an unsupported link type is reported
 * on every call; streams of packets should use a TcpDecoder.
 */
export function decodeTcp(p: Packet, onAnomaly: AnomalyHandler): TcpSegment | null {
  const seg = new TcpDecoder(onAnomaly).decode(p);
  if (seg === null) return null;
  return {
    frame: seg.frame, timeUs: seg.timeUs, ipVersion: seg.ipVersion, src: seg.src, dst: seg.dst, srcPort: seg.srcPort, dstPort: seg.dstPort,
    seq: seg.seq, ack: seg.ack, flags: seg.flags, payload: seg.payload, missing: seg.missing, window: seg.window, wscale: seg.wscale,
  };
}
