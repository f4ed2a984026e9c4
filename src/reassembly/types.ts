/**
 * Reassembly's contract with the PostgreSQL layer: per connection, each direction's bytes in
 * sequence order, each delivery from exactly one frame, with what was skipped before it
 * (gopacket's reassembly.ScatterGather idea: gaps are data, never silently joined over).
 */
import type { TcpSegment } from '../net/segment.js';
import type { Direction } from '../core/direction.js';

export type { Direction };

interface Endpoint {
  ip: string;
  port: number;
}

export interface ConnectionInfo {
  /** Session id: 0-based index of the TCP connection in order of first segment, like tshark's tcp.stream. */
  id: number;
  client: Endpoint;
  server: Endpoint;
  /** How the server side was decided: the SYN's destination, a known server port, or a guess (lower port). */
  serverBy: 'syn' | 'port' | 'guess';
  /** The three-way handshake was seen (the connection's start is in the capture): a SYN or
   * SYN+ACK opened it, or the client's SYN arrived later (then set after open()). */
  sawSyn: boolean;
  startFrame: number;
  startTimeUs: number;
}

/** The FlowTable reuses one Delivery object per direction: read it during data(), never keep it. */
export interface Delivery {
  dir: Direction;
  /** In-order bytes. Valid only during the call: copy what you keep. May be empty when only a gap is reported. */
  bytes: Buffer;
  /**
   * What precedes these bytes in this direction:
   *  0  contiguous with the previous delivery;
   * -1  first delivery of a direction whose start (SYN) was not seen: the stream starts mid-way;
   *  N  N bytes were lost before these bytes (hole that never filled, or snaplen-cut payload).
   */
  skip: number;
  /**
   * Some of these bytes came from a segment whose TCP checksum was wrong, taken because no copy
   * with a correct one came (the receiver's ACK, or the end of waiting): they may not be what
   * was sent. Absent: false.
   */
  unconfirmed?: boolean;
  /** The frame the bytes came from, and its capture time. */
  frame: number;
  timeUs: number;
}

export type EndReason = 'fin' | 'rst' | 'idle' | 'capture-end' | 'port-reuse' | 'limit';

export interface ConnectionEnd {
  reason: EndReason;
  frame: number;
  timeUs: number;
}

/** One per connection, returned by StreamConsumer.open. */
export interface ConnectionSink {
  data(d: Delivery): void;
  /** Called once; no data() after it. All buffered bytes (and gaps) are delivered before. */
  close(end: ConnectionEnd): void;
}

export interface StreamConsumer {
  open(conn: ConnectionInfo): ConnectionSink;
  /**
   * A connection that never delivered a byte (not even a gap) ends: what open(conn).close(end)
   * would do, without making a sink only to close it (a SYN flood's connections all end so).
   * Absent: the flow table does just that.
   */
  closeUnopened?(conn: ConnectionInfo, end: ConnectionEnd): void;
}

export interface FlowTableOptions {
  /** Server ports: decide the server side when the SYN was not seen. Default [5432]. */
  serverPorts: number[];
  /** Out-of-order bytes buffered per direction before the oldest hole is declared lost. */
  maxBufferedPerDirection: number;
  /** Out-of-order bytes buffered over all connections. */
  maxBufferedTotal: number;
  /** Connections kept (open ones, and closed ones remembered until they idle out); past it the least recently active is dropped: closed with reason 'limit' if still open. */
  maxConnections: number;
  /** Bytes of connection state (see limits.ts: CONNECTION_BYTES each, OPENED_CONNECTION_BYTES more while a consumer sink is open); past it the least recently active is dropped as for maxConnections. */
  maxConnectionBytes: number;
  /** Which copy of overlapping bytes not yet delivered is kept: 'last' (as a Linux receiver keeps an in-order segment over data queued out of order) or 'first'. Default 'last'. */
  overlap: 'first' | 'last';
  /** A hole still open after this much capture time is declared lost (µs). */
  holeTimeoutUs: number;
  /** A connection with no segment for this much capture time is closed with reason 'idle' (µs). */
  idleTimeoutUs: number;
}

export interface FlowTableApi {
  segment(seg: TcpSegment): void;
  /** End of capture: deliver what is buffered (holes become gaps) and close every connection. */
  finish(frame: number, timeUs: number): void;
}
