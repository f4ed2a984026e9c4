/**
 * A value too long for its pane (a 6.8 KB query, multi-line ORM SQL, a JSON document) read
 * whole: the text as sent, its lines kept (a newline ends a line here, shown once as `\n` so
 * the escaping rule still holds), every line wrapped at the pane's width by grapheme, never
 * cut; a JSON document also indented below. Scrolls like every text screen; Esc goes back.
 */
import { TextView } from './text-views.js';
import type { UiContext } from './view.js';
import { graphemes, graphemeWidth } from './term-width.js';
import { safe, tagSafe, width } from './text.js';

/** Lines of terminal-safe text `s` wrapped at `w` columns, never splitting a character. */
function wrapLine(s: string, w: number): string[] {
  if (width(s) <= w) return [s];
  const out: string[] = [];
  let cur = '';
  let used = 0;
  for (const g of graphemes(s)) {
    const gw = graphemeWidth(g);
    if (used + gw > w) {
      out.push(cur);
      cur = '';
      used = 0;
    }
    cur += g;
    used += gw;
  }
  if (cur !== '' || out.length === 0) out.push(cur);
  return out;
}

/** The viewer's lines for wire text: split at newlines, each escaped (the `\n` kept at its end) and wrapped. */
export function valueLines(text: string, w: number): string[] {
  const out: string[] = [];
  const parts = text.split('\n');
  for (const [i, part] of parts.entries()) {
    const line = safe(part) + (i < parts.length - 1 ? '\\n' : '');
    for (const piece of wrapLine(line, w)) out.push(tagSafe(piece));
  }
  return out;
}

/** The text indented when it is a JSON object or array, else null. */
function prettyJson(text: string): string | null {
  const t = text.trim();
  if (!(t.startsWith('{') || t.startsWith('['))) return null;
  try {
    return JSON.stringify(JSON.parse(t), null, 2);
  } catch {
    return null;
  }
}

export class ValueView extends TextView {
  readonly name = 'value';
  private title = '';
  private text = '';

  constructor(ctx: UiContext) {
    super(ctx, 'Value');
  }

  /** Sets what the viewer shows (before open('value')). */
  show(title: string, text: string): void {
    this.title = title;
    this.text = text;
  }

  protected content(): string[] {
    const w = this.width;
    const lines = this.text.split('\n').length;
    const bytes = Buffer.byteLength(this.text);
    this.setLabel(`${this.title}: ${bytes} bytes, ${lines} line${lines === 1 ? '' : 's'} as sent (wrapped; Esc back)`);
    const out = valueLines(this.text, w);
    const pretty = prettyJson(this.text);
    if (pretty !== null && pretty !== this.text) {
      out.push('', '{bold}JSON, indented:{/bold}');
      // Indentation is ours: the value's own text is escaped within each line.
      for (const l of pretty.split('\n')) for (const piece of wrapLine(safe(l), w)) out.push(tagSafe(piece));
    }
    return out;
  }
}
