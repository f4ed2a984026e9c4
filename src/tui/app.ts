/**
 * The terminal UI's entry point and event loop. The producer (`start`) pushes records into the
 * store as fast as it can; the screen is redrawn from the store on a timer, never per frame, so
 * a million-packet file shows its first screen at once and keeps loading behind a progress
 * figure. Keys go to the prompt when one is open, then to the view in front, then to the
 * global layer here (termshark's layering).
 */
import blessed from 'blessed';
import { statSync } from 'node:fs';
import { compileFilter, type Predicate } from '../filter/index.js';
import { isUserError } from '../core/errors.js';
import { TuiStore, type TuiSink } from './store.js';
import { FrameReader } from './frame-reader.js';
import { MainView } from './main-view.js';
import { TimelineView } from './timeline-view.js';
import { SessionsView, QueriesView, FollowView } from './list-views.js';
import { StatsView, HelpView, StatsAccumulator } from './text-views.js';
import { Prompt, type PromptKind } from './prompt.js';
import { ValueView } from './value-view.js';
import { DashboardView } from './dashboard-view.js';
import type { Key, UiContext, View, ViewName } from './view.js';
import { bytesText, plural, safe, tagSafe } from './text.js';
import { patchBlessedWidths } from './term-width.js';
import { part, statusLine, type StatusPart } from './status-line.js';
import { RecordMatch } from './record-match.js';
import { exportFrames, exportRecords } from './export.js';
import type { AnalyzeOptions } from '../pipeline/analyze.js';

interface RunTuiOptions {
  /** Shown in the status line: the capture file or the interface. */
  title: string;
  live: boolean;
  /** Feeds the store; resolves at the end of input. The signal aborts on the first Ctrl-C. */
  start: (sink: TuiSink, signal: AbortSignal) => Promise<void>;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** Initial display filter (the -Y expression). */
  filter?: string;
  /** The capture file, when there is one: the bytes pane re-reads frames from it and load progress is measured against its size. */
  capturePath?: string;
  /** --show-secrets: secret bytes unmasked in the bytes pane, unredacted in the tree. */
  showSecrets?: boolean;
  /**
   * The pipeline options the capture was loaded with: the queries and sessions views' filter and
   * the NDJSON export read the file again with them (as `pgsniff read --json -Y` would).
   */
  analyze?: AnalyzeOptions;
  /** Budget for kept message bodies (default 64 MiB). */
  bodyBudget?: number;
  /** Redraw period in milliseconds (default 100). */
  renderMs?: number;
  /** Told about an exception while drawing (the UI shows it in the status line and goes on). */
  onDisplayError?: (e: unknown) => void;
  /** Told after each redraw, with the screen's rows as text (scripts/bench-tui.ts times the UI by it). */
  onRender?: (rows: () => string[]) => void;
}

const VIEW_KEYS: Record<string, ViewName> = { t: 'timeline', s: 'sessions', q: 'queries', S: 'stats', '?': 'help', d: 'dashboard' };

/** blessed's key event as one string: the printable character, else blessed's full name. */
function keyOf(ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined): Key {
  const full = key?.full ?? '';
  // blessed reports a carriage return twice, as 'return' and as 'enter': keep one.
  if (full === 'return') return '';
  if (full === 'enter' || full === 'linefeed') return 'enter';
  if (ch && ch.length === 1 && ch >= ' ' && ch !== '\x7f' && !key?.ctrl && !key?.meta) return ch;
  return full || ch || '';
}

/** The producer started, and what it has said so far. */
interface Source {
  store: TuiStore;
  abort: AbortController;
  /** Settles at the end of input (never rejects: see `error`). */
  done: Promise<void>;
  finished: boolean;
  error: unknown;
  startedAt: number;
}

/**
 * Starts the producer. The source proves itself before the screen opens: a missing file or one
 * that is no capture is one line on stderr and exit 2 (the CLI's UserError), not an empty
 * screen with the reason cut off in its status line. Live capture opens at once (its first
 * packet may be far off).
 */
