/**
 * `pgsniff check FILE`: evaluates the rules (from --rules FILE and flags) over a capture or an
 * NDJSON export (told apart by content, not by name), prints the verdict and returns 1 when a
 * rule is violated, 0 when all hold. Usage mistakes are UserErrors (exit 2 in main.ts).
 */
import { UserError } from '../core/errors.js';
import { compileFilter, type Predicate } from '../filter/index.js';
import { CheckSink, formatCheckResult, type CheckResult } from '../sinks/check.js';
import { hasRules, mergeRules, type CheckRules, type RuleFlags } from '../sinks/check-rules.js';
import { fileHead, looksLikeNdjson, readNdjsonRecords } from '../sinks/check-ndjson.js';
import { writeOut } from '../core/errors.js';
import type { CommandIo, SummaryOptions } from './stats.js';

export interface CheckCommandOptions extends RuleFlags {
  file: string | null;
  /** Live capture instead of a file: the verdict comes when it stops (Ctrl-C, --duration, -c). */
  iface?: string | null;
  captureFilter?: string | null;
  write?: string | null;
  count?: number | null;
  duration?: number | null;
  /** Rules file (JSON or YAML). */
  rules: string | null;
  ports: number[];
  keylog?: string | null;
  memoryLimitMb?: number;
  /** Print the result as JSON ({ok, violations, ...}) instead of text. */
  json?: boolean;
  /** -Y: check only the query records that match (and their sessions). */
  displayFilter?: string | null;
}

/** Rules that judge session records: an input without them cannot be judged by these. */
const SESSION_RULES = ['requireTls', 'noPlaintextPasswords'] as const;

/** Rules from the file (if any) and the flags; a UserError when there are none at all. */
async function rulesFromOptions(o: RuleFlags & { rules?: string | null }, file?: string | null): Promise<CheckRules> {
  const path = file ?? o.rules ?? null;
  // yaml and zod load only for a rules file (docs/BENCHMARK.md, "check's start-up")
  const rules = mergeRules(path ? (await import('../sinks/check-rules-file.js')).readRulesFile(path) : {}, o);
  if (!hasRules(rules)) {
    throw new UserError('BAD_ARGUMENT', 'no rules to check: give --rules FILE or flags such as --max-per-fingerprint N (pgsniff --help)');
  }
  return rules;
}

/** Runs the rules over a capture file or an NDJSON export and returns the verdict. */
export async function checkFile(
  path: string, rules: CheckRules, opts: { ports?: number[]; keylog?: string | null; memoryLimitMb?: number; filter?: Predicate } = {},
): Promise<CheckResult> {
  const sink = await CheckSink.create(rules, { filter: opts.filter });
  if (path !== '-' && looksLikeNdjson(fileHead(path))) {
    const read = await readNdjsonRecords(path, sink);
    if (read.sessions === 0) {
      const needs = SESSION_RULES.filter((k) => rules[k]);
      if (needs.length > 0) {
        throw new UserError('BAD_ARGUMENT', `${path} holds no session records, which ${needs.join(' and ')} need${needs.length === 1 ? 's' : ''} (export with read --json, not --queries, or check the capture)`);
      }
      sink.note('the export holds no session records: sessions that could not be decoded (TLS, GSS) cannot be told');
    }
    if (read.anomalies === 0 && read.messages === 0 && read.queries > 0) {
      sink.note('the export holds no anomaly records (--queries?): damage to the capture cannot be told');
    }
  } else {
    const { analyzeFile } = await import('../pipeline/analyze.js');
    const options: SummaryOptions = {
      ports: opts.ports ?? [], messages: false, queryDetail: 'summary', keylog: opts.keylog ?? null, memoryLimitMb: opts.memoryLimitMb,
    };
    await analyzeFile(path, sink, options);
  }
  return sink.result();
}

/** Runs the rules over a live capture until it stops (signal, duration, count). */
async function checkLive(o: CheckCommandOptions, rules: CheckRules, stderr: NodeJS.WritableStream, filter: Predicate | undefined): Promise<CheckResult> {
  const sink = await CheckSink.create(rules, { filter });
  const { analyzeLive } = await import('../pipeline/live.js');
  const { awaitLive } = await import('./live-report.js');
  const ac = new AbortController();
  const options: SummaryOptions = { ports: o.ports, messages: false, queryDetail: 'summary', keylog: o.keylog ?? null, memoryLimitMb: o.memoryLimitMb };
  const live = analyzeLive(sink, {
    ...options, iface: o.iface!, captureFilter: o.captureFilter ?? null,
    write: o.write ?? null, count: o.count ?? null, durationSec: o.duration ?? null, signal: ac.signal,
  });
  await awaitLive(live, ac, stderr, ' and gives the verdict', 'checking');
  return sink.result();
}

export async function checkCommand(o: CheckCommandOptions, io: CommandIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  if (o.file === null && !o.iface) throw new UserError('BAD_ARGUMENT', 'check needs a capture file or an NDJSON export (or -i IFACE)');
  const rules = await rulesFromOptions(o);
  const filter = o.displayFilter ? compileFilter(o.displayFilter) : undefined;
  const result = o.file !== null
    ? await checkFile(o.file, rules, { ports: o.ports, keylog: o.keylog ?? null, memoryLimitMb: o.memoryLimitMb, filter })
    : await checkLive(o, rules, io.stderr ?? process.stderr, filter);
  writeOut(stdout, o.json ? JSON.stringify(result, null, 2) + '\n' : formatCheckResult(result));
  return result.ok ? 0 : 1;
}
