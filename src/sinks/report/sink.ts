/**
 * `pgsniff report`: aggregates a capture (or an NDJSON export) for one HTML page while the
 * pipeline streams. The per-statement figures are `pgsniff stats`'s own (a StatsSink runs
 * inside, with the same normalizer), so the two never disagree; around it this sink keeps
 * what a page of charts needs and stats does not: counts per time bucket (grid.ts, bounded
 * whatever the capture's length), log-bucket latency histograms, the slowest execution of each
 * statement with its parameters, an example per SQLSTATE, a busy-time timeline per session,
 * transactions, N+1 runs, COPY and replication. Every map is capped; past a cap records are
 * counted, not listed, and the page says so.
 */
import type { OutRecord, PipelineSink, AnomalyRecord, CaptureRecord, SinkNeeds } from '../../pipeline/events.js';
import type { QueryRecord, SessionRecord } from '../../session/schema.js';
import { conditionName } from '../../../dissectors/sqlstate.js';
import { boundParams } from '../../session/bound-params.js';
import type { Predicate } from '../../filter/index.js';
import { StatsSink, batchOf, type AggExtra } from '../stats.js';
import { createNormalizer, detach, type Normalizer } from '../stats-normalize.js';
import { BucketArray, LOG_BINS, PER_OCTAVE, TimeGrid, binQuantile, logBin } from './grid.js';
import type { ReportData, ReportExample, ReportSession, ReportStatement, TimelineRow } from './data.js';

/** A session's timeline row while the pass runs: busy µs per column. */
interface HeldRow extends Omit<TimelineRow, 'busy' | 'scaleUs' | 'lo'> {
  busy: BucketArray;
}

/** Time buckets of the charts, and columns of the session timeline. */
export const SERIES_BUCKETS = 1200;
export const TIMELINE_COLUMNS = 300;
/** Sessions with a timeline row of their own; later ones share one row. */
export const MAX_TIMELINE_SESSIONS = 2000;
/** Sessions listed in the sessions table. */
export const MAX_LISTED_SESSIONS = 3000;
/** Statements in the page: the union of the top ones by each ranking. */
export const TOP_PER_RANKING = 50;
/** A run of at least this many executions of one statement in a row, in one session, is an N+1 candidate. */
export const N_PLUS_ONE_RUN = 10;
/** Records taken together (ReportSink.drain): few, as whatever they hold stays alive until then (docs/BENCHMARK.md, session 8). */
const BATCH = 64;
/** Packets taken together (ReportSink.takePackets). */
const PACKETS = 256;
const MAX_N1 = 1000;
const MAX_COPY = 200;
const MAX_ERRORS = 1000;
const EXAMPLE_CHARS = 2000;
const PARAM_CHARS = 200;
/** Parameter text kept for one example, in all. */
const PARAMS_CHARS = 2000;
const MAX_PARAMS = 50;

export interface ReportOptions {
  serverPorts?: number[];
  /**
   * -Y: only the records that match make the report, as `read -Y` prints them: queries (and so
   * statements, errors, charts, transactions, N+1), sessions, and messages (the bytes chart then
   * counts the matching messages' bytes). Anomalies and sessions still count toward the trust
   * line, which is the capture's.
   */
  filter?: Predicate;
  filterText?: string;
}

/** What the caller knows of the input that the records do not say. */
export interface ReportInputInfo {
  source: string;
  input: 'capture' | 'ndjson' | 'live';
  packets?: number | null;
  /** Kernel drops of a live capture (null: unknown). */
  drops?: number | null;
  /** false when the capture file was damaged (decoded up to the damage). */
  captureComplete?: boolean;
  title?: string;
  generator?: string;
}

/**
 * Per statement, what stats does not keep: held on stats's own aggregate (stats.ts AggExtra),
 * so grouped exactly as stats groups, with no lookup of its own.
 */
class Extra implements AggExtra {
  rowsReturned = 0;
  bytesReturned = 0;
  hist: Uint32Array | null = null;
  /** -Infinity, a double like the durations it is compared with (see SessionState). */
  slowMs = -Infinity;
  slow: ReportExample | null = null;

  add(rec: QueryRecord, bin: number, timeUs: number): void {
    this.rowsReturned += rec.rowsReturned;
    this.bytesReturned += rec.bytesReturned;
    if (rec.durationMs === null) return;
    (this.hist ??= new Uint32Array(LOG_BINS))[bin]!++;
    if (rec.durationMs > this.slowMs) this.slowest(rec, timeUs);
  }

  /** A new slowest execution (apart from add(), for the reason query()'s rarer parts are: see ReportSink.serverLeg). */
  private slowest(rec: QueryRecord, timeUs: number): void {
    this.slowMs = rec.durationMs!;
    this.slow = example(rec, timeUs);
  }

  merge(other: AggExtra): void {
    const o = other as Extra;
    this.rowsReturned += o.rowsReturned;
    this.bytesReturned += o.bytesReturned;
    if (o.hist) {
      const h = (this.hist ??= new Uint32Array(LOG_BINS));
      for (let b = 0; b < LOG_BINS; b++) h[b]! += o.hist[b]!;
    }
    if (o.slowMs > this.slowMs) {
      this.slowMs = o.slowMs;
      this.slow = o.slow;
    }
  }
}

/**
 * What the report follows per open session. The times and durations start as doubles (-0): a
 * field that starts as a small integer and later holds a double changes the object's layout,
 * and the optimized code of every function that read it is thrown away and compiled again.
 */
