/**
 * `pgsniff report` at scale (issue 17): a pgbench capture of about 1,000,000 queries (made once
 * by bench-capture.ts makeCapture and cached), written as a report and opened in headless
 * Chromium; and a generated NDJSON export of great variety (many sessions, every statement
 * text distinct) that pushes every cap the report has. For each: the page's size, the time from
 * navigation to the page's script having drawn everything (Chromium's own clock, median of the
 * runs), and the CPU seconds and peak RSS of `report` beside those of `stats` on the same input
 * (GNU time, `/usr/bin/time -f`, in turn, medians).
 *
 *     npx tsc -p . && node dist/scripts/bench-report.js [--runs 3] [--opens N] [--capture FILE --port N] [--variety 20000,40000] [--no-capture] [--no-cpu] [--md FILE] [--page FILE]
 *
 * --no-cpu: one report run per input and no `stats` (the page's size and open times only; CPU
 * against stats is better taken in alternating pairs, report then stats, medians of the ratios).
 * --opens N: open each page N times (default --runs); --page FILE: only open that page.
 *
 * Needs what bench-capture.ts needs to make the capture (root, tcpdump, pgbench), Debian's
 * `chromium` and `time`. Not part of `npm test`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync, createWriteStream } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { makeCapture } from './bench-capture.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const main = join(import.meta.dirname, '..', 'src', 'cli', 'main.js');

function arg(name: string): string | null {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] ?? null : null;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** One run of pgsniff under GNU time: CPU seconds (user + system) and peak RSS in MiB. */
function timed(args: string[]): { cpu: number; peakMiB: number } {
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', process.execPath, main, ...args], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`pgsniff ${args.join(' ')}: ${r.stderr}`);
  const last = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  return { cpu: last[0]! + last[1]!, peakMiB: last[2]! / 1024 };
}

/**
 * Per run, milliseconds from navigation start (the page's own clock) to the page's script having
 * drawn everything (`ready`) and to the first frame shown after that (`shown`: the layout and
 * paint of what is on screen, which `ready` does not include). `shown` is taken by a script
 * the browser injects before the page's own (so it times any version of the page): each frame
 * it looks for `ready`, and once it is set, a task queued then runs after that frame is painted.
 */
async function openTimes(file: string, runs: number): Promise<Open[]> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'] });
  const out: Open[] = [];
  type Report = { __report?: { ready?: boolean; readyMs: number }; __shownMs?: number; requestAnimationFrame(f: () => void): number };
  try {
    for (let i = 0; i < runs; i++) {
      const ctx = await browser.newContext({ offline: true, viewport: { width: 1280, height: 900 } });
      const page = await ctx.newPage();
      await page.addInitScript(() => {
        const g = globalThis as unknown as Report;
        const tick = (): void => {
          if (g.__report?.ready === true) setTimeout(() => { g.__shownMs = performance.now(); }, 0);
          else g.requestAnimationFrame(tick);
        };
        g.requestAnimationFrame(tick);
      });
      const before = chromiumCpu();
      await page.goto('file://' + file);
      await page.waitForFunction(() => (globalThis as unknown as Report).__shownMs !== undefined, null, { timeout: 120_000 });
      const after = chromiumCpu();
      let cpu = 0;
      for (const [pid, c] of after) cpu += c - (before.get(pid) ?? 0);
      out.push({
        ...await page.evaluate(() => {
          const g = globalThis as unknown as Report;
          return { ready: g.__report!.readyMs, shown: g.__shownMs! };
        }),
        cpu: cpu * 1000,
      });
      await ctx.close();
    }
  } finally {
    await browser.close();
  }
  return out;
}

/** One opening of a page, in ms: see openTimes(). */
interface Open {
  ready: number;
  shown: number;
  /** CPU (user + system) of Chromium's processes from navigation to `shown`: what the machine's load does not inflate as it does the times. */
  cpu: number;
}

