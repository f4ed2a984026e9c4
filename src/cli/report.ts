/**
 * `pgsniff report FILE -o report.html` (a pcap/pcapng capture or an NDJSON export, told apart by
 * content), `pgsniff report -i IFACE -o report.html` (written when the capture stops), and the
 * pieces `record --report` and `-i IFACE --report` use: one self-contained HTML page of charts
 * and tables (src/sinks/report).
 */
import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { UserError } from '../core/errors.js';
import { escapeTerminal } from '../core/escape.js';
import { compileFilter } from '../filter/index.js';
import { fileHead, looksLikeNdjson, readNdjsonRecords } from '../sinks/check-ndjson.js';
import { ReportSink, type ReportInputInfo } from '../sinks/report/sink.js';
import type { CommandIo } from './stats.js';
import type { LiveStats } from '../pipeline/live.js';

interface ReportCommandOptions {
  file: string | null;
  iface?: string | null;
  /** -o: the HTML file to write. */
  output: string | null;
  ports: number[];
  keylog?: string | null;
  showSecrets?: boolean;
  /** -Y: the report is made of the records `read -Y` would print (ReportOptions.filter). */
  displayFilter?: string | null;
  captureFilter?: string | null;
  write?: string | null;
  count?: number | null;
  duration?: number | null;
}

/** Packets lost by the kernel, the interface or pgsniff's own spool; null when the kernel's count is unknown. */
export function liveDrops(s: LiveStats): number | null {
  if (s.kernelDropped === null) return null;
  return s.kernelDropped + (s.ifDropped ?? 0) + s.pgsniffDropped;
}

/** An output file opened before the work starts, so that a path that cannot be written fails at once. */
export class ReportFile {
  private readonly fd: number;
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UserError(code === 'EACCES' ? 'EACCES' : 'ENOENT', `cannot write ${path}: ${code ?? (e as Error).message}`);
    }
  }

  /**
   * Renders the sink's data into the file and closes it; returns the line that says so. The
   * page's builder (the page's script and style sheet, uPlot) is loaded only now: nothing of it
   * runs while the capture is read.
   */
  async write(sink: ReportSink, info: ReportInputInfo): Promise<string> {
    const data = sink.result(info);
    const { renderReportHtml } = await import('../sinks/report/html.js');
    const html = Buffer.from(renderReportHtml(data), 'utf8');
    try {
      let off = 0;
      while (off < html.length) off += writeSync(this.fd, html, off, html.length - off);
    } finally {
      closeSync(this.fd);
    }
    const o = data.overview;
    return `pgsniff: wrote ${this.path} (${(html.length / 1024).toFixed(0)} KB): ${o.queries} queries, ${o.sessions} sessions, ${o.errors} errors\n`;
  }

  /** The work failed: no half-made report is left behind. */
  abandon(): void {
    closeSync(this.fd);
    rmSync(this.path, { force: true });
  }
}

/** The report's sink, with -Y's filter when one is given (a bad expression fails here, before any work). */
export function reportSink(ports: number[], expr: string | null | undefined): Promise<ReportSink> {
  return ReportSink.create({ serverPorts: ports, ...(expr ? { filter: compileFilter(expr), filterText: expr } : {}) });
}

export async function reportCommand(o: ReportCommandOptions, io: CommandIo = {}): Promise<number> {
  const stderr = io.stderr ?? process.stderr;
  if (!o.output) throw new UserError('BAD_ARGUMENT', 'report needs an output file: pgsniff report FILE -o report.html');
  if (o.file === null && !o.iface) throw new UserError('BAD_ARGUMENT', 'report needs a capture file or an NDJSON export (or -i IFACE)');
  if (o.file !== null && o.file !== '-') fileHead(o.file); // a missing input fails before the output is created
  const sink = await reportSink(o.ports, o.displayFilter);
  const out = new ReportFile(o.output);
  let info: ReportInputInfo;
  // The summary query records stats reads, keeping each Bind's bytes for the slowest executions'
  // parameters; a display filter needs every record as `read -Y` sees it, messages included.
  const filtered = Boolean(o.displayFilter);
  const base = {
    ports: o.ports, messages: filtered, queryDetail: filtered ? 'full' as const : 'summary' as const, boundBytes: !filtered,
    keylog: o.keylog ?? null, showSecrets: o.showSecrets ?? false,
  };
  try {
    if (o.iface) {
      const { analyzeLive } = await import('../pipeline/live.js');
      const { awaitLive } = await import('./live-report.js');
      const ac = new AbortController();
      const live = analyzeLive(sink, {
        ...base, iface: o.iface, captureFilter: o.captureFilter ?? null, write: o.write ?? null,
        count: o.count ?? null, durationSec: o.duration ?? null, signal: ac.signal,
      });
      const summary = await awaitLive(live, ac, stderr, ` and writes ${escapeTerminal(o.output)}`);
      info = { source: `live capture on ${o.iface}`, input: 'live', packets: summary.packets, drops: liveDrops(summary.live) };
    } else if (o.file !== '-' && looksLikeNdjson(fileHead(o.file!))) {
      await readNdjsonRecords(o.file!, sink, { others: true });
      info = { source: o.file!, input: 'ndjson' };
    } else {
      const { analyzeFile } = await import('../pipeline/analyze.js');
      const summary = await analyzeFile(o.file!, sink, base);
      info = { source: o.file!, input: 'capture', packets: summary.packets, captureComplete: summary.capture?.complete ?? true };
    }
  } catch (e) {
    out.abandon();
    throw e;
  }
  stderr.write(await out.write(sink, info));
  return 0;
}