class SessionState {
  busy: BucketArray | null = null;
  /** Past MAX_TIMELINE_SESSIONS: its busy time went to the shared row. */
  other = false;
  inTx = false;
  txStartUs = -0;
  txStatements = 0;
  txFailed = false;
  txFrame = 0;
  /** The batch whose time was last charged to the timeline (a batch is charged once). */
  lastBatch = 0;
  lastKey: string | null = null;
  /** The simple-protocol SQL text lastKey was made from. */
  lastSql: string | null = null;
  run = 0;
  runMs = -0;
  runFrame = 0;
  runSql: string | null = null;
}

interface N1 {
  key: string;
  sql: string | null;
  protocol: QueryRecord['protocol'];
  statement: string | null;
  runs: number;
  longestRun: number;
  executions: number;
  totalMs: number;
  session: number;
  frame: number;
}

export class ReportSink implements PipelineSink {
  /** Bytes per second come from every packet's size. */
  readonly needs: SinkNeeds = { packetSizes: true };
  readonly stats: StatsSink;
  private readonly grid = new TimeGrid(SERIES_BUCKETS);
  private readonly tl = new TimeGrid(TIMELINE_COLUMNS);
  private readonly queries = new BucketArray(SERIES_BUCKETS);
  private readonly errorsSeries = new BucketArray(SERIES_BUCKETS);
  private readonly bytesFe = new BucketArray(SERIES_BUCKETS);
  private readonly bytesBe = new BucketArray(SERIES_BUCKETS);
  private readonly starts = new BucketArray(SERIES_BUCKETS);
  private readonly ends = new BucketArray(SERIES_BUCKETS);
  private bucketHist = new Map<number, Uint32Array>();
  /** The bucket whose histogram was used last (queries come in time order). */
  private histI = NaN;
  private histH: Uint32Array | null = null;
  private readonly latency = new Uint32Array(LOG_BINS);
  private readonly errorExamples = new Map<string, { example: ReportExample | null; message: string | null }>();
  private readonly live = new Map<number, SessionState>();
  private readonly sessionRows: ReportSession[] = [];
  private sessionsNotListed = 0;
  private readonly timelineRows: HeldRow[] = [];
  private readonly otherBusy = new BucketArray(TIMELINE_COLUMNS);
  private otherSessions = 0;
  /** Open sessions holding a timeline row of their own. */
  private busyLive = 0;
  private otherStartUs = Infinity;
  private otherEndUs = -Infinity;
  private readonly n1 = new Map<string, N1>();
  private readonly copy = new Map<string, ReportData['copy'][number]>();
  private readonly replication: ReportData['replication'] = [];
  private readonly tx = { committed: 0, rolledBack: 0, openAtEnd: 0, bins: new Uint32Array(LOG_BINS), longest: [] as ReportData['transactions']['longest'] };
  private readonly anomalies: ReportData['overview']['anomaliesByCode'] = {};
  private anomalyCount = 0;
  private gaps = 0;
  private gapBytes = 0;
  private tlsUndecrypted = 0;
  private gss = 0;
  private unpaired = 0;
  /** Query records built from bytes whose TCP checksum was wrong (badChecksum): the capture's, whatever -Y shows. */
  private badChecksum = 0;
  private sawBytes = false;
  private captureDrops: number | null = null;
  private readonly incompleteBy: Record<string, number> = {};
  /** Past 2^30 a double: one from the start (see SessionState). */
  private bytes = -0;
  /** Under -Y: the bytes of the message records shown. */
  private filteredBytes = 0;
  private frames = 0;
  private firstUs = Infinity;
  private lastUs = -Infinity;
  /** The latest frame's time (a capture), or the latest record's (an NDJSON export): summary query records carry no time of their own. */
  private nowUs = NaN;
  /**
   * Records wait here and are taken in order BATCH at a time (drain()), each with the time of
   * the latest frame when it came. The pipeline's code that emits records (the session
   * tracker's several call sites) then inlines only record()'s push: the report's and stats's
   * per-record code is compiled once, in drain(), instead of into each of those callers (and
   * again at each of their re-optimizations). V8 compiles on the main thread here
   * (cli/engine.ts): docs/BENCHMARK.md, "`pgsniff report` at scale (session 8)".
   */
  private readonly pending: Array<OutRecord | null> = new Array<OutRecord | null>(BATCH).fill(null);
  private readonly pendingUs = new Float64Array(BATCH);
  private waiting = 0;
  /** Packets that wait for takePackets(): time, length, source and destination ports. */
  private readonly packetUs = new Float64Array(PACKETS);
  private readonly packetLength = new Float64Array(PACKETS);
  private readonly packetPorts = new Int32Array(2 * PACKETS);
  private packetsWaiting = 0;
  /** 1 at each server port: looked up per packet. */
  private readonly isServerPort = new Uint8Array(65536);
  /** -Y: the records the report is made of, as `read -Y` would print them (ReportOptions.filter). */
  private readonly filter: Predicate | null;
  private readonly filterText: string | null;
  private recordsSeen = 0;
  private recordsShown = 0;

