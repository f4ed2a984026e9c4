/**
 * Splits a simple Query message's string into the statements the server will execute, one
 * query record each. The server parses the whole string at once; we only need statement
 * boundaries, so this is a lexer that knows where a `;` is not a terminator (PostgreSQL
 * documentation, "Lexical Structure"):
 *  - '...' strings ('' doubles a quote; backslash escapes only in E'...' strings, or in every
 *    string when standard_conforming_strings is off),
 *  - "..." quoted identifiers ("" doubles),
 *  - $tag$ ... $tag$ dollar quotes ($1 is a parameter, and a $ inside an identifier is not a quote),
 *  - -- line comments and nested slash-star comments,
 *  - SQL-standard function bodies: CREATE FUNCTION/PROCEDURE ... BEGIN ATOMIC ... END, whose
 *    inner statements end with `;` too (psql tracks BEGIN/CASE ... END depth the same way).
 * Linear in the input, no regex backtracking: a hostile query string costs one pass.
 */

export interface SqlPiece {
  /** The statement's text, trimmed of surrounding whitespace, without its terminating `;`. */
  text: string;
  start: number;
  end: number;
}

function isIdentStart(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c >= 0x80;
}

function isIdentChar(c: number): boolean {
  return isIdentStart(c) || (c >= 0x30 && c <= 0x39) || c === 0x24;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d || c === 0x0c || c === 0x0b;
}

/** Words at the start of a statement that make BEGIN ... END a function body, not a transaction. */
type BodyState = 0 /* nothing yet */ | 1 /* CREATE */ | 2 /* CREATE OR */ | 3 /* CREATE OR REPLACE */ | 4 /* a routine */ | 5 /* something else */;

/**
 * Split `sql` into statements. Pieces holding only whitespace and comments are dropped, as the
 * server drops them. `backslashEscapes`: standard_conforming_strings is off. At most
 * `maxPieces` pieces: the last one then holds the rest of the string, unsplit.
 */
export function splitSql(sql: string, backslashEscapes = false, maxPieces = Infinity): SqlPiece[] {
  const out: SqlPiece[] = [];
  const n = sql.length;
  let stmtStart = 0;
  let hasToken = false;
  let body: BodyState = 0;
  let depth = 0;
  let i = 0;

  const finish = (end: number) => {
    if (hasToken) {
      let s = stmtStart;
      let e = end;
      while (s < e && isSpace(sql.charCodeAt(s))) s++;
      while (e > s && isSpace(sql.charCodeAt(e - 1))) e--;
      out.push({ text: sql.slice(s, e), start: s, end: e });
    }
    hasToken = false;
    body = 0;
    depth = 0;
  };

  while (i < n) {
    const c = sql.charCodeAt(i);
    if (isSpace(c)) { i++; continue; }
    // -- comment to end of line
    if (c === 0x2d && sql.charCodeAt(i + 1) === 0x2d) {
      i += 2;
      while (i < n && sql.charCodeAt(i) !== 0x0a && sql.charCodeAt(i) !== 0x0d) i++;
      continue;
    }
    // /* nested */ comment; an unterminated one runs to the end (the server reports the error)
    if (c === 0x2f && sql.charCodeAt(i + 1) === 0x2a) {
      let nest = 1;
      i += 2;
      while (i < n && nest > 0) {
        const d = sql.charCodeAt(i);
        if (d === 0x2f && sql.charCodeAt(i + 1) === 0x2a) { nest++; i += 2; }
        else if (d === 0x2a && sql.charCodeAt(i + 1) === 0x2f) { nest--; i += 2; }
        else i++;
      }
      continue;
    }
    if (c === 0x3b) {
      if (depth > 0 || out.length >= maxPieces - 1) { i++; continue; }
      finish(i);
      i++;
      stmtStart = i;
      continue;
    }
    hasToken = true;
    if (c === 0x27) {
      // E'...' when the quote follows a lone e/E (not the end of an identifier like "name'")
      const prev = i > 0 ? sql.charCodeAt(i - 1) : 0;
      const escapes = backslashEscapes || ((prev === 0x45 || prev === 0x65) && !(i > 1 && isIdentChar(sql.charCodeAt(i - 2))));
      i = skipQuoted(sql, i + 1, 0x27, escapes);
      continue;
    }
    if (c === 0x22) { i = skipQuoted(sql, i + 1, 0x22, false); continue; }
    if (c === 0x24) {
      const end = dollarQuoteEnd(sql, i);
      if (end >= 0) { i = end; continue; }
      i++;
      while (i < n && sql.charCodeAt(i) >= 0x30 && sql.charCodeAt(i) <= 0x39) i++;
      continue;
    }
    if (isIdentStart(c)) {
      const s = i;
      i++;
      while (i < n && isIdentChar(sql.charCodeAt(i))) i++;
      // An identifier directly followed by a quote is a prefix (E'', U&'', B'', X''): handled above
      if (body !== 5 || depth > 0) {
        const w = i - s;
        if (w >= 2 && w <= 9) body = nextBody(body, sql.slice(s, i).toLowerCase(), (d) => { depth += d; }, depth);
        else if (body < 4) body = 5;
      }
      continue;
    }
    i++;
  }
  finish(n);
  return out;
}

function nextBody(state: BodyState, word: string, bump: (d: number) => void, depth: number): BodyState {
  switch (state) {
    case 0: return word === 'create' ? 1 : 5;
    case 1: return word === 'or' ? 2 : word === 'function' || word === 'procedure' ? 4 : 5;
    case 2: return word === 'replace' ? 3 : 5;
    case 3: return word === 'function' || word === 'procedure' ? 4 : 5;
    case 4:
      if (word === 'begin') bump(1);
      else if (word === 'case' && depth > 0) bump(1);
      else if (word === 'end' && depth > 0) bump(-1);
      return 4;
    default: return state;
  }
}

/** Index after the closing quote (or the end of input when unterminated). */
function skipQuoted(sql: string, i: number, quote: number, backslash: boolean): number {
  const n = sql.length;
  while (i < n) {
    const d = sql.charCodeAt(i);
    if (backslash && d === 0x5c) { i += 2; continue; }
    if (d === quote) {
      if (sql.charCodeAt(i + 1) === quote) { i += 2; continue; }
      return i + 1;
    }
    i++;
  }
  return n;
}

/** If a dollar quote opens at `i`, the index after its closing delimiter (or the end); else -1. */
function dollarQuoteEnd(sql: string, i: number): number {
  if (i > 0 && isIdentChar(sql.charCodeAt(i - 1))) return -1;
  const n = sql.length;
  let j = i + 1;
  if (j < n && isIdentStart(sql.charCodeAt(j))) {
    j++;
    while (j < n && sql.charCodeAt(j) !== 0x24 && isIdentChar(sql.charCodeAt(j))) j++;
  }
  if (j >= n || sql.charCodeAt(j) !== 0x24) return -1;
  const tag = sql.slice(i, j + 1);
  const close = sql.indexOf(tag, j + 1);
  return close < 0 ? n : close + tag.length;
}
