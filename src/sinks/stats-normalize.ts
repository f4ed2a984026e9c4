/**
 * Groups query records by what they do, not by their literals: the fingerprint and the
 * normalized text come from libpg-query (the real PostgreSQL parser compiled to WASM; its sync
 * calls need one async loadModule() first). SQL the parser rejects (or every SQL, when the
 * WASM module cannot load) goes through a small literal-stripping normalizer instead, whose
 * fingerprints are prefixed "x" so they never collide with the parser's.
 * Results are cached by SQL text (bounded), since the same statements repeat.
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
  fingerprintSync(sql: string): string;
  normalizeSync(sql: string): string;
}

export const CACHE_LIMIT = 10_000;
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

class CachingNormalizer implements Normalizer {
  private readonly cache = new Map<string, Normalized>();
  readonly usesParser: boolean;

  constructor(private readonly pg: PgQuery | null) {
    this.usesParser = pg !== null;
  }

  normalize(sql: string): Normalized {
    const hit = this.cache.get(sql);
    if (hit) return hit;
    let out: Normalized | null = null;
    if (this.pg && sql.length <= PARSE_LIMIT) {
      // libpg-query answers an empty string with its error message as both the normalized text
      // and the fingerprint instead of throwing: an empty query is read as the blank one it is.
      const input = sql.length === 0 ? ' ' : sql;
      try {
        const text = this.pg.normalizeSync(input);
        out = {
          fingerprint: this.pg.fingerprintSync(input),
          text: collapseSpace(text),
          parsed: true,
          hasLiterals: text !== input,
        };
      } catch {
        out = null;
      }
    }
    out ??= fallbackNormalize(sql.length > PARSE_LIMIT ? sql.slice(0, PARSE_LIMIT) : sql);
    if (sql.length > CACHE_KEY_LIMIT) return out;
    if (this.cache.size >= CACHE_LIMIT) {
      const first = this.cache.keys().next();
      if (!first.done) this.cache.delete(first.value);
    }
    this.cache.set(sql, out);
    return out;
  }
}

function collapseSpace(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

/**
 * Literal stripping without a parser: string constants (incl. E'', dollar quotes), numbers
 * and runs of them in IN lists become $n; comments go; whitespace collapses; keywords and
 * identifiers keep their case except that the fingerprint ignores case. One linear pass.
 */
export function fallbackNormalize(sql: string): Normalized {
  let out = '';
  let n = 0;
  let literals = false;
  let i = 0;
  const len = sql.length;
  const param = () => { literals = true; out += '$' + ++n; };
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
      out += ' ';
      continue;
    }
    if (c === "'" ) {
      const prev = out[out.length - 1];
      const escapes = prev === 'E' || prev === 'e';
      if (escapes) out = out.slice(0, -1);
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
    if (c === '$' && !/[A-Za-z0-9_]/.test(out[out.length - 1] ?? ' ')) {
      const m = /^\$([A-Za-z_][A-Za-z0-9_]*)?\$/.exec(sql.slice(i, i + 66));
      if (m) {
        const close = sql.indexOf(m[0], i + m[0].length);
        i = close < 0 ? len : close + m[0].length;
        param();
        continue;
      }
    }
    if (c >= '0' && c <= '9' && !/[A-Za-z0-9_$]/.test(out[out.length - 1] ?? ' ')) {
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
      out += sql.slice(s, i);
      continue;
    }
    out += c;
    i++;
  }
  const text = collapseSpace(out.replace(/\$\d+(\s*,\s*\$\d+)+/g, (m) => m.slice(0, m.indexOf(',')).trim()));
  return { fingerprint: 'x' + fnv1a(text.toLowerCase()), text, parsed: false, hasLiterals: literals };
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
