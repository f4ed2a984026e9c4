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
import { StatsView, HelpView } from './text-views.js';
import { Prompt } from './prompt.js';
import type { Key, UiContext, View, ViewName } from './view.js';
import { bytesText, plural, tagSafe, wire } from './text.js';

export interface RunTuiOptions {
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
  /** Budget for kept message bodies (default 64 MiB). */
  bodyBudget?: number;
  /** Redraw period in milliseconds (default 100). */
  renderMs?: number;
  /** Told about an exception while drawing (the UI shows it in the status line and goes on). */
  onDisplayError?: (e: unknown) => void;
}

const TITLE_MAX = 40;

const VIEW_KEYS: Record<string, ViewName> = { t: 'timeline', s: 'sessions', q: 'queries', S: 'stats', '?': 'help' };

/** blessed's key event as one string: the printable character, else blessed's full name. */
function keyOf(ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined): Key {
  const full = key?.full ?? '';
  // blessed reports a carriage return twice, as 'return' and as 'enter': keep one.
  if (full === 'return') return '';
  if (full === 'enter' || full === 'linefeed') return 'enter';
  if (ch && ch.length === 1 && ch >= ' ' && ch !== '\x7f' && !key?.ctrl && !key?.meta) return ch;
  return full || ch || '';
}