  constructor(private readonly normalizer: Normalizer, opts: ReportOptions = {}) {
    this.stats = new StatsSink(normalizer);
    for (const p of [5432, ...(opts.serverPorts ?? [])]) if (p >= 0 && p < 65536) this.isServerPort[p] = 1;
    this.filter = opts.filter ?? null;
    this.filterText = opts.filterText ?? null;
    this.grid.onWiden(() => {
      for (const a of [this.queries, this.errorsSeries, this.bytesFe, this.bytesBe, this.starts, this.ends]) a.widen();
      const next = new Map<number, Uint32Array>();
      for (const [i, h] of this.bucketHist) {
        const j = Math.floor(i / 2);
        const into = next.get(j);
        if (into) for (let b = 0; b < LOG_BINS; b++) into[b]! += h[b]!;
        else next.set(j, h);
      }
      this.bucketHist = next;
      this.histI = NaN;
      this.histH = null;
    });
    this.tl.onWiden(() => {
      for (const s of this.live.values()) s.busy?.widen();
      for (const r of this.timelineRows) r.busy.widen();
      this.otherBusy.widen();
    });
  }

  static async create(opts: ReportOptions & { parser?: boolean } = {}): Promise<ReportSink> {
    return new ReportSink(await createNormalizer(opts), opts);
  }

  /**
   * Packets: their time dates the records they complete; their bytes make the bytes-per-second
   * chart. Called for every packet, from the pipeline's per-packet code, into which V8 inlines
   * it: so it only keeps the packet's time, length and ports, and the counts and the chart take
   * them PACKETS at a time (takePackets), compiled on its own (docs/BENCHMARK.md, "`pgsniff
   * report` at scale (session 9)").
   */
  packetSize(timeUs: number, length: number, srcPort: number, dstPort: number): void {
    this.nowUs = timeUs;
    const n = this.packetsWaiting;
    this.packetUs[n] = timeUs;
    this.packetLength[n] = length;
    this.packetPorts[2 * n] = srcPort;
    this.packetPorts[2 * n + 1] = dstPort;
    this.packetsWaiting = n + 1;
    if (n + 1 === PACKETS) this.takePackets();
  }

  /** The packets that wait: the capture's span, and (unfiltered) their bytes by direction. */
  private takePackets(): void {
    const n = this.packetsWaiting;
    this.packetsWaiting = 0;
    this.frames += n;
    for (let k = 0; k < n; k++) {
      const timeUs = this.packetUs[k]!;
      this.bytes += this.packetLength[k]!;
      if (timeUs < this.firstUs) this.firstUs = timeUs;
      if (timeUs > this.lastUs) this.lastUs = timeUs;
      // under -Y the bytes are those of the message records that match (take() below)
      if (this.filter !== null) continue;
      const srcPort = this.packetPorts[2 * k]!;
      const dstPort = this.packetPorts[2 * k + 1]!;
      const toServer = dstPort >= 0 && this.isServerPort[dstPort] === 1;
      if (!toServer && !(srcPort >= 0 && this.isServerPort[srcPort] === 1)) continue;
      this.sawBytes = true;
      (toServer ? this.bytesFe : this.bytesBe).add(this.grid.index(timeUs), this.packetLength[k]!);
    }
  }

  private at(timeUs: number): void {
    this.nowUs = timeUs;
    if (timeUs < this.firstUs) this.firstUs = timeUs;
    if (timeUs > this.lastUs) this.lastUs = timeUs;
  }

  record(rec: OutRecord): void {
    const n = this.waiting;
    this.pending[n] = rec;
    this.pendingUs[n] = this.nowUs;
    this.waiting = n + 1;
    if (n + 1 === BATCH) this.drain();
  }

  /** Takes the records that wait, in the order they came. */
  private drain(): void {
    // the packets first: the first packet anchors the charts' time buckets, as when each was taken as it came
    if (this.packetsWaiting > 0) this.takePackets();
    const pending = this.pending;
    const n = this.waiting;
    // the records that wait are taken before anything else can come (take() never calls record())
    this.waiting = 0;
    const framesUs = this.frames > 0;
    for (let k = 0; k < n; k++) {
      const rec = pending[k]!;
      pending[k] = null;
      // a capture's records are dated by the frame that completed them; an export's by their own times (at())
      if (framesUs) this.nowUs = this.pendingUs[k]!;
      this.take(rec);
    }
  }

  private take(rec: OutRecord): void {
    if (this.filter !== null && rec.kind !== 'capture') {
      // What says whether the numbers can be trusted is the whole capture's, whatever the filter shows.
      if (rec.kind === 'anomaly') this.anomaly(rec as AnomalyRecord);
      else if (rec.kind === 'session') this.sessionTrust(rec as unknown as SessionRecord);
      else if (rec.kind === 'query' && rec.badChecksum === true) this.badChecksum++;
      this.recordsSeen++;
      if (!this.filter(rec)) {
        // its queries that matched still end their runs and transactions; the session itself is not shown
        if (rec.kind === 'session') this.sessionEnded(rec as unknown as SessionRecord, false);
        return;
      }
      this.recordsShown++;
      if (rec.kind === 'anomaly') return;
    }
    switch (rec.kind) {
      case 'query': this.query(rec as unknown as QueryRecord); break;
      case 'session': this.session(rec as unknown as SessionRecord); break;
      case 'anomaly': this.anomaly(rec as AnomalyRecord); break;
      case 'capture': {
        // a live capture's closing figures (also in an NDJSON export of one)
        const c = rec as CaptureRecord;
        this.captureDrops = c.droppedByKernel === null ? null : c.droppedByKernel + (c.droppedByInterface ?? 0) + c.droppedByPgsniff;
        break;
      }
      case 'message':
        // an NDJSON export with message records, or the messages -Y keeps: their bytes by direction
        // (a capture unfiltered gives every packet's instead)
        if ((this.frames === 0 || this.filter !== null) && typeof rec.length === 'number' && rec.time) {
          const t = parseIsoUs(rec.time);
          if (this.frames === 0) this.at(t);
          this.filteredBytes += rec.length + (rec.code === null ? 0 : 1);
          this.sawBytes = true;
          (rec.dir === 'frontend' ? this.bytesFe : this.bytesBe).add(this.grid.index(t), rec.length + (rec.code === null ? 0 : 1));
        }
        break;
    }
  }

