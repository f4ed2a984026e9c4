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
}
