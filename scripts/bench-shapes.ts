/**
 * Throughput on issue 19's hostile shapes, as a user sees it: MB of capture file per second of
 * wall and of CPU, for `read --json`, `stats` and `check`, and the same with start-up taken out
 * (each command's time on a capture with no packets). Issue 19's floor: any capture is processed
 * at no less than 10 MB/s of capture file. Not part of `npm test` (no timing is asserted).
 *
 *   node dist/scripts/bench-shapes.js [--sizes issue,large] [--rounds N] [--cli PATH] [--vs PATH]
 *        [--only NAME,...] [--commands read,stats,check] [--dir DIR] [--md FILE]
 *
 * `npm run bench -- --only-shapes` runs it with the defaults. The shapes are written by the same
 * generators the tests and `npm run fuzz` use (test/helpers/hostile-captures.ts,
 * scripts/fuzz-shapes-budgets.ts), at the sizes issue 19 names ("issue") and at 30-100 MB
 * ("large"), where start-up is a small part of the time. --vs runs a second build the same way,
 * alternating with the first in every round.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { conflictingOverlaps, declaredLengths, manyConnections } from '../test/helpers/hostile-captures.js';
import { pcapFile } from '../test/helpers/build-packets.js';
import { pendingQueries } from './fuzz-shapes-budgets.js';

const here = dirname(fileURLToPath(import.meta.url));
const CLI = join(resolve(here, '..', '..'), 'dist', 'src', 'cli', 'main.js');
const MiB = 1024 * 1024;

interface Shape {
  name: string;
  /** Issue 19's size and a 30-100 MB one. */
  sizes: { issue: () => Buffer; large: () => Buffer };
}

export const SHAPES: Shape[] = [
  { name: 'syn-only', sizes: { issue: () => manyConnections(100_000, 'syn'), large: () => manyConnections(500_000, 'syn') } },
  { name: 'startup-only', sizes: { issue: () => manyConnections(120_000, 'startup'), large: () => manyConnections(200_000, 'startup') } },
  { name: 'declared-60MiB', sizes: { issue: () => declaredLengths(10_000, 60 * MiB), large: () => declaredLengths(100_000, 60 * MiB) } },
  { name: 'overlaps', sizes: { issue: () => conflictingOverlaps(5_000), large: () => conflictingOverlaps(60_000) } },
  // Issue 19: 3,000 connections x 10,000 empty Query never answered (180 MB); 300 x 10,000 is a tenth.
  { name: 'pending-queries', sizes: { issue: () => pendingQueries(300, 100, ''), large: () => pendingQueries(600, 100, '') } },
];

const COMMANDS: Record<string, string[]> = {
  read: ['read', '--json'],
  stats: ['stats'],
  check: ['check', '--no-errors'],
};

interface Args {
  sizes: Array<'issue' | 'large'>;
  rounds: number;
  cli: string;
  vs: string | null;
  only: string[] | null;
  commands: string[];
  dir: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { sizes: ['issue', 'large'], rounds: 3, cli: CLI, vs: null, only: null, commands: Object.keys(COMMANDS), dir: join(tmpdir(), 'pgsniff-bench-shapes') };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    const next = (): string => argv[++i] ?? '';
    if (v === '--sizes') a.sizes = next().split(',').filter((s): s is 'issue' | 'large' => s === 'issue' || s === 'large');
    else if (v === '--rounds') a.rounds = Math.max(1, Math.floor(Number(next()) || 1));
    else if (v === '--cli') a.cli = resolve(next());
    else if (v === '--vs') a.vs = resolve(next());
    else if (v === '--only') a.only = next().split(',');
    else if (v === '--commands') a.commands = next().split(',').filter((c) => c in COMMANDS);
    else if (v === '--dir') a.dir = resolve(next());
    else throw new Error(`unknown argument ${v}`);
  }
  return a;
}

interface Run { wallS: number; cpuS: number; rssMb: number; exit: number | null }

/** One run under /usr/bin/time (CPU and peak RSS include the relaunched engine process, which node waits for). */
function timed(cli: string, args: string[]): Promise<Run> {
  return new Promise((done, fail) => {
    const devnull = openSync('/dev/null', 'w');
    const t0 = performance.now();
    const p = spawn('/usr/bin/time', ['-f', 'PGSNIFF_BENCH %M %U %S', process.execPath, cli, ...args], { stdio: ['ignore', devnull, 'pipe'] });
    let err = '';
    p.stderr!.setEncoding('utf8').on('data', (t: string) => { err += t; });
    p.once('error', fail);
    p.once('close', (code) => {
      closeSync(devnull);
      const m = /PGSNIFF_BENCH (\d+) ([\d.]+) ([\d.]+)/.exec(err);
      // check exits 1 when a rule is violated (damage is), which is a verdict, not a failure.
      if (code !== 0 && code !== 1) process.stderr.write(`bench-shapes: ${args.join(' ')} exited with ${code}: ${err.slice(-300)}\n`);
      done({ wallS: (performance.now() - t0) / 1000, cpuS: m ? Number(m[2]) + Number(m[3]) : NaN, rssMb: m ? Number(m[1]) / 1024 : NaN, exit: code });
    });
  });
}