  private timeOf(iso: string): number {
    if (iso !== '') {
      const t = parseIsoUs(iso);
      if (this.frames === 0) this.at(t);
      return t;
    }
    return this.nowUs;
  }

  private state(session: number): SessionState {
    let s = this.live.get(session);
    if (s === undefined) {
      s = new SessionState();
      this.live.set(session, s);
    }
    return s;
  }

  query(rec: QueryRecord): void {
    const agg = this.stats.query(rec);
    if (rec.badChecksum === true && this.filter === null) this.badChecksum++;
    if (rec.skipped) return;
    const t = this.timeOf(rec.time);
    if (Number.isNaN(t)) return;
    if (rec.poolerLeg === 'server') {
      this.serverLeg(rec, t);
      return;
    }
    const i = this.grid.index(t);
    this.queries.add(i, 1);
    const d = rec.durationMs;
    const bin = d === null ? 0 : logBin(d);
    if (d !== null) {
      this.latency[bin]!++;
      let h = this.histH;
      if (i !== this.histI || h === null) {
        h = this.bucketHist.get(i) ?? null;
        if (h === null) this.bucketHist.set(i, h = new Uint32Array(LOG_BINS));
        this.histI = i;
        this.histH = h;
      }
      h[bin]!++;
    }
    if (agg !== null) ((agg.extra ??= new Extra()) as Extra).add(rec, bin, t);
    if (rec.incomplete) this.incomplete(rec);
    if (rec.error) this.error(rec, i, t);
    const s = this.state(rec.session);
    if (d !== null) this.busy(s, t - d * 1000, t);
    else this.batched(s, rec, t);
    this.transaction(s, rec, t);
    this.nPlusOne(s, rec);
    if (rec.copy) this.copyOf(rec);
  }

  // What follows a query less often than each time is in methods of its own: V8 then compiles
  // each apart (or inlines it once it has been called), and one that first happens long after
  // query() was optimized does not throw away query()'s optimized code with everything inlined
  // into it (docs/BENCHMARK.md, "`pgsniff report` at scale (session 9)").

  /** A pooler sent it on: the statement counts once, on its client leg (as stats counts it); the server leg's session was busy all the same. */
  private serverLeg(rec: QueryRecord, t: number): void {
    const d = rec.durationMs;
    if (d !== null) this.busy(this.state(rec.session), t - d * 1000, t);
  }

  private incomplete(rec: QueryRecord): void {
    const why = rec.incompleteReason ?? 'unknown';
    this.incompleteBy[why] = (this.incompleteBy[why] ?? 0) + 1;
  }

  private error(rec: QueryRecord, i: number, t: number): void {
    this.errorsSeries.add(i, 1);
    const code = rec.error!.sqlstate ?? '?????';
    if (!this.errorExamples.has(code) && this.errorExamples.size < MAX_ERRORS) {
      this.errorExamples.set(code, { example: example(rec, t), message: rec.error!.message });
    }
  }

  /** Statements answered together: the batch has the time, charged once. */
  private batched(s: SessionState, rec: QueryRecord, t: number): void {
    const b = batchOf(rec);
    if (b !== null && b.durationMs !== null && rec.batch!.id !== s.lastBatch) {
      s.lastBatch = rec.batch!.id;
      this.busy(s, t - b.durationMs * 1000, t);
    }
  }

  /**
   * Charges [fromUs, toUs) to the session's timeline row. Per query: the usual case (a query
   * shorter than a column and within one, no widening) here; anything else in the methods below,
   * apart, so that the first of them, long after this was optimized, does not throw away the
   * optimized code of query(), into which V8 inlines this.
   */
  private busy(s: SessionState, fromUs: number, toUs: number): void {
    const arr = s.busy ?? this.busyRow(s);
    const tl = this.tl;
    const step = tl.stepUs;
    const a = tl.index(fromUs);
    if (tl.index(toUs) === a && tl.stepUs === step) arr.add(a, toUs - fromUs);
    else this.spread(arr, fromUs, toUs);
  }

  /** A session's first timed query: its own row, or past MAX_TIMELINE_SESSIONS the shared one. */
  private busyRow(s: SessionState): BucketArray {
    if (!s.other) {
      if (this.timelineRows.length + this.busyLive < MAX_TIMELINE_SESSIONS) {
        this.busyLive++;
        return (s.busy = new BucketArray(TIMELINE_COLUMNS));
      }
      s.other = true;
    }
    return this.otherBusy;
  }

