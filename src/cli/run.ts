/**
 * The pgsniff command (started by main.ts, the entry point). Output a program reads goes to stdout; progress, warnings and errors to
 * stderr. Exit status: 0 success, 1 a check failed (check, record), 2 a user mistake (one line
 * on stderr, never a stack trace), 3 an internal error.
 */
import { readFileSync } from 'node:fs';
import { isUserError, outputError, UserError, writeOut } from '../core/errors.js';
import { escapeTerminal } from '../core/escape.js';
import { parseCli, USAGE, useTui as wantsTui, type CliOptions } from './args.js';
import { compileFilter } from '../filter/index.js';
import { NdjsonSink } from '../sinks/ndjson.js';
import { TextSink } from '../sinks/text.js';
import { analyzeFile, type AnalyzeOptions, type AnalyzeSummary } from '../pipeline/analyze.js';
import type { OutRecord, PipelineSink } from '../pipeline/events.js';
import { limitYoungGeneration } from './heap.js';
import { exportSchema, openExports, wantsExports, type Exports } from './exports.js';
import { FanOut } from '../sinks/fan-out.js';
import type { CaptureFigures } from '../sinks/export/metrics.js';
import type { LiveStats, LiveSummary } from '../pipeline/live.js';

limitYoungGeneration();

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    return pkg.version;
  } catch {
    return 'unknown';
  }
}

function analyzeOptions(o: CliOptions, sinkWantsMessages: boolean): AnalyzeOptions {
  return {
    ports: o.ports,
    showSecrets: o.showSecrets,
    messages: sinkWantsMessages,
    keepRows: o.rows,
    keylog: o.keylog,
    memoryLimitMb: o.memoryLimitMb,
    reassembly: { overlap: o.overlap },
  };
}

/**
 * The output sink for read and live capture: NDJSON, text, or the terminal UI; with --export or
 * --metrics and no --json/--text, nothing on stdout.
 */
function outputSink(o: CliOptions): { sink: PipelineSink | null; messages: boolean } {
  const filter = o.displayFilter ? compileFilter(o.displayFilter) : undefined;
  if (!o.json && !o.text && !o.queries && !o.verbose && wantsExports(o)) return { sink: null, messages: false };
  if (o.json) {
    const kinds = o.queries ? new Set<OutRecord['kind']>(['query']) : undefined;
    return { sink: new NdjsonSink(1, { kinds, filter }), messages: !o.queries };
  }
  return { sink: new TextSink(1, { verbose: o.verbose, showSecrets: o.showSecrets, filter, queries: o.queries }), messages: !o.queries };
}

function useTui(o: CliOptions): boolean {
  return wantsTui(o, process.stdout.isTTY === true, process.stdin.isTTY === true);
}

async function runRead(o: CliOptions): Promise<number> {
  const file = o.file!;
  if (useTui(o)) {
    const { runTui } = await import('../tui/app.js');
    return runTui({
      title: file,
      live: false,
      showSecrets: o.showSecrets,
      capturePath: file === '-' ? undefined : file,
      filter: o.displayFilter ?? undefined,
      analyze: analyzeOptions(o, true),
      start: async (sink, signal) => { await analyzeFile(file, sink, { ...analyzeOptions(o, true), signal }); },
    });
  }
  const out = outputSink(o);
  const exports = await openExports(o, file, false);
  const { sink, messages } = withExports(out, exports);
  const summary: AnalyzeSummary = await analyzeFile(file, sink, analyzeOptions(o, messages));
  if (summary.capture && !summary.capture.complete) {
    process.stderr.write(`pgsniff: ${escapeTerminal(file)}: the capture is damaged; decoded what came before the damage (see the anomaly records)\n`);
  }
  await exports?.finish(interrupted());
  return 0;
}

/** The command's own output and the exports, as one sink (exports read the StartupMessage: messages on). */
function withExports(out: { sink: PipelineSink | null; messages: boolean }, exports: Exports | null): { sink: PipelineSink; messages: boolean } {
  if (exports === null) return { sink: out.sink!, messages: out.messages };
  const sinks = out.sink ? [out.sink, ...exports.sinks] : exports.sinks;
  return { sink: sinks.length === 1 ? sinks[0]! : new FanOut(sinks), messages: true };
}

function captureFigures(s: LiveStats | null): Omit<CaptureFigures, 'exportDroppedRows'> {
  return s === null
    ? { packets: 0, bytes: 0, kernelDrops: null, pgsniffDrops: 0, backlogBytes: 0, backlogSeconds: 0 }
    : { packets: s.delivered, bytes: s.bytes, kernelDrops: s.kernelDropped, pgsniffDrops: s.pgsniffDropped, backlogBytes: s.backlogBytes, backlogSeconds: s.backlogSeconds };
}

