/**
 * What the link/IP/TCP decoder hands to reassembly: one TCP segment.
 */

export const TCP_FIN = 0x01;
export const TCP_SYN = 0x02;
export const TCP_RST = 0x04;
export const TCP_PSH = 0x08;
export const TCP_ACK = 0x10;

export interface TcpSegment {
  frame: number;
  timeUs: number;
  ipVersion: 4 | 6;
  /** Textual addresses: dotted quad for IPv4, RFC 5952 compressed form for IPv6. */
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** Sequence and acknowledgement numbers, unsigned 32-bit. */
  seq: number;
  ack: number;
  /** TCP flag bits (TCP_SYN | TCP_ACK ...). */
  flags: number;
  /** TCP payload actually captured. Valid only during the call: copy what you keep. */
  payload: Buffer;
  /** Payload bytes that the IP length says exist but snaplen cut off (0 normally). */
  missing: number;
  /** The advertised window field, unscaled (absent: not known). */
  window?: number;
  /** The window scale option's shift count, on a SYN that carries one; -1 (or absent) otherwise. */
  wscale?: number;
}

/**
 * The TcpSegment the decoder hands out (one object, refilled for every packet): the payload is
 * the range [payloadStart, payloadEnd) of the packet's bytes, and the `payload` view is made
 * only when read. Reassembly reads the range instead, so the in-order path makes no Buffer view
 * per packet. Assigning `payload` replaces the range with the whole of the given buffer.
 */
export class PacketSegment implements TcpSegment {
  frame = 0;
  timeUs = 0;
  ipVersion: 4 | 6 = 4;
  src = '';
  dst = '';
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  missing = 0;
  window = 0;
  wscale = -1;
  /** Where the checksum covers (set by the decoder): the addresses (4 or 16 bytes each, src then dst) and the TCP header to the IP end; ipEnd past the captured bytes: not verifiable. */
  addrStart = 0;
  tcpStart = 0;
  ipEnd = 0;
  /** The packet's bytes (Packet.data): valid only during the packet handler. */
  data: Buffer = EMPTY;
  payloadStart = 0;
  payloadEnd = 0;
  private view: Buffer | null = EMPTY;

  get payload(): Buffer {
    if (this.view === null) this.view = this.data.subarray(this.payloadStart, this.payloadEnd);
    return this.view;
  }

  set payload(b: Buffer) {
    this.data = b;
    this.payloadStart = 0;
    this.payloadEnd = b.length;
    this.view = b;
  }

  /**
   * The TCP checksum verified over the captured bytes (RFC 9293 3.1: pseudo-header, header and
   * payload). Computed only when asked: the flow table asks only for directions whose
   * checksums it verifies (see FlowTable).
   */
  checksum(): number {
    const d = this.data;
    const end = this.ipEnd;
    if (end > d.length || this.payloadStart === this.payloadEnd && this.missing > 0) return CHECKSUM_UNKNOWN;
    const t = this.tcpStart;
    const alen = this.ipVersion === 4 ? 8 : 32;
    const pseudo = sum16(d, this.addrStart, this.addrStart + alen, 6 + (end - t));
    if (fold(sum16(d, t, end, pseudo)) === 0xffff) return CHECKSUM_OK;
    const field = (d[t + 16]! << 8) | d[t + 17]!;
    const partial = fold(pseudo);
    if (field === 0 || field === partial || field === (~partial & 0xffff)) return CHECKSUM_OFFLOADED;
    return CHECKSUM_BAD;
  }

  /** Sets the payload to data[start, end) without making the view. */
  setPayload(data: Buffer, start: number, end: number): void {
    this.data = data;
    this.payloadStart = start;
    this.payloadEnd = end;
    this.view = null;
  }
}

const EMPTY = Buffer.alloc(0);

/** TcpChecksum results (PacketSegment.checksum). */
export const CHECKSUM_UNKNOWN = 0;
export const CHECKSUM_OK = 1;
const CHECKSUM_BAD = 2;
/** Zero, or only the pseudo-header's sum: what checksum offload leaves in the capturing host's own packets. */
export const CHECKSUM_OFFLOADED = 3;

function sum16(d: Buffer, from: number, to: number, acc: number): number {
  let i = from;
  const even = to - ((to - from) & 1);
  for (; i < even; i += 2) acc += (d[i]! << 8) | d[i + 1]!;
  if (i < to) acc += d[i]! << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}
