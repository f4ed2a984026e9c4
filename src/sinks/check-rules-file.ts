/**
 * Rules files for `pgsniff check` and `record --check`: JSON or YAML (YAML is a superset of
 * JSON, so one parser reads both), keys written camelCase or kebab-case, as the flags are. A
 * rules file that does not validate is a UserError (BAD_INPUT) naming the key, never a stack
 * trace. Apart from check-rules.ts so that yaml and zod load only when a rules file is given.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { UserError } from '../core/errors.js';
import { escapeTerminal } from '../core/escape.js';
import { SQLSTATE, SQLSTATE_MESSAGE, validRegex } from './check-rule-values.js';

const checkRulesSchema = z.object({
  /** At most this many executed queries in total. */
  maxQueries: z.number().int().nonnegative().optional(),
  /** At most this many executions of any one normalized query (N+1 detection). */
  maxPerFingerprint: z.number().int().nonnegative().optional(),
  /** No query may fail, except with one of allowSqlstates. */
  noErrors: z.boolean().optional(),
  allowSqlstates: z.array(z.string().regex(SQLSTATE, SQLSTATE_MESSAGE)).optional(),
  /** Latency budgets in milliseconds: p95 per normalized query, and any single execution. */
  maxP95Ms: z.number().nonnegative().optional(),
  maxLatencyMs: z.number().nonnegative().optional(),
  /** Each statement is prepared (Parse) at most maxPrepares times per session (default 1) and reused after. */
  preparedOnce: z.boolean().optional(),
  maxPrepares: z.number().int().positive().optional(),
  /** No normalized query runs through the simple protocol with different literal values. */
  noInlinedLiterals: z.boolean().optional(),
  /** No session authenticates with a cleartext password. */
  noPlaintextPasswords: z.boolean().optional(),
  /** Every session is TLS-encrypted (CancelRequest connections excepted: before PostgreSQL 17 they cannot be). */
  requireTls: z.boolean().optional(),
  /** Sessions that could not be decoded (TLS without keys, GSS encryption, never framed) are not a violation. */
  allowUndecoded: z.boolean().optional(),
  /** Damage to the capture (lost bytes, resyncs, a file cut short) is a violation. */
  strict: z.boolean().optional(),
  /** Statements whose SQL (or normalized text) matches one of these regular expressions (case-insensitive) are not checked. */
  exclude: z.array(z.string().refine(validRegex, 'not a valid regular expression')).optional(),
}).strict();

export type CheckRules = z.infer<typeof checkRulesSchema>;

/** Spellings accepted in files besides the schema's own keys. */
const ALIASES: Record<string, keyof CheckRules> = {
  'max-queries': 'maxQueries',
  'max-per-fingerprint': 'maxPerFingerprint',
  'no-errors': 'noErrors',
  'allow-sqlstate': 'allowSqlstates',
  'allow-sqlstates': 'allowSqlstates',
  allowSqlstate: 'allowSqlstates',
  'max-p95': 'maxP95Ms',
  maxP95: 'maxP95Ms',
  'max-p95-ms': 'maxP95Ms',
  'max-latency': 'maxLatencyMs',
  maxLatency: 'maxLatencyMs',
  'max-latency-ms': 'maxLatencyMs',
  'prepared-once': 'preparedOnce',
  'max-prepares': 'maxPrepares',
  'no-inlined-literals': 'noInlinedLiterals',
  'no-plaintext-passwords': 'noPlaintextPasswords',
  'require-tls': 'requireTls',
  'allow-undecoded': 'allowUndecoded',
};

/** Validate rules given as an object (from a file or a library caller). */
export function parseRules(input: unknown, source = 'rules'): CheckRules {
  if (input === null || input === undefined) return {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new UserError('BAD_INPUT', `${source}: rules must be a mapping of rule names to values`);
  }
  const renamed: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input as Record<string, unknown>)) {
    const key = ALIASES[k] ?? k;
    // a single SQLSTATE where a list is expected
    renamed[key] = (key === 'allowSqlstates' || key === 'exclude') && typeof v === 'string' ? [v] : v;
  }
  const r = checkRulesSchema.safeParse(renamed);
  if (!r.success) {
    const issue = r.error.issues[0]!;
    const where = issue.path.length > 0 ? issue.path.join('.') : '';
    const what = issue.code === 'unrecognized_keys' ? `unknown rule ${issue.keys.join(', ')}` : issue.message;
    throw new UserError('BAD_INPUT', `${source}: ${where ? where + ': ' : ''}${what}`);
  }
  // allowing SQLSTATEs only means something with noErrors: asking for one asks for the other
  if (r.data.allowSqlstates !== undefined && r.data.noErrors === undefined) r.data.noErrors = true;
  return r.data;
}

/** A rules file is a few lines: larger (or endless, /dev/zero) is refused before it is parsed. */
const MAX_RULES_BYTES = 1024 * 1024;

/** Reads at most `limit` + 1 bytes, so a device or a growing file cannot make us read forever. */
function readBounded(path: string, limit: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const b = Buffer.alloc(Math.min(64 * 1024, limit + 1 - total));
      const n = readSync(fd, b, 0, b.length, null);
      if (n === 0) break;
      chunks.push(b.subarray(0, n));
      total += n;
      if (total > limit) break;
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/**
 * Reads and validates a rules file. The YAML parser's warnings (unknown directives or tags)
 * quote the file: they go to `warn` escaped, never raw to the terminal (UserErrors are escaped
 * where they are printed, in run.ts).
 */
export function readRulesFile(path: string, warn: (line: string) => void = (l) => { process.stderr.write(l + '\n'); }): CheckRules {
  const name = path;
  let bytes: Buffer;
  try {
    bytes = readBounded(path, MAX_RULES_BYTES);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'EACCES' ? 'EACCES' : code === 'ENOENT' ? 'ENOENT' : 'BAD_INPUT', `cannot read rules file ${name}: ${code ?? (e as Error).message}`);
  }
  if (bytes.length > MAX_RULES_BYTES) {
    throw new UserError('BAD_INPUT', `rules file ${name} is larger than ${MAX_RULES_BYTES} bytes: not a rules file`);
  }
  if (bytes.includes(0)) throw new UserError('BAD_INPUT', `${name}: not JSON or YAML (it holds NUL bytes)`);
  const doc = parseDocument(bytes.toString('utf8'), { prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new UserError('BAD_INPUT', `${name}: not JSON or YAML (${doc.errors[0]!.message.split('\n')[0]!})`);
  }
  for (const w of doc.warnings) warn(`pgsniff: warning: ${escapeTerminal(name)}: ${escapeTerminal(w.message.split('\n')[0]!)}`);
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new UserError('BAD_INPUT', `${name}: not JSON or YAML (${(e as Error).message.split('\n')[0]!})`);
  }
  return parseRules(value, name);
}

