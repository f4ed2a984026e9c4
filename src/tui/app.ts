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
import { Prompt } from './prompt.js';
import type { Key, UiContext, View, ViewName } from './view.js';
import { bytesText, plural, safe, tagSafe, width } from './text.js';
import { patchBlessedWidths } from './term-width.js';

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
  /** --show-secrets: secret bytes unmasked in the bytes pane, unredacted in the tree. */
  showSecrets?: boolean;
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
  // The source proves itself before the screen opens: a missing file or one that is no capture
  // is one line on stderr and exit 2 (the CLI's UserError), not an empty screen with the reason
  // cut off in its status line. Live capture opens at once (its first packet may be far off).
  const abort = new AbortController();
  const loadStart = Date.now();
  let producerError: unknown = null;
  let producerDone = false;
  const producer = opts.start(store, abort.signal).then(
    () => { producerDone = true; },
    (e: unknown) => { producerDone = true; producerError = e; },
  );
  if (!opts.live) {
    // Polled rather than hooked into every sink call: the store's version moves on its first event.
    while (!producerDone && store.version === 0) await new Promise((r) => setTimeout(r, 10));
    if (producerError !== null && store.version === 0) throw producerError;
  }
  patchBlessedWidths();
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
  let loading = true;
  let loadError: string | null = null;
  let exitCode = 0;
  let loadMs = 0;
  /** Packets loaded when Ctrl-C cancelled the load, or -1. */
  let cancelledAt = -1;

  const ctx: UiContext = {
    screen, store, reader, live: opts.live, showSecrets: opts.showSecrets ?? false,
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
    stats: new StatsView(ctx, new StatsAccumulator(store)),
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

  function progressText(): { text: string; plain: string } {
    const plain = (t: string) => ({ text: t, plain: t });
    if (loadError) {
      const t = safe(`error: ${loadError}`);
      return { text: `{red-bg}${tagSafe(t)}{/red-bg}`, plain: t };
    }
    if (opts.live) return loading ? { text: '{green-fg}● live{/green-fg}', plain: '● live' } : plain('capture stopped');
    if (cancelledAt >= 0) return plain(`load cancelled at ${cancelledAt} packets`);
    if (!loading) return plain(`loaded in ${(loadMs / 1000).toFixed(1)} s`);
    let pct: number | null = null;
    if (store.loadTotal > 0) pct = (100 * store.loadDone) / store.loadTotal;
    else if (fileSize > 0 && store.frameCount > 0) pct = (100 * Math.max(0, store.fOff.get(store.frameCount - 1))) / fileSize;
    return plain(pct === null ? 'loading…' : `loading ${Math.min(99, Math.floor(pct))}%`);
  }

  /**
   * The status line at any width: what changes while one watches (notice, load progress, filter
   * matches, live drops, packet count) is kept; the rest gives way from the least needed
   * (help hint, bytes, sessions, anomalies, queries), and the title is cut to what is left.
   */
  function drawStatus(): void {
    const w = Number(screen.width) || 80;
    const f = main.filterStatus(w >= 120 ? 40 : 16);
    // [tagged text, plain width, priority: higher stays longer]
    const parts: Array<{ text: string; w: number; prio: number }> = [];
    const add = (text: string, plain: string, prio: number) => parts.push({ text, w: width(plain), prio });
    add(plural(store.frameCount, 'packet'), plural(store.frameCount, 'packet'), 8);
    add(bytesText(store.bytes), bytesText(store.bytes), 2);
    add(plural(store.sessions.size, 'session'), plural(store.sessions.size, 'session'), 3);
    add(plural(store.queryCount, 'query', 'queries'), plural(store.queryCount, 'query', 'queries'), 5);
    add(plural(store.anomalyCount, 'anomaly', 'anomalies'), plural(store.anomalyCount, 'anomaly', 'anomalies'), 4);
    if (opts.live) {
      const d = store.dropped === null ? 'drops unknown' : `${store.dropped} dropped`;
      add(d, d, 9);
      // How far decoding is behind the capture, while it is.
      if (store.behind) add(`{yellow-fg}${tagSafe(safe(store.behind))}{/yellow-fg}`, safe(store.behind), 9);
    }
    if (f) add(f.text, f.plain, 9);
    const searching = main.searchStatus();
    if (searching) add(searching, searching, 10);
    const p = progressText();
    add(p.text, p.plain, 10);
    if (notice) {
      const t = safe(notice.text);
      add(notice.error ? `{red-bg}${tagSafe(t)}{/red-bg}` : `{yellow-fg}${tagSafe(t)}{/yellow-fg}`, t, 11);
    } else add('? help', '? help', 1);
    const SEP = 3;
    const lead = 'pgsniff ';
    const titleMin = 8;
    const total = () => 1 + lead.length + titleMin + parts.reduce((n, x) => n + x.w + SEP, 0);
    while (total() > w && parts.length > 0) {
      let low = 0;
      for (let i = 1; i < parts.length; i++) if ((parts[i] as { prio: number }).prio < (parts[low] as { prio: number }).prio) low = i;
      parts.splice(low, 1);
    }
    // The title gets what is left; a long path keeps its end (the file name).
    const room = Math.max(titleMin, Math.min(TITLE_MAX, w - (total() - titleMin)));
    let title = safe(opts.title);
    if (width(title) > room) {
      let cut = title;
      while (cut.length > 0 && width(cut) > room - 1) cut = cut.slice(1);
      title = '…' + cut;
    }
    const line = ` {bold}pgsniff{/bold} ${tagSafe(title)}` + parts.map((x) => ` │ ${x.text}`).join('');
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
      // Drawn on the next tick (the status line may not have been reached this time).
      dirty = true;
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
          // The status line says "capture stopped" (or "load cancelled") already: the notice says what comes next.
          notify('Ctrl-C again quits');
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

    producer.then(() => {
      // End of input: store.end() came through the sink. A failure after the first event is
      // shown in the status line (the screen is open by then) and makes the exit status 1.
      if (producerError === null || (abort.signal.aborted && !quitting)) return;
      const e = producerError;
      loadError = e instanceof Error ? e.message : String(e);
      exitCode = 1;
    }).finally(() => {
      loading = false;
      loadMs = Date.now() - loadStart;
      dirty = true;
      if (!quitting) render(true);
    });
  });
}
