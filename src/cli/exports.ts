/**
 * `--export URL` and `--metrics HOST:PORT` for read, live capture and record: the sinks that
 * send records beyond this machine, set up beside the command's own output and closed after it.
 */
import { hostname } from 'node:os';
import type { PipelineSink } from '../pipeline/events.js';
import type { ClickHouseSink } from '../sinks/export/clickhouse.js';
import type { CaptureFigures } from '../sinks/export/metrics.js';
import type { MetricsServer } from '../sinks/export/metrics-server.js';
import { UserError } from '../core/errors.js';
import { escapeTerminal } from '../core/escape.js';
import type { CliOptions } from './args.js';

/** The command line's export options (declared in args.ts). */
export type ExportOptions = Pick<CliOptions, 'exportUrl' | 'exportMessages' | 'exportParams' | 'hostLabel' | 'metrics' | 'metricsTop'>;

export interface Exports {
  sinks: PipelineSink[];
  /** Live capture's capture record: the rows the ClickHouse export dropped, once it has delivered what it holds. */
  exportDropped?: () => Promise<number>;
  /** Called once the pipeline has ended (its sinks' end() ran): the summary lines, then a read's
   * metrics stay served until `until` resolves (Ctrl-C), as a replay for Prometheus to scrape. */
  finish(until?: Promise<void>): Promise<void>;
}

export function wantsExports(o: ExportOptions): boolean {
  return o.exportUrl !== null || o.metrics !== null;
}

/**
 * `source`: the capture file, or "iface:NAME" live. `capture` gives the live capture's own
 * figures (packets, drops, backlog) to the metrics.
 */
export async function openExports(
  o: ExportOptions, source: string, live: boolean, capture?: () => Omit<CaptureFigures, 'exportDroppedRows'>,
): Promise<Exports | null> {
  if (!wantsExports(o)) return null;
  // Loaded here, not at start-up: the ClickHouse client, prom-client and the HTTP server are a
  // tenth of a second of CPU that every command without --export or --metrics would pay.
  const [{ createNormalizer }, { ClickHouseSink, parseClickHouseUrl }, { MetricsSink }, { parseMetricsAddress, serveMetrics }] = await Promise.all([
    import('../sinks/stats-normalize.js'), import('../sinks/export/clickhouse.js'), import('../sinks/export/metrics.js'), import('../sinks/export/metrics-server.js'),
  ]);
  const normalizer = await createNormalizer();
  const sinks: PipelineSink[] = [];
  const warn = (l: string): void => { process.stderr.write(escapeTerminal(l) + '\n'); };
  let clickhouse: ClickHouseSink | null = null;
  if (o.exportUrl !== null) {
    clickhouse = new ClickHouseSink({
      target: parseClickHouseUrl(o.exportUrl), host: o.hostLabel ?? hostname(), source, normalizer,
      messages: o.exportMessages, params: o.exportParams, live, warn,
    });
    sinks.push(clickhouse);
  }
  let server: MetricsServer | null = null;
  if (o.metrics !== null) {
    const addr = parseMetricsAddress(o.metrics);
    const figures = (): CaptureFigures => ({
      ...(capture?.() ?? { packets: 0, bytes: 0, kernelDrops: null, pgsniffDrops: 0, backlogBytes: 0, backlogSeconds: 0 }),
      exportDroppedRows: clickhouse?.counts.dropped ?? 0,
    });
    const metrics = new MetricsSink({ normalizer, top: o.metricsTop ?? undefined, capture: figures });
    server = await serveMetrics(metrics, addr);
    process.stderr.write(`pgsniff: metrics on ${server.url}\n`);
    sinks.push(metrics);
  }
  return {
    sinks,
    exportDropped: clickhouse ? async () => { await clickhouse!.drain(); return clickhouse!.counts.dropped; } : undefined,
    async finish(until?: Promise<void>): Promise<void> {
      if (clickhouse) process.stderr.write(escapeTerminal(clickhouse.summary()) + '\n');
      if (server) {
        if (until && !live) {
          process.stderr.write(`pgsniff: the capture is read; metrics stay on ${server.url} until Ctrl-C\n`);
          await until;
        }
        await server.close();
      }
    },
  };
}

/** `pgsniff export-schema clickhouse`: the DDL --export runs, for a database. */
export async function exportSchema(kind: string | null, exportUrl: string | null): Promise<string> {
  if (kind !== 'clickhouse') throw new UserError('BAD_ARGUMENT', 'export-schema knows one target: pgsniff export-schema clickhouse');
  const [{ parseClickHouseUrl }, { schemaSql }] = await Promise.all([import('../sinks/export/clickhouse.js'), import('../sinks/export/tables.js')]);
  return schemaSql(exportUrl ? parseClickHouseUrl(exportUrl).database : 'pgsniff');
}
