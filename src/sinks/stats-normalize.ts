/**
 * Groups query records by what they do, not by their literals, as pg_stat_statements counts
 * them: the normalized text comes from libpg-query (the real PostgreSQL parser compiled to WASM;
 * its sync calls need one async loadModule() first), and the group key is that text made
 * canonical (keywords' case, whitespace, comments and the length of IN lists do not matter).
 * libpg-query's own fingerprint is not used: it ignores a FROM-less SELECT's target list, so
 * `SELECT 1 AS one`, `SELECT $1::int` and a ten-column SELECT would share one value, where
 * pg_stat_statements counts them apart.
 * SQL the parser rejects (or every SQL, when the WASM module cannot load) goes through a small
 * literal-stripping normalizer instead, whose fingerprints are prefixed "x" so they never
 * collide with the parser's. Results are cached by SQL text (bounded), since the same
 * statements repeat.
 */
import { createRequire } from 'node:module';
import { setFlagsFromString } from 'node:v8';

export interface Normalized {
  fingerprint: string;
  /** Constants replaced by $n, whitespace collapsed. */
  text: string;
  /** libpg-query parsed it. */
  parsed: boolean;
  /** The SQL held constants (numbers, strings) that normalization replaced. */
  hasLiterals: boolean;
}

export interface Normalizer {
  normalize(sql: string): Normalized;
  /** libpg-query is in use (false: the fallback only). */
  readonly usesParser: boolean;
}

interface PgQuery {
  loadModule(): Promise<void>;
  normalizeSync(sql: string): string;
}

export const CACHE_LIMIT = 10_000;
/**
 * Characters of SQL the cache keeps as keys, at most (each generation half of it): 10,000 distinct
 * statements of 16 KB each kept 160 MB alive (issue 19: `stats --memory-limit 128` peaked at 266 MB).
 */
export const CACHE_CHARS = 4 * 1024 * 1024;
/** Longer SQL is not parsed (bulk INSERTs of megabytes): the fallback normalizes its first PARSE_LIMIT characters. */
export const PARSE_LIMIT = 100_000;
/** Longer SQL is not cached: the cache would keep megabyte strings alive. */
const CACHE_KEY_LIMIT = 16 * 1024;

/**
 * A copy of `s` that shares no memory with a larger string: V8 represents a slice of a long
 * string as a view that keeps the whole parent alive, and an aggregate that keeps a 2 kB
 * example must not keep the 60 MB Query it came from.
 */
export function detach(s: string): string {
  return s.length < 16 ? s : Buffer.from(s, 'utf8').toString('utf8');
}

let loading: Promise<PgQuery | null> | null = null;

function loadPgQuery(): Promise<PgQuery | null> {
  if (!loading) {
    loading = (async () => {
      try {
        // V8 compiles a WebAssembly module with its baseline compiler (Liftoff) and then again, in
        // the background, with its optimizing one (TurboFan). For libpg-query's 1.7 MB module the
        // second costs about 0.4 s of CPU and 100 MB of memory, to speed up a parser that runs once
        // per distinct statement: measured, baseline code alone parses 10,000 statements in under
        // 0.2 s. The flag must be set before the module is compiled; it affects only WebAssembly.
        setFlagsFromString('--liftoff-only');
        const require = createRequire(import.meta.url);
        const mod = require('libpg-query') as PgQuery;
        await mod.loadModule();
        return mod;
      } catch {
        return null;
      }
    })();
  }
  return loading;
}

/** A normalizer backed by libpg-query when it loads, else by the fallback alone. */
export async function createNormalizer(opts: { parser?: boolean } = {}): Promise<Normalizer> {
  const pg = opts.parser === false ? null : await loadPgQuery();
  return new CachingNormalizer(pg);
}

/**
 * A normalizer whose parser is loaded only when load() is called: libpg-query's WebAssembly
 * module and its memory (about 9 MB at rest, more once it has parsed long statements) then stay
 * out of a pass that does not need them (stats groups records by text and normalizes each text
 * once, at the end: stats.ts). normalize() before load() has settled is a programming error.
 */
export interface LazyNormalizer extends Normalizer {
  /** load() has settled: normalize() may be called. */
  readonly loaded: boolean;
  /** Loads libpg-query (once; the fallback alone when it cannot load). */
  load(): Promise<void>;
}

export function createLazyNormalizer(opts: { parser?: boolean } = {}): LazyNormalizer {
  return new CachingNormalizer(opts.parser === false ? null : undefined);
}

