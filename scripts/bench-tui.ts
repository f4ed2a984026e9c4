/**
 * `npm run bench:tui`: the terminal UI on a large capture, timed from inside (issue 16's
 * figures): time to the first screen, time to the whole index, how long a key takes while the
 * capture loads, how long S (statistics) and d (dashboard) take to open, and the peak resident
 * size. Not part of `npm test`, and no test asserts a time.
 *
 * Each run is a child process of its own (its peak RSS is its own): the real UI (runTui) on a
 * 200x50 virtual terminal, fed by the real pipeline; a key is "answered" when the UI has drawn
 * after it (runTui's onRender), so its latency is what a user waits while the index grows.
 * The child sets V8 as the pgsniff command does for the UI (src/cli/heap.ts).
 *
 *   node dist/scripts/bench-tui.js [--file CAPTURE] [--port N] [--packets N] [--runs N]
 *
 * Default capture: the first --packets (1,000,000) packets of ~/.cache/pgsniff-bench/bench.pcap
 * (npm run bench makes it; server port 40189), cut with editcap and cached beside it.
 */
import { spawnSync, execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { homedir, loadavg, cpus, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PassThrough } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { runTui } from '../src/tui/app.js';
import { analyzeFile } from '../src/pipeline/analyze.js';
import { limitYoungGeneration } from '../src/cli/heap.js';

interface RunResult {
  firstScreenMs: number;
  indexMs: number;
  keys: number[];
  statsFirstMs: number;
  statsDoneMs: number;
  statsAgainMs: number;
  dashboardMs: number;
  peakRssMb: number;
  /** CPU seconds (user + system) of the whole run: on a loaded machine the figure to compare, not the wall times. */
  cpuS: number;
  /** CPU seconds until the whole index was built. */
  indexCpuS: number;
  packets: number;
}

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
}

/** One run, in this process: prints its figures as one JSON line. */
async function oneRun(file: string, port: number): Promise<void> {
  // As `pgsniff read FILE` runs the UI (src/cli/run.ts): V8's young generation kept at its
  // starting size (PGSNIFF_YOUNG_GROWTH=2 measures with V8's default growth, as session 8 did).
  limitYoungGeneration();
  // Not a TTY: blessed then reads keys straight from the stream (as test/tui-inject.test.ts feeds them).
  const input = new PassThrough();
  const output = new PassThrough() as PassThrough & { isTTY: boolean; columns: number; rows: number };
  output.isTTY = true;
  output.columns = 200;
  output.rows = 50;
  output.resume();
  let rows: () => string[] = () => [];
  let renders = 0;
  const waiters: Array<{ test: (lines: string[]) => boolean; resolve: (t: number) => void }> = [];
  const t0 = performance.now();
  const onRender = (r: () => string[]): void => {
    rows = r;
    renders++;
    if (waiters.length === 0) return;
    const lines = r();
    for (let i = waiters.length - 1; i >= 0; i--) {
      const w = waiters[i]!;
      if (w.test(lines)) { waiters.splice(i, 1); w.resolve(performance.now()); }
    }
  };
  const step = (what: string): void => { if (process.env.BENCH_TUI_DEBUG) process.stderr.write(`${(performance.now() - t0).toFixed(0)} ms: ${what}\n`); };
  const until = (test: (lines: string[]) => boolean): Promise<number> => new Promise((resolve) => {
    if (test(rows())) resolve(performance.now());
    else waiters.push({ test, resolve });
  });
  const has = (text: string) => (lines: string[]) => lines.some((l) => l.includes(text));
  const nextRender = (): Promise<number> => { const n = renders; return until(() => renders > n); };
  const key = (k: string): void => { input.write(k); };
  /** A key, and its redraw (which may happen inside the write: register first). */
  const press = (k: string): Promise<number> => { const r = nextRender(); key(k); return r; };

  const exit = runTui({
    title: file, live: false, capturePath: file, analyze: { ports: [port] }, input, output, onRender,
    start: async (sink, signal) => { await analyzeFile(file, sink, { ports: [port], signal }); },
  });
  const first = await until(has(' Frames '));
  step('first screen');
  const result: RunResult = { firstScreenMs: first - t0, indexMs: 0, keys: [], statsFirstMs: 0, statsDoneMs: 0, statsAgainMs: 0, dashboardMs: 0, peakRssMb: 0, cpuS: 0, indexCpuS: 0, packets: 0 };
  // Keys while loading: j every 250 ms; answered at the next redraw.
  let loaded = false;
  const loadedAt = until(has('loaded in')).then((t) => { loaded = true; return t; });
  while (!loaded) {
    const sent = performance.now();
    const answered = nextRender();
    key('j');
    const t = await Promise.race([answered, loadedAt]);
    if (!loaded) result.keys.push(t - sent);
    await new Promise((r) => setTimeout(r, 250));
  }
  result.indexMs = (await loadedAt) - t0;
  result.indexCpuS = cpuSeconds();
  step('loaded');
  const status = rows().find((l) => l.includes('packets')) ?? '';
  result.packets = Number(/([\d,]+) packets/.exec(status)?.[1]?.replace(/,/g, '') ?? 0);
  await press('g');
  let sent = performance.now();
  key('S');
  result.statsFirstMs = (await until(has('Query latency'))) - sent;
  result.statsDoneMs = (await until((l) => l.some((x) => x.includes('Query latency')) && !l.some((x) => x.includes('computing:')))) - sent;
  step('statistics');
  await press('\x1b');
  sent = performance.now();
  key('S');
  result.statsAgainMs = (await until((l) => l.some((x) => x.includes('Query latency')) && !l.some((x) => x.includes('computing:')))) - sent;
  await press('\x1b');
  sent = performance.now();
  key('d');
  step('dashboard asked');
  result.dashboardMs = (await until(has('Top, total ms'))) - sent;
  key('Q');
  await exit;
  result.peakRssMb = process.resourceUsage().maxRSS / 1024;
  result.cpuS = cpuSeconds();
  process.stdout.write(JSON.stringify(result) + '\n');
}