/** CPU seconds so far of each process below this one (Chromium's browser, renderers, GPU), by pid, from /proc. */
function chromiumCpu(): Map<number, number> {
  const ticks = 100; // USER_HZ: 100 on Linux
  const parent = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      // after the command's name in parentheses: state, ppid, ... utime (12th), stime (13th)
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(d), Number(f[1]));
      cpu.set(Number(d), (Number(f[11]) + Number(f[12])) / ticks);
    } catch {
      // the process ended meanwhile
    }
  }
  const mine = new Map<number, number>();
  for (const [pid, c] of cpu) {
    let p = parent.get(pid);
    while (p !== undefined && p > 1 && p !== process.pid) p = parent.get(p);
    if (p === process.pid) mine.set(pid, c);
  }
  return mine;
}

/** The nearest-rank q-quantile. */
function quantile(xs: number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.ceil(q * s.length) - 1)]!;
}

/** "median 1.23 s, p95 2.34 s (n runs)" of one measure of openTimes(). */
function openLine(runs: Open[], key: 'ready' | 'shown' | 'cpu'): string {
  const xs = runs.map((r) => r[key] / 1000);
  return `${median(xs).toFixed(2)} s, p95 ${quantile(xs, 0.95).toFixed(2)} s (${xs.length} runs: ${Math.min(...xs).toFixed(2)} - ${Math.max(...xs).toFixed(2)})`;
}

/**
 * An NDJSON export of `sessions` sessions of `perSession` simple-protocol queries each, every
 * statement text distinct (a literal in the SQL, and one table name in 50,000 per statement
 * shape), from one sample's records with times, sessions and SQL changed.
 */
async function varietyExport(file: string, sessions: number, perSession: number): Promise<number> {
  const r = spawnSync(process.execPath, [main, 'read', join(import.meta.dirname, '..', '..', 'samples', 'concurrent.pcap'), '--json'], { encoding: 'utf8' });
  const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const q = { ...recs.find((x) => x.kind === 'query')!, protocol: 'simple', statement: null, portal: null, params: [], columns: null };
  const sess = recs.find((x) => x.kind === 'session')!;
  const base = Date.parse('2026-12-01T10:00:00Z') * 1000;
  const iso = (us: number): string => new Date(Math.floor(us / 1000)).toISOString().slice(0, 19) + '.' + String(us % 1_000_000).padStart(6, '0') + 'Z';
  const out = createWriteStream(file);
  const write = (s: string): Promise<void> => new Promise((resolve) => { if (out.write(s)) resolve(); else out.once('drain', resolve); });
  let frame = 1;
  let n = 0;
  for (let s = 0; s < sessions; s++) {
    const start = base + s * 20_000;
    let lines = '';
    for (let k = 0; k < perSession; k++) {
      const end = start + (k + 1) * 1000;
      const d = 0.05 + ((n * 7919) % 1000) / 100;
      lines += JSON.stringify({
        ...q, session: s, sql: `SELECT * FROM t${n % 50_000} WHERE id = ${n} AND tag = 'x${n}'`, time: iso(end), startTime: iso(end - Math.round(d * 1000)),
        durationMs: d, firstRowMs: d, frame: frame + 1, firstFrame: frame, lastFrame: frame + 1,
        error: n % 997 === 0 ? { severity: 'ERROR', severityNonLocalized: 'ERROR', sqlstate: `42P${String(n % 100).padStart(2, '0')}`, message: `relation "t${n}" does not exist` } : null,
      }) + '\n';
      frame += 2;
      n++;
    }
    const end = start + (perSession + 1) * 1000;
    lines += JSON.stringify({
      ...sess, session: s, time: iso(end), start: iso(start), end: iso(end), startFrame: frame, endFrame: frame, frame, queries: perSession, durationMs: (end - start) / 1000,
      client: { ip: `10.${(s >> 16) & 255}.${(s >> 8) & 255}.${s & 255}`, port: 40000 + (s % 20000) }, applicationName: `app${s % 50}`, user: `user${s % 200}`,
    }) + '\n';
    await write(lines);
  }
  await new Promise<void>((resolve) => out.end(resolve));
  return n;
}

interface Row {
  input: string;
  queries: number;
  htmlBytes: number;
  open: Open[];
  report: Array<{ cpu: number; peakMiB: number }>;
  stats: Array<{ cpu: number; peakMiB: number }>;
}

