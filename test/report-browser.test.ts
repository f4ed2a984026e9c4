/**
 * `pgsniff report` pages opened in headless Chromium (Debian's `chromium`, which .ci/run
 * installs; driven through playwright-core with that executable, no browser download): reports
 * of the samples and of a real-server run recorded with `record --report` load with no console
 * error and no network (the context is offline and every request other than the file itself is
 * refused and counted), every chart has drawn, the top statement's text is there, and SQL
 * carrying `</script><script>` and `<img onerror>` is shown as text and runs nothing. The
 * real-server run's page is photographed for the README (copied to docs/ with
 * UPDATE_SCREENSHOT=1).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import pg from 'pg';
import { liveCaptureAvailable } from '../src/capture/live.js';
import { projectRoot } from './helpers/public-captures.js';
import { startServer, type PgServer } from './helpers/pg-server.js';
import { tempDir } from './helpers/temp-dir.js';

const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const main = join(projectRoot, 'dist', 'src', 'cli', 'main.js');
const samples = join(projectRoot, 'samples');
const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const SKIP = !existsSync(CHROMIUM) ? `${CHROMIUM} is absent (apt-get install chromium): report pages not opened` : false;
const LIVE_SKIP = SKIP || (!liveCaptureAvailable()
  ? 'the optional `cap` addon does not load (apt-get install libpcap-dev, npm rebuild cap): the real-server report skipped'
  : !isRoot ? 'not root (live capture needs root or CAP_NET_RAW): the real-server report skipped' : false);

const dir = tempDir('pgsniff-report-browser-');
let browser: Browser | null = null;

async function getBrowser(): Promise<Browser> {
  browser ??= await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      '--disable-dev-shm-usage'],
  });
  return browser;
}

after(async () => { await browser?.close(); });

interface Opened {
  problems: string[];
  requests: string[];
  canvases: Array<{ w: number; h: number; painted: number }>;
  charts: number;
  text: string;
  pwned: unknown;
  dialogs: string[];
}

/** Opens a report offline, waits for its script to finish, and reports what happened. */
async function open(file: string, screenshot?: string, click?: string): Promise<Opened> {
  const b = await getBrowser();
  const ctx = await b.newContext({ offline: true, javaScriptEnabled: true, viewport: { width: 1280, height: 900 } });
  const requests: string[] = [];
  await ctx.route('**/*', (route) => {
    const url = route.request().url();
    if (url.startsWith('file://')) return route.continue();
    requests.push(url);
    return route.abort();
  });
  const page = await ctx.newPage();
  const problems: string[] = [];
  const dialogs: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('dialog', (d) => { dialogs.push(d.message()); void d.dismiss(); });
  try {
    await page.goto('file://' + file);
    // functions, not strings: a string would be eval()ed in the page, which its CSP forbids
    await page.waitForFunction(() => (globalThis as unknown as { __report?: { ready?: boolean } }).__report?.ready === true, null, { timeout: 60_000 });
    if (screenshot) await page.screenshot({ path: screenshot, fullPage: false });
    if (click) await page.locator('#statements tbody tr', { hasText: click }).first().click();
    // written against a minimal view of the page's globals: this file is compiled without the DOM's types
    const got = await page.evaluate(() => {
      interface Ctx { getImageData(x: number, y: number, w: number, h: number): { data: ArrayLike<number> } }
      interface Canvas { width: number; height: number; getContext(k: '2d'): Ctx }
      const g = globalThis as unknown as {
        document: { querySelectorAll(s: string): Iterable<Canvas>; body: { textContent: string | null } };
        __report: { charts: number }; __pwned?: unknown;
      };
      const canvases = [...g.document.querySelectorAll('canvas')].map((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let painted = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) painted++;
        return { w: c.width, h: c.height, painted };
      });
      return { canvases, charts: g.__report.charts, text: g.document.body.textContent ?? '', pwned: g.__pwned ?? null };
    });
    return { problems, requests, dialogs, ...got };
  } finally {
    await ctx.close();
  }
}

function assertDrawn(o: Opened, what: string): void {
  assert.deepEqual(o.problems, [], `${what}: console`);
  assert.deepEqual(o.requests, [], `${what}: network requests`);
  assert.deepEqual(o.dialogs, [], `${what}: dialogs`);
  assert.ok(o.charts >= 6, `${what}: ${o.charts} charts`);
  assert.equal(o.canvases.length, o.charts, `${what}: one canvas per chart`);
  for (const c of o.canvases) assert.ok(c.w > 0 && c.h > 0 && c.painted > 0, `${what}: a canvas drew nothing (${JSON.stringify(c)})`);
}

