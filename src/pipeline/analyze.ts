/**
 * The whole pipeline in one pass: packet source -> link/IP/TCP -> flow table -> PostgreSQL
 * connection (phases, framing, TLS) -> dissectors -> session -> sink. Push-based and
 * streaming: memory follows the open connections, not the capture's length.
 */
import type { Anomaly } from '../core/anomaly.js';
import { DEFAULT_MEMORY_LIMIT_MB, HeapGuard, memoryBudget, type MemoryBudget } from '../core/budget.js';
import type { Packet } from '../capture/packet.js';
import { readCapture, type CaptureSummary } from '../capture/open.js';
import { TcpDecoder } from '../net/decoder.js';
import { FlowTable } from '../reassembly/index.js';
import type { FlowTableOptions } from '../reassembly/types.js';
import { dissect } from '../../dissectors/dissect.js';
import { SessionRegistry } from '../session/registry.js';
import { SessionTracker, type TrackerOptions } from '../session/tracker.js';
import { SessionInfo } from '../session/session-info.js';
import type { Execution } from '../session/execution.js';
import type { TransactionStatus } from '../session/schema.js';
import { PoolerLegs } from '../session/pooler.js';
import { KeyLog, TlsConnection, DSB_TLS_KEYLOG } from '../pg/tls/index.js';
import { Analyzer } from './analyzer.js';
import { sinkNeeds, takesDirect, takesRecords, type FrameInfo, type OutRecord, type PipelineSink } from './events.js';

const DEFAULT_SERVER_PORT = 5432;
/** Messages whose declared length is larger are skipped (PostgreSQL's own limit is 1 GB; we buffer at most this). */
export const DEFAULT_MAX_MESSAGE = 64 * 1024 * 1024;

export interface AnalyzeOptions {
  /** Server ports besides 5432. */
  ports?: number[];
  showSecrets?: boolean;
  /** Build message records (NDJSON, text, TUI); stats and checks leave it off. Default true. */
  messages?: boolean;
  /** Session and query records. Default true. */
  sessions?: boolean;
  /** Keep DataRow values in query records. */
  keepRows?: boolean;
  /** 'summary': query records for sinks that aggregate them (stats, check); see TrackerOptions.detail. Default 'full'. */
  queryDetail?: 'full' | 'summary';
  /** Summary query records keep their Bind bytes for bound-params.ts boundParams (TrackerOptions.boundBytes). */
  boundBytes?: boolean;
  /** NSS key log file for TLS decryption; `watch` re-reads it as it grows (live capture). */
  keylog?: string | null;
  watchKeylog?: boolean;
  maxMessage?: number;
  /** Name of a stream source in messages (default "standard input"). */
  sourceName?: string;
  reassembly?: Partial<FlowTableOptions>;
  /**
   * The peak resident size to stay under, MB (core/budget.ts; default 512). Each pipeline has its
   * own budget: the CLI runs one, and a pipeline that fails part-way takes its charges with it.
   */
  memoryLimitMb?: number;
  signal?: AbortSignal;
}

export interface AnalyzeSummary {
  packets: number;
  connections: number;
  messages: number;
  anomalies: number;
  capture: CaptureSummary | null;
}

/** The pipeline from packets on; sources (file, live) push into it. */
/**
 * The session layer's hook for finished executions, from what the sink declared (SinkNeeds.queries):
 * true tells the tracker that no query record is to be built.
 */
function executionWriter(sink: PipelineSink): ((exec: Execution, session: number, status: TransactionStatus | null) => boolean) | undefined {
  const way = sinkNeeds(sink).queries;
  if (way === 'none') return () => true;
  if (!takesDirect(way)) return undefined;
  const records = takesRecords(way);
  return (exec, session, status) => {
    sink.queryExecution!(exec, session, status);
    return !records;
  };
}

export class PacketPipeline {
  readonly analyzer: Analyzer;
  /** The memory budget every store of this pipeline draws on (core/budget.ts). */
  readonly budget: MemoryBudget;
  /** Asks V8 for a full collection when its heap outgrows the budget's plan (core/budget.ts). */
  private readonly heap: HeapGuard;
  private readonly decoder: TcpDecoder;
  private readonly flows: FlowTable;
  private readonly keylog: KeyLog;
  private readonly wantFrames: boolean;
  private readonly wantSizes: boolean;
  packets = 0;
  private lastFrame = 0;
  private lastTimeUs = 0;

