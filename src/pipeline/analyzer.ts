/**
 * The PostgreSQL half of the pipeline: takes reassembled connections (a StreamConsumer for the
 * flow table), runs each through src/pg (phases, framing, TLS), the dissectors and the session
 * layer, and hands records to the sink. Knows nothing of where packets come from.
 */
import type { Anomaly } from '../core/anomaly.js';
import type { Direction } from '../core/direction.js';
import type { ConnectionEnd, ConnectionInfo, ConnectionSink, StreamConsumer } from '../reassembly/types.js';
import type { DecodedMessage, RawMessage } from '../../dissectors/types.js';
import type { TlsSummary } from '../pg/tls/summary.js';
import { PgConnection, type Dissect, type PgConnectionOptions, type PgObserver, type TlsHandler, type TypeSource } from '../pg/connection.js';
import { sinkNeeds, takesDirect, takesRecords, type PipelineSink, type OutRecord } from './events.js';
import { anomalyRecord, messageRecord } from './records.js';

/** What the analyzer needs of the session layer (src/session's SessionTracker). */
interface SessionTrackerLike extends TypeSource {
  message(raw: RawMessage, decode: () => DecodedMessage): void;
  tls?(info: TlsSummary): void;
  encryption?(kind: 'gss'): void;
  anomaly(a: Anomaly): void;
  /** Bytes of direction `dir` were lost or could not be framed (PgObserver.lost). */
  lost?(dir: Direction): void;
  /** The next message of direction `dir` holds bytes from a segment with a wrong TCP checksum (PgObserver.unconfirmed). */
  unconfirmed?(dir: Direction): void;
  close(end: ConnectionEnd): void;
}

type SessionFactory = (conn: ConnectionInfo, emit: (rec: OutRecord) => void) => SessionTrackerLike;

interface TlsInfoSource extends TlsHandler {
  info(): TlsSummary;
}

interface AnalyzerOptions {
  serverPorts: number[];
  showSecrets: boolean;
  /** Messages whose declared length is over this are skipped with an anomaly. */
  maxMessage: number;
  /** Build message records (NDJSON, text, TUI). Off for stats and checks, which need only query and session records. */
  wantMessages: boolean;
  dissect: Dissect;
  sessions?: SessionFactory;
  /** Writes the session record of a connection that carried no byte (what a new tracker's close() would write). */
  unopened?: (conn: ConnectionInfo, end: ConnectionEnd) => void;
  tls?: (conn: ConnectionInfo, onAnomaly: (reason: string, frame: number, dir: Direction) => void) => TlsInfoSource | null;
}

export class Analyzer implements StreamConsumer {
  /** The time of the latest packet (dates anomalies not tied to one). */
  lastTimeUs = 0;
  /** PostgreSQL connections seen (for summaries). */
  connections = 0;
  messages = 0;
  anomalies = 0;
  /** Stretches of TCP payload never seen (gap anomalies) and their bytes: what a live capture lost. */
  gaps = 0;
  gapBytes = 0;

  /** Where every session's records go (one function for all: not a closure per connection). */
  readonly emit: (rec: OutRecord) => void;
  /** What every PgConnection is made with, on a server port and elsewhere (shared, not one per connection). */
  readonly pgOnServerPort: PgConnectionOptions;
  readonly pgElsewhere: PgConnectionOptions;

  constructor(private readonly sink: PipelineSink, private readonly opts: AnalyzerOptions) {
    this.emit = (rec: OutRecord): void => sink.record(rec);
    const pg = { showSecrets: opts.showSecrets, maxMessage: opts.maxMessage, dissect: opts.dissect };
    this.pgOnServerPort = { ...pg, onServerPort: true };
    this.pgElsewhere = { ...pg, onServerPort: false };
  }

  /** Counts an anomaly (gaps also by their bytes) and hands its record to the sink: from before the PostgreSQL layer (capture, link/IP/TCP, reassembly) and from each connection. */
  anomaly(a: Anomaly): void {
    this.anomalies++;
    if (a.code === 'gap') {
      this.gaps++;
      this.gapBytes += a.skipped ?? 0;
    }
    this.sink.record(anomalyRecord(a, this.lastTimeUs));
  }

  /** The time of the latest packet, for records not tied to one. */
  time(timeUs: number): void {
    this.lastTimeUs = timeUs;
  }

  open(conn: ConnectionInfo): ConnectionSink {
    return new ConnectionObserver(this, this.sink, this.opts, conn).pg;
  }