function report(args: string[]): string {
  const r = spawnSync(process.execPath, [main, ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stderr;
}

function topStatement(pcapOrNdjson: string, ports: string[] = []): string {
  const r = spawnSync(process.execPath, [main, 'stats', pcapOrNdjson, '--json', ...ports], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return (JSON.parse(r.stdout) as { queries: Array<{ query: string }> }).queries[0]!.query;
}

test('sample reports open offline in Chromium: no console error, every chart drawn, the top statement shown', { skip: SKIP, timeout: 300_000 }, async () => {
  for (const name of ['errors', 'n-plus-one', 'copy', 'concurrent', 'replication', 'pipeline', 'transaction-savepoint', 'tls-13']) {
    const pcap = join(samples, `${name}.pcap`);
    const out = join(dir, `${name}.html`);
    report(['report', pcap, '-o', out]);
    const o = await open(out);
    assertDrawn(o, name);
    if (name !== 'tls-13') assert.ok(o.text.includes(topStatement(pcap)), `${name}: top statement text`);
    else assert.match(o.text, /TLS sessions? not decrypted/);
  }
});

/**
 * An NDJSON export of a minute of traffic (4 sessions, 5 statements, 600 queries), made from a
 * sample's own query and session records with their times, sessions and SQL changed: long
 * enough for the charts and the timeline to have something to zoom into.
 */
function minuteExport(file: string): void {
  const r = spawnSync(process.execPath, [main, 'read', join(samples, 'concurrent.pcap'), '--json'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const recs = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const q = recs.find((x) => x.kind === 'query')!;
  const sess = recs.find((x) => x.kind === 'session')!;
  const base = Date.parse('2026-12-01T10:00:00Z') * 1000;
  const iso = (us: number): string => new Date(Math.floor(us / 1000)).toISOString().slice(0, 19) + '.' + String(us % 1_000_000).padStart(6, '0') + 'Z';
  const sqls = ['SELECT * FROM orders WHERE id = $1', 'UPDATE accounts SET balance = balance + $1 WHERE id = $2', 'SELECT count(*) FROM items', 'INSERT INTO audit VALUES ($1)', 'DELETE FROM carts WHERE id = $1'];
  const lines: string[] = [];
  let frame = 1;
  for (let k = 0; k < 600; k++) {
    const session = k % 4;
    const end = base + k * 100_000 + 5_000;
    const durationMs = 0.2 + (k % 5) * 1.5 + (k % 37 === 0 ? 40 : 0);
    lines.push(JSON.stringify({
      ...q, session, sql: sqls[k % 5], time: iso(end), startTime: iso(end - Math.round(durationMs * 1000)), durationMs, firstRowMs: durationMs,
      frame: frame + 1, firstFrame: frame, lastFrame: frame + 1, params: [],
    }));
    frame += 2;
  }
  for (let session = 0; session < 4; session++) {
    lines.push(JSON.stringify({
      ...sess, session, time: iso(base + 60_000_000), start: iso(base - 1000), end: iso(base + 60_000_000), startFrame: 1, endFrame: frame, frame, queries: 150, durationMs: 60_001,
      client: { ip: '127.0.0.1', port: 40000 + session }, applicationName: `app${session % 2}`,
    }));
  }
  writeFileSync(file, lines.join('\n') + '\n');
}

test('the page works: the charts and the session timeline zoom together, tables sort and filter, it prints', { skip: SKIP, timeout: 300_000 }, async () => {
  const ndjson = join(dir, 'minute.ndjson');
  minuteExport(ndjson);
  const out = join(dir, 'minute.html');
  report(['report', ndjson, '-o', out]);
  const b = await getBrowser();
  const ctx = await b.newContext({ offline: true, viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error' || m.type() === 'warning') problems.push(`${m.type()}: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  try {
    await page.goto('file://' + out);
    await page.waitForFunction(() => (globalThis as unknown as { __report?: { ready?: boolean } }).__report?.ready === true, null, { timeout: 60_000 });
    type Ranges = { charts: Array<[number, number]>; timeline: [number, number] | null };
    const ranges = (): Promise<Ranges> => page.evaluate(() => (globalThis as unknown as { __report: { xRanges(): Ranges } }).__report.xRanges());
    const full = await ranges();
    assert.ok(full.charts.length >= 3, `${full.charts.length} time charts`);
    const span = (r: [number, number]): number => r[1] - r[0];
    const sameZoom = (r: Ranges, what: string): void => {
      for (const c of r.charts) assert.deepEqual(c, r.charts[0], `${what}: every time chart shows the same range`);
      assert.ok(Math.abs(r.timeline![0] - r.charts[0]![0]) < 1e-3 && Math.abs(r.timeline![1] - r.charts[0]![1]) < 1e-3, `${what}: the timeline follows (${JSON.stringify(r)})`);
    };

    // a drag across one chart zooms every chart and the timeline
    const over = page.locator('#activity .u-over').first();
    const box = (await over.boundingBox())!;
    await page.mouse.move(box.x + box.width * 0.3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.5, box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    const zoomed = await ranges();
    assert.ok(span(zoomed.charts[0]!) < span(full.charts[0]!) * 0.5, `the drag zoomed in (${JSON.stringify(zoomed.charts[0])} of ${JSON.stringify(full.charts[0])})`);
    sameZoom(zoomed, 'chart drag');

    // the timeline zooms too: drag across it, double-click to zoom out
    await page.locator('#timeline').dblclick();
    const reset = await ranges();
    assert.ok(span(reset.charts[0]!) >= span(full.charts[0]!) * 0.99, 'double-click on the timeline zooms out');
    const tl = (await page.locator('#timeline').boundingBox())!;
    await page.mouse.move(tl.x + tl.width * 0.6, tl.y + 10);
    await page.mouse.down();
    await page.mouse.move(tl.x + tl.width * 0.8, tl.y + 10, { steps: 5 });
    await page.mouse.up();
    const tlZoom = await ranges();
    assert.ok(span(tlZoom.charts[0]!) < span(full.charts[0]!) * 0.5, 'a drag across the timeline zooms in');
    assert.ok(tlZoom.charts[0]![0] > full.charts[0]![0] + span(full.charts[0]!) * 0.3, 'where it was dragged');
    sameZoom(tlZoom, 'timeline drag');

    // sort: a click on a header orders the rows by it, a second click reverses
    const col = async (n: number): Promise<string[]> => page.locator(`#statements tbody tr td:nth-child(${n})`).allTextContents();
    const num = (t: string): number => Number(t.replace(/[^0-9.]/g, ''));
    const headers = await page.locator('#statements thead th').allTextContents();
    const calls = headers.indexOf('calls') + 1;
    const stmt = headers.indexOf('statement') + 1;
    assert.ok(calls > 0 && stmt > 0, headers.join('|'));
    await page.locator('#statements thead th', { hasText: /^statement$/ }).click();
    const byText = await col(stmt);
    assert.deepEqual(byText, [...byText].sort((a, b) => a.localeCompare(b)), 'sorted by statement text, ascending');
    await page.locator('#statements thead th', { hasText: /^statement$/ }).click();
    const byTextDesc = await col(stmt);
    assert.deepEqual(byTextDesc, [...byText].reverse(), 'a second click reverses');
    await page.locator('#statements thead th', { hasText: /^total$/ }).click();
    const totals = (await col(headers.indexOf('total') + 1)).map(num);
    assert.deepEqual(totals, [...totals].sort((a, b) => b - a), 'numbers sort largest first');
    assert.equal(byText.length, 5);

    // filter: typing keeps the rows that contain the text
    await page.locator('#statements input[type=search]').fill('accounts');
    const kept = await col(stmt);
    assert.equal(kept.length, 1);
    assert.match(kept[0]!, /UPDATE accounts/);
    assert.match(await page.locator('#statements .tools .note').first().textContent() ?? '', /1 of 5 rows/);
    await page.locator('#statements input[type=search]').fill('');
    assert.equal((await col(stmt)).length, 5);

    // print: no navigation or controls, nothing wider than an A4 page, and Chromium prints it
    await page.setViewportSize({ width: 794, height: 1123 });
    await page.emulateMedia({ media: 'print' });
    const printed = await page.evaluate(() => {
      const g = globalThis as unknown as {
        document: { querySelector(s: string): unknown; querySelectorAll(s: string): ArrayLike<unknown>; documentElement: { scrollWidth: number } };
        getComputedStyle(e: unknown): { display: string };
      };
      const hidden = (sel: string): boolean => Array.from(g.document.querySelectorAll(sel)).every((e) => g.getComputedStyle(e).display === 'none');
      return { nav: hidden('nav'), tools: hidden('.tools'), buttons: hidden('button'), width: g.document.documentElement.scrollWidth };
    });
    assert.deepEqual({ nav: printed.nav, tools: printed.tools, buttons: printed.buttons }, { nav: true, tools: true, buttons: true });
    assert.ok(printed.width <= 794, `printed width ${printed.width} px`);
    const pdf = await page.pdf({ format: 'A4', printBackground: true });
    assert.equal(pdf.subarray(0, 5).toString('latin1'), '%PDF-');
    const pages = (pdf.toString('latin1').match(/\/Type\s*\/Page[^s]/g) ?? []).length;
    assert.ok(pages >= 2, `${pages} pages`);
    assert.deepEqual(problems, []);
  } finally {
    await ctx.close();
  }
});

/** Each payload, if it ever ran as script or markup, sets window.__pwned. */
const SCRIPT = String.raw`
const pg = require(process.env.PG_MODULE);
(async () => {
  const c = new pg.Client(process.env.PG_URL);
  await c.connect();
  await c.query('CREATE TABLE items (id int PRIMARY KEY, name text)');
  await c.query('BEGIN');
  for (let i = 1; i <= 40; i++) await c.query('INSERT INTO items VALUES ($1, $2)', [i, 'item ' + i]);
  await c.query('COMMIT');
  for (let i = 1; i <= 15; i++) await c.query('SELECT name FROM items WHERE id = $1', [i]);
  await c.query("SELECT '</script><script>window.__pwned = 1</script>' AS a, '<img src=x onerror=\"window.__pwned = 2\">' AS b");
  await c.query('SELECT $1::text AS payload, pg_sleep(0.03)', ['<img src=x onerror="window.__pwned = 3"></script><script>window.__pwned = 4</script>']);
  await c.query('SELECT * FROM "</script><script>window.__pwned = 5</script>"').catch(() => {});
  await c.query('INSERT INTO items VALUES (1, $1)', ['<img src=x onerror="window.__pwned = 6">']).catch(() => {});
  await c.query('BEGIN');
  await c.query("UPDATE items SET name = 'renamed' WHERE id = 2");
  await c.query('ROLLBACK');
  const c2 = new pg.Client(process.env.PG_URL);
  await c2.connect();
  await Promise.all([c.query('SELECT pg_sleep(0.05)'), c2.query('SELECT count(*) FROM items')]);
  await c2.end();
  await c.end();
})().catch((e) => { console.error(e); process.exit(99); });
`;

function run(args: string[], env: Record<string, string>): Promise<{ status: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [main, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('close', (status) => { clearTimeout(timer); resolve({ status, stderr }); });
  });
}

test('a real server run: record --report, and report of its NDJSON export; wire text cannot run script', { skip: LIVE_SKIP, timeout: 300_000 }, async () => {
  let srv: PgServer | null = null;
  try {
    srv = await startServer({ auth: 'scram-sha-256' });
    const script = join(dir, 'workload.cjs');
    writeFileSync(script, SCRIPT);
    const env = { PG_MODULE: join(projectRoot, 'node_modules', 'pg'), PG_URL: `postgres://${srv.user}:${encodeURIComponent(srv.password ?? '')}@127.0.0.1:${srv.port}/${srv.database}` };
    const html = join(dir, 'run.html');
    const ndjson = join(dir, 'run.ndjson');
    const pcap = join(dir, 'run.pcap');
    const rec = await run(['record', '-i', 'lo', '-p', String(srv.port), '-w', pcap, '--json-out', ndjson, '--report', html, '--', process.execPath, script], env);
    assert.equal(rec.status, 0, rec.stderr);
    assert.match(rec.stderr, /wrote .*run\.html \(\d+ KB\): 6\d queries, 2 sessions, 2 errors/);
    const shot = join(dir, 'report.png');
    const o = await open(html, shot, 'payload');
    assertDrawn(o, 'record --report');
    assert.equal(o.pwned, null, 'a payload ran');
    // the payloads are on the page, as text
    assert.ok(o.text.includes('</script><script>window.__pwned = 5</script>'), 'the error message with the payload is shown');
    assert.ok(o.text.includes('<img src=x onerror="window.__pwned = 3"></script><script>window.__pwned = 4</script>'), 'the parameter with the payload is shown');
    assert.ok(o.text.includes(topStatement(pcap, ['-p', String(srv.port)])), 'top statement text');
    assert.match(o.text, /undefined_table/);
    assert.match(o.text, /unique_violation/);
    assert.match(o.text, /SELECT name FROM items WHERE id = \$1/);
    assert.ok(statSync(shot).size > 10_000);
    if (process.env.UPDATE_SCREENSHOT === '1') copyFileSync(shot, join(projectRoot, 'docs', 'report.png'));

    // the same run from its NDJSON export (parameters included) and from the pcap
    const fromExport = join(dir, 'export.html');
    report(['report', ndjson, '-o', fromExport]);
    const e = await open(fromExport, undefined, 'payload');
    assertDrawn(e, 'report of the NDJSON export');
    assert.equal(e.pwned, null);
    assert.ok(e.text.includes('<img src=x onerror="window.__pwned = 3">'));
    const fromPcap = join(dir, 'pcap.html');
    report(['report', pcap, '-p', String(srv.port), '-o', fromPcap]);
    const p = await open(fromPcap, undefined, 'payload');
    assertDrawn(p, 'report of the pcap');
    assert.equal(p.pwned, null);
    assert.ok(p.text.includes('<img src=x onerror="window.__pwned = 3">'), 'the Bind parameter is in the example');
    assert.ok(readFileSync(fromPcap, 'utf8').length < 1_000_000);
  } finally {
    await srv?.stop();
  }
});

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('live capture: `-i lo --report` (beside --json) and `report -i lo -o`, with -Y, write their pages when the capture stops', { skip: LIVE_SKIP, timeout: 300_000 }, async () => {
  const srv = await startServer({ auth: 'trust' });
  const procs: ChildProcess[] = [];
  try {
    const port = String(srv.port);
    const withRead = join(dir, 'live-read.html');
    const withReport = join(dir, 'live-report.html');
    const sniff = (args: string[]): { exited: Promise<number | null>; err: () => string; out: () => string } => {
      const p = spawn(process.execPath, [main, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      procs.push(p);
      let out = '';
      let err = '';
      p.stdout!.setEncoding('utf8').on('data', (t: string) => { out += t; });
      p.stderr!.setEncoding('utf8').on('data', (t: string) => { err += t; });
      return { exited: new Promise((r) => p.once('exit', (code) => r(code))), err: () => err, out: () => out };
    };
    const a = sniff(['-i', 'lo', '-p', port, '-f', `tcp port ${port}`, '--json', '--queries', '--report', withRead]);
    const b = sniff(['report', '-i', 'lo', '-p', port, '-f', `tcp port ${port}`, '-Y', 'kind == query && sql contains "live_marker"', '-o', withReport]);
    await until('"capturing on" twice', () => a.err().includes('capturing on') && b.err().includes('capturing on'), 60_000);
    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, database: srv.database });
    await client.connect();
    for (let i = 0; i < 12; i++) await client.query('SELECT $1::text AS live_marker, pg_sleep($2)', [`value ${i}`, i === 7 ? 0.05 : 0]);
    await client.query('SELECT 1 AS other');
    await client.end();
    await until('the query records on stdout', () => a.out().includes('SELECT 1 AS other'), 10_000);
    await new Promise((r) => setTimeout(r, 500)); // the other capture decodes the same packets
    for (const p of procs) p.kill('SIGINT');
    assert.equal(await a.exited, 0, a.err());
    assert.equal(await b.exited, 0, b.err());
    assert.match(a.err(), /wrote .*live-read\.html \(\d+ KB\): 13 queries, 1 sessions, 0 errors/);
    assert.match(b.err(), /wrote .*live-report\.html \(\d+ KB\): 12 queries, 0 sessions, 0 errors/);
    const ra = await open(withRead, undefined, 'live_marker');
    assertDrawn(ra, '-i lo --report');
    assert.ok(ra.text.includes('SELECT $1::text AS live_marker, pg_sleep($2)'));
    assert.ok(ra.text.includes('value 7'), 'the slowest execution\'s parameter');
    assert.match(ra.text, /live capture on lo/);
    const rb = await open(withReport, undefined, 'live_marker');
    assertDrawn(rb, 'report -i lo -Y');
    assert.ok(rb.text.includes('value 7'));
    assert.ok(!rb.text.includes('SELECT 1 AS other'), '-Y left the other statement out');
    assert.match(rb.text, /Display filter -Y kind == query && sql contains "live_marker": 12 of \d+ records shown/);
  } finally {
    for (const p of procs) p.kill('SIGKILL');
    await srv.stop();
  }
});
