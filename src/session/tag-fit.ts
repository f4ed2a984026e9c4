/**
 * Whether a CommandComplete tag can be the answer to a statement's SQL: the tag's first word is
 * the command the server ran (protocol documentation, "CommandComplete"), and for the common
 * commands it follows from the statement's first keyword. A tag that cannot answer the SQL is
 * proof that pairing went wrong (bytes lost, or an answer that belongs to another request); a
 * tag that fits proves nothing on its own. Keywords whose tags vary (WITH, EXECUTE, EXPLAIN,
 * replication commands, anything not listed) fit every tag.
 */

/** First keyword (upper case) -> the tag first words it may give. */
const TAGS: ReadonlyMap<string, readonly string[]> = new Map<string, readonly string[]>([
  ['SELECT', ['SELECT']], ['VALUES', ['SELECT']], ['TABLE', ['SELECT']],
  ['INSERT', ['INSERT']], ['UPDATE', ['UPDATE']], ['DELETE', ['DELETE']], ['MERGE', ['MERGE']],
  ['BEGIN', ['BEGIN']], ['START', ['START']],
  // COMMIT of a failed transaction answers ROLLBACK.
  ['COMMIT', ['COMMIT', 'ROLLBACK']], ['END', ['COMMIT', 'ROLLBACK']],
  ['ROLLBACK', ['ROLLBACK']], ['ABORT', ['ROLLBACK']], ['SAVEPOINT', ['SAVEPOINT']], ['RELEASE', ['RELEASE']],
  ['COPY', ['COPY']], ['TRUNCATE', ['TRUNCATE']], ['SET', ['SET']], ['SHOW', ['SHOW']], ['RESET', ['RESET']],
  // CREATE TABLE ... AS and CREATE MATERIALIZED VIEW answer "SELECT n".
  ['CREATE', ['CREATE', 'SELECT']], ['DROP', ['DROP']], ['ALTER', ['ALTER']],
  ['FETCH', ['FETCH']], ['MOVE', ['MOVE']], ['DECLARE', ['DECLARE']], ['CLOSE', ['CLOSE']],
  ['LISTEN', ['LISTEN']], ['UNLISTEN', ['UNLISTEN']], ['NOTIFY', ['NOTIFY']], ['LOCK', ['LOCK']],
  ['DISCARD', ['DISCARD']], ['DEALLOCATE', ['DEALLOCATE']], ['PREPARE', ['PREPARE']],
  ['CALL', ['CALL']], ['DO', ['DO']], ['VACUUM', ['VACUUM']], ['GRANT', ['GRANT']], ['REVOKE', ['REVOKE']],
]);

const SCAN = 256;
const KEYWORDS = [...TAGS.keys()];

/** Where the SQL's first keyword lies (after blanks, comments and opening parentheses): start * 65536 + end, or -1. */
function keywordSpan(sql: string): number {
  const n = Math.min(sql.length, SCAN);
  let i = 0;
  while (i < n) {
    const c = sql.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c || c === 0x28) { i++; continue; }
    if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) { // -- comment
      while (i < n && sql.charCodeAt(i) !== 0x0a) i++;
      continue;
    }
    if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) { // /* comment */ (a nested one reads as unknown)
      const end = sql.indexOf('*/', i + 2);
      if (end < 0 || end >= n) return -1;
      i = end + 2;
      continue;
    }
    break;
  }
  // The whole identifier: START_REPLICATION is not START.
  let j = i;
  while (j < n) {
    const c = sql.charCodeAt(j);
    const l = c | 0x20;
    if (!((l >= 0x61 && l <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x24)) break;
    j++;
  }
  return j > i ? i * 65536 + j : -1;
}

/** The listed keyword sql[i, j) is (case-insensitive), without making a string of it. */
function knownKeyword(sql: string, i: number, j: number): string | null {
  const len = j - i;
  for (let k = 0; k < KEYWORDS.length; k++) {
    const w = KEYWORDS[k]!;
    if (w.length !== len) continue;
    let m = 0;
    while (m < len && (sql.charCodeAt(i + m) & 0xdf) === w.charCodeAt(m)) m++;
    if (m === len) return w;
  }
  return null;
}

/** Whether `tag` (a CommandComplete tag) can answer `sql`; true whenever it cannot be told. */
export function tagFits(sql: string | null, tag: string | null | undefined): boolean {
  // A damaged CommandComplete decodes without a tag: nothing to tell the statement by.
  if (sql === null || typeof tag !== 'string') return true;
  const span = keywordSpan(sql);
  if (span < 0) return true;
  const kw = knownKeyword(sql, Math.floor(span / 65536), span % 65536);
  if (kw === null) return true;
  const allowed = TAGS.get(kw)!;
  for (let k = 0; k < allowed.length; k++) {
    const w = allowed[k]!;
    if (tag.startsWith(w) && (tag.length === w.length || tag.charCodeAt(w.length) === 0x20)) return true;
  }
  return false;
}
