/**
 * Reassembly limits and how pgsniff degrades at each one. This block is written to be quoted
 * by the README; every number is a FlowTableOptions default unless marked internal.
 *
 * - serverPorts [5432]: when a connection's handshake was not captured, a port in this list
 *   marks the server side; with no SYN and no listed port the lower port is taken as the
 *   server (ConnectionInfo.serverBy says which rule decided). The side is decided once, at
 *   the connection's first segment, and never revised: a wrong guess shows up downstream as
 *   the directions being swapped, which the PostgreSQL layer can detect from the messages.
 * - maxBufferedPerDirection 4 MiB: out-of-order bytes held for one direction while waiting
 *   for a hole to fill. Past it, the lowest hole is declared lost: the bytes after it are
 *   delivered with skip = hole size, and 'buffer-limit' plus 'gap' anomalies are raised.
 * - maxBufferedTotal 64 MiB: the same over all connections. Past it, the direction whose
 *   oldest hole has waited longest gives up that hole first, with the same anomalies.
 * - maxConnections 100000 and maxConnectionBytes 78 MiB: connections remembered (open ones, and
 *   closed ones kept for port reuse detection until they idle out), counted and charged in bytes
 *   (CONNECTION_BYTES each for the TCP state, OPENED_CONNECTION_BYTES more while the consumer's
 *   sink, the PostgreSQL and session state, is open; 78 MiB is the connections' share of the
 *   default 512 MB memory limit). A connection's sink is opened at its first byte, so one that
 *   never carries a byte (a SYN flood, a port scan) costs only its TCP state. Opening one more
 *   past either limit evicts the least recently active: a closed one silently, an open one
 *   closed with reason 'limit' and a 'connection-limit' anomaly after its buffered bytes (and
 *   gaps) were delivered.
 * - holeTimeoutUs 5 s of capture time: a direction whose lowest hole has made no progress for
 *   this long gives it up as a 'gap' (checked on every segment, O(1): the waiting directions
 *   are kept in a list ordered by when their hole opened).
 * - idleTimeoutUs 10 min of capture time: a connection with no segment for this long is closed
 *   with reason 'idle' (closed connections are forgotten after the same time). Checked at most
 *   once per second of capture time, walking only the expired end of a least-recently-active
 *   list, so the cost is proportional to what expires, never to the table size.
 * - internal: each buffered out-of-order piece is charged CHUNK_OVERHEAD bytes on top of its
 *   payload, so a flood of 1-byte segments cannot hold more memory than the caps say.
 * - internal: a FIN seen in both directions while a hole remains closes the connection at the
 *   next segment of that connection (one segment of grace for a reordered last segment), or
 *   earlier if the hole fills, turning what is still missing into gaps.
 * - internal: time is capture time, never the wall clock: a clock advanced by the timestamps'
 *   forward steps. A step of more than TIME_JUMP_US (5 s) either way is followed only when the
 *   next packet is nearer the new time than the old one (a real pause, a capture resumed, or
 *   sparse traffic); a packet far from both is the outlier itself; a lone far timestamp
 *   (in 2106, or in 1970) is a 'time-jump' anomaly and moves no timeout, so it can neither
 *   expire every hole and connection at once nor stop the timeouts for the rest of the capture.
 */
import type { FlowTableOptions } from './types.js';

export const DEFAULT_FLOW_TABLE_OPTIONS: Readonly<FlowTableOptions> = Object.freeze({
  serverPorts: [5432],
  maxBufferedPerDirection: 4 * 1024 * 1024,
  maxBufferedTotal: 64 * 1024 * 1024,
  maxConnections: 100_000,
  maxConnectionBytes: 78 * 1024 * 1024,
  overlap: 'last',
  holeTimeoutUs: 5_000_000,
  idleTimeoutUs: 600_000_000,
});

/**
 * What a connection is charged against maxConnectionBytes: its TCP state (the flow table entry,
 * both directions; also what a closed connection remembered for port reuse keeps), and on top of
 * it, while the consumer's sink is open (PostgreSQL framing and phase, session state), the
 * sink's. Measured on Node.js 20 (heap after a full GC, divided by the connections: 100,000
 * SYN-only connections 1.24 KB each, 120,000 startup-only ones 4.3 KB each); rounded up.
 */
export const CONNECTION_BYTES = 1_400;
export const OPENED_CONNECTION_BYTES = 3_200;

/** Bytes charged per buffered piece on top of its payload (object, Buffer and array slot). */
export const CHUNK_OVERHEAD = 256;

/** A timestamp step larger than this (either way) is believed only when the next packet confirms it. */
export const TIME_JUMP_US = 5_000_000;

/** Capture time between two idle sweeps. */
export const SWEEP_INTERVAL_US = 1_000_000;