const median = (xs: number[]): number => {
  const v = [...xs].sort((x, y) => x - y);
  const m = v.length >> 1;
  return v.length % 2 === 1 ? v[m]! : (v[m - 1]! + v[m]!) / 2;
};

interface Row { shape: string; size: string; mb: number; command: string; build: string; wallS: number; cpuS: number; rssMb: number }

const fmt = (x: number, d = 1): string => (Number.isFinite(x) ? x.toFixed(d) : '-');

export async function shapesBench(argv: string[], out: (line?: string) => void): Promise<void> {
  const a = parseArgs(argv);
  if (!existsSync('/usr/bin/time')) throw new Error('/usr/bin/time is missing (Debian: time)');
  mkdirSync(a.dir, { recursive: true });
  const files: Array<{ shape: string; size: string; path: string; mb: number }> = [];
  const empty = join(a.dir, 'empty.pcap');
  writeFileSync(empty, pcapFile([]));
  for (const s of SHAPES) {
    if (a.only && !a.only.includes(s.name)) continue;
    for (const size of a.sizes) {
      const path = join(a.dir, `${s.name}-${size}.pcap`);
      if (!existsSync(path)) writeFileSync(path, s.sizes[size]());
      files.push({ shape: s.name, size, path, mb: statSync(path).size / 1e6 });
    }
  }
  const builds: Array<[string, string]> = [['this', a.cli]];
  if (a.vs) builds.push(['vs', a.vs]);
  const rows: Row[] = [];
  const load = loadavg()[0]!;
  for (const command of a.commands) {
    for (const target of [{ shape: 'empty', size: '-', path: empty, mb: 0 }, ...files]) {
      const runs = new Map<string, Run[]>(builds.map(([b]) => [b, []]));
      for (let r = 0; r < a.rounds; r++) {
        for (const [b, cli] of r % 2 === 0 ? builds : [...builds].reverse()) {
          runs.get(b)!.push(await timed(cli, [...COMMANDS[command]!, '-p', '5432', target.path]));
        }
      }
      for (const [b] of builds) {
        const rs = runs.get(b)!;
        const row = { shape: target.shape, size: target.size, mb: target.mb, command, build: b, wallS: median(rs.map((x) => x.wallS)), cpuS: median(rs.map((x) => x.cpuS)), rssMb: Math.max(...rs.map((x) => x.rssMb)) };
        rows.push(row);
        process.stderr.write(`bench-shapes: ${b} ${command} ${target.shape} ${target.size}: ${fmt(row.wallS, 2)} s wall, ${fmt(row.cpuS, 2)} s CPU\n`);
      }
    }
  }
  out(`Machine: ${cpus().length} CPUs, load average ${load.toFixed(1)} at the start; medians of ${a.rounds} runs${a.vs ? `, alternating with ${a.vs}` : ''}. MB/s is MB of capture file per second; "net" takes out the same command's time on a capture with no packets (start-up).`);
  out();
  out('| shape | size | MB | command | build | wall s | CPU s | MB/s wall | MB/s CPU | MB/s CPU net | peak RSS MB |');
  out('|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|');
  for (const r of rows) {
    const base = rows.find((x) => x.shape === 'empty' && x.command === r.command && x.build === r.build)!;
    const net = r.shape === 'empty' ? NaN : r.mb / Math.max(1e-3, r.cpuS - base.cpuS);
    out(`| ${r.shape} | ${r.size} | ${fmt(r.mb)} | ${r.command} | ${r.build} | ${fmt(r.wallS, 2)} | ${fmt(r.cpuS, 2)} | ${r.shape === 'empty' ? '-' : fmt(r.mb / r.wallS)} | ${r.shape === 'empty' ? '-' : fmt(r.mb / r.cpuS)} | ${fmt(net)} | ${fmt(r.rssMb, 0)} |`);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const md: string[] = [];
  const args = process.argv.slice(2);
  const mdAt = args.indexOf('--md');
  const mdFile = mdAt >= 0 ? resolve(args[mdAt + 1] ?? 'shapes.md') : null;
  if (mdAt >= 0) args.splice(mdAt, 2);
  shapesBench(args, (line = '') => { process.stdout.write(line + '\n'); md.push(line); }).then(
    () => {
      if (mdFile) writeFileSync(mdFile, md.join('\n') + '\n');
      process.exit(0);
    },
    (e: unknown) => {
      process.stderr.write(`bench-shapes: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      process.exit(1);
    },
  );
}
