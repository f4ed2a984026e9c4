/**
 * `node dist/scripts/bench-metrics.js [ROUNDS] [TRANSACTIONS]`: what `--metrics` costs a live
 * capture. The same pgbench run (-S -M prepared, 4 clients, a fixed number of transactions) is
 * captured on `lo` by `pgsniff -i lo --text > /dev/null` and by the same command with
 * `--metrics 127.0.0.1:0`, in turn, ROUNDS times each; /usr/bin/time gives each pgsniff's CPU
 * seconds (its capture process included) and peak RSS. Needs root, tcpdump or pgsniff-capture,
 * pgbench and GNU time.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../test/helpers/pg-server.js';
import { runPgbench } from './bench-capture.js';

const MAIN = join(fileURLToPath(new URL('.', import.meta.url)), '..', 'src', 'cli', 'main.js');

interface Run { cpuS: number; peakMb: number; queries: number }

async function capture(port: number, metrics: boolean, load: () => void): Promise<Run> {
  const args = ['-f', '%U %S %M', process.execPath, MAIN, '-i', 'lo', '-p', String(port), '-f', `tcp port ${port}`, '--queries', '--json'];
  if (metrics) args.push('--metrics', '127.0.0.1:0');
  const child = spawn('/usr/bin/time', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  const deadline = Date.now() + 60_000;
  while (!err.includes('capturing on')) {
    if (Date.now() > deadline) throw new Error(`pgsniff did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  load();
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  // SIGINT to pgsniff itself (time's child): it stops the capture and drains.
  spawn('pkill', ['-INT', '-f', `tcp port ${port}`]);
  await exited;
  const last = err.trim().split('\n').at(-1)!.split(' ').map(Number);
  return { cpuS: last[0]! + last[1]!, peakMb: last[2]! / 1024, queries: out.split('\n').filter((l) => l.includes('"kind":"query"')).length };
}

async function main(): Promise<void> {
  const rounds = Number(process.argv[2] ?? 3);
  const transactions = Number(process.argv[3] ?? 5000);
  const srv = await startServer({ database: 'bench_metrics' });
  try {
    runPgbench(srv, ['-i', '-s', '1', '-q']);
    const load = (): void => { runPgbench(srv, ['-S', '-M', 'prepared', '-c', '4', '-j', '2', '-t', String(transactions)]); };
    const plain: Run[] = [];
    const withMetrics: Run[] = [];
    for (let i = 0; i < rounds; i++) {
      plain.push(await capture(srv.port, false, load));
      withMetrics.push(await capture(srv.port, true, load));
    }
    const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const row = (name: string, rs: Run[]): string =>
      `| ${name} | ${median(rs.map((r) => r.cpuS)).toFixed(2)} | ${median(rs.map((r) => r.peakMb)).toFixed(0)} | ${median(rs.map((r) => r.queries))} |`;
    process.stdout.write(`${rounds} rounds, pgbench -S -M prepared -c 4 -t ${transactions} (${4 * transactions} transactions)\n`);
    process.stdout.write('| command | CPU s (median) | peak RSS MiB | queries decoded |\n|---|---:|---:|---:|\n');
    process.stdout.write(row('pgsniff -i lo --queries --json', plain) + '\n');
    process.stdout.write(row('the same with --metrics', withMetrics) + '\n');
    process.stdout.write(`CPU ratio per round: ${plain.map((p, i) => (withMetrics[i]!.cpuS / p.cpuS).toFixed(3)).join(', ')}\n`);
  } finally {
    await srv.stop();
  }
}

main().catch((e: unknown) => { process.stderr.write(`bench-metrics: ${(e as Error).message}\n`); process.exitCode = 1; });