  /**
   * A connection that carried no byte ends (StreamConsumer.closeUnopened): what its PgConnection
   * would do, without making one. One whose start was seen, or on a server port, is taken for
   * PostgreSQL and gets its session record; one seen mid-way elsewhere was still on probation
   * and is nothing (PgConnection: 'probation' ends 'rejected').
   */
  closeUnopened(conn: ConnectionInfo, end: ConnectionEnd): void {
    if (!conn.sawSyn && !this.opts.serverPorts.includes(conn.server.port)) return;
    this.connections++;
    this.opts.unopened?.(conn, end);
  }

}

/**
 * One connection's observer: its PgConnection's messages go to the sink and the session
 * tracker. A class rather than closures per connection, so the calls from src/pg stay
 * monomorphic across thousands of connections.
 */
class ConnectionObserver implements PgObserver {
  readonly pg: PgConnection;
  private tracker: SessionTrackerLike | null = null;
  private tls: TlsInfoSource | null = null;
  private counted = false;
  private encryptedTls = false;
  private tlsHandshakeUnseen = false;
  /** Losses before the first message made the tracker (bits: 1 frontend, 2 backend), told to it then. */
  private lostBeforeTracker = 0;
  /** What the sink takes of each message (SinkNeeds.messages), when messages are made at all. */
  private readonly rawMessages: boolean;
  private readonly messageRecords: boolean;

  constructor(
    private readonly analyzer: Analyzer, private readonly sink: PipelineSink, private readonly opts: AnalyzerOptions,
    private readonly conn: ConnectionInfo,
  ) {
    const way = sinkNeeds(sink).messages;
    this.rawMessages = opts.wantMessages && takesDirect(way);
    this.messageRecords = opts.wantMessages && takesRecords(way);
    this.pg = new PgConnection(conn, this, opts.serverPorts.includes(conn.server.port) ? analyzer.pgOnServerPort : analyzer.pgElsewhere);
  }

  tlsHandler(c: ConnectionInfo): TlsHandler | null {
    const make = this.opts.tls;
    if (!make) return null;
    const analyzer = this.analyzer;
    this.tls = make(c, (reason, frame, dir) =>
      analyzer.anomaly({ code: 'tls-undecryptable', reason, frame, timeUs: analyzer.lastTimeUs, session: c.id, dir }));
    return this.tls;
  }

  private ensureTracker(): SessionTrackerLike | null {
    if (!this.counted) {
      this.counted = true;
      this.analyzer.connections++;
    }
    if (this.tracker === null && this.opts.sessions) {
      this.tracker = this.opts.sessions(this.conn, this.analyzer.emit);
      this.pg.setTypeSource(this.tracker);
      if ((this.lostBeforeTracker & 1) !== 0) this.tracker.lost?.('frontend');
      if ((this.lostBeforeTracker & 2) !== 0) this.tracker.lost?.('backend');
    }
    return this.tracker;
  }

  message(raw: RawMessage, decode: () => DecodedMessage): void {
    this.analyzer.messages++;
    const t = this.ensureTracker();
    const sink = this.sink;
    const tls = this.tls !== null;
    if (this.rawMessages) sink.rawMessage!(this.conn.id, raw, decode, this.pg.ctx, tls);
    if (this.messageRecords) {
      const decoded = decode();
      const rec = messageRecord(this.conn.id, raw, decoded, tls);
      sink.message?.(rec, raw, decoded);
      sink.record(rec);
    }
    t?.message(raw, decode);
  }

  anomaly(a: Anomaly): void {
    if (a.code !== 'not-postgresql') this.ensureTracker()?.anomaly(a);
    this.analyzer.anomaly(a);
  }

  lost(dir: Direction): void {
    if (this.tracker !== null) this.tracker.lost?.(dir);
    else if (dir === 'frontend') this.lostBeforeTracker |= 1;
    else this.lostBeforeTracker |= 2;
  }

  unconfirmed(dir: Direction): void {
    this.ensureTracker()?.unconfirmed?.(dir);
  }

  encrypted(kind: 'tls' | 'gss', _frame: number, handshakeSeen = true): void {
    const t = this.ensureTracker();
    if (kind === 'gss') t?.encryption?.('gss');
    else {
      this.encryptedTls = true;
      if (!handshakeSeen) this.tlsHandshakeUnseen = true;
    }
  }

  close(end: ConnectionEnd): void {
    const t = this.ensureTracker();
    const tls = this.tls;
    if (tls) {
      // The decryptor reports its own notes (no key, wrong key) as anomalies when they happen.
      t?.tls?.(tls.info());
    } else if (this.encryptedTls) {
      const unseen: TlsSummary = { version: null, cipher: null, sni: null, alpn: null, decrypted: false };
      t?.tls?.(this.tlsHandshakeUnseen
        ? { ...unseen, note: 'the TLS handshake was not captured (the capture began inside the session): it cannot be decrypted' }
        : unseen);
    }
    t?.close(end);
  }
}