async function measure(input: string, label: string, queries: number, extra: string[], runs: number, opens: number, dir: string, cpu: boolean): Promise<Row> {
  const html = join(dir, label.replace(/\W+/g, '-') + '.html');
  const report: Row['report'] = [];
  const stats: Row['stats'] = [];
  for (let i = 0; i < (cpu ? runs : 1); i++) {
    report.push(timed(['report', input, ...extra, '-o', html]));
    if (cpu) stats.push(timed(['stats', input, ...extra]));
  }
  const open = await openTimes(html, opens);
  return { input: label, queries, htmlBytes: statSync(html).size, open, report, stats };
}

async function run(): Promise<void> {
  const runs = Number(arg('--runs') ?? 3);
  // --opens N: how many times each page is opened (default: --runs)
  const opens = Number(arg('--opens') ?? runs);
  // --page FILE: only open an existing report page, --opens times
  const only = arg('--page');
  if (only !== null) {
    const open = await openTimes(only, opens);
    for (const o of open) console.log(`ready ${o.ready.toFixed(0)} ms, shown ${o.shown.toFixed(0)} ms, Chromium CPU ${o.cpu.toFixed(0)} ms`);
    console.log(`${only}: ready ${openLine(open, 'ready')}; shown ${openLine(open, 'shown')}; Chromium CPU to shown ${openLine(open, 'cpu')}`);
    return;
  }
  const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'pgsniff-bench');
  mkdirSync(dir, { recursive: true });
  let capture = arg('--capture');
  let port = arg('--port');
  const withCapture = !process.argv.includes('--no-capture');
  const cpu = !process.argv.includes('--no-cpu');
  if (capture === null && withCapture) {
    capture = join(dir, 'report-1m.pcap');
    if (!existsSync(capture + '.json')) {
      const meta = await makeCapture(capture, { scale: 1, transactions: 12000, bulkRows: 1000 });
      writeFileSync(capture + '.json', JSON.stringify(meta, null, 2));
    }
    port = String((JSON.parse(readFileSync(capture + '.json', 'utf8')) as { serverPort: number }).serverPort);
  }
  const rows: Row[] = [];
  const countQueries = (args: string[]): number => {
    const r = spawnSync(process.execPath, [main, 'stats', ...args, '--json'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    return (JSON.parse(r.stdout) as { totals: { queries: number } }).totals.queries;
  };
  const portArgs = port === null ? [] : ['-p', port];
  if (withCapture) rows.push(await measure(capture!, 'pgbench capture', countQueries([capture!, ...portArgs]), portArgs, runs, opens, dir, cpu));
  // --variety 20000,40000: exports of that many sessions (25 queries each); the peaks show whether memory follows the input's length
  for (const sessions of (arg('--variety') ?? '20000').split(',').map(Number)) {
    const variety = join(dir, sessions === 20000 ? 'report-variety.ndjson' : `report-variety-${sessions}.ndjson`);
    const n = await varietyExport(variety, sessions, 25);
    rows.push(await measure(variety, `NDJSON, ${sessions.toLocaleString('en-US')} sessions, every text distinct`, n, [], runs, opens, dir, cpu));
  }

  const fmt = (x: number, d = 2): string => x.toFixed(d);
  const lines = [
    '| input | queries | page | script done (ready) | first frame after it (shown) | Chromium CPU to shown | report CPU s | stats CPU s | report / stats | report peak MiB | stats peak MiB |',
    '|---|---:|---:|---|---|---|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const rc = median(r.report.map((x) => x.cpu));
      const sc = r.stats.length > 0 ? median(r.stats.map((x) => x.cpu)) : NaN;
      const opened = `${openLine(r.open, 'ready')} | ${openLine(r.open, 'shown')} | ${openLine(r.open, 'cpu')}`;
      const statsPeak = r.stats.length > 0 ? fmt(median(r.stats.map((x) => x.peakMiB)), 0) : '-';
      return `| ${r.input} | ${r.queries.toLocaleString('en-US')} | ${(r.htmlBytes / 1024).toFixed(0)} KB | ${opened} | ${fmt(rc)} | ${r.stats.length > 0 ? fmt(sc) : '-'} | ${r.stats.length > 0 ? fmt(rc / sc) : '-'} | ${fmt(median(r.report.map((x) => x.peakMiB)), 0)} | ${statsPeak} |`;
    }),
  ];
  console.log(lines.join('\n'));
  const md = arg('--md');
  if (md !== null) writeFileSync(md, lines.join('\n') + '\n');
}

run().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
