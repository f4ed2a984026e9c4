/**
 * What the file readers (pcap.ts, pcapng.ts) share with open.ts: the handlers a caller gives,
 * the summary a read resolves with, and the small push interface each format reader implements.
 */
import type { AnomalyHandler } from '../core/anomaly.js';
import type { PacketHandler } from './packet.js';

export type CaptureFormat = 'pcap' | 'pcapng';

export interface CaptureHandlers {
  /** Called synchronously for every packet, in file order. */
  packet: PacketHandler;
  /** Damage in the file (truncated or corrupt records). */
  anomaly: AnomalyHandler;
  /** pcapng Decryption Secrets Block: `type` is the secrets type (0x544c534b = TLS key log);
   * `data` is a copy the callee may keep. */
  secrets?: (type: number, data: Buffer) => void;
  /** A new interface, its LINKTYPE_* value and its timestamp resolution (CaptureInterface.tsresol), before its first packet. */
  linkType?: (interfaceId: number, linkType: number, tsresol: number) => void;
  /** Asked after each chunk of a file: a promise holds reading until what consumes it catches up. */
  ready?: () => Promise<void> | null;
}

interface CaptureInterface {
  /** Index over the whole file (pcapng interfaces of later sections continue the count), as in Packet.interfaceId. */
  id: number;
  linkType: number;
  /** 0 when the file does not say. */
  snaplen: number;
  /** pcapng if_tsresol byte: n < 128 means 10^-n seconds, 128 + n means 2^-n seconds. pcap: 6 (µs) or 9 (ns). */
  tsresol: number;
}

export interface CaptureSummary {
  format: CaptureFormat;
  interfaces: CaptureInterface[];
  /** Distinct link types, in order of appearance. */
  linkTypes: number[];
  /** Packets delivered (the last frame number). */
  packets: number;
  /** Bytes read from the source. */
  bytes: number;
  firstTimeUs: number | null;
  lastTimeUs: number | null;
  /** False when the read stopped early at damage (the anomaly says where). */
  complete: boolean;
  /** True when opts.signal aborted the read; the packets before it were delivered. */
  aborted: boolean;
}

/** Read state shared by a format reader and open.ts. */
export interface ReaderContext {
  handlers: CaptureHandlers;
  /** Name for messages: the path, or "standard input". */
  name: string;
  /** False for streams: Packet.fileOffset is then -1. */
  offsets: boolean;
  signal: AbortSignal | undefined;
  summary: CaptureSummary;
}

/**
 * A format reader is fed the source's chunks in order. It delivers every complete record
 * synchronously from push(), keeps at most one incomplete record, and sets `stopped` when it
 * will take no more input (damage, or an abort seen between packets).
 */
export interface FormatReader {
  readonly stopped: boolean;
  push(chunk: Buffer): void;
  /** End of input: reports an incomplete last record. */
  finish(): void;
}

/** Records larger than this are damage, not data: tcpdump's and Wireshark's largest default snaplen. */
export const MAX_SNAPLEN = 262144;
/** The largest pcapng block accepted (Wireshark's limit too); more is a corrupt length. */
export const MAX_BLOCK = 16 * 1024 * 1024;
