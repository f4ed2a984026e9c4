/**
 * The PostgreSQL half of the pipeline: takes reassembled connections (a StreamConsumer for the
 * flow table), runs each through src/pg (phases, framing, TLS), the dissectors and the session
 * layer, and hands records to the sink. Knows nothing of where packets come from.
 */
import type { Anomaly } from '../core/anomaly.js';
import type { Direction } from '../core/direction.js';
import type { ConnectionEnd, ConnectionInfo, ConnectionSink, StreamConsumer } from '../reassembly/types.js';
import type { DecodedMessage, RawMessage } from '../../dissectors/types.js';
import { PgConnection, type Dissect, type TlsHandler, type TypeSource } from '../pg/connection.js';
import type { PipelineSink, OutRecord } from './events.js';
import { anomalyRecord, messageRecord } from './records.js';

/** What the analyzer needs of the session layer (src/session's SessionTracker). */
export interface SessionTrackerLike extends TypeSource {
  message(raw: RawMessage, decode: () => DecodedMessage): void;
  tls?(info: TlsSummary): void;
  encryption?(kind: 'gss'): void;
  anomaly(a: Anomaly): void;
  close(end: ConnectionEnd): void;
}

export interface TlsSummary {
  decrypted: boolean; version?: string; cipher?: string; sni?: string; alpn?: string; alpnOffered?: string[];
  certSubject?: string | null; encryptedBytes?: { frontend: number; backend: number }; note?: string | null;
}

export type SessionFactory = (conn: ConnectionInfo, emit: (rec: OutRecord) => void) => SessionTrackerLike;

export interface TlsInfoSource extends TlsHandler {
  info(): {
    version: string | null; cipher: string | null; sni: string | null; alpn: string | null; alpnOffered?: string[];
    certSubject: string | null; encryptedBytes: { frontend: number; backend: number }; decrypted: boolean; note: string | null;
  };
}

export interface AnalyzerOptions {
  serverPorts: number[];
  showSecrets: boolean;
  /** Messages whose declared length is over this are skipped with an anomaly. */
  maxMessage: number;
  /** Build message records (NDJSON, text, TUI). Off for stats and checks, which need only query and session records. */
  wantMessages: boolean;
  dissect: Dissect;
  sessions?: SessionFactory;
  tls?: (conn: ConnectionInfo, onAnomaly: (reason: string, frame: number, dir: Direction) => void) => TlsInfoSource | null;
}

export class Analyzer implements StreamConsumer {
  private lastTimeUs = 0;
  /** PostgreSQL connections seen (for summaries). */
  connections = 0;
  messages = 0;
  anomalies = 0;
  /** Stretches of TCP payload never seen (gap anomalies) and their bytes: what a live capture lost. */
  gaps = 0;
  gapBytes = 0;

  constructor(private readonly sink: PipelineSink, private readonly opts: AnalyzerOptions) {}

  /** Anomalies from before the PostgreSQL layer (capture file, link/IP/TCP, reassembly). */
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
    const { sink, opts } = this;
    const emit = (rec: OutRecord): void => sink.record(rec);
    let tracker: SessionTrackerLike | null = null;
    let tls: TlsInfoSource | null = null;
    let counted = false;
    let encryptedTls = false;
    const ensureTracker = (): SessionTrackerLike | null => {
      if (!counted) {
        counted = true;
        this.connections++;
      }
      if (tracker === null && opts.sessions) {
        tracker = opts.sessions(conn, emit);
        pg.setTypeSource(tracker);
      }
      return tracker;
    };
    const pg: PgConnection = new PgConnection(conn, {
      message: (raw, decode) => {
        this.messages++;
        const t = ensureTracker();
        if (opts.wantMessages && (sink.rawMessage === undefined || !sink.rawMessage(conn.id, raw, decode, pg.ctx, tls !== null))) {
          const decoded = decode();
          const rec = messageRecord(conn.id, raw, decoded, tls !== null);
          sink.message?.(rec, raw, decoded);
          sink.record(rec);
        }
        t?.message(raw, decode);
      },
      anomaly: (a) => {
        this.anomalies++;
        if (a.code !== 'not-postgresql') ensureTracker()?.anomaly(a);
        sink.record(anomalyRecord(a, this.lastTimeUs));
      },
      encrypted: (kind) => {
        const t = ensureTracker();
        if (kind === 'gss') t?.encryption?.('gss');
        else encryptedTls = true;
      },
      close: (end: ConnectionEnd) => {
        const t = ensureTracker();
        if (tls) {
          const i = tls.info();
          // The decryptor reports its own notes (no key, wrong key) as anomalies when they happen.
          t?.tls?.({
            decrypted: i.decrypted, version: i.version ?? undefined, cipher: i.cipher ?? undefined, sni: i.sni ?? undefined,
            alpn: i.alpn ?? undefined, alpnOffered: i.alpnOffered, certSubject: i.certSubject, encryptedBytes: i.encryptedBytes, note: i.note,
          });
        } else if (encryptedTls) {
          t?.tls?.({ decrypted: false });
        }
        t?.close(end);
      },
    }, {
      showSecrets: opts.showSecrets,
      maxMessage: opts.maxMessage,
      onServerPort: opts.serverPorts.includes(conn.server.port),
      dissect: opts.dissect,
      tls: opts.tls
        ? (c) => {
          tls = opts.tls!(c, (reason, frame, dir) =>
            this.anomaly({ code: 'tls-undecryptable', reason, frame, timeUs: this.lastTimeUs, session: c.id, dir }));
          return tls;
        }
        : undefined,
    });
    return pg;
  }
}
