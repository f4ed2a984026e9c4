/**
 * The text view: one line per frame that completes PostgreSQL messages, like tshark's summary
 * lines (number, time relative to the first packet, source -> destination, frame length, then the
 * Info column: the direction, the messages' type letters `>P/B/E/S` and readable summaries; it is
 * dissectors/info-column.ts's, the same as the TUI frame list's).
 * `-V` adds each message's decoded field tree under its frame's line, like `tshark -V`.
 * Everything from the wire is escaped (src/core/escape.ts) before it reaches the terminal.
 */
import { writeAllSync } from './write-fd.js';
import { escapeTerminal } from '../core/escape.js';
import type { DecodedMessage, RawMessage } from '../../dissectors/types.js';
import { summarize } from '../../dissectors/summary.js';
import { flaggedMessage, InfoColumn, messageSign } from '../../dissectors/info-column.js';
import { fieldTree, type FieldNode } from '../../dissectors/tree.js';
import type { FrameInfo, MessageRecord, OutRecord, PipelineSink, SinkNeeds } from '../pipeline/events.js';
import type { Predicate } from '../filter/index.js';

interface TextOptions {
  verbose: boolean;
  /** Show secrets in -V trees too (they are redacted unless asked for). */
  showSecrets?: boolean;
  filter?: Predicate;
  /** Print query records (one line each) instead of frames. */
  queries?: boolean;
}

/** What a line says about its frame (a FrameInfo, or the copy kept of an earlier one). */
type LineFrame = Pick<FrameInfo, 'frame' | 'timeUs' | 'src' | 'dst' | 'length'>;

interface PendingLine {
  frame: LineFrame;
  dir: string;
  info: InfoColumn;
  trees: string[];
}

const BATCH = 64 * 1024;
/** Earlier frames remembered for messages they carried but that a later frame delivered. */
const RECENT = 4096;

export class TextSink implements PipelineSink {
  private out = '';
  private firstTimeUs: number | null = null;
  /** Frames are announced before the messages they complete; this is the latest one. */
  private current: FrameInfo | null = null;
  private line: PendingLine | null = null;
  /** A ring of recent frames' line fields (not the FrameInfo: it holds the packet's bytes). A message
   * held for an earlier segment (out of order, or a bad checksum taken late) is delivered during a
   * later frame; its line is its own frame's, as its record says. */
  private readonly recentFrame = new Float64Array(RECENT).fill(-1);
  private readonly recentTimeUs = new Float64Array(RECENT);
  private readonly recentLength = new Float64Array(RECENT);
  private readonly recentSrc: Array<string | null> = new Array<string | null>(RECENT).fill(null);
  private readonly recentDst: Array<string | null> = new Array<string | null>(RECENT).fill(null);
  lines = 0;
  /** Each line is a frame's, so every frame is announced. */
  readonly needs: SinkNeeds = { frames: true };

  constructor(private readonly fd: number, private readonly opts: TextOptions) {}

  frame(f: FrameInfo): void {
    this.firstTimeUs ??= f.timeUs;
    this.current = f;
    const i = f.frame % RECENT;
    this.recentFrame[i] = f.frame;
    this.recentTimeUs[i] = f.timeUs;
    this.recentLength[i] = f.length;
    this.recentSrc[i] = f.src;
    this.recentDst[i] = f.dst;
  }

  /** The line fields of the frame a message's record names: the current one, a remembered one, or
   * (older than the ring) the frame number alone, with its time and addresses said unknown. */
  private frameOf(n: number): LineFrame | null {
    const f = this.current;
    if (f === null) return null;
    if (f.frame === n) return f;
    const i = n % RECENT;
    if (this.recentFrame[i] !== n) return { frame: n, timeUs: Number.NaN, src: null, dst: null, length: Number.NaN };
    return { frame: n, timeUs: this.recentTimeUs[i]!, src: this.recentSrc[i]!, dst: this.recentDst[i]!, length: this.recentLength[i]! };
  }

  message(rec: MessageRecord, raw: RawMessage, decoded: DecodedMessage): void {
    if (this.opts.queries) return;
    if (this.opts.filter && !this.opts.filter(rec)) return;
    const f = rec.frame === null ? null : this.frameOf(rec.frame);
    if (f === null) return;
    let line = this.line;
    if (line === null || line.frame.frame !== f.frame || line.dir !== raw.dir) {
      this.flushLine();
      line = this.line = { frame: f, dir: raw.dir, info: new InfoColumn(raw.dir === 'frontend' ? '>' : '<'), trees: [] };
    }
    const flagged = flaggedMessage(decoded);
    line.info.add(messageSign(raw.code, decoded), line.info.wantsSummary(flagged) ? summarize(decoded) : null, flagged);
    if (this.opts.verbose) line.trees.push(renderTree(decoded.type, fieldTree(raw, decoded, { showSecrets: this.opts.showSecrets ?? false })));
  }

