/**
 * Anomalies: every byte or packet the pipeline cannot decode surfaces as one of these,
 * with the frame it was found in, and decoding goes on (DESIGN.md, "A byte the pipeline
 * cannot decode is never silently dropped").
 */

/** Stable codes that callers and tests branch on; the `reason` text is for people. */
export type AnomalyCode =
  // capture files and link layer
  | 'capture-truncated'      // the file ends inside a record
  | 'capture-corrupt'        // a record or block header that cannot be right (bad length, bad magic)
  | 'unsupported-link-type'
  | 'packet-truncated'       // snaplen cut the packet
  | 'capture-dropped'        // live: pgsniff fell too far behind the capture process and dropped captured packets
  | 'malformed-packet'       // link / IP / TCP header does not fit
  | 'ip-fragment'            // IP fragments are reported, not reassembled
  // reassembly
  | 'gap'                    // bytes lost in a direction (hole that never filled, truncated payload)
  | 'mid-stream'             // the start of a direction was not seen
  | 'buffer-limit'           // an out-of-order buffer cap was reached; oldest data flushed
  | 'connection-limit'       // too many open connections; the idlest was expired
  | 'bad-checksum'           // a segment with a wrong TCP checksum in a direction whose checksums are verified: ignored
  | 'rst-ignored'            // a RST a receiver would not take (not at the expected sequence number): ignored
  | 'overlap-mismatch'       // two copies of the same TCP bytes differ (one is kept: see the overlap policy)
  | 'time-jump'              // a lone timestamp far from the packets around it, not used for timeouts
  // PostgreSQL
  | 'malformed-message'      // a body that does not match its documented format
  | 'unknown-message'        // a type byte not valid for the direction and phase
  | 'message-too-large'      // declared length beyond the configured limit
  | 'resync'                 // bytes skipped to find the next plausible message boundary
  | 'not-postgresql'         // a flow on a PostgreSQL port that does not speak the protocol
  | 'tls-undecryptable'      // TLS without keys for it, or a record that fails to decrypt
  | 'protocol-violation'     // a valid message where the protocol does not allow it
  // session layer
  | 'row-limit'              // keepRows: DataRows past the kept-row cap were counted, their values not kept
  | 'request-limit'          // too many requests waiting for an answer: the oldest reported incomplete
  | 'statement-limit'        // too many prepared statements or portals kept: the oldest forgotten
  | 'memory-limit';          // the process-wide session budget is spent: the oldest requests, statements, portals, waiting query records of any session given up

export interface Anomaly {
  code: AnomalyCode;
  /** One sentence for people. */
  reason: string;
  /** 1-based frame number, or null when the anomaly is not tied to a frame (end of file). */
  frame: number | null;
  /** Capture time in microseconds since the epoch, when known. */
  timeUs: number | null;
  /** Session id (TCP connection index), when the anomaly belongs to one. */
  session: number | null;
  /** Direction, when it belongs to one direction of a session. */
  dir?: 'frontend' | 'backend';
  /** How many bytes were skipped or lost, when that is what happened. */
  skipped?: number;
}

export type AnomalyHandler = (a: Anomaly) => void;