  /** A query over more than one column (or one that widened the grid): its time split between them. */
  private spread(arr: BucketArray, fromUs: number, toUs: number): void {
    const step = this.tl.stepUs;
    let a = this.tl.index(fromUs);
    const b = this.tl.index(toUs);
    if (this.tl.stepUs !== step) a = this.tl.index(fromUs); // the second call widened the grid
    if (a === b) {
      arr.add(a, toUs - fromUs);
      return;
    }
    for (let k = a; k <= b; k++) {
      const lo = Math.max(fromUs, this.tl.startOf(k));
      const hi = Math.min(toUs, this.tl.startOf(k + 1));
      if (hi > lo) arr.add(k, hi - lo);
      else if (k === a) arr.add(k, 0);
    }
  }

  private transaction(s: SessionState, rec: QueryRecord, t: number): void {
    const status = rec.transactionStatus;
    if (status === 'transaction' || status === 'failed') {
      if (!s.inTx) {
        s.inTx = true;
        s.txStartUs = t - (rec.durationMs ?? 0) * 1000;
        s.txStatements = 0;
        s.txFailed = false;
        s.txFrame = rec.firstFrame;
      }
      s.txStatements++;
      if (status === 'failed') s.txFailed = true;
    } else if (status === 'idle' && s.inTx) {
      this.endTransaction(s, rec, t);
    }
  }

  /** The statement that ended the session's transaction (ReadyForQuery idle after it). */
  private endTransaction(s: SessionState, rec: QueryRecord, t: number): void {
    s.inTx = false;
    s.txStatements++;
    const rolledBack = s.txFailed || rec.error !== null || (rec.command !== null && rec.command.startsWith('ROLLBACK'));
    if (rolledBack) this.tx.rolledBack++;
    else this.tx.committed++;
    const ms = Math.max(0, (t - s.txStartUs) / 1000);
    this.tx.bins[logBin(ms)]!++;
    const longest = this.tx.longest;
    if (longest.length < 20 || ms > longest[longest.length - 1]!.durationMs) {
      longest.push({ session: rec.session, durationMs: round3(ms), statements: s.txStatements, outcome: rolledBack ? 'rolled back' : 'committed', frame: s.txFrame, timeUs: s.txStartUs });
      longest.sort((x, y) => y.durationMs - x.durationMs);
      if (longest.length > 20) longest.pop();
    }
  }

  private nPlusOne(s: SessionState, rec: QueryRecord): void {
    // the same text as the last one has the same key (runKey's blanking of literals is a regular expression)
    const simple = rec.protocol === 'simple';
    const key = simple && rec.sql !== null && rec.sql === s.lastSql ? s.lastKey : runKey(rec);
    s.lastSql = simple ? rec.sql : null;
    if (key !== null && key === s.lastKey) {
      s.run++;
      s.runMs += rec.durationMs ?? 0;
      return;
    }
    this.endRun(s, rec.session);
    s.lastKey = key;
    s.run = 1;
    s.runMs = rec.durationMs ?? 0;
    s.runFrame = rec.firstFrame;
    s.runSql = rec.sql === null ? null : rec.sql.length > EXAMPLE_CHARS ? detach(rec.sql.slice(0, EXAMPLE_CHARS)) : rec.sql;
  }

  private endRun(s: SessionState, session: number): void {
    if (s.lastKey === null || s.run < N_PLUS_ONE_RUN) return;
    let c = this.n1.get(s.lastKey);
    if (c === undefined) {
      if (this.n1.size >= MAX_N1) return;
      c = { key: s.lastKey, sql: s.runSql, protocol: 'extended', statement: null, runs: 0, longestRun: 0, executions: 0, totalMs: 0, session, frame: s.runFrame };
      this.n1.set(s.lastKey, c);
    }
    c.runs++;
    c.executions += s.run;
    c.totalMs += s.runMs;
    if (s.run > c.longestRun) {
      c.longestRun = s.run;
      c.session = session;
      c.frame = s.runFrame;
    }
  }

  private copyOf(rec: QueryRecord): void {
    const copy = rec.copy!;
    const key = (rec.sql ?? '').slice(0, EXAMPLE_CHARS);
    let c = this.copy.get(key);
    if (c === undefined) {
      if (this.copy.size >= MAX_COPY) return;
      c = { sql: detach(key), direction: copy.direction, format: copy.format, calls: 0, bytesIn: 0, bytesOut: 0, rows: 0, failed: 0, totalMs: 0 };
      this.copy.set(c.sql, c);
    }
    c.calls++;
    c.bytesIn += copy.bytesIn;
    c.bytesOut += copy.bytesOut;
    c.rows += rec.rows;
    if (copy.failed !== null || rec.error) c.failed++;
    c.totalMs += rec.durationMs ?? 0;
  }

