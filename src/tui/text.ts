/**
 * Text for blessed boxes with tags on. Wire text goes through `wire()` (or `wireFit()`):
 * escapeTerminal first, so no control byte reaches the terminal, then blessed's braces are
 * escaped, so a query containing `{red-fg}` shows literally instead of colouring the screen.
 */
import { escapeTerminal } from '../core/escape.js';

/** Escapes blessed's tag braces in text that is already terminal-safe. */
export function tagSafe(s: string): string {
  if (s.indexOf('{') < 0 && s.indexOf('}') < 0) return s;
  return s.replace(/[{}]/g, (c) => (c === '{' ? '{open}' : '{close}'));
}

/** Columns a code point takes: 2 for East Asian wide and fullwidth forms and emoji, 0 for combining marks. */
function cpWidth(cp: number): number {
  if (cp < 0x300) return 1;
  if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x200b && cp <= 0x200f) || (cp >= 0xfe00 && cp <= 0xfe0f)) return 0;
  if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) || (cp >= 0xac00 && cp <= 0xd7a3)
    || (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60)
    || (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1f64f) || (cp >= 0x1f900 && cp <= 0x1f9ff)
    || (cp >= 0x20000 && cp <= 0x3fffd)) return 2;
  return 1;
}

/** True when every UTF-16 unit is one column (the common case: checked without allocating). */
function narrow(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x300) return false;
  return true;
}

/** Display width in terminal columns. */
export function width(s: string): number {
  if (narrow(s)) return s.length;
  let w = 0;
  for (const ch of s) w += cpWidth(ch.codePointAt(0) as number);
  return w;
}

/** Pads or cuts plain (untagged) text to exactly `w` columns (wide characters count two). */
export function fit(s: string, w: number): string {
  if (w <= 0) return '';
  if (narrow(s)) {
    if (s.length > w) return w === 1 ? '…' : s.slice(0, w - 1) + '…';
    return s.length === w ? s : s + ' '.repeat(w - s.length);
  }
  const total = width(s);
  if (total <= w) return s + ' '.repeat(w - total);
  let out = '';
  let used = 0;
  for (const ch of s) {
    const cw = cpWidth(ch.codePointAt(0) as number);
    if (used + cw > w - 1) break;
    out += ch;
    used += cw;
  }
  return out + '…' + ' '.repeat(Math.max(0, w - 1 - used));
}

export function fitLeft(s: string, w: number): string {
  const sw = width(s);
  if (sw >= w) return fit(s, w);
  return ' '.repeat(w - sw) + s;
}

/** Wire text, escaped for terminal and tags. */
export function wire(s: string): string {
  return tagSafe(escapeTerminal(s));
}

/** Wire text cut to `w` columns (after escaping, so the escapes count), then tag-escaped. */
export function wireFit(s: string, w: number): string {
  return tagSafe(fit(escapeTerminal(s), w));
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
