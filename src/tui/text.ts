/**
 * Text for blessed boxes with tags on. Wire text goes through `wire()` (or `wireFit()`):
 * escapeTerminal first, so no control byte reaches the terminal, then blessed's braces are
 * escaped, so a query containing `{red-fg}` shows literally instead of colouring the screen.
 */
import { escapeTerminal } from '../core/escape.js';
import { graphemes, graphemeWidth, narrow, visible, width } from './term-width.js';

/** Escapes blessed's tag braces in text that is already terminal-safe. */
export function tagSafe(s: string): string {
  if (s.indexOf('{') < 0 && s.indexOf('}') < 0) return s;
  return s.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}

export { width } from './term-width.js';

/** Pads or cuts terminal-safe, untagged text to exactly `w` columns; a cut never splits a character (grapheme). */
export function fit(s: string, w: number): string {
  if (w <= 0) return '';
  if (narrow(s)) {
    if (s.length > w) return w === 1 ? '…' : s.slice(0, w - 1) + '…';
    return s.length === w ? s : s + ' '.repeat(w - s.length);
  }
  const total = width(s);
  // blessed measures a line that does not wrap by UTF-16 units (a two-column character carries a
  // spare cell already), so a combining mark (zero columns on the terminal) and the second half
  // of a surrogate pair (🐘) each count one more there: a line holding them that filled the pane
  // lost its last characters, its "…" first. Such a line is cut that many columns earlier; the
  // padding blessed drops is only spaces.
  const marks = blessedExtra(s);
  if (total + marks <= w) return s + ' '.repeat(w - total);
  let out = '';
  let used = 0;
  let kept = 0;
  for (const g of graphemes(s)) {
    const gw = graphemeWidth(g);
    const gm = g.length === 1 ? 0 : blessedExtra(g);
    if (used + gw + kept + gm > w - 1) break;
    out += g;
    used += gw;
    kept += gm;
  }
  return out + '…' + ' '.repeat(Math.max(0, w - 1 - used));
}

/** Units blessed counts beyond the columns: one per combining mark and per astral code point (a surrogate pair). */
function blessedExtra(s: string): number {
  let n = 0;
  for (const ch of s) if (ch.length === 2 || (ch.charCodeAt(0) >= 0x300 && width(ch) === 0)) n++;
  return n;
}

export function fitLeft(s: string, w: number): string {
  const sw = width(s);
  if (sw >= w) return fit(s, w);
  return ' '.repeat(w - sw) + s;
}

/** Wire text, escaped for terminal and tags. */
export function wire(s: string): string {
  return tagSafe(safe(s));
}

/** Wire text made terminal-safe (escaped, and nothing left whose width terminals disagree on), tags not yet escaped. */
export function safe(s: string): string {
  return visible(escapeTerminal(s));
}

/** Wire text cut to `w` columns (after escaping, so the escapes count), then tag-escaped. */
export function wireFit(s: string, w: number): string {
  return tagSafe(fit(safe(s), w));
}

/** Relative seconds with microseconds, as Wireshark's Time column. */
export function relTime(us: number, baseUs: number): string {
  if (!Number.isFinite(us) || !Number.isFinite(baseUs)) return '';
  return ((us - baseUs) / 1e6).toFixed(6);
}

export function ms(v: number): string {
  if (!Number.isFinite(v)) return '-';
  if (v >= 1000) return (v / 1000).toFixed(2) + ' s';
  return v.toFixed(v < 10 ? 3 : 1) + ' ms';
}

export function bytesText(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

export function plural(n: number, one: string, many = one + 's'): string {
  return `${n} ${n === 1 ? one : many}`;
}