  session(rec: SessionRecord): void {
    this.stats.session(rec);
    const start = parseIsoUs(rec.start);
    const end = parseIsoUs(rec.end);
    if (this.frames === 0) {
      this.at(start);
      this.at(end);
    }
    this.starts.add(this.grid.index(start), 1);
    this.ends.add(this.grid.index(end), 1);
    if (rec.auth.outcome === 'failure' && rec.auth.error) {
      const code = rec.auth.error.sqlstate ?? '?????';
      if (!this.errorExamples.has(code) && this.errorExamples.size < MAX_ERRORS) {
        this.errorExamples.set(code, {
          message: rec.auth.error.message,
          example: { sql: null, params: [], session: rec.session, frame: rec.frame, firstFrame: rec.startFrame, timeUs: end, durationMs: null, rows: 0, error: 'authentication' },
        });
      }
    }
    if (this.filter === null) this.sessionTrust(rec);
    const s = this.sessionEnded(rec, true);
    const client = endpoint(rec.client);
    const replication = rec.startupParameters.replication ?? null;
    if (replication !== null && this.replication.length < 100) {
      this.replication.push({
        session: rec.session, client, user: rec.user, mode: replication === 'database' ? 'logical' : replication === 'true' || replication === 'on' || replication === '1' ? 'physical' : replication,
        bytesFrontend: rec.frontend.bytes, bytesBackend: rec.backend.bytes, durationMs: round3(rec.durationMs), queries: rec.queries,
      });
    }
    if (rec.cancel !== null) return; // a CancelRequest connection: counted by stats, not a session to chart
    if (this.sessionRows.length < MAX_LISTED_SESSIONS) {
      this.sessionRows.push({
        session: rec.session, client, server: endpoint(rec.server), user: rec.user, database: rec.database, application: rec.applicationName,
        auth: `${rec.auth.method ?? 'not seen'}${rec.auth.mechanism ? ` (${rec.auth.mechanism})` : ''}: ${rec.auth.outcome}`,
        encryption: rec.encryption,
        tls: rec.tls === null ? null : `${rec.tls.version ?? 'TLS'}${rec.tls.cipher ? ` ${rec.tls.cipher}` : ''}${rec.tls.decrypted ? ', decrypted' : ', not decrypted'}`,
        startUs: start, endUs: end, queries: rec.queries, errors: rec.errors,
        bytesFrontend: rec.frontend.bytes, bytesBackend: rec.backend.bytes, endedBy: rec.endedBy, replication,
      });
    } else {
      this.sessionsNotListed++;
    }
    if (s?.busy) this.busyLive--;
    if (s?.other || (!s?.busy && this.timelineRows.length >= MAX_TIMELINE_SESSIONS)) {
      this.otherRow(start, end);
      return;
    }
    // a session with no timed query gets a row with no bars
    this.timelineRows.push({
      session: rec.session, label: `#${rec.session} ${rec.user ?? '?'}@${rec.database ?? '?'} ${client}`,
      user: rec.user ?? '', application: rec.applicationName ?? '', database: rec.database ?? '', client: rec.client.ip,
      startUs: start, endUs: end, busy: s?.busy ?? emptyRow(this.tl.index(start)),
    });
  }

  /** The session's record came: its state ends (N+1 run, open transaction) and is returned; not shown, it gets no timeline row. */
  private sessionEnded(rec: SessionRecord, shown: boolean): SessionState | undefined {
    const s = this.live.get(rec.session);
    if (s === undefined) return undefined;
    this.live.delete(rec.session);
    this.endRun(s, rec.session);
    if (s.inTx) this.tx.openAtEnd++;
    if (!shown && s.busy !== null) this.busyLive--;
    return s;
  }

  /** What a session tells of the capture's completeness. */
  private sessionTrust(rec: SessionRecord): void {
    if (rec.tls !== null && !rec.tls.decrypted) this.tlsUndecrypted++;
    if (rec.encryption === 'gss') this.gss++;
    this.unpaired += rec.unpairedResponses;
  }

  private otherRow(start: number, end: number): void {
    this.otherSessions++;
    this.otherStartUs = Math.min(this.otherStartUs, start);
    this.otherEndUs = Math.max(this.otherEndUs, end);
  }

  private anomaly(rec: AnomalyRecord): void {
    this.anomalyCount++;
    const a = this.anomalies[rec.code];
    if (a) a.count++;
    else this.anomalies[rec.code] = { count: 1, frame: rec.frame, reason: rec.reason.slice(0, 300) };
    if (rec.code === 'gap') {
      this.gaps++;
      this.gapBytes += rec.skipped ?? 0;
    }
  }

  end(): void {
    this.drain();
    // Sessions still open have had their session records (the tracker closes every one at the end);
    // what remains are runs of sessions whose record never came (an NDJSON export cut short).
    for (const [session, s] of this.live) this.endRun(s, session);
  }