class CachingNormalizer implements LazyNormalizer {
  // Two generations instead of one map that drops its oldest key: V8's Map leaves a deleted
  // entry's slot behind, so keys().next() after many deletions walks every hole first.
  // A hit in the older generation moves to the younger; at most CACHE_LIMIT entries in all.
  private young = new Map<string, Normalized>();
  private old = new Map<string, Normalized>();
  /** Characters of the young generation's keys (CACHE_CHARS). */
  private youngChars = 0;
  private loading: Promise<void> | null = null;

  /** pg: undefined until load() (createLazyNormalizer), null when the fallback alone is used. */
  constructor(private pg: PgQuery | null | undefined) {}

  get usesParser(): boolean {
    return this.pg !== null && this.pg !== undefined;
  }

  get loaded(): boolean {
    return this.pg !== undefined;
  }

  load(): Promise<void> {
    this.loading ??= loadPgQuery().then((pg) => {
      this.pg = pg;
    });
    return this.loading;
  }

  normalize(sql: string): Normalized {
    if (this.pg === undefined) throw new Error('stats-normalize: normalize() before load()');
    const hit = this.young.get(sql);
    if (hit) return hit;
    const older = this.old.get(sql);
    if (older) {
      this.remember(sql, older);
      return older;
    }
    let out: Normalized | null = null;
    if (this.pg && sql.length <= PARSE_LIMIT) {
      // libpg-query answers an empty string with its error message as both the normalized text
      // and the fingerprint instead of throwing: an empty query is read as the blank one it is.
      const input = sql.length === 0 ? ' ' : sql;
      try {
        const text = this.pg.normalizeSync(input);
        // libpg-query answers some inputs it cannot parse (memory exhausted on deep expressions)
        // with its error text instead of throwing: a normalized statement starts with the
        // statement's own first word, an error message does not.
        if (firstWord(text) === firstWord(input)) {
          const canonical = canonicalText(text);
          out = { fingerprint: fnv1a(canonical), text: collapseSpace(text), parsed: true, hasLiterals: text !== input };
        }
      } catch {
        out = null;
      }
    }
    out ??= fallbackNormalize(sql.length > PARSE_LIMIT ? sql.slice(0, PARSE_LIMIT) : sql);
    if (sql.length <= CACHE_KEY_LIMIT) this.remember(sql, out);
    return out;
  }

  private remember(sql: string, out: Normalized): void {
    if (this.young.size >= CACHE_LIMIT / 2 || this.youngChars >= CACHE_CHARS / 2) {
      this.old = this.young;
      this.young = new Map();
      this.youngChars = 0;
    }
    this.young.set(sql, out);
    this.youngChars += sql.length;
  }
}

function collapseSpace(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/** The first keyword (letters only, lower-cased) after whitespace, comments and parentheses; '' if none. */
export function firstWord(sql: string): string {
  let i = 0;
  const len = Math.min(sql.length, 4096);
  while (i < len) {
    const c = sql[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '(' || c === '\f') { i++; continue; }
    if (c === '-' && sql[i + 1] === '-') { while (i < len && sql[i] !== '\n') i++; continue; }
    if (c === '/' && sql[i + 1] === '*') { const e = sql.indexOf('*/', i + 2); i = e < 0 ? len : e + 2; continue; }
    break;
  }
  let j = i;
  while (j < len && /[A-Za-z_]/.test(sql[j]!)) j++;
  return sql.slice(i, j).toLowerCase();
}

/**
 * The group key's text: a normalized statement with what pg_stat_statements ignores taken out
 * (comments, whitespace, keyword case, the numbering of $n and the length of IN lists of
 * constants), and what it keeps kept (identifiers, quoted ones with their case; the target list;
 * casts). One linear pass.
 */
function canonicalText(text: string): string {
  const parts: string[] = [];
  let i = 0;
  const len = text.length;
  let space = false;
  const put = (s: string): void => {
    if (space && parts.length > 0) parts.push(' ');
    space = false;
    parts.push(s);
  };
  while (i < len) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\f') { space = true; i++; continue; }
    if (c === '-' && text[i + 1] === '-') { while (i < len && text[i] !== '\n') i++; space = true; continue; }
    if (c === '/' && text[i + 1] === '*') { const e = text.indexOf('*/', i + 2); i = e < 0 ? len : e + 2; space = true; continue; }
    if (c === '"' || c === "'") {
      const s = i++;
      while (i < len && text[i] !== c) i++;
      i++;
      put(text.slice(s, i));
      continue;
    }
    if (c === '$' && i + 1 < len && text.charCodeAt(i + 1) >= 48 && text.charCodeAt(i + 1) <= 57) {
      i++;
      while (i < len && text.charCodeAt(i) >= 48 && text.charCodeAt(i) <= 57) i++;
      put('$n');
      continue;
    }
    let j = i + 1;
    if (/[A-Za-z0-9_]/.test(c)) while (j < len && /[A-Za-z0-9_]/.test(text[j]!)) j++;
    put(text.slice(i, j).toLowerCase());
    i = j;
  }
  return collapseInLists(parts.join(''));
}

