import type { PgValue } from '../types.js';

/**
 * json and jsonb become the parsed value when the text parses, else stay text. Numbers beyond
 * 2^53 lose precision in the parsed form; the value is for reading, not for round trips.
 */
export function parseJson(text: string): PgValue {
  try {
    const v: unknown = JSON.parse(text);
    return v as PgValue;
  } catch {
    return text;
  }
}