  /** The page's data. Call once, after the input has ended. */
  result(info: ReportInputInfo): ReportData {
    this.drain();
    const st = this.stats.report();
    // Only the statements the page lists are built (up to 10,000 with their histograms would be
    // most of this pass's peak memory): ranked by index, in stats's order.
    const qs = st.queries;
    const extras = qs.map((q) => this.stats.extraOf(q.fingerprint) as Extra | null);
    const chosen = new Set<number>();
    for (const f of [(k: number) => qs[k]!.totalMs, (k: number) => qs[k]!.calls, (k: number) => qs[k]!.p95Ms,
      (k: number) => qs[k]!.rows, (k: number) => extras[k]?.bytesReturned ?? 0, (k: number) => qs[k]!.errors]) {
      const order = qs.map((_, k) => k).sort((a, b) => f(b) - f(a));
      for (const k of order.slice(0, TOP_PER_RANKING)) chosen.add(k);
    }
    const statements: ReportStatement[] = [...chosen].sort((a, b) => a - b).map((k) => {
      const { example: _, ...q } = qs[k]!;
      const e = extras[k];
      return {
        ...q,
        rowsReturned: e?.rowsReturned ?? 0, bytesReturned: e?.bytesReturned ?? 0,
        hist: e?.hist ? sparse(e.hist) : [], slowest: e?.slow ?? null,
      };
    });

    const n = this.grid.size;
    const lo = this.grid.lo;
    const p50: Array<number | null> = [];
    const p95: Array<number | null> = [];
    const p99: Array<number | null> = [];
    const queries: number[] = [];
    const errors: number[] = [];
    const fe: number[] = [];
    const be: number[] = [];
    const active: number[] = [];
    let started = 0;
    let ended = 0;
    for (let k = 0; k < n; k++) {
      const i = lo + k;
      queries.push(this.queries.get(i));
      errors.push(this.errorsSeries.get(i));
      const h = this.bucketHist.get(i);
      let total = 0;
      if (h) for (let b = 0; b < LOG_BINS; b++) total += h[b]!;
      p50.push(h ? round3(binQuantile(h, total, 0.5)!) : null);
      p95.push(h ? round3(binQuantile(h, total, 0.95)!) : null);
      p99.push(h ? round3(binQuantile(h, total, 0.99)!) : null);
      fe.push(this.bytesFe.get(i));
      be.push(this.bytesBe.get(i));
      started += this.starts.get(i);
      active.push(started - ended);
      ended += this.ends.get(i);
    }

    const errorsOut = st.errors.map((e) => {
      const ex = this.errorExamples.get(e.sqlstate);
      return { sqlstate: e.sqlstate, condition: conditionName(e.sqlstate), count: e.count, severity: e.severity, message: e.message ?? ex?.message ?? null, example: ex?.example ?? null };
    });

    const rows: TimelineRow[] = this.timelineRows.map(packRow);
    if (this.otherSessions > 0) {
      rows.push(packRow({
        session: null, label: `${this.otherSessions} more sessions`, user: '', application: '', database: '', client: '',
        startUs: this.otherStartUs, endUs: this.otherEndUs, busy: this.otherBusy,
      } as HeldRow));
    }
    const startUs = Number.isFinite(this.firstUs) ? this.firstUs : null;
    const endUs = Number.isFinite(this.lastUs) ? this.lastUs : null;
    const overview: ReportData['overview'] = {
      startUs, endUs,
      packets: info.packets ?? (this.frames > 0 ? this.frames : null),
      bytes: this.filter !== null ? (this.sawBytes ? this.filteredBytes : null) : this.frames > 0 ? this.bytes : null,
      sessions: st.totals.sessions, queries: st.totals.queries, errors: st.totals.errors, skipped: st.totals.skipped,
      incomplete: st.totals.incomplete, rows: st.totals.rows, totalMs: st.totals.totalMs,
      poolerServerLeg: st.totals.poolerServerLeg, rolledBack: st.totals.rolledBack, rollbackUnknown: st.totals.rollbackUnknown, batches: st.totals.batches, batchedQueries: st.totals.batchedQueries,
      incompleteByReason: this.incompleteBy,
      anomalies: this.anomalyCount, anomaliesByCode: this.anomalies,
      gaps: this.gaps, gapBytes: this.gapBytes, badChecksum: this.badChecksum, tlsUndecrypted: this.tlsUndecrypted, gssSessions: this.gss, unpairedResponses: this.unpaired,
      drops: info.drops ?? this.captureDrops, captureComplete: info.captureComplete ?? true,
      trust: { level: 'ok', line: '' },
    };
    overview.trust = trustLine(overview, info.input);
    return {
      meta: {
        title: info.title ?? `pgsniff report: ${info.source}`, source: info.source, input: info.input,
        generator: info.generator ?? 'pgsniff', parser: st.totals.parser, generatedAt: new Date().toISOString(),
        filter: this.filterText === null ? null : { expression: this.filterText, shown: this.recordsShown, records: this.recordsSeen },
      },
      overview,
      series: {
        baseUs: Number.isNaN(this.grid.baseUs) ? 0 : this.grid.baseUs, stepUs: this.grid.stepUs, lo, n,
        queries, errors, p50, p95, p99,
        bytesFrontend: this.sawBytes ? fe : null, bytesBackend: this.sawBytes ? be : null, active,
      },
      latency: { perOctave: PER_OCTAVE, bins: sparse(this.latency) },
      statements,
      statementsNotListed: qs.length - statements.length,
      errors: errorsOut,
      sessions: this.sessionRows,
      sessionsNotListed: this.sessionsNotListed,
      timeline: { baseUs: Number.isNaN(this.tl.baseUs) ? 0 : this.tl.baseUs, stepUs: this.tl.stepUs, lo: this.tl.lo, n: this.tl.size, rows, otherSessions: this.otherSessions },
      transactions: { committed: this.tx.committed, rolledBack: this.tx.rolledBack, openAtEnd: this.tx.openAtEnd, bins: sparse(this.tx.bins), longest: this.tx.longest },
      nPlusOne: [...this.n1.values()]
        .map((c) => ({
          query: c.sql === null ? c.key : this.normalizer.normalize(c.sql).text.slice(0, EXAMPLE_CHARS), example: c.sql,
          runs: c.runs, longestRun: c.longestRun, executions: c.executions, totalMs: round3(c.totalMs), session: c.session, frame: c.frame,
        }))
        .sort((a, b) => b.longestRun - a.longestRun || b.executions - a.executions),
      copy: [...this.copy.values()].map((c) => ({ ...c, totalMs: round3(c.totalMs) })),
      replication: this.replication,
    };
  }
}