/** `in ($n, $n, $n)` -> `in ($n)`: pg_stat_statements (18) counts IN lists of constants as one. */
function collapseInLists(s: string): string {
  return s.replace(/\bin ?\( ?\$n( ?, ?\$n)* ?\)/gi, 'in ($n)');
}

/**
 * Literal stripping without a parser: string constants (incl. E'', dollar quotes), numbers
 * and IN lists of them become $n; comments go; whitespace collapses; keywords and identifiers
 * keep their case except that the fingerprint ignores case. One linear pass: the output is
 * built in pieces and only its last character is looked at (indexing a string built by `+=`
 * flattens it, which made this quadratic on a statement of 49,000 `+1` terms).
 */
export function fallbackNormalize(sql: string): Normalized {
  const parts: string[] = [];
  let last = ' ';
  let n = 0;
  let literals = false;
  let i = 0;
  const len = sql.length;
  const emit = (s: string): void => {
    if (s.length === 0) return;
    parts.push(s);
    last = s[s.length - 1]!;
  };
  const param = () => { literals = true; emit('$' + ++n); };
  while (i < len) {
    const c = sql[i]!;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      while (i < len && sql[i] !== '\n') i++;
      continue;
    }
    if (c === '/' && next === '*') {
      let depth = 1;
      i += 2;
      while (i < len && depth > 0) {
        if (sql[i] === '/' && sql[i + 1] === '*') { depth++; i += 2; } else if (sql[i] === '*' && sql[i + 1] === '/') { depth--; i += 2; } else i++;
      }
      emit(' ');
      continue;
    }
    if (c === "'") {
      // E'...' takes backslash escapes: its E was the last character emitted, on its own
      const escapes = last === 'E' || last === 'e';
      if (escapes) parts.pop();
      i++;
      while (i < len) {
        if (escapes && sql[i] === '\\') { i += 2; continue; }
        if (sql[i] === "'") {
          if (sql[i + 1] === "'") { i += 2; continue; }
          break;
        }
        i++;
      }
      i++;
      param();
      continue;
    }
    if (c === '$' && !/[A-Za-z0-9_]/.test(last)) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66));
      if (m) {
        const close = sql.indexOf(m[0], i + m[0].length);
        i = close < 0 ? len : close + m[0].length;
        param();
        continue;
      }
    }
    if (c >= '0' && c <= '9' && !/[A-Za-z0-9_$]/.test(last)) {
      while (i < len && /[0-9.eE]/.test(sql[i]!)) {
        if ((sql[i] === 'e' || sql[i] === 'E') && (sql[i + 1] === '-' || sql[i + 1] === '+')) i++;
        i++;
      }
      param();
      continue;
    }
    if (c === '"') {
      const s = i;
      i++;
      while (i < len) {
        if (sql[i] === '"') { if (sql[i + 1] === '"') { i += 2; continue; } break; }
        i++;
      }
      i++;
      emit(sql.slice(s, i));
      continue;
    }
    emit(c);
    i++;
  }
  const text = collapseSpace(parts.join('').replace(/\b(in\s*\(\s*)(\$\d+)(\s*,\s*\$\d+)+/gi, '$1$2'));
  return { fingerprint: 'x' + fnv1a(canonicalText(text)), text, parsed: false, hasLiterals: literals };
}

/** 64-bit FNV-1a as 16 hex digits, in two 32-bit halves (no bigint on the hot path). */
function fnv1a(s: string): string {
  let h1 = 0x811c9dc5;
  let h2 = 0xcbf29ce4;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0;
    h2 = Math.imul(h2 ^ (c + 0x9e), 0x01000193) >>> 0;
  }
  return h2.toString(16).padStart(8, '0') + h1.toString(16).padStart(8, '0');
}
