/**
 * The packet sources' contract: every source (pcap file, pcapng file, live libpcap) pushes
 * Packets in capture order. Frame numbers are 1-based and count every record the source
 * delivered, as Wireshark counts them.
 */
export interface Packet {
  /** 1-based frame number. */
  frame: number;
  /** Capture time, integer microseconds since the epoch (see src/core/time.ts). */
  timeUs: number;
  /** LINKTYPE_* value (https://www.tcpdump.org/linktypes.html) of the interface it came from. */
  linkType: number;
  /** Captured bytes. Valid only during the handler call: copy what you keep. */
  data: Buffer;
  /** Length on the wire; larger than data.length when snaplen cut the packet. */
  origLen: number;
  /** pcapng interface index, counted over the whole file (interfaces of a later section continue
   * the count, so the index names one interface); 0 for pcap and live. */
  interfaceId: number;
  /** Byte offset of the record (pcap record header / pcapng block) in the file, so a viewer can
   * re-read the frame on demand (src/capture/frame-at.ts); -1 for live capture, stdin and other
   * streams, and gzip-compressed files. */
  fileOffset: number;
}

export type PacketHandler = (p: Packet) => void;