export async function runTui(opts: RunTuiOptions): Promise<number> {
  const store = new TuiStore({ bodyBudget: opts.bodyBudget });
  const reader = opts.capturePath ? new FrameReader(opts.capturePath) : null;
  let fileSize = 0;
  if (opts.capturePath) {
    try { fileSize = statSync(opts.capturePath).size; } catch { fileSize = 0; }
  }
  const screen = blessed.screen({
    input: opts.input as NodeJS.ReadStream | undefined,
    output: opts.output as NodeJS.WriteStream | undefined,
    smartCSR: true,
    fullUnicode: true,
    autoPadding: false,
    warnings: false,
  });

  let dirty = true;
  let notice: { text: string; error: boolean } | null = null;
  const stack: ViewName[] = ['main'];
  const abort = new AbortController();
  let loading = true;
  let loadError: string | null = null;
  let exitCode = 0;
  const loadStart = Date.now();
  let loadMs = 0;
  /** Packets loaded when Ctrl-C cancelled the load, or -1. */
  let cancelledAt = -1;

  const ctx: UiContext = {
    screen, store, reader, live: opts.live,
    gotoFrame: (no) => {
      stack.length = 1;
      showTop();
      if (!main.showFrame(no)) notify(`frame ${no} is not in the capture`, true);
      dirty = true;
    },
    open: (name, arg) => {
      if (stack[stack.length - 1] !== name) stack.push(name);
      showTop();
      views[name].enter(arg);
      dirty = true;
    },
    notify: (text, error = false) => notify(text, error),
    invalidate: () => { dirty = true; },
  };
  function notify(text: string, error = false): void {
    notice = { text, error };
    dirty = true;
  }

  const main = new MainView(ctx);
  const views: Record<ViewName, View> = {
    main,
    timeline: new TimelineView(ctx),
    sessions: new SessionsView(ctx),
    queries: new QueriesView(ctx),
    stats: new StatsView(ctx),
    follow: new FollowView(ctx),
    help: new HelpView(ctx),
  };
  const status = blessed.box({ tags: true, height: 1, style: { bg: 'blue', fg: 'white' } });
  screen.append(status);
  const prompt = new Prompt(screen);

  const top = (): View => views[stack[stack.length - 1] as ViewName];
  function showTop(): void {
    const t = top();
    for (const v of Object.values(views)) for (const b of v.boxes) (v === t ? b.show() : b.hide());
  }
  function layout(): void {
    const w = Number(screen.width) || 80;
    const h = Number(screen.height) || 24;
    for (const v of Object.values(views)) v.layout(w, h);
    status.position.top = h - 1;
    status.position.left = 0;
    status.width = w;
    prompt.layout(w, h);
    dirty = true;
  }

  function progressText(): string {
    if (loadError) return `{red-bg}error: ${wire(loadError)}{/red-bg}`;
    if (opts.live) return loading ? '{green-fg}● live{/green-fg}' : 'capture stopped';
    if (cancelledAt >= 0) return `load cancelled at ${cancelledAt} packets`;
    if (!loading) return `loaded in ${(loadMs / 1000).toFixed(1)} s`;
    let pct: number | null = null;
    if (store.loadTotal > 0) pct = (100 * store.loadDone) / store.loadTotal;
    else if (fileSize > 0 && store.frameCount > 0) pct = (100 * Math.max(0, store.fOff.get(store.frameCount - 1))) / fileSize;
    return pct === null ? 'loading…' : `loading ${Math.min(99, Math.floor(pct))}%`;
  }

  function drawStatus(): void {
    // A long path keeps its end (the file name) so the figures after it stay on screen.
    const title = opts.title.length > TITLE_MAX ? '…' + opts.title.slice(-(TITLE_MAX - 1)) : opts.title;
    const parts = [
      `{bold}pgsniff{/bold} ${wire(title)}`,
      plural(store.frameCount, 'packet'),
      bytesText(store.bytes),
      plural(store.sessions.size, 'session'),
      plural(store.queryCount, 'query', 'queries'),
      plural(store.anomalyCount, 'anomaly', 'anomalies'),
    ];
    if (opts.live) parts.push(store.dropped === null ? 'drops unknown' : `${store.dropped} dropped`);
    const f = main.filterStatus();
    if (f) parts.push(f);
    parts.push(progressText());
    let line = ' ' + parts.join(' │ ');
    if (notice) line += notice.error ? ` │ {red-bg}${tagSafe(wire(notice.text))}{/red-bg}` : ` │ {yellow-fg}${wire(notice.text)}{/yellow-fg}`;
    else line += ' │ ? help';
    status.setContent(line);
  }

  let lastVersion = -1;
  function render(force = false): void {
    if (!force && !dirty && store.version === lastVersion && !main.busy() && !loading) return;
    dirty = false;
    lastVersion = store.version;
    try {
      top().draw();
      drawStatus();
      prompt.draw();
      screen.render();
    } catch (e) {
      // A drawing bug must not take the terminal down with it; say so and keep going.
      notice = { text: `display error: ${e instanceof Error ? e.message : String(e)}`, error: true };
      opts.onDisplayError?.(e);
    }
  }

  function submitPrompt(kind: 'filter' | 'find', text: string): string | null {
    if (kind === 'filter') {
      try {
        main.applyFilter(text);
        stack.length = 1;
        showTop();
        notice = null;
        return null;
      } catch (e) {
        return isUserError(e) ? e.message : String(e);
      }
    }
    const t = text.trim();
    if (/^\d+$/.test(t)) {
      ctx.gotoFrame(Number(t));
      return null;
    }
    let pred: Predicate | null = null;
    try { pred = compileFilter(t); } catch { pred = null; }
    stack.length = 1;
    showTop();
    main.setFind(t, pred);
    return null;
  }

  function validate(kind: 'filter' | 'find', text: string): string | null {
    if (kind === 'find') return null;
    try {
      compileFilter(text);
      return null;
    } catch (e) {
      return isUserError(e) ? e.message : String(e);
    }
  }

  return new Promise<number>((resolve) => {
    let quitting = false;
    const timer = setInterval(() => render(), opts.renderMs ?? 100);
    function quit(): void {
      if (quitting) return;
      quitting = true;
      clearInterval(timer);
      abort.abort();
      reader?.close();
      screen.destroy();
      resolve(exitCode);
    }

    screen.on('keypress', (ch: string | undefined, key: blessed.Widgets.Events.IKeyEventArg | undefined) => {
      if (quitting) return;
      const k = keyOf(ch, key);
      if (k === '') return;
      if (k === 'C-c') {
        if (loading && !abort.signal.aborted) {
          abort.abort();
          if (!opts.live) cancelledAt = store.frameCount;
          notify(opts.live ? 'capture stopped; Ctrl-C again quits' : 'Ctrl-C again quits');
        } else quit();
        render(true);
        return;
      }
      if (prompt.active) {
        prompt.key(k, ch);
        render(true);
        return;
      }
      if (notice && k !== 'n' && k !== 'N') notice = null;
      if (top().key(k)) { dirty = true; render(true); return; }
      const v = VIEW_KEYS[k];
      if (v) ctx.open(v);
      else if (k === 'f') {
        const fi = main.selectedFrame();
        const sess = fi >= 0 ? store.fSess.get(fi) : -1;
        if (sess >= 0) ctx.open('follow', sess);
      } else if (k === '/') prompt.open('filter', 'Filter', main.filter.expr, validate, submitPrompt);
      else if (k === ':') prompt.open('find', 'Find', '', validate, submitPrompt);
      else if (k === 'escape') {
        if (stack.length > 1) { stack.pop(); showTop(); top().enter(); }
      } else if (k === 'Q') { quit(); return; }
      dirty = true;
      render(true);
    });
    screen.on('resize', () => { layout(); render(true); });

    layout();
    showTop();
    if (opts.filter) {
      try { main.applyFilter(opts.filter); } catch (e) { notify(isUserError(e) ? e.message : String(e), true); }
    }
    render(true);

    opts.start(store, abort.signal).then(
      () => { /* end of input: store.end() came through the sink */ },
      (e: unknown) => {
        if (abort.signal.aborted && !quitting) return;
        loadError = e instanceof Error ? e.message : String(e);
        exitCode = 1;
      },
    ).finally(() => {
      loading = false;
      loadMs = Date.now() - loadStart;
      dirty = true;
      if (!quitting) render(true);
    });
  });
}