async function startSource(opts: RunTuiOptions): Promise<Source> {
  const store = new TuiStore({ bodyBudget: opts.bodyBudget, capturePath: opts.live ? null : opts.capturePath ?? null });
  const src: Source = { store, abort: new AbortController(), done: Promise.resolve(), finished: false, error: null, startedAt: Date.now() };
  src.done = opts.start(store, src.abort.signal).then(
    () => { src.finished = true; },
    (e: unknown) => { src.finished = true; src.error = e; },
  );
  if (!opts.live) {
    // Polled rather than hooked into every sink call: the store's version moves on its first event.
    while (!src.finished && store.version === 0) await new Promise((r) => setTimeout(r, 10));
    if (src.error !== null && store.version === 0) throw src.error;
  }
  return src;
}

function openScreen(opts: RunTuiOptions): blessed.Widgets.Screen {
  patchBlessedWidths();
  return blessed.screen({
    input: opts.input as NodeJS.ReadStream | undefined,
    output: opts.output as NodeJS.WriteStream | undefined,
    smartCSR: true,
    fullUnicode: true,
    autoPadding: false,
    warnings: false,
  });
}

/**
 * The running UI: the view stack, the status line, the prompt, the redraw timer and the key
 * layers. Each part is a method; the state they share is the fields.
 */
class Tui {
  private readonly store: TuiStore;
  private readonly reader: FrameReader | null;
  private readonly fileSize: number;
  private readonly ctx: UiContext;
  private readonly main: MainView;
  private readonly views: Record<ViewName, View>;
  private readonly status: blessed.Widgets.BoxElement;
  private readonly prompt: Prompt;
  private readonly records: RecordMatch;
  /** The export running (w / W), for the status line; null when none. */
  private exporting: { what: string; abort: AbortController } | null = null;
  private readonly stack: ViewName[] = ['main'];
  private dirty = true;
  private notice: { text: string; error: boolean } | null = null;
  private loading = true;
  private loadError: string | null = null;
  private exitCode = 0;
  private loadMs = 0;
  /** Packets loaded when Ctrl-C cancelled the load, or -1. */
  private cancelledAt = -1;
  private lastVersion = -1;
  private quitting = false;
  private timer: NodeJS.Timeout | null = null;
  private resolveExit: (code: number) => void = () => {};

  constructor(private readonly opts: RunTuiOptions, private readonly src: Source, private readonly screen: blessed.Widgets.Screen) {
    this.store = src.store;
    this.reader = opts.capturePath ? new FrameReader(opts.capturePath) : null;
    let size = 0;
    if (opts.capturePath) {
      try { size = statSync(opts.capturePath).size; } catch { size = 0; }
    }
    this.fileSize = size;
    this.records = new RecordMatch(this.store, opts.capturePath ?? null, { ...(opts.analyze ?? {}), showSecrets: opts.showSecrets ?? opts.analyze?.showSecrets },
      () => { this.dirty = true; });
    this.ctx = {
      screen, store: this.store, reader: this.reader, live: opts.live, showSecrets: opts.showSecrets ?? false, records: this.records,
      gotoFrame: (no) => this.gotoFrame(no),
      open: (name, arg) => this.open(name, arg),
      viewValue: (title, text) => {
        (this.views.value as ValueView).show(title, text);
        this.open('value');
      },
      prepareFilter: (expr) => this.prompt.open('filter', 'Filter', expr, this.validate, this.submitPrompt),
      notify: (text, error = false) => this.notify(text, error),
      invalidate: () => { this.dirty = true; },
    };
    this.main = new MainView(this.ctx);
    // One statistics accumulator: the dashboard's top statements are the statistics' groups.
    const acc = new StatsAccumulator(this.store);
    this.views = {
      main: this.main,
      timeline: new TimelineView(this.ctx),
      sessions: new SessionsView(this.ctx),
      queries: new QueriesView(this.ctx),
      stats: new StatsView(this.ctx, acc),
      follow: new FollowView(this.ctx),
      help: new HelpView(this.ctx),
      value: new ValueView(this.ctx),
      dashboard: new DashboardView(this.ctx, () => this.main.filter, acc),
    };
    this.status = blessed.box({ tags: true, height: 1, style: { bg: 'blue', fg: 'white' } });
    screen.append(this.status);
    this.prompt = new Prompt(screen);
  }

