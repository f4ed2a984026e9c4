/**
 * `pgsniff record [-i lo] [-p PORTS] [-w out.pcap] [--json-out out.ndjson] [--check rules] -- COMMAND ARGS`:
 * captures PostgreSQL traffic while COMMAND runs (a CI job wraps its test suite this way),
 * stops shortly after it exits (so the last FIN/Terminate is in), writes the outputs and
 * evaluates the rules. Exit status: 1 when a rule is violated, else the command's own status
 * (128 + signal number when a signal ended it, 127 when it could not be started: then no rule
 * is evaluated, since a run that never happened proves nothing).
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { UserError } from '../core/errors.js';
import { escapeTerminal } from '../core/escape.js';
import type { PipelineSink } from '../pipeline/events.js';
import { FanOut } from '../sinks/fan-out.js';
import { NdjsonSink } from '../sinks/ndjson.js';
import { CheckSink, formatCheckResult } from '../sinks/check.js';
import { hasRules, mergeRules, type CheckRules, type RuleFlags } from '../sinks/check-rules.js';
import { openExports, type ExportOptions } from './exports.js';
import type { CommandIo } from './stats.js';
import { ReportSink } from '../sinks/report/sink.js';
import { ReportFile, liveDrops } from './report.js';

interface RecordCommandOptions extends RuleFlags, Partial<ExportOptions> {
  /** Interface to capture on; default lo. */
  iface: string | null;
  ports: number[];
  captureFilter?: string | null;
  /** -w: also write the packets to this pcap file. */
  write: string | null;
  /** --json-out: the NDJSON export of the run. */
  jsonOut: string | null;
  /** --check: rules file; --rules is accepted too. Flags add to it. */
  checkRules: string | null;
  rules?: string | null;
  /** --report: the HTML report of the run (src/sinks/report). */
  report?: string | null;
  keylog?: string | null;
  showSecrets?: boolean;
  rows?: boolean;
  commandArgs: string[];
  /** Longest wait after the command exits for its last packets (ms): capture stops once no packet came for 150 ms. Default 2000. */
  graceMs?: number;
}

async function rulesOf(o: RecordCommandOptions): Promise<CheckRules | null> {
  const path = o.checkRules ?? o.rules ?? null;
  const rules = mergeRules(path ? (await import('../sinks/check-rules-file.js')).readRulesFile(path) : {}, o);
  return hasRules(rules) ? rules : null;
}

interface ChildResult { status: number; error: string | null }

function runChild(args: string[]): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(args[0]!, args.slice(1), { stdio: 'inherit' });
    const forward = (sig: NodeJS.Signals) => () => { child.kill(sig); };
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const done = (r: ChildResult): void => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(r);
    };
    child.once('error', (e: NodeJS.ErrnoException) => done({ status: 127, error: `cannot run ${args[0]}: ${e.code ?? e.message}` }));
    child.once('exit', (code, signal) => {
      if (signal) done({ status: 128 + (constants.signals[signal] ?? 0), error: null });
      else done({ status: code ?? 0, error: null });
    });
  });
}

export async function recordCommand(o: RecordCommandOptions, io: CommandIo = {}): Promise<number> {
  const stderr = io.stderr ?? process.stderr;
  if (o.commandArgs.length === 0) throw new UserError('BAD_ARGUMENT', 'record needs a command to run after "--"');
  const rules = await rulesOf(o);
  const sinks: PipelineSink[] = [];
  let fd: number | null = null;
  if (o.jsonOut) {
    try {
      fd = openSync(o.jsonOut, 'w');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UserError(code === 'EACCES' ? 'EACCES' : 'ENOENT', `cannot write ${o.jsonOut}: ${code ?? (e as Error).message}`);
    }
    sinks.push(new NdjsonSink(fd));
  }
  const check = rules ? await CheckSink.create(rules) : null;
  if (check) sinks.push(check);
  const exports = await openExports({
    exportUrl: o.exportUrl ?? null, exportMessages: o.exportMessages ?? false, exportParams: o.exportParams ?? false,
    hostLabel: o.hostLabel ?? null, metrics: o.metrics ?? null, metricsTop: o.metricsTop ?? null,
  }, `iface:${o.iface ?? 'lo'}`, true);
  if (exports) sinks.push(...exports.sinks);
  let report: { sink: ReportSink; file: ReportFile } | null = null;
  if (o.report) {
    const sink = await ReportSink.create({ serverPorts: o.ports });
    report = { sink, file: new ReportFile(o.report) };
    sinks.push(sink);
  }
  const { analyzeLive } = await import('../pipeline/live.js');
  const ac = new AbortController();
  let live;
  try {
    live = analyzeLive(new FanOut(sinks), {
      iface: o.iface ?? 'lo', ports: o.ports, captureFilter: o.captureFilter ?? null, write: o.write,
      keylog: o.keylog ?? null, showSecrets: o.showSecrets ?? false, keepRows: o.rows ?? false,
      messages: o.jsonOut !== null || exports !== null, exportDropped: exports?.exportDropped, signal: ac.signal,
    });
  } catch (e) {
    if (fd !== null) closeSync(fd);
    report?.file.abandon();
    throw e;
  }
  try {
    await live.ready;
  } catch (e) {
    if (fd !== null) closeSync(fd);
    report?.file.abandon();
    throw e;
  }
  stderr.write(`pgsniff: recording on ${escapeTerminal(live.capture.iface)} (${escapeTerminal(live.capture.filter)}) while ${escapeTerminal(o.commandArgs.join(' '))} runs\n`);
  const child = await runChild(o.commandArgs);
  // Let the last packets (the client's Terminate, the FINs) arrive before stopping.
  await live.capture.settle(150, o.graceMs ?? 2000);
  live.stop();
  let summary;
  try {
    summary = await live.done;
  } finally {
    if (fd !== null) closeSync(fd);
  }
  await exports?.finish();
  stderr.write(`pgsniff: recorded ${summary.packets} packets, ${summary.messages} PostgreSQL messages, ${summary.connections} sessions\n`);
  if (report) {
    stderr.write(await report.file.write(report.sink, {
      source: `record on ${o.iface ?? 'lo'}: ${o.commandArgs.join(' ')}`, input: 'live', packets: summary.packets, drops: liveDrops(summary.live),
    }));
  }
  if (child.error) {
    // Nothing ran, so nothing was checked: no verdict, and the shell's status for it.
    stderr.write(`pgsniff: ${escapeTerminal(child.error)}${check ? '; the rules were not checked' : ''}\n`);
    return child.status;
  }
  if (!check) return child.status;
  const result = check.result();
  stderr.write(formatCheckResult(result));
  return result.ok ? child.status : 1;
}
