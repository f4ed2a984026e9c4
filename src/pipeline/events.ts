/**
 * What the analysis pipeline emits, in capture order, to its sinks (NDJSON, text, stats, the
 * TUI's store). Record objects are the JSON export's records (DESIGN.md, "Contracts that users
 * build on"); sinks must not mutate them.
 */
import type { RawMessage, DecodedMessage, DissectContext } from '../../dissectors/types.js';
import type { Execution } from '../session/execution.js';
import type { z } from 'zod';
import type { TransactionStatus } from '../session/schema.js';
import type { anomalyRecordSchema, captureRecordSchema, messageEnvelopeSchema } from './schema.js';

/** One line of the frame list: every packet the source delivered, PostgreSQL or not. */
export interface FrameInfo {
  frame: number;
  timeUs: number;
  /** Byte offset of the record in the capture file (re-read on demand), -1 when not re-readable (live, stdin). */
  fileOffset: number;
  /** Length on the wire and captured length. */
  length: number;
  capLen: number;
  /** "ip:port" ("[v6]:port" for IPv6), or null when not TCP/IP. */
  src: string | null;
  dst: string | null;
  /** TCP connection index, or null when not TCP. */
  session: number | null;
  /** The TCP header as the frame list's details tree shows it (null when not TCP). */
  tcp?: FrameTcp | null;
  /**
   * The captured bytes, valid only until the next packet (a view into the reader's buffer): the
   * TUI notes where each message body lies in them instead of copying it.
   */
  data?: Buffer;
}

/** One frame's TCP header and what reassembly made of its payload. */
interface FrameTcp {
  seq: number;
  ack: number;
  /** TCP flag bits (net/segment.ts TCP_*). */
  flags: number;
  /** The advertised window field, unscaled. */
  window: number;
  /** Payload bytes the IP length declares (captured or cut by snaplen). */
  payload: number;
  /** reassembly/half-stream.ts SEG_*: retransmission, out of order, ahead of a hole (filled in after reassembly). */
  note: number;
  /** The content type of the TLS record the payload begins like (20-23, version 3.x), else 0. */
  tlsRecord: number;
}

/** The envelope every record has (query and session records: their schemas in src/session/schema.ts). */
interface RecordBase {
  kind: 'message' | 'query' | 'session' | 'anomaly' | 'capture';
  /** TCP connection index (stable for a capture), or null for anomalies outside a connection. */
  session: number | null;
  /** Capture time, ISO 8601 with microseconds (src/core/time.ts). */
  time: string;
  /** 1-based frame number of the frame in which the record's last byte arrived. */
  frame: number | null;
}

/** kind "message": the envelope (schema.ts), then the decoded fields of DecodedMessage flattened in. */
export type MessageRecord = z.infer<typeof messageEnvelopeSchema> & Record<string, unknown>;

/** kind "anomaly" (schema.ts). */
export type AnomalyRecord = z.infer<typeof anomalyRecordSchema>;

/** Query and session records are defined by src/session (schema.ts); sinks treat them generically here. */
type QueryLikeRecord = RecordBase & { kind: 'query' } & Record<string, unknown>;
type SessionLikeRecord = RecordBase & { kind: 'session' } & Record<string, unknown>;

/** kind "capture": the last record of a live capture, with the kernel's and pgsniff's counts (declared in schema.ts). */
export type CaptureRecord = z.infer<typeof captureRecordSchema> & Record<string, unknown>;

export type OutRecord = MessageRecord | AnomalyRecord | QueryLikeRecord | SessionLikeRecord | CaptureRecord;

/**
 * What a sink takes from the pipeline, declared once (PipelineSink.needs): the pipeline makes
 * and calls only what some sink declared. A sink that declares nothing gets every record through
 * record() (message records too, when the pipeline makes messages), as a library user's sink
 * would want; the built-in sinks declare the cheaper ways they can take.
 */
export interface SinkNeeds {
  /** frame(): every packet as a FrameInfo, before the records it completes (the TUI, the text view). */
  frames?: boolean;
  /** packetSize(): every packet's time, length and ports, without frame()'s object and strings (a sink that only counts). */
  packetSizes?: boolean;
  /**
   * How protocol messages come. 'records' (the default): message() and record() get the built
   * record. 'raw': rawMessage() gets the framed message and its lazy decode, and no record is
   * built for this sink. 'both': each, in that order. 'none': neither.
   */
  messages?: 'records' | 'raw' | 'both' | 'none';
  /**
   * How query records come. 'records' (the default): record() gets them. 'executions':
   * queryExecution() gets each finished execution (full records only) and no record is built
   * for this sink. 'both': each. 'none': neither.
   */
  queries?: 'records' | 'executions' | 'both' | 'none';
}

/** A sink's needs with the defaults filled in. */
export function sinkNeeds(sink: PipelineSink): Required<SinkNeeds> {
  const n = sink.needs ?? {};
  return { frames: n.frames ?? false, packetSizes: n.packetSizes ?? false, messages: n.messages ?? 'records', queries: n.queries ?? 'records' };
}

/** Whether a declared way includes records, and whether it includes the other way (raw messages, executions). */
export const takesRecords = (way: 'records' | 'raw' | 'executions' | 'both' | 'none'): boolean => way === 'records' || way === 'both';
export const takesDirect = (way: 'records' | 'raw' | 'executions' | 'both' | 'none'): boolean => way === 'raw' || way === 'executions' || way === 'both';

export interface PipelineSink {
  /** What this sink takes (SinkNeeds); absent: every record through record(). Read once, when the pipeline starts. */
  readonly needs?: SinkNeeds;
  /** Every packet, before the records it completes (needs.frames). */
  frame?(f: FrameInfo): void;
  /**
   * Every packet's capture time and length on the wire, and its TCP ports (-1 when not TCP),
   * before the records it completes (needs.packetSizes).
   */
  packetSize?(timeUs: number, length: number, srcPort: number, dstPort: number): void;
  /**
   * A decoded message, before its record goes to record() (needs.messages 'records' or 'both').
   * `raw` carries the body bytes and frame span (for hex views); `decoded` is the dissected form
   * the record was built from.
   */
  message?(rec: MessageRecord, raw: RawMessage, decoded: DecodedMessage): void;
  /**
   * A message without its record (needs.messages 'raw' or 'both'). `raw`, `decode` and `ctx`
   * are valid only during the call. The NDJSON export writes its record from these.
   */
  rawMessage?(session: number, raw: RawMessage, decode: () => DecodedMessage, ctx: DissectContext, tls: boolean): void;
  /**
   * A finished execution without its query record (needs.queries 'executions' or 'both'; full
   * records only). `exec` is valid only during the call. The NDJSON export writes its record from it.
   */
  queryExecution?(exec: Execution, session: number, status: TransactionStatus | null): void;
  /** Any record (messages included, after message()). */
  record(rec: OutRecord): void;
  /** Live capture has caught up with everything captured so far: write out what is complete
   * (output is batched only while more input is waiting). */
  idle?(): void;
  /**
   * A sink that is behind (an export waiting on a slow server) returns a promise: a file source
   * waits for it before reading on. Live capture never waits (it cannot hold the kernel back);
   * such a sink bounds its own queue instead.
   */
  ready?(): Promise<void> | null;
  /** End of input (file end, or live capture stopped). */
  end?(): void | Promise<void>;
}