  /** Runs until the user quits; resolves to the exit status. */
  run(): Promise<number> {
    return new Promise<number>((resolve) => {
      this.resolveExit = resolve;
      this.timer = setInterval(() => this.render(), this.opts.renderMs ?? 100);
      this.screen.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined) => this.onKey(ch, key));
      this.screen.on('resize', () => { this.layout(); this.render(true); });
      this.layout();
      this.showTop();
      if (this.opts.filter) {
        try { this.main.applyFilter(this.opts.filter); } catch (e) { this.notify(isUserError(e) ? e.message : String(e), true); }
      }
      this.render(true);
      void this.src.done.then(() => this.loadEnded());
    });
  }

  /**
   * End of input: store.end() came through the sink. A failure after the first event is shown
   * in the status line (the screen is open by then) and makes the exit status 1.
   */
  private loadEnded(): void {
    if (this.src.error !== null && !(this.src.abort.signal.aborted && !this.quitting)) {
      const e = this.src.error;
      this.loadError = e instanceof Error ? e.message : String(e);
      this.exitCode = 1;
    }
    this.loading = false;
    this.loadMs = Date.now() - this.src.startedAt;
    this.dirty = true;
    if (!this.quitting) this.render(true);
  }

  private quit(): void {
    if (this.quitting) return;
    this.quitting = true;
    if (this.timer) clearInterval(this.timer);
    this.src.abort.abort();
    this.records.stop();
    this.exporting?.abort.abort();
    this.reader?.close();
    this.store.bodies.close();
    this.screen.destroy();
    this.resolveExit(this.exitCode);
  }

  private notify(text: string, error = false): void {
    this.notice = { text, error };
    this.dirty = true;
  }

  private top(): View {
    return this.views[this.stack[this.stack.length - 1] as ViewName];
  }

  private showTop(): void {
    const t = this.top();
    for (const v of Object.values(this.views)) for (const b of v.boxes) (v === t ? b.show() : b.hide());
  }

  private open(name: ViewName, arg?: number): void {
    if (this.stack[this.stack.length - 1] !== name) this.stack.push(name);
    this.showTop();
    this.views[name].enter(arg);
    this.dirty = true;
  }

  /** Back to the main view, everything above it closed. */
  private toMain(): void {
    this.stack.length = 1;
    this.showTop();
  }

  private gotoFrame(no: number): void {
    this.toMain();
    // The frame is shown in the list: a maximised pane gives the list back.
    this.main.focusList();
    if (!this.main.showFrame(no)) this.notify(`frame ${no} is not in the capture`, true);
    this.dirty = true;
  }

  private layout(): void {
    const w = Number(this.screen.width) || 80;
    const h = Number(this.screen.height) || 24;
    for (const v of Object.values(this.views)) v.layout(w, h);
    this.status.position.top = h - 1;
    this.status.position.left = 0;
    this.status.width = w;
    this.prompt.layout(w, h);
    this.dirty = true;
  }

  private progressText(): { text: string; plain: string } {
    const plain = (t: string) => ({ text: t, plain: t });
    if (this.loadError) {
      const t = safe(`error: ${this.loadError}`);
      return { text: `{red-bg}${tagSafe(t)}{/red-bg}`, plain: t };
    }
    if (this.opts.live) return this.loading ? { text: '{green-fg}● live{/green-fg}', plain: '● live' } : plain('capture stopped');
    if (this.cancelledAt >= 0) return plain(`load cancelled at ${this.cancelledAt} packets`);
    if (!this.loading) return plain(`loaded in ${(this.loadMs / 1000).toFixed(1)} s`);
    const store = this.store;
    let pct: number | null = null;
    if (store.loadTotal > 0) pct = (100 * store.loadDone) / store.loadTotal;
    else if (this.fileSize > 0 && store.frameCount > 0) pct = (100 * Math.max(0, store.fFileOffset.get(store.frameCount - 1))) / this.fileSize;
    return plain(pct === null ? 'loading…' : `loading ${Math.min(99, Math.floor(pct))}%`);
  }

  /** The status line's figures with their priorities (status-line.ts decides what fits). */
  private statusParts(w: number): StatusPart[] {
    const store = this.store;
    const parts: StatusPart[] = [];
    const add = (text: string, prio: number, plain = text) => parts.push(part(text, plain, prio));
    add(plural(store.frameCount, 'packet'), 8);
    add(bytesText(store.bytes), 2);
    add(plural(store.sessions.size, 'session'), 3);
    add(plural(store.queryCount, 'query', 'queries'), 5);
    add(plural(store.anomalyCount, 'anomaly', 'anomalies'), 4);
    if (this.opts.live) {
      add(store.dropped === null ? 'drops unknown' : `${store.dropped} dropped`, 9);
      // How far decoding is behind the capture, while it is.
      if (store.behind) add(`{yellow-fg}${tagSafe(safe(store.behind))}{/yellow-fg}`, 9, safe(store.behind));
    }
    const f = this.main.filterStatus(w >= 120 ? 40 : 16);
    if (f) add(f.text, 9, f.plain);
    if (this.exporting) add(`{yellow-fg}${tagSafe(safe(this.exporting.what))}{/yellow-fg}`, 10, safe(this.exporting.what));
    const searching = this.main.searchStatus();
    if (searching) add(searching, 10);
    const p = this.progressText();
    add(p.text, 10, p.plain);
    if (this.notice) {
      const t = safe(this.notice.text);
      add(this.notice.error ? `{red-bg}${tagSafe(t)}{/red-bg}` : `{yellow-fg}${tagSafe(t)}{/yellow-fg}`, 11, t);
    } else add('? help', 1);
    return parts;
  }

  private render(force = false): void {
    if (!force && !this.dirty && this.store.version === this.lastVersion && !this.main.busy() && !this.loading) return;
    this.dirty = false;
    this.lastVersion = this.store.version;
    try {
      this.top().draw();
      const w = Number(this.screen.width) || 80;
      // One column spare: blessed wraps a line that fills the box to its last column.
      this.status.setContent(statusLine(this.opts.title, this.statusParts(w), w - 1));
      this.prompt.draw();
      this.screen.render();
      if (this.opts.onRender) {
        const lines = (this.screen as unknown as { lines: Array<Array<[number, string]>> }).lines;
        this.opts.onRender(() => lines.map((row) => row.map((c) => c[1]).join('')));
      }
    } catch (e) {
      // A drawing bug must not take the terminal down with it; say so and keep going.
      this.notice = { text: `display error: ${e instanceof Error ? e.message : String(e)}`, error: true };
      // Drawn on the next tick (the status line may not have been reached this time).
      this.dirty = true;
      this.opts.onDisplayError?.(e);
    }
  }

  private readonly submitPrompt = (kind: PromptKind, text: string): string | null => {
    if (kind === 'pcap' || kind === 'ndjson') return this.startExport(kind, text.trim());
    if (kind === 'filter') {
      try {
        this.main.applyFilter(text);
        this.toMain();
        this.notice = null;
        return null;
      } catch (e) {
        return isUserError(e) ? e.message : String(e);
      }
    }
    const t = text.trim();
    if (/^\d+$/.test(t)) {
      this.gotoFrame(Number(t));
      return null;
    }
    let pred: Predicate | null = null;
    try { pred = compileFilter(t); } catch { pred = null; }
    this.toMain();
    this.main.setFind(t, pred);
    return null;
  };

  private readonly validate = (kind: PromptKind, text: string): string | null => {
    if (kind === 'pcap' || kind === 'ndjson') return text.trim() === '' ? 'type a file name' : null;
    if (kind === 'find') return null;
    try {
      compileFilter(text);
      return null;
    } catch (e) {
      return isUserError(e) ? e.message : String(e);
    }
  };

  /**
   * w / W: the prompt for the file name, after saying what will be written. Only a capture file
   * can be read again: live capture keeps no frames (capture with -w FILE and open that).
   */
  private askExport(kind: 'pcap' | 'ndjson'): void {
    if (!this.opts.capturePath) {
      this.notify('export needs the capture file: live capture keeps no frames here (capture with -w FILE, then pgsniff read FILE)', true);
      return;
    }
    if (this.exporting) {
      this.notify(`${this.exporting.what}: wait for it, or Ctrl-C to stop it`, true);
      return;
    }
    const filter = this.main.filter.expr;
    const queries = kind === 'ndjson' && this.stack[this.stack.length - 1] === 'queries';
    const what = kind === 'pcap'
      ? `Write ${filter ? `the ${this.main.filter.count()} frames matching the filter` : 'every frame'} as pcap to`
      : `Write ${queries ? 'the query records' : 'the records'}${filter ? ' matching the filter' : ''} as NDJSON to`;
    this.exportQueries = queries;
    this.prompt.open(kind, what, '', this.validate, this.submitPrompt);
  }

  private exportQueries = false;

  /** Runs an export in the background; the status line shows it running, then what it wrote or why it failed. */
  private startExport(kind: 'pcap' | 'ndjson', target: string): string | null {
    const capture = this.opts.capturePath;
    if (!capture) return 'no capture file';
    const abort = new AbortController();
    const filter = this.main.filter;
    let job: Promise<number>;
    if (kind === 'pcap') {
      if (filter.pending) return 'the filter is still being applied: try again when its count is final';
      const n = filter.count();
      const frames = new Uint32Array(n);
      for (let i = 0; i < n; i++) frames[i] = this.store.fNo.get(filter.at(i));
      this.exporting = { what: `writing ${n} frames to ${target}`, abort };
      job = exportFrames(capture, frames, target, abort.signal);
    } else {
      this.exporting = { what: `writing records to ${target}`, abort };
      job = exportRecords(capture, { ...(this.opts.analyze ?? {}), showSecrets: this.opts.showSecrets ?? this.opts.analyze?.showSecrets }, filter.expr, this.exportQueries, target, abort.signal);
    }
    job.then(
      (n) => this.notify(kind === 'pcap' ? `wrote ${plural(n, 'frame')} to ${target}` : `wrote ${plural(n, 'record')} to ${target}`),
      (e: unknown) => this.notify(e instanceof Error ? e.message : String(e), true),
    ).finally(() => {
      this.exporting = null;
      this.dirty = true;
    });
    return null;
  }

  /** Ctrl-C: the first cancels a load (or stops a live capture), the next quits. */
  private interrupt(): void {
    if (this.exporting) {
      this.exporting.abort.abort();
      return;
    }
    if (this.loading && !this.src.abort.signal.aborted) {
      this.src.abort.abort();
      if (!this.opts.live) this.cancelledAt = this.store.frameCount;
      // The status line says "capture stopped" (or "load cancelled") already: the notice says what comes next.
      this.notify('Ctrl-C again quits');
    } else this.quit();
  }

  /** Keys in layers: the prompt when open, then the view in front, then the global keys here. */
  private onKey(ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined): void {
    if (this.quitting) return;
    const k = keyOf(ch, key);
    if (k === '') return;
    if (k === 'C-c') {
      this.interrupt();
      if (!this.quitting) this.render(true);
      return;
    }
    if (this.prompt.active) {
      this.prompt.key(k, ch);
      this.render(true);
      return;
    }
    if (this.notice && k !== 'n' && k !== 'N') this.notice = null;
    if (!this.top().key(k)) {
      if (!this.globalKey(k)) return;
    }
    if (this.quitting) return;
    this.dirty = true;
    this.render(true);
  }

  /** The global layer; false when the key quit the UI. */
  private globalKey(k: Key): boolean {
    const v = VIEW_KEYS[k];
    if (v) this.open(v);
    else if (k === 'f') {
      // Follow the session of the frame selected in the main view (from any view).
      const fi = this.main.selectedFrame();
      const sess = fi >= 0 ? this.store.fSess.get(fi) : -1;
      if (sess >= 0) this.open('follow', sess);
    } else if (k === 'F') {
      // Back to the frame list from anywhere: every view closed, the list focused and whole.
      this.toMain();
      this.main.focusList();
    } else if (k === '/') this.prompt.open('filter', 'Filter', this.main.filter.expr, this.validate, this.submitPrompt);
    else if (k === ':') this.prompt.open('find', 'Find', '', this.validate, this.submitPrompt);
    else if (k === 'w' || k === 'W') this.askExport(k === 'w' ? 'pcap' : 'ndjson');
    else if (k === 'escape') {
      if (this.stack.length > 1) { this.stack.pop(); this.showTop(); this.top().enter(); }
    } else if (k === 'Q') { this.quit(); return false; }
    return true;
  }
}

export async function runTui(opts: RunTuiOptions): Promise<number> {
  const src = await startSource(opts);
  return new Tui(opts, src, openScreen(opts)).run();
}