/** Resolves at the first Ctrl-C or SIGTERM. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => { process.off('SIGINT', done); process.off('SIGTERM', done); resolve(); };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

async function runLive(o: CliOptions): Promise<number> {
  const { analyzeLive } = await import('../pipeline/live.js');
  const { awaitLive, backlogReporter, backlogText, captureSummaryLine } = await import('./live-report.js');
  const ac = new AbortController();
  // --report: the HTML report too, written when the capture ends (src/cli/report.ts)
  let html: { sink: import('../sinks/report/sink.js').ReportSink; file: import('./report.js').ReportFile; drops: typeof import('./report.js').liveDrops } | null = null;
  if (o.report) {
    const { ReportFile, liveDrops, reportSink } = await import('./report.js');
    html = { sink: await reportSink(o.ports, o.displayFilter), file: new ReportFile(o.report), drops: liveDrops };
  }
  const withReport = (sink: PipelineSink): PipelineSink => html === null ? sink : new FanOut([sink, html.sink]);
  const writeReport = async (summary: LiveSummary): Promise<void> => {
    if (html !== null) {
      process.stderr.write(await html.file.write(html.sink, { source: `live capture on ${o.iface}`, input: 'live', packets: summary.packets, drops: html.drops(summary.live) }));
    }
  };
  const liveOpts = (sink: PipelineSink, messages: boolean) => ({
    ...analyzeOptions(o, messages),
    iface: o.iface!,
    captureFilter: o.captureFilter,
    write: o.write,
    count: o.count,
    durationSec: o.duration,
    signal: ac.signal,
  });
  if (useTui(o)) {
    const { runTui } = await import('../tui/app.js');
    return runTui({
      title: `live: ${o.iface}`,
      live: true,
      showSecrets: o.showSecrets,
      filter: o.displayFilter ?? undefined,
      start: async (sink, signal) => {
        const live = analyzeLive(withReport(sink), {
          ...liveOpts(sink, true), signal,
          onStatus: (s) => {
            sink.drops?.((s.kernelDropped ?? 0) + s.pgsniffDropped);
            sink.lag?.(backlogText(s));
          },
        });
        await writeReport(await live.done);
      },
    });
  }
  // The capture's latest figures, for --metrics.
  let latest: LiveStats | null = null;
  const exports = await openExports(o, `iface:${o.iface}`, true, () => captureFigures(latest));
  const { sink, messages } = withExports(outputSink(o), exports);
  const stderr = (line: string): void => { process.stderr.write(line); };
  const report = backlogReporter(stderr);
  const live = analyzeLive(withReport(sink), { ...liveOpts(sink, messages), exportDropped: exports?.exportDropped, onStatus: (s) => { latest = s; report(s); } });
  const summary = await awaitLive(live, ac, process.stderr);
  process.stderr.write(`pgsniff: ${captureSummaryLine(summary)}\n`);
  await writeReport(summary);
  await exports?.finish();
  return 0;
}

async function runInterfaces(): Promise<number> {
  const { listInterfaces, liveCaptureAvailable } = await import('../capture/live.js');
  if (!liveCaptureAvailable()) {
    // Without the cap addon, tcpdump (which captures anyway) lists them, without addresses.
    const { listInterfacesWithTcpdump } = await import('../capture/live-source.js');
    listInterfacesWithTcpdump().forEach((d, i) => process.stdout.write(`${i + 1}. ${escapeTerminal(d.name)}${d.description ? ` (${escapeTerminal(d.description)})` : ''}${d.flags ? ` [${escapeTerminal(d.flags)}]` : ''}\n`));
    return 0;
  }
  const list = listInterfaces();
  list.forEach((d, i) => {
    const addrs = d.addresses.length > 0 ? ` [${d.addresses.join(', ')}]` : '';
    writeOut(process.stdout, `${i + 1}. ${escapeTerminal(d.name)}${d.description ? ` (${escapeTerminal(d.description)})` : ''}${addrs}\n`);
  });
  return 0;
}

async function runSchema(): Promise<number> {
  const { recordJsonSchema } = await import('../pipeline/schema.js');
  writeOut(process.stdout, JSON.stringify(recordJsonSchema(), null, 2) + '\n');
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const o = parseCli(argv);
  if (o.version) {
    writeOut(process.stdout, `pgsniff ${version()}\n`);
    return 0;
  }
  if (o.help || o.command === 'help') {
    writeOut(process.stdout, USAGE);
    return 0;
  }
  switch (o.command) {
    case 'read':
      return o.iface ? runLive(o) : runRead(o);
    case 'live':
      return runLive(o);
    case 'interfaces':
      return runInterfaces();
    case 'schema':
      return runSchema();
    case 'export-schema':
      writeOut(process.stdout, await exportSchema(o.file, o.exportUrl));
      return 0;
    case 'stats': {
      const { statsCommand } = await import('./stats.js');
      return statsCommand(o);
    }
    case 'check': {
      const { checkCommand } = await import('./check.js');
      return checkCommand(o);
    }
    case 'record': {
      const { recordCommand } = await import('./record.js');
      return recordCommand(o);
    }
    case 'report': {
      const { reportCommand } = await import('./report.js');
      return reportCommand(o);
    }
  }
  throw new UserError('BAD_ARGUMENT', `unknown command ${o.command}`);
}

/**
 * Output that cannot be written. A reader that goes away (`pgsniff schema | head`) ends the
 * output quietly, with the status the command had (check's verdict, when it was known). Any
 * other failure (a full disk, /dev/full) is one line on stderr and exit status 2, which cannot
 * be mistaken for check's verdict (1).
 */
function outputFailed(e: UserError): void {
  if (e.code === 'OUTPUT_CLOSED') process.exit(process.exitCode ?? 0);
  process.stderr.write(`pgsniff: ${escapeTerminal(e.message)}\n`);
  process.exit(2);
}

process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  const u = outputError(e);
  if (u === null) throw e;
  outputFailed(u);
});

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e: unknown) => {
    if (isUserError(e) && (e.code === 'OUTPUT' || e.code === 'OUTPUT_CLOSED')) {
      outputFailed(e);
    } else if (isUserError(e)) {
      process.stderr.write(`pgsniff: ${escapeTerminal(e.message)}\n`);
      process.exitCode = 2;
    } else {
      const err = e as Error;
      process.stderr.write(`pgsniff: internal error: ${escapeTerminal(err?.message ?? String(e))}\n`);
      if (process.env.PGSNIFF_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
      process.exitCode = 3;
    }
  },
);
