import type { PgValue } from '../types.js';

/**
 * Deepest nesting kept as a parsed value. JSON.parse builds any depth, but every later stage
 * that walks the value recursively (JSON.stringify in the NDJSON sink, the TUI's tree) runs out
 * of stack at a few thousand levels: a deeper document stays text.
 */
const MAX_JSON_DEPTH = 256;

function tooDeep(text: string): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > MAX_JSON_DEPTH) return true;
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
  return false;
}

/**
 * json and jsonb become the parsed value when the text parses (and is not nested deeper than
 * MAX_JSON_DEPTH), else stay text. Numbers beyond 2^53 lose precision in the parsed form; the
 * value is for reading, not for round trips.
 */
export function parseJson(text: string): PgValue {
  if (tooDeep(text)) return text;
  try {
    const v: unknown = JSON.parse(text);
    return v as PgValue;
  } catch {
    return text;
  }
}
