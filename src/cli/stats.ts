/**
 * `pgsniff stats FILE` (or `stats -i IFACE`, printed when the capture stops): the StatsSink's
 * report as text tables, or as one JSON document with --json. FILE is a capture or an NDJSON
 * export (told apart by content, as `check` does). Takes options already parsed by main.ts;
 * returns the exit status.
 */
import { DEFAULT_MEMORY_LIMIT_MB } from '../core/budget.js';
import { StatsSink } from '../sinks/stats.js';
import { formatStatsText } from '../sinks/stats-format.js';
import { fileHead, looksLikeNdjson, readNdjsonRecords } from '../sinks/check-ndjson.js';
import { UserError, writeOut } from '../core/errors.js';
import { compileFilter } from '../filter/index.js';
import type { AnalyzeOptions } from '../pipeline/analyze.js';

interface StatsCommandOptions {
  file: string | null;
  iface?: string | null;
  ports: number[];
  json: boolean;
  keylog?: string | null;
  memoryLimitMb?: number;
  showSecrets?: boolean;
  captureFilter?: string | null;
  write?: string | null;
  count?: number | null;
  duration?: number | null;
  /** -Y: count only the query records that match (and their sessions). */
  displayFilter?: string | null;
}

/**
 * --memory-limit (MB) under which stats loads libpg-query after the pass: there its 9 MB at rest,
 * and more once it has parsed long statements, decide whether the limit holds (README, limits).
 * At larger limits it is loaded first, as the pass ran about 5 % faster that way on the benchmark
 * capture (docs/BENCHMARK.md).
 */
const LAZY_PARSER_BELOW_MB = 256;

/**
 * Pipeline options for commands that only aggregate query records (stats, check): no message
 * records, and summary query records (the session layer's TrackerOptions.detail), which skip
 * what these sinks never read (Bind parameter values, timestamps as text, columns).
 */
export type SummaryOptions = AnalyzeOptions;

export interface CommandIo {
  stdout?: NodeJS.WritableStream;
  stderr?: NodeJS.WritableStream;
}

export async function statsCommand(o: StatsCommandOptions, io: CommandIo = {}): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const filter = o.displayFilter ? compileFilter(o.displayFilter) : undefined;
  // Under a tight memory limit libpg-query is loaded after the pass (or when the pass needs it):
  // its memory is not the pipeline's. Above, it loads first: putting it off measured slower.
  const lazyParser = (o.memoryLimitMb ?? DEFAULT_MEMORY_LIMIT_MB) < LAZY_PARSER_BELOW_MB;
  const sink = await StatsSink.create({ filter, lazyParser });
  const base: SummaryOptions = { ports: o.ports, messages: false, queryDetail: 'summary', keylog: o.keylog ?? null, showSecrets: o.showSecrets ?? false,
    memoryLimitMb: o.memoryLimitMb,
  };
  if (o.iface) {
    const { analyzeLive } = await import('../pipeline/live.js');
    const { awaitLive } = await import('./live-report.js');
    const ac = new AbortController();
    const live = analyzeLive(sink, {
      ...base, iface: o.iface, captureFilter: o.captureFilter ?? null, write: o.write ?? null,
      count: o.count ?? null, durationSec: o.duration ?? null, signal: ac.signal,
    });
    await awaitLive(live, ac, stderr, ' and prints the statistics');
  } else if (o.file !== null) {
    if (o.file !== '-' && looksLikeNdjson(fileHead(o.file))) {
      await readNdjsonRecords(o.file, sink);
    } else {
      const { analyzeFile } = await import('../pipeline/analyze.js');
      await analyzeFile(o.file, sink, base);
    }
  } else {
    throw new UserError('BAD_ARGUMENT', 'stats needs a capture file (or -i IFACE)');
  }
  await sink.loadParser();
  const report = sink.report();
  writeOut(stdout, o.json ? JSON.stringify(report, null, 2) + '\n' : formatStatsText(report));
  return 0;
}
