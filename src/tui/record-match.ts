/**
 * The display filter over the queries and sessions views. The index keeps a few fields of each
 * query record, not the record: to match `params.value == 42` or `pgsql.statement == "s1"` as
 * `-Y` does, the capture file is read again in the background into a sink that applies the
 * filter to the real query and session records (the pipeline is deterministic, so its N-th query
 * record is the index's query N; each match is checked against the index's frames, and one that
 * does not agree is counted and said). A query is shown when its record matches; a session when
 * its session record or one of its queries does. Live capture keeps no file to read again: there
 * the filter reads the query fields the index keeps (session, frames, sql, durationMs, rows,
 * error), and the views say so.
 */
import { compileFilter, type Predicate } from '../filter/index.js';
import { analyzeFile, type AnalyzeOptions } from '../pipeline/analyze.js';
import type { OutRecord, PipelineSink, SinkNeeds } from '../pipeline/events.js';
import { queryRecord } from './frame-filter.js';
import { u32, type Column } from './grow.js';
import type { TuiStore } from './store.js';

type MatchState = 'off' | 'waiting' | 'running' | 'done' | 'failed' | 'live';

/** Live: queries matched per draw. */
const LIVE_SLICE = 20_000;

export class RecordMatch {
  expr = '';
  state: MatchState = 'off';
  /** Why the pass failed (state 'failed'). */
  error = '';
  private pred: Predicate | null = null;
  /** Matching query indices, ascending. */
  private rows: Column<Uint32Array> = u32(16);
  readonly sessions = new Set<number>();
  /** Matches whose record did not line up with the index's query of the same number. */
  mismatched = 0;
  /** Frame number the pass has reached (its progress against the index's last frame). */
  private reached = 0;
  private scannedLive = 0;
  private abort: AbortController | null = null;

  constructor(private readonly store: TuiStore, private readonly capture: string | null, private readonly analyze: AnalyzeOptions,
    private readonly changed: () => void) {}

  /** A new display filter ('' clears it); the pass starts when a view first needs it. */
  set(expr: string): void {
    const pred = expr.trim() === '' ? null : compileFilter(expr);
    this.abort?.abort();
    this.abort = null;
    this.expr = expr;
    this.pred = pred;
    this.rows = u32(16);
    this.sessions.clear();
    this.mismatched = 0;
    this.reached = 0;
    this.scannedLive = 0;
    this.error = '';
    this.state = pred === null ? 'off' : this.capture === null ? 'live' : 'waiting';
  }

  /** Called by the views as they draw: starts the file pass, or matches the live queries that arrived. */
  ensure(): void {
    if (this.state === 'waiting') this.start();
    else if (this.state === 'live') this.stepLive();
  }

  /** Stops a pass (the UI quits). */
  stop(): void {
    this.abort?.abort();
  }

  get active(): boolean {
    return this.state !== 'off';
  }

  /** Matching queries among the first `loaded` (the pass may be ahead of the load). */
  count(loaded: number): number {
    let lo = 0;
    let hi = this.rows.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.rows.get(mid) < loaded) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The pos-th matching query. */
  at(pos: number): number {
    return this.rows.get(pos);
  }

  /** Whether session `id` is shown. */
  hasSession(id: number): boolean {
    return this.sessions.has(id);
  }

  /** The state in a few words for a view's title: '' when done and exact. */
  note(): string {
    const miss = this.mismatched > 0 ? `, ${this.mismatched} matched records did not line up with the index and are left out` : '';
    switch (this.state) {
      case 'waiting': case 'running': {
        const total = this.store.frameCount;
        return `matching records ${total > 0 ? `${Math.min(99, Math.floor((100 * this.reached) / total))}%` : '…'}${miss}`;
      }
      case 'failed': return `matching stopped: ${this.error}`;
      case 'live': return 'live: on the fields the index keeps (session, frames, sql, durationMs, rows, error)';
      default: return miss.slice(2);
    }
  }

  private start(): void {
    const pred = this.pred;
    const capture = this.capture;
    if (pred === null || capture === null) return;
    this.state = 'running';
    const ac = new AbortController();
    this.abort = ac;
    let qi = 0;
    const store = this.store;
    const sink: PipelineSink = {
      needs: { messages: 'none', queries: 'records' } satisfies SinkNeeds,
      record: (rec: OutRecord) => {
        if (ac.signal.aborted) return;
        if (typeof rec.frame === 'number' && rec.frame > this.reached) this.reached = rec.frame;
        if (rec.kind === 'query') {
          const q = qi++;
          let hit = false;
          try { hit = pred(rec); } catch { hit = false; }
          if (!hit) return;
          const r = rec as unknown as Record<string, unknown>;
          const last = typeof r.lastFrame === 'number' ? r.lastFrame : rec.frame;
          if (q < store.queryCount && store.qEndFrame.get(q) !== last) { this.mismatched++; return; }
          this.rows.push(q);
          if (typeof rec.session === 'number') this.sessions.add(rec.session);
          this.changed();
        } else if (rec.kind === 'session') {
          let hit = false;
          try { hit = pred(rec); } catch { hit = false; }
          if (hit && typeof rec.session === 'number') { this.sessions.add(rec.session); this.changed(); }
        }
      },
    };
    analyzeFile(capture, sink, { ...this.analyze, messages: false, signal: ac.signal }).then(
      () => { if (!ac.signal.aborted) { this.state = 'done'; this.changed(); } },
      (e: unknown) => {
        if (ac.signal.aborted) return;
        this.state = 'failed';
        this.error = e instanceof Error ? e.message : String(e);
        this.changed();
      },
    );
  }

  private stepLive(): void {
    const pred = this.pred;
    if (pred === null) return;
    const s = this.store;
    const end = Math.min(s.queryCount, this.scannedLive + LIVE_SLICE);
    for (let q = this.scannedLive; q < end; q++) {
      let hit = false;
      try { hit = pred(queryRecord(s, q)); } catch { hit = false; }
      if (hit) {
        this.rows.push(q);
        this.sessions.add(s.qSess.get(q));
      }
    }
    if (end > this.scannedLive) this.changed();
    this.scannedLive = end;
  }
}