  record(rec: OutRecord): void {
    if (rec.kind === 'anomaly') {
      if (this.opts.filter && !this.opts.filter(rec)) return;
      this.flushLine();
      const r = rec as OutRecord & { code: string; reason: string };
      this.write(`${pad(rec.frame ?? '-', 7)} ${' '.repeat(11)} [anomaly ${r.code}] ${escapeTerminal(r.reason)}${rec.session !== null ? ` (session ${rec.session})` : ''}\n`);
    } else if (rec.kind === 'query' && this.opts.queries) {
      if (this.opts.filter && !this.opts.filter(rec)) return;
      this.write(queryLine(rec) + '\n');
    }
  }

  /** Live capture caught up: the current frame's line is complete, and the batch goes out now. */
  idle(): void {
    this.flushLine();
    this.flush();
  }

  end(): void {
    this.flushLine();
    this.flush();
  }

  private flushLine(): void {
    const l = this.line;
    if (l === null) return;
    this.line = null;
    const f = l.frame;
    const rel = Number.isNaN(f.timeUs) ? '-' : ((f.timeUs - (this.firstTimeUs ?? f.timeUs)) / 1e6).toFixed(6);
    const info = l.info.text();
    this.lines++;
    this.write(`${pad(f.frame, 7)} ${pad(rel, 11)} ${f.src ?? '?'} → ${f.dst ?? '?'} ${pad(Number.isNaN(f.length) ? '-' : f.length, 6)} ${escapeTerminal(info)}\n`);
    for (const t of l.trees) this.write(t);
  }

  private write(s: string): void {
    this.out += s;
    if (this.out.length >= BATCH) this.flush();
  }

  flush(): void {
    if (this.out.length === 0) return;
    const data = Buffer.from(this.out, 'utf8');
    this.out = '';
    writeAllSync(this.fd, data);
  }
}

function pad(v: string | number, width: number): string {
  const s = String(v);
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}

function renderTree(type: string, nodes: FieldNode[]): string {
  let out = `    ${type}\n`;
  const walk = (ns: FieldNode[], depth: number) => {
    for (const n of ns) {
      const shown = n.display ?? n.value;
      const value = shown === undefined || shown === null ? '' : `: ${typeof shown === 'string' ? shown : JSON.stringify(shown)}`;
      out += `${'    '.repeat(depth + 2)}${escapeTerminal(n.label + value)}\n`;
      if (n.children && n.children.length > 0) walk(n.children, depth + 1);
    }
  };
  walk(nodes, 0);
  return out;
}

function queryLine(rec: OutRecord): string {
  const q = rec as Record<string, unknown>;
  const err = q.error as { sqlstate?: string; message?: string } | undefined;
  const dur = typeof q.durationMs === 'number' ? `${q.durationMs.toFixed(3)} ms` : '- ms';
  // A portal stopped at its row limit has no CommandComplete: say so, the rest follows later.
  const status = q.suspended === true ? 'suspended' : q.command ?? '';
  const outcome = err ? `ERROR ${err.sqlstate ?? ''} ${err.message ?? ''}` : `${status}${typeof q.rows === 'number' ? ` rows=${q.rows}` : ''}`;
  const sql = typeof q.sql === 'string' ? q.sql.replace(/\s+/g, ' ') : '(unknown statement)';
  return escapeTerminal(`${pad(rec.frame ?? '-', 7)} s${rec.session} ${pad(dur, 12)} ${String(q.protocol ?? '')} ${sql} -> ${outcome}${queryMarks(q)}`);
}

/** What the record says about its own certainty, in the line as in the NDJSON (README: NDJSON records). */
function queryMarks(q: Record<string, unknown>): string {
  let marks = '';
  const batch = q.batch as { size?: number; durationMs?: number } | undefined;
  if (batch) marks += ` [batch of ${batch.size}: ${typeof batch.durationMs === 'number' ? batch.durationMs.toFixed(3) : '-'} ms]`;
  if (q.rolledBack === true) marks += ' [rolled back]';
  if (q.rollbackUnknown === true) marks += ' [rollback unknown]';
  if (q.incomplete === true) marks += ` [incomplete: ${String(q.incompleteReason ?? 'unknown')}]`;
  if (q.badChecksum === true) marks += ' [bad checksum]';
  if (q.poolerLeg === 'server') marks += ' [pooler server leg]';
  return marks;
}
