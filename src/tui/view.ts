/**
 * What every screen of the UI implements, the context they share, and the cursor of a
 * virtual list (only the visible window is ever turned into text).
 */
import type blessed from 'blessed';
import type { TuiStore } from './store.js';
import type { FrameReader } from './frame-reader.js';
import type { RecordMatch } from './record-match.js';

/** A key as views match it: the printable character ('G', '/', 'n') or blessed's name ('enter', 'C-c', 'S-tab', 'pagedown'). */
export type Key = string;

export type ViewName = 'main' | 'timeline' | 'sessions' | 'queries' | 'stats' | 'follow' | 'help' | 'value' | 'dashboard';

export interface UiContext {
  screen: blessed.Widgets.Screen;
  store: TuiStore;
  reader: FrameReader | null;
  live: boolean;
  /** The display filter over the query and session records (the queries and sessions views). */
  records: RecordMatch;
  /** --show-secrets: the bytes pane and the tree show passwords, proofs, tokens (masked / redacted otherwise). */
  showSecrets: boolean;
  /** Shows frame number `no` selected in the frame list (clearing a filter that hides it). */
  gotoFrame(no: number): void;
  /** Opens a view on top of the current one (Esc returns). */
  open(view: ViewName, arg?: number): void;
  /** Opens the value viewer on `text` (wire text: escaped there), titled `title`. */
  viewValue(title: string, text: string): void;
  /** Opens the display filter prompt with `expr` to edit (Prepare as Filter). */
  prepareFilter(expr: string): void;
  /** A one-line message in the status bar until the next key. */
  notify(text: string, error?: boolean): void;
  /** Asks for a redraw on the next timer tick. */
  invalidate(): void;
}

export interface View {
  readonly name: ViewName;
  /** Top-level boxes of the view (hidden when another view is on screen). */
  readonly boxes: blessed.Widgets.BoxElement[];
  /** Called when the view comes to the front, with the argument open() got. */
  enter(arg?: number): void;
  /** Positions the boxes for the current screen size. */
  layout(width: number, height: number): void;
  /** Refreshes box content from the store. */
  draw(): void;
  /** Handles a key; false passes it on to the global layer. */
  key(k: Key): boolean;
}

/** Cursor and scroll offset of a list of `count` rows shown `height` at a time. */
export class Cursor {
  sel = 0;
  top = 0;
  count = 0;
  height = 1;

  setCount(n: number): void {
    this.count = n;
    if (this.sel >= n) this.sel = Math.max(0, n - 1);
    this.clamp();
  }
  move(delta: number): void {
    this.sel = Math.max(0, Math.min(this.count - 1, this.sel + delta));
    if (this.sel < 0) this.sel = 0;
    this.clamp();
  }
  to(i: number): void {
    this.sel = Math.max(0, Math.min(this.count - 1, i));
    this.clamp();
  }
  atEnd(): boolean {
    return this.count === 0 || this.sel >= this.count - 1;
  }
  /** Keeps the selection inside the window. */
  clamp(): void {
    if (this.sel < this.top) this.top = this.sel;
    if (this.sel >= this.top + this.height) this.top = this.sel - this.height + 1;
    const maxTop = Math.max(0, this.count - this.height);
    if (this.top > maxTop) this.top = maxTop;
    if (this.top < 0) this.top = 0;
  }
  /** Standard list keys (vim and arrows); true when handled. */
  key(k: Key): boolean {
    switch (k) {
      case 'j': case 'down': this.move(1); return true;
      case 'k': case 'up': this.move(-1); return true;
      case 'C-d': this.move(Math.max(1, this.height >> 1)); return true;
      case 'C-u': this.move(-Math.max(1, this.height >> 1)); return true;
      case 'pagedown': case 'C-f': case ' ': this.move(this.height); return true;
      case 'pageup': case 'C-b': this.move(-this.height); return true;
      case 'g': case 'home': this.to(0); return true;
      case 'G': case 'end': this.to(this.count - 1); return true;
      default: return false;
    }
  }
}

/** A blessed geometry value (a number once laid out, else a string or undefined) as a cell count. */
export function cells(v: unknown): number {
  return typeof v === 'number' ? v : Number(v) || 0;
}

/** Box options every pane shares: tags on (wire text is escaped by text.ts), no blessed scrolling of its own. */
export function paneOptions(label: string): blessed.Widgets.BoxOptions {
  return {
    label: ` ${label} `,
    tags: true,
    border: { type: 'line' },
    style: { border: { fg: 'gray' }, label: { fg: 'white' } },
    wrap: false,
    clickable: true,
  };
}
