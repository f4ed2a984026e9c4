/**
 * Live capture under load: pgsniff's live pipeline (src/pipeline/live.ts, libpcap through the
 * `cap` addon) runs in this process on `lo` while pgbench (select-only, prepared, several
 * clients, no think time) runs at full speed against a local server, and tcpdump captures the
 * same traffic in parallel. The `cap` addon does not expose pcap_stats(), so what pgsniff lost
 * is judged two ways: its packet count against tcpdump's (whose own kernel drops are printed),
 * and the queries it decoded against the transactions pgbench says it executed (one SELECT each).
 *
 * pgbench runs as a child process started asynchronously: the event loop must stay free to read
 * libpcap's buffer while the load runs.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, statSync } from 'node:fs';
import { analyzeLive } from '../src/pipeline/live.js';
import type { OutRecord, PipelineSink } from '../src/pipeline/events.js';
import { NdjsonSink } from '../src/sinks/ndjson.js';
import { StatsSink } from '../src/sinks/stats.js';
import type { PgServer } from '../test/helpers/pg-server.js';
import { runPgbench, startTcpdump } from './bench-capture.js';

export interface LiveResult {
  mode: 'stats' | 'json';
  /** pgbench's target rate (-R), or null at full speed. */
  rate: number | null;
  seconds: number;
  clients: number;
  pgbenchTransactions: number | null;
  pgbenchTps: number | null;
  packetsSeen: number;
  tcpdumpCaptured: number | null;
  tcpdumpDropped: number | null;
  messages: number;
  messagesPerSec: number;
  queries: number;
  anomalies: number;
  /** Gaps in the TCP streams (what the capture missed) and their bytes. */
  gaps: number;
  gapBytes: number;
  jsonBytes: number | null;
}

/** Counts records by kind on their way to another sink. */
class CountingSink implements PipelineSink {
  queries = 0;
  constructor(private readonly inner: PipelineSink) {}
  record(rec: OutRecord): void {
    if (rec.kind === 'query') this.queries++;
    this.inner.record(rec);
  }
  end(): void | Promise<void> {
    return this.inner.end?.();
  }
}

function pgbenchAsync(server: PgServer, args: string[]): Promise<{ transactions: number | null; tps: number | null }> {
  return new Promise((resolve, reject) => {
    const p = spawn('pgbench', ['-h', '127.0.0.1', '-p', String(server.port), '-U', server.user, ...args, server.database], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PGPASSWORD: server.password },
    });
    let out = '';
    let err = '';
    p.stdout!.setEncoding('utf8').on('data', (t: string) => { out += t; });
    p.stderr!.setEncoding('utf8').on('data', (t: string) => { err += t; });
    p.once('error', reject);
    p.once('exit', (code) => {
      if (code !== 0) {
        reject(new Error(`pgbench ${args.join(' ')} failed (${code}): ${err}`));
        return;
      }
      const tx = /number of transactions actually processed: (\d+)/.exec(out);
      const tps = /tps = ([\d.]+)/.exec(out);
      resolve({ transactions: tx ? Number(tx[1]) : null, tps: tps ? Number(tps[1]) : null });
    });
  });
}

export async function liveUnderLoad(server: PgServer, mode: 'stats' | 'json', seconds: number, clients: number, jsonFile: string, rate: number | null): Promise<LiveResult> {
  runPgbench(server, ['-i', '-q', '-s', '1']);
  const dump = await startTcpdump(null, `tcp port ${server.port}`);
  let fd: number | null = null;
  let inner: PipelineSink;
  if (mode === 'json') {
    fd = openSync(jsonFile, 'w');
    inner = new NdjsonSink(fd);
  } else {
    inner = await StatsSink.create();
  }
  const sink = new CountingSink(inner);
  const live = analyzeLive(sink, { iface: 'lo', ports: [server.port], messages: mode === 'json' });
  let tcp: Awaited<ReturnType<typeof dump.stop>>;
  let bench: { transactions: number | null; tps: number | null };
  const t0 = performance.now();
  let elapsed = 0;
  try {
    await new Promise((r) => setTimeout(r, 300));
    const args = ['-n', '-S', '-M', 'prepared', '-c', String(clients), '-j', '2', '-T', String(seconds)];
    if (rate !== null) args.push('-R', String(rate));
    bench = await pgbenchAsync(server, args);
    await live.capture.settle(300, 5000);
    elapsed = (performance.now() - t0) / 1000;
  } finally {
    live.stop();
    tcp = await dump.stop();
  }
  const summary = await live.done;
  if (fd !== null) closeSync(fd);
  return {
    mode,
    rate,
    seconds: elapsed,
    clients,
    pgbenchTransactions: bench.transactions,
    pgbenchTps: bench.tps,
    packetsSeen: summary.packets,
    tcpdumpCaptured: tcp.captured,
    tcpdumpDropped: tcp.dropped,
    messages: summary.messages,
    messagesPerSec: summary.messages / elapsed,
    queries: sink.queries,
    anomalies: summary.anomalies,
    gaps: summary.lost.gaps,
    gapBytes: summary.lost.bytes,
    jsonBytes: mode === 'json' ? statSync(jsonFile).size : null,
  };
}
