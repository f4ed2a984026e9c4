/**
 * Check rules: what `pgsniff check` and `record --check` assert. They come from a rules file
 * (check-rules-file.ts, which declares them) and from command-line flags, the flags winning.
 */
import { UserError } from '../core/errors.js';
import type { CheckRules } from './check-rules-file.js';
import { SQLSTATE, SQLSTATE_MESSAGE, validRegex } from './check-rule-values.js';

export type { CheckRules };

/**
 * Rules that qualify others rather than being rules of their own: giving only these checks
 * nothing. (strict is a rule: `check dump.pcap --strict` asserts the capture is whole.)
 */
export const QUALIFIERS: ReadonlySet<string> = new Set(['allowSqlstates', 'maxPrepares', 'allowUndecoded', 'exclude']);

/** The flags `check` and `record` take (a subset of the CLI's options). */
export interface RuleFlags {
  maxQueries?: number | null;
  maxPerFingerprint?: number | null;
  noErrors?: boolean;
  allowSqlstate?: string[];
  maxP95?: number | null;
  maxLatency?: number | null;
  preparedOnce?: boolean;
  noInlinedLiterals?: boolean;
  noPlaintextPasswords?: boolean;
  requireTls?: boolean;
  allowUndecoded?: boolean;
  strict?: boolean;
  exclude?: string[];
}

/**
 * Rules from flags, over rules from a file (already validated by check-rules-file.ts). The flags'
 * values are checked here, by hand, so that flags alone never load the file's parser and schema.
 */
export function mergeRules(file: CheckRules, flags: RuleFlags): CheckRules {
  checkFlags(flags);
  const out: CheckRules = { ...file };
  if (flags.maxQueries != null) out.maxQueries = flags.maxQueries;
  if (flags.maxPerFingerprint != null) out.maxPerFingerprint = flags.maxPerFingerprint;
  if (flags.noErrors) out.noErrors = true;
  if (flags.allowSqlstate && flags.allowSqlstate.length > 0) {
    out.allowSqlstates = [...(out.allowSqlstates ?? []), ...flags.allowSqlstate];
    // allowing a SQLSTATE only means something together with noErrors
    out.noErrors = true;
  }
  if (flags.maxP95 != null) out.maxP95Ms = flags.maxP95;
  if (flags.maxLatency != null) out.maxLatencyMs = flags.maxLatency;
  if (flags.preparedOnce) out.preparedOnce = true;
  if (flags.noInlinedLiterals) out.noInlinedLiterals = true;
  if (flags.noPlaintextPasswords) out.noPlaintextPasswords = true;
  if (flags.requireTls) out.requireTls = true;
  if (flags.allowUndecoded) out.allowUndecoded = true;
  if (flags.strict) out.strict = true;
  if (flags.exclude && flags.exclude.length > 0) out.exclude = [...(out.exclude ?? []), ...flags.exclude];
  return out;
}

/** What the option parser cannot know of a rule flag's value (it checked that numbers are numbers, not negative). */
function checkFlags(flags: RuleFlags): void {
  const whole = (name: string, v: number | null | undefined): void => {
    if (v != null && !Number.isInteger(v)) throw new UserError('BAD_ARGUMENT', `--${name} wants a whole number, not ${v}`);
  };
  whole('max-queries', flags.maxQueries);
  whole('max-per-fingerprint', flags.maxPerFingerprint);
  for (const s of flags.allowSqlstate ?? []) {
    if (!SQLSTATE.test(s)) throw new UserError('BAD_ARGUMENT', `--allow-sqlstate: ${SQLSTATE_MESSAGE}, not "${s}"`);
  }
  for (const s of flags.exclude ?? []) {
    if (!validRegex(s)) throw new UserError('BAD_ARGUMENT', `--exclude: not a valid regular expression: "${s}"`);
  }
}

/** Whether any rule is set (qualifiers alone check nothing). */
export function hasRules(r: CheckRules): boolean {
  return Object.entries(r).some(([k, v]) => v !== undefined && v !== false && !QUALIFIERS.has(k));
}
