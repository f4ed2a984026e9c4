/**
 * `pgsniff check FILE`: evaluates the rules (from --rules FILE and flags) over a capture or an
 * NDJSON export (told apart by content, not by name), prints the verdict and returns 1 when a
 * rule is violated, 0 when all hold. Usage mistakes are UserErrors (exit 2 in main.ts).
 */
import { openSync, readSync, closeSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { CheckSink, formatCheckResult, type CheckResult } from '../sinks/check.js';
import { hasRules, mergeRules, readRulesFile, type CheckRules, type RuleFlags } from '../sinks/check-rules.js';
import { looksLikeNdjson, readNdjsonRecords } from '../sinks/check-ndjson.js';
import { writeOut, type CommandIo, type SummaryOptions } from './stats.js';

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
}

/** Rules from the file (if any) and the flags; a UserError when there are none at all. */
export function rulesFromOptions(o: RuleFlags & { rules?: string | null }, file?: string | null): CheckRules {
  const path = file ?? o.rules ?? null;
  const rules = mergeRules(path ? readRulesFile(path) : {}, o);
  if (!hasRules(rules)) {
    throw new UserError('BAD_ARGUMENT', 'no rules to check: give --rules FILE or flags such as --max-per-fingerprint N (pgsniff --help)');
  }
  return rules;
}

function headOf(path: string): Buffer {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UserError(code === 'EACCES' ? 'EACCES' : 'ENOENT', `cannot open ${path}: ${code ?? (e as Error).message}`);
  }
  try {
    const b = Buffer.alloc(64);
    const n = readSync(fd, b, 0, b.length, 0);
    return b.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** Runs the rules over a capture file or an NDJSON export and returns the verdict. */
export async function checkFile(path: string, rules: CheckRules, opts: { ports?: number[]; keylog?: string | null; memoryLimitMb?: number } = {}): Promise<CheckResult> {
  const sink = await CheckSink.create(rules);
  if (path !== '-' && looksLikeNdjson(headOf(path))) {
    await readNdjsonRecords(path, sink);
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
async function checkLive(o: CheckCommandOptions, rules: CheckRules, stderr: NodeJS.WritableStream): Promise<CheckResult> {
  const sink = await CheckSink.create(rules);
  const { analyzeLive } = await import('../pipeline/live.js');
  const ac = new AbortController();
  const options: SummaryOptions = { ports: o.ports, messages: false, queryDetail: 'summary', keylog: o.keylog ?? null, memoryLimitMb: o.memoryLimitMb };
  const live = analyzeLive(sink, {
    ...options, iface: o.iface!, captureFilter: o.captureFilter ?? null,
    write: o.write ?? null, count: o.count ?? null, durationSec: o.duration ?? null, signal: ac.signal,
  });
  const onSignal = (): void => ac.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await live.ready;
    stderr.write(`pgsniff: checking on ${live.capture.iface} (${live.capture.filter}); Ctrl-C stops and gives the verdict\n`);
    await live.done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  return sink.result();
}

export async function checkCommand(o: CheckCommandOptions, io: CommandIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  if (o.file === null && !o.iface) throw new UserError('BAD_ARGUMENT', 'check needs a capture file or an NDJSON export (or -i IFACE)');
  const rules = rulesFromOptions(o);
  const result = o.file !== null
    ? await checkFile(o.file, rules, { ports: o.ports, keylog: o.keylog ?? null, memoryLimitMb: o.memoryLimitMb })
    : await checkLive(o, rules, io.stderr ?? process.stderr);
  writeOut(stdout, o.json ? JSON.stringify(result, null, 2) + '\n' : formatCheckResult(result));
  return result.ok ? 0 : 1;
}
