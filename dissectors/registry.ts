/**
 * The frontend and backend tables: type byte -> Entry, built from every family's entries.
 * A duplicate (direction, code) fails at load time; every other slot holds an entry that
 * decodes to Unknown, so a lookup never misses (gopacket's pre-filled layer registry).
 */
import type { Entry } from './entry.js';
import { F } from './fields.js';
import { cappedHex } from './hex.js';
import type { Direction } from './types.js';
import { entries as startupAuth } from './startup-auth.js';
import { entries as simpleQuery } from './simple-query.js';
import { entries as extendedQuery } from './extended-query.js';
import { entries as copyMessages } from './copy-messages.js';
import { entries as errorNotice } from './error-notice.js';
import { entries as asyncMessages } from './async.js';
import { entries as functionCall } from './function-call.js';

export const ALL_ENTRIES: readonly Entry[] = [
  ...startupAuth, ...simpleQuery, ...extendedQuery, ...copyMessages, ...errorNotice, ...asyncMessages, ...functionCall,
];

/** A type byte as people read it: the letter when printable, else its hex. */
function showCode(code: number): string {
  return code >= 0x21 && code <= 0x7e ? `'${String.fromCharCode(code)}'` : `0x${code.toString(16).padStart(2, '0')}`;
}

function unknownEntry(dir: Direction, code: number): Entry {
  const reason = `no ${dir} message has type byte ${showCode(code)}`;
  return {
    dir,
    code: String.fromCharCode(code),
    name: 'Unknown',
    decode(r) {
      const body = r.rest(F.unknown);
      return { type: 'Unknown', reason, raw: cappedHex(body), size: body.length };
    },
  };
}

export function buildTable(dir: Direction, entries: readonly Entry[]): Entry[] {
  const known: Array<Entry | undefined> = new Array<Entry | undefined>(256).fill(undefined);
  for (const e of entries) {
    if (e.dir !== dir) continue;
    if (e.code.length !== 1 || e.code.charCodeAt(0) > 0xff) throw new Error(`dissectors: bad type byte ${JSON.stringify(e.code)} for ${e.name}`);
    const c = e.code.charCodeAt(0);
    const prev = known[c];
    if (prev !== undefined) throw new Error(`dissectors: ${dir} type byte ${showCode(c)} registered twice (${prev.name}, ${e.name})`);
    known[c] = e;
  }
  const table: Entry[] = [];
  for (let c = 0; c < 256; c++) table.push(known[c] ?? unknownEntry(dir, c));
  return table;
}

const FRONTEND = buildTable('frontend', ALL_ENTRIES);
const BACKEND = buildTable('backend', ALL_ENTRIES);

/** The entry for a type byte; never undefined (Unknown entries fill the gaps). */
export function lookup(dir: Direction, code: string): Entry {
  const c = code.length === 1 ? code.charCodeAt(0) : 0;
  return (dir === 'frontend' ? FRONTEND : BACKEND)[c & 0xff];
}

/** Every type byte defined for a direction, as one string (the framer's valid codes). */
export function messageCodes(dir: Direction): string {
  return ALL_ENTRIES.filter((e) => e.dir === dir).map((e) => e.code).join('');
}