function cpuSeconds(): number {
  const u = process.resourceUsage();
  return (u.userCPUTime + u.systemCPUTime) / 1e6;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}
function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
}

async function main(): Promise<void> {
  const port = Number(arg('--port', '40189'));
  if (process.argv.includes('--run')) return oneRun(arg('--file', ''), port);
  const packets = Number(arg('--packets', '1000000'));
  const runs = Number(arg('--runs', '3'));
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'pgsniff-bench');
  let file = arg('--file', '');
  if (file === '') {
    const src = join(cache, 'bench.pcap');
    if (!existsSync(src)) throw new Error(`${src} is missing: npm run bench makes it (or give --file)`);
    file = join(cache, `bench-${packets}.pcap`);
    if (!existsSync(file)) execFileSync('editcap', ['-F', 'pcap', '-r', src, file, `1-${packets}`], { stdio: 'inherit' });
  }
  const self = fileURLToPath(import.meta.url);
  const results: RunResult[] = [];
  const loads: string[] = [];
  for (let i = 0; i < runs; i++) {
    loads.push(loadavg().map((x) => x.toFixed(1)).join(' '));
    const r = spawnSync(process.execPath, [self, '--run', '--file', file, '--port', String(port)], { encoding: 'utf8', maxBuffer: 1 << 26, timeout: 30 * 60_000 });
    const line = r.stdout.trim().split('\n').pop() ?? '';
    if (r.status !== 0 || !line.startsWith('{')) throw new Error(`run ${i + 1} failed (status ${r.status}): ${r.stderr.slice(-2000)}`);
    results.push(JSON.parse(line) as RunResult);
    process.stderr.write(`run ${i + 1}/${runs}: ${line}\n`);
  }
  const keys = results.flatMap((r) => r.keys);
  const m = (f: (r: RunResult) => number) => median(results.map(f));
  const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`);
  const out = [
    `TUI on ${file} (${(statSync(file).size / 1e6).toFixed(0)} MB, ${results[0]!.packets.toLocaleString('en')} packets), 200x50, ${runs} runs, medians`,
    `machine: ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load average at each run's start: ${loads.join(' | ')}`,
    '',
    '| Figure | Median | Runs |',
    '|---|---|---|',
    `| time to first screen | ${fmt(m((r) => r.firstScreenMs))} | ${results.map((r) => fmt(r.firstScreenMs)).join(', ')} |`,
    `| whole index (load) | ${fmt(m((r) => r.indexMs))} | ${results.map((r) => fmt(r.indexMs)).join(', ')} |`,
    `| key while loading: p50 / p95 / max (${keys.length} keys) | ${fmt(pct(keys, 0.5))} / ${fmt(pct(keys, 0.95))} / ${fmt(Math.max(...keys))} | |`,
    `| S: first screen / all queries counted | ${fmt(m((r) => r.statsFirstMs))} / ${fmt(m((r) => r.statsDoneMs))} | ${results.map((r) => `${fmt(r.statsFirstMs)} / ${fmt(r.statsDoneMs)}`).join(', ')} |`,
    `| S again | ${fmt(m((r) => r.statsAgainMs))} | ${results.map((r) => fmt(r.statsAgainMs)).join(', ')} |`,
    `| d (dashboard) | ${fmt(m((r) => r.dashboardMs))} | ${results.map((r) => fmt(r.dashboardMs)).join(', ')} |`,
    `| peak RSS | ${m((r) => r.peakRssMb).toFixed(0)} MB | ${results.map((r) => r.peakRssMb.toFixed(0)).join(', ')} |`,
    `| CPU to the whole index / whole run (user + system) | ${m((r) => r.indexCpuS).toFixed(1)} s / ${m((r) => r.cpuS).toFixed(1)} s | ${results.map((r) => `${r.indexCpuS.toFixed(1)} / ${r.cpuS.toFixed(1)}`).join(', ')} |`,
  ];
  process.stdout.write(out.join('\n') + '\n');
}

main().then(() => { process.exitCode = process.exitCode ?? 0; }, (e: unknown) => {
  process.stderr.write(`bench-tui: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