/** The same statement again: the SQL text for the extended protocol; for the simple one its text with the literals blanked. */
function runKey(rec: QueryRecord): string | null {
  if (rec.sql === null) return rec.statement === null ? null : '\0' + rec.statement;
  if (rec.protocol !== 'simple' || rec.sql.length > 4000) return rec.sql;
  return rec.sql.replace(/'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b/g, '?');
}

function example(rec: QueryRecord, timeUs: number): ReportExample {
  const params: ReportExample['params'] = [];
  let chars = 0;
  const all = boundParams(rec);
  for (let k = 0; k < all.length && k < MAX_PARAMS && chars < PARAMS_CHARS; k++) {
    const p = all[k]!;
    const v = typeof p.value === 'string' ? p.value : JSON.stringify(p.value) ?? 'null';
    const kept = v.length > PARAM_CHARS ? v.slice(0, PARAM_CHARS) + '…' : v;
    chars += kept.length;
    params.push({ type: p.typeName ?? `oid ${p.oid}`, value: detach(kept) });
  }
  return {
    sql: rec.sql === null ? null : detach(rec.sql.slice(0, EXAMPLE_CHARS)), params, session: rec.session, frame: rec.frame,
    firstFrame: rec.firstFrame, timeUs, durationMs: rec.durationMs, rows: rec.rows,
    error: rec.error ? `${rec.error.sqlstate ?? '?'}: ${rec.error.message ?? ''}`.slice(0, 500) : null,
  };
}

function trustLine(o: ReportData['overview'], input: ReportInputInfo['input']): ReportData['overview']['trust'] {
  const bad: string[] = [];
  const warn: string[] = [];
  if (o.drops !== null && o.drops > 0) bad.push(`${o.drops} packets dropped by the kernel`);
  if (o.gaps > 0) bad.push(`${o.gaps} gaps in the TCP streams (${o.gapBytes} bytes never seen)`);
  if (o.badChecksum > 0) bad.push(`${o.badChecksum} query record${o.badChecksum === 1 ? '' : 's'} built from bytes with a wrong TCP checksum (what ${o.badChecksum === 1 ? 'it says' : 'they say'} could not be verified)`);
  if (!o.captureComplete) bad.push('the capture file is damaged (decoded up to the damage)');
  if (o.tlsUndecrypted > 0) warn.push(`${o.tlsUndecrypted} TLS sessions not decrypted (their queries are not counted)`);
  if (o.gssSessions > 0) warn.push(`${o.gssSessions} GSS-encrypted sessions (not decodable)`);
  if (o.incomplete > 0) {
    const why = Object.entries(o.incompleteByReason).map(([r, n]) => `${n} ${r === 'gap' ? 'after lost bytes' : r === 'connection-end' ? 'cut off by the end of the connection or capture' : r === 'limit' ? 'pushed out by a limit' : r}`).join(', ');
    warn.push(`${o.incomplete} query records may not be right (${why})`);
  }
  if (o.rollbackUnknown > 0) warn.push(`${o.rollbackUnknown} statements whose transaction's end was not seen (whether a rollback undid them is not known)`);
  if (o.unpairedResponses > 0) warn.push(`${o.unpairedResponses} responses with no request seen`);
  const other = Object.entries(o.anomaliesByCode).filter(([c]) => c !== 'gap' && c !== 'tls-undecryptable').reduce((n, [, a]) => n + a.count, 0);
  if (other > 0) warn.push(`${other} other anomalies`);
  if (input === 'live' && o.drops === null) warn.push('kernel drops unknown');
  const level = bad.length > 0 ? 'bad' : warn.length > 0 ? 'warn' : 'ok';
  const line = level === 'ok'
    ? 'Complete: no drops, no gaps, every session decoded.'
    : `${level === 'bad' ? 'Incomplete' : 'Mostly complete'}: ${[...bad, ...warn].join('; ')}.`;
  return { level, line };
}

/** The row of a session with no timed query: no bars, starting at its start's column. */
function emptyRow(lo: number): BucketArray {
  const a = new BucketArray(TIMELINE_COLUMNS);
  a.lo = lo;
  return a;
}

function packRow(r: HeldRow): TimelineRow {
  const { busy: held, ...rest } = r;
  const busyUs = held.values();
  let scale = 0;
  for (const v of busyUs) if (v > scale) scale = v;
  let busy = '';
  for (const v of busyUs) busy += scale > 0 ? Math.round((35 * v) / scale).toString(36) : '0';
  return { ...rest, lo: held.lo, busy: busy.replace(/0+$/, ''), scaleUs: scale };
}

function sparse(h: Uint32Array): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let b = 0; b < h.length; b++) if (h[b]! > 0) out.push([b, h[b]!]);
  return out;
}

function endpoint(e: { ip: string; port: number }): string {
  return e.ip.includes(':') ? `[${e.ip}]:${e.port}` : `${e.ip}:${e.port}`;
}

/** Microseconds since the epoch of the records' ISO 8601 times (src/core/time.ts isoTime); NaN when not one. */
export function parseIsoUs(s: string): number {
  const ms = Date.parse(s.slice(0, 19) + 'Z');
  const frac = s.charCodeAt(19) === 46 ? Number((s.slice(20, 26) + '000000').slice(0, 6)) : 0;
  return ms * 1000 + frac;
}

function round3(x: number): number {
  return Math.round(x * 1000) / 1000;
}