  constructor(private readonly sink: PipelineSink, opts: AnalyzeOptions = {}) {
    const ports = [DEFAULT_SERVER_PORT, ...(opts.ports ?? [])];
    this.keylog = opts.keylog ? KeyLog.fromFile(opts.keylog, { watch: opts.watchKeylog ?? false }) : KeyLog.empty();
    const registry = new SessionRegistry();
    const pooler = new PoolerLegs();
    const budget = memoryBudget((opts.memoryLimitMb ?? DEFAULT_MEMORY_LIMIT_MB) * 1024 * 1024);
    this.budget = budget;
    this.heap = new HeapGuard(budget.shares.limit);
    const keylog = this.keylog;
    // One for all sessions: made per connection, it and its closures were 600 bytes of each one's allocations.
    const trackerOptions: TrackerOptions | null = opts.sessions === false ? null : {
      keepRows: opts.keepRows ?? false,
      detail: opts.queryDetail ?? 'full',
      boundBytes: opts.boundBytes ?? false,
      showSecrets: opts.showSecrets ?? false,
      registry,
      pooler,
      budget,
      // Responses that pair with no request (protocol-violation), reported as anomaly records.
      anomaly: (a) => this.analyzer.anomaly(a),
      writeExecution: executionWriter(sink),
    };
    this.analyzer = new Analyzer(sink, {
      serverPorts: ports,
      showSecrets: opts.showSecrets ?? false,
      maxMessage: opts.maxMessage ?? DEFAULT_MAX_MESSAGE,
      wantMessages: opts.messages ?? true,
      dissect,
      sessions: trackerOptions === null ? undefined : (conn, emit) => new SessionTracker(conn, emit, trackerOptions),
      // A connection that never carried a byte: its session record, without a tracker (a SYN flood's).
      unopened: trackerOptions === null ? undefined : (conn, end) => {
        pooler.passing(conn);
        sink.record(new SessionInfo().toRecord(conn, end));
      },
      tls: (_conn, onAnomaly) => new TlsConnection(keylog, onAnomaly),
    });
    const onAnomaly = (a: Anomaly): void => this.analyzer.anomaly(a);
    this.decoder = new TcpDecoder(onAnomaly);
    // Out-of-order bytes and connection state draw on the memory limit's shares (core/budget.ts).
    this.flows = new FlowTable(this.analyzer, onAnomaly, {
      maxBufferedTotal: budget.shares.reassembly, maxConnectionBytes: budget.shares.connections, ...opts.reassembly, serverPorts: ports,
    });
    const needs = sinkNeeds(sink);
    this.wantFrames = needs.frames;
    this.wantSizes = needs.packetSizes;
  }

  readonly packet = (p: Packet): void => {
    this.packets++;
    this.heap.packet(p.data.length);
    this.lastFrame = p.frame;
    this.lastTimeUs = p.timeUs;
    this.analyzer.time(p.timeUs);
    const seg = this.decoder.decode(p);
    if (this.wantSizes) this.sink.packetSize!(p.timeUs, p.origLen, seg === null ? -1 : seg.srcPort, seg === null ? -1 : seg.dstPort);
    if (!this.wantFrames) {
      if (seg !== null) this.flows.segment(seg);
      return;
    }
    // The frame is announced before the records it completes. Its session is known only once the
    // flow table has placed the segment: it is filled in then, on the same object the sink got.
    const f: FrameInfo = {
      frame: p.frame, timeUs: p.timeUs, fileOffset: p.fileOffset, length: p.origLen, capLen: p.data.length, data: p.data,
      src: seg ? endpoint(seg.src, seg.srcPort, seg.ipVersion) : null,
      dst: seg ? endpoint(seg.dst, seg.dstPort, seg.ipVersion) : null,
      session: null,
      tcp: seg === null ? null : {
        seq: seg.seq, ack: seg.ack, flags: seg.flags, window: seg.window, payload: seg.payloadEnd - seg.payloadStart + seg.missing,
        note: 0, tlsRecord: looksLikeTls(seg.data, seg.payloadStart, seg.payloadEnd),
      },
    };
    this.sink.frame!(f);
    if (seg !== null) {
      this.flows.segment(seg);
      f.session = this.flows.lastSession;
      f.tcp!.note = this.flows.lastNote;
    }
  };

  /** pcapng Decryption Secrets Blocks carry key logs. */
  readonly secrets = (type: number, data: Buffer): void => {
    if (type === DSB_TLS_KEYLOG) this.keylog.addText(data.toString('utf8'));
  };

  readonly anomaly = (a: Anomaly): void => this.analyzer.anomaly(a);

  /** End of input: flush reassembly (holes become gaps), close every connection, give the sink
   * the source's own last record (live capture's counts) if any, end the sink. */
  async finish(trailer?: () => OutRecord | Promise<OutRecord>): Promise<void> {
    this.flows.finish(this.lastFrame, this.lastTimeUs);
    this.keylog.close();
    // Made after the last records are out, so counts that depend on them (an export's drops) are final.
    if (trailer) this.sink.record(await trailer());
    await this.sink.end?.();
  }
}

/** A TLS record header at the start of a payload (content type 20-23, protocol version 3.x, RFC 8446 5.1): its content type, else 0. */
function looksLikeTls(b: Buffer, start: number, end: number): number {
  if (end - start < 5) return 0;
  const type = b[start] as number;
  return type >= 20 && type <= 23 && b[start + 1] === 3 && (b[start + 2] as number) <= 4 ? type : 0;
}

function endpoint(ip: string, port: number, version: 4 | 6): string {
  return version === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
}

/** Reads a capture file (or "-" / a stream) through the whole pipeline into `sink`. */
export async function analyzeFile(source: string | NodeJS.ReadableStream, sink: PipelineSink, opts: AnalyzeOptions = {}): Promise<AnalyzeSummary> {
  const pipeline = new PacketPipeline(sink, opts);
  const input = source === '-' ? process.stdin : source;
  const ready = sink.ready ? (): Promise<void> | null => sink.ready!() : undefined;
  const capture = await readCapture(input, { packet: pipeline.packet, anomaly: pipeline.anomaly, secrets: pipeline.secrets, ready }, { signal: opts.signal, name: opts.sourceName });
  await pipeline.finish();
  const a = pipeline.analyzer;
  return { packets: pipeline.packets, connections: a.connections, messages: a.messages, anomalies: a.anomalies, capture };
}
