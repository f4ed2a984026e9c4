/**
 * Live capture under load: `pgsniff -i lo --json -w FILE` (the real command, its own process)
 * and a reference tcpdump capture the same pgbench run on `lo`. For each run: the packets each
 * saw, the kernel drops each capture reported, pgsniff's own drops (its spool bound), the
 * timestamp difference per packet (matched by direction, TCP sequence and acknowledgement
 * numbers, length and flags), the queries pgsniff decoded against the transactions pgbench
 * executed (one statement each with -S), how long after the load pgsniff finished decoding, and
 * its peak RSS.
 *
 * pgbench and both captures run as child processes started asynchronously.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, readFileSync, rmSync, statSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { readCapture } from '../src/capture/open.js';
import type { Packet } from '../src/capture/packet.js';
import type { PgServer } from '../test/helpers/pg-server.js';
import { runPgbench, startTcpdump } from './bench-capture.js';

export type Protocol = 'simple' | 'extended' | 'prepared';

export interface LiveResult {
  protocol: Protocol;
  /** pgbench's target rate (-R), or null at full speed. */
  rate: number | null;
  seconds: number;
  clients: number;
  pgbenchTransactions: number | null;
  pgbenchTps: number | null;
  /** From pgsniff's capture record. */
  decoded: number;
  received: number | null;
  kernelDropped: number | null;
  pgsniffDropped: number;
  tcpdumpCaptured: number | null;
  tcpdumpDropped: number | null;
  /** Packets of the reference capture found in pgsniff's -w file, and the timestamp differences (µs, absolute). */
  matched: number;
  diffMedianUs: number | null;
  diffP99Us: number | null;
  diffMaxUs: number | null;
  queries: number;
  anomalies: number;
  /** From starting the command to its "capturing on" line (the capture handle is open by then). */
  startS: number;
  /** From the end of the load (pgbench's exit, when pgsniff is told to stop) to pgsniff's exit. */
  drainS: number;
  /** The most pgsniff said it was behind the capture during the run (its stderr lines; null: never 1 s or more). */
  behindS: number | null;
  peakRssMb: number | null;
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

/** Direction, sequence and acknowledgement numbers, payload length and flags of an Ethernet/IPv4/TCP frame. */
function tcpKey(p: Packet): string | null {
  const d = p.data;
  if (p.linkType !== 1 || d.length < 34 || d.readUInt16BE(12) !== 0x0800 || d[23] !== 6) return null;
  const ihl = (d[14]! & 0x0f) * 4;
  const tcp = 14 + ihl;
  const payload = d.readUInt16BE(16) - ihl - (d[tcp + 12]! >> 4) * 4;
  return `${d.readUInt16BE(tcp)}>${d.readUInt16BE(tcp + 2)} ${d.readUInt32BE(tcp + 4)}/${d.readUInt32BE(tcp + 8)} ${payload} ${d[tcp + 13]}`;
}

async function timesByKey(file: string): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  await readCapture(file, {
    packet: (p) => {
      const k = tcpKey(p);
      if (k === null) return;
      const l = out.get(k);
      if (l) l.push(p.timeUs);
      else out.set(k, [p.timeUs]);
    },
    anomaly: () => undefined,
  });
  return out;
}

function peakRssKb(pid: number): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function quantile(sorted: number[], q: number): number | null {
  return sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

export async function liveUnderLoad(cli: string, server: PgServer, protocol: Protocol, seconds: number, clients: number, dir: string, rate: number | null): Promise<LiveResult> {
  runPgbench(server, ['-i', '-q', '-s', '1']);
  const ref = join(dir, 'live-tcpdump.pcap');
  const ours = join(dir, 'live-pgsniff.pcap');
  const ndjson = join(dir, 'live.ndjson');
  const filter = `tcp port ${server.port}`;
  const dump = await startTcpdump(ref, filter);
  const spawnedAt = performance.now();
  const sniff: ChildProcess = spawn('sh', ['-c', `exec "${process.execPath}" "${cli}" -i lo -p ${server.port} -f "${filter}" --json -w "${ours}" > "${ndjson}"`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  sniff.stderr!.setEncoding('utf8').on('data', (t: string) => { err += t; });
  const exited = new Promise<void>((r) => sniff.once('exit', () => r()));
  let peakKb: number | null = null;
  const rssTimer = setInterval(() => { peakKb = peakRssKb(sniff.pid!) ?? peakKb; }, 200);
  let tcp: Awaited<ReturnType<typeof dump.stop>>;
  let bench: { transactions: number | null; tps: number | null };
  let drainS = 0;
  let startS = 0;
  try {
    const startBy = Date.now() + 30_000;
    while (!err.includes('capturing on')) {
      if (Date.now() > startBy || sniff.exitCode !== null) throw new Error(`pgsniff did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 5));
    }
    startS = (performance.now() - spawnedAt) / 1000;
    const args = ['-n', '-S', '-M', protocol, '-c', String(clients), '-j', '2', '-T', String(seconds)];
    if (rate !== null) args.push('-R', String(rate));
    bench = await pgbenchAsync(server, args);
    const loadEnd = performance.now();
    // What pgbench's connections sent last is in the kernel by now: pgsniff stops its capture,
    // decodes what it is behind by, and exits.
    sniff.kill('SIGINT');
    await exited;
    drainS = (performance.now() - loadEnd) / 1000;
  } finally {
    clearInterval(rssTimer);
    sniff.kill('SIGKILL');
    tcp = await dump.stop();
  }
  let queries = 0;
  let anomalies = 0;
  let capture: Record<string, number | null> = {};
  const lines = createInterface({ input: createReadStream(ndjson), crlfDelay: Infinity });
  for await (const line of lines) {
    // Only the small records are parsed: kinds are found by their opening bytes.
    if (line.startsWith('{"kind":"query"')) queries++;
    else if (line.startsWith('{"kind":"anomaly"')) anomalies++;
    else if (line.startsWith('{"kind":"capture"')) capture = JSON.parse(line) as Record<string, number | null>;
  }
  const a = await timesByKey(ours);
  const b = await timesByKey(ref);
  const diffs: number[] = [];
  for (const [k, list] of b) {
    const mine = a.get(k);
    if (!mine) continue;
    for (let i = 0; i < Math.min(list.length, mine.length); i++) diffs.push(Math.abs(mine[i]! - list[i]!));
  }
  diffs.sort((x, y) => x - y);
  const result: LiveResult = {
    protocol,
    rate,
    seconds,
    clients,
    pgbenchTransactions: bench.transactions,
    pgbenchTps: bench.tps,
    decoded: capture.decoded ?? 0,
    received: capture.received ?? null,
    kernelDropped: capture.droppedByKernel ?? null,
    pgsniffDropped: capture.droppedByPgsniff ?? 0,
    tcpdumpCaptured: tcp.captured,
    tcpdumpDropped: tcp.dropped,
    matched: diffs.length,
    diffMedianUs: quantile(diffs, 0.5),
    diffP99Us: quantile(diffs, 0.99),
    diffMaxUs: diffs.length ? diffs[diffs.length - 1]! : null,
    queries,
    anomalies,
    startS,
    drainS,
    behindS: mostBehind(err),
    peakRssMb: peakKb === null ? null : peakKb / 1024,
  };
  process.stderr.write(`bench: live ${protocol} ${rate ?? 'full'}: ${JSON.stringify(result)} (ndjson ${(statSync(ndjson).size / 1e6).toFixed(0)} MB)\n`);
  for (const f of [ref, ours, ndjson]) rmSync(f, { force: true });
  return result;
}

/** The largest "decoding is N s (...) behind" pgsniff wrote on stderr, or null. */
function mostBehind(stderr: string): number | null {
  let most: number | null = null;
  for (const m of stderr.matchAll(/decoding is ([\d.]+) s \([^)]*\) behind/g)) most = Math.max(most ?? 0, Number(m[1]));
  return most;
}

export interface StartupResult {
  runs: number;
  /** Seconds from spawning the command to its capture handle being open (min, median, max). */
  handleOpen: [number, number, number];
  /** Seconds from spawning the command to its "capturing on" line. */
  capturingOn: [number, number, number];
  /** Seconds from spawning `node -e 0` to its exit: Node.js's own start-up on this machine now. */
  nodeAlone: [number, number, number];
}

function spread(values: number[]): [number, number, number] {
  const s = [...values].sort((x, y) => x - y);
  return [s[0]!, s[Math.floor(s.length / 2)]!, s[s.length - 1]!];
}

/**
 * Live start-up: how long after the command starts its capture handle is open. The handle's
 * opening is dated by the kernel: a client opens a TCP connection to a closed port every 2 ms,
 * and the first of its packets in pgsniff's -w file is the first the handle saw. Alternates with
 * `node -e 0` (Node.js alone), so both see the same machine.
 */
export async function startupProbe(cli: string, dir: string, runs: number, port: number): Promise<StartupResult> {
  const probe = spawn(process.execPath, ['-e', `const net = require('node:net'); setInterval(() => net.connect(${port}, '127.0.0.1').on('error', () => undefined), 2);`], { stdio: 'ignore' });
  const open: number[] = [];
  const capturing: number[] = [];
  const alone: number[] = [];
  const file = join(dir, 'startup.pcap');
  try {
    await new Promise((r) => setTimeout(r, 300));
    for (let i = 0; i < runs; i++) {
      rmSync(file, { force: true });
      const wallAt = Date.now();
      const at = performance.now();
      const p = spawn(process.execPath, [cli, '-i', 'lo', '-f', `tcp port ${port}`, '-w', file, '--text'], { stdio: ['ignore', 'ignore', 'pipe'] });
      let err = '';
      let capturingAt: number | null = null;
      p.stderr!.setEncoding('utf8').on('data', (t: string) => {
        err += t;
        if (capturingAt === null && err.includes('capturing on')) capturingAt = performance.now();
      });
      const exited = new Promise<void>((r) => p.once('close', () => r()));
      const by = Date.now() + 30_000;
      while (capturingAt === null && Date.now() < by && p.exitCode === null) await new Promise((r) => setTimeout(r, 5));
      // A few probes after "capturing on", so that the file has packets whatever the order.
      await new Promise((r) => setTimeout(r, 200));
      p.kill('SIGINT');
      await exited;
      if (capturingAt === null) throw new Error(`pgsniff did not start: ${err}`);
      let first: number | null = null;
      await readCapture(file, {
        packet: (pk) => { first ??= pk.timeUs; },
        anomaly: () => undefined,
      });
      if (first === null) throw new Error('the start-up probe saw no packet');
      open.push((first / 1000 - wallAt) / 1000);
      capturing.push((capturingAt - at) / 1000);
      const nodeAt = performance.now();
      await new Promise<void>((r) => spawn(process.execPath, ['-e', '0'], { stdio: 'ignore' }).once('close', () => r()));
      alone.push((performance.now() - nodeAt) / 1000);
    }
  } finally {
    probe.kill();
    rmSync(file, { force: true });
  }
  return { runs, handleOpen: spread(open), capturingOn: spread(capturing), nodeAlone: spread(alone) };
}

/** The start-up table for docs/BENCHMARK.md. */
export function startupTable(r: StartupResult, loaded: string): string[] {
  const f = (v: [number, number, number]): string => `${v[1].toFixed(2)} | ${v[0].toFixed(2)} to ${v[2].toFixed(2)}`;
  return [
    `Start-up of \`pgsniff -i lo\`, ${r.runs} runs alternating with \`node -e 0\`: the capture handle's opening is dated by the kernel (the first packet of a client that connects to a closed port every 2 ms, in pgsniff's -w file). ${loaded}`,
    '',
    '| from the command\'s start to | median s | min to max s |',
    '|---|---:|---:|',
    `| the capture handle open | ${f(r.handleOpen)} |`,
    `| "capturing on" (the pipeline loaded) | ${f(r.capturingOn)} |`,
    `| \`node -e 0\` exits (Node.js alone) | ${f(r.nodeAlone)} |`,
  ];
}

/** The table for docs/BENCHMARK.md and README. */
export function liveTable(results: LiveResult[], seconds: number, clients: number, loaded: string): string[] {
  const fmt = (v: number | null, d = 0): string => (v === null ? 'n/a' : v.toFixed(d));
  const out: string[] = [];
  out.push(`\`pgsniff -i lo --json -w FILE\` (its own process; NDJSON of every message to a file) and a reference \`tcpdump -i lo -B 131072 -w FILE\` capture the same \`pgbench -n -S -M PROTOCOL -c ${clients} -j 2 -T ${seconds}\` run (at full speed, or at the rate given with -R). ` +
    'Packets: pgsniff decoded vs the reference captured; kernel drops as each capture\'s pcap_stats reported them; pgsniff drops: packets its spool bound made it discard. ' +
    'Timestamp difference: |pgsniff − reference| per packet, matched by direction, TCP sequence and acknowledgement numbers, length and flags (each capture socket is stamped by the kernel as the packet reaches it, so two captures differ by a few µs). ' +
    `Queries decoded vs pgbench's transactions (one SELECT each; pgbench runs a few more statements of its own per connection). Start: from starting the command (Node.js's own start-up included) to its "capturing on" line, printed once the capture handle is open. Drain: from the end of the load to pgsniff's exit (it stops capturing and decodes what it is behind by). Behind: the most pgsniff said on stderr it was behind the capture during the run (it says so from 1 s; "-": never). ${loaded}`);
  out.push('');
  out.push('| -M | rate | pgbench tps | transactions | queries decoded | packets decoded | reference packets | kernel drops (pgsniff / reference) | pgsniff drops | timestamp diff median / p99 / max µs | start s | behind s | drain s | peak RSS MB | anomalies |');
  out.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const r of results) {
    out.push(`| ${r.protocol} | ${r.rate === null ? 'full speed' : `-R ${r.rate}`} | ${fmt(r.pgbenchTps)} | ${r.pgbenchTransactions ?? 'n/a'} | ${r.queries} | ${r.decoded} | ${r.tcpdumpCaptured ?? 'n/a'} | ${fmt(r.kernelDropped)} / ${fmt(r.tcpdumpDropped)} | ${r.pgsniffDropped} | ${fmt(r.diffMedianUs)} / ${fmt(r.diffP99Us)} / ${fmt(r.diffMaxUs)} | ${fmt(r.startS, 2)} | ${r.behindS === null ? '-' : fmt(r.behindS, 1)} | ${fmt(r.drainS, 1)} | ${fmt(r.peakRssMb)} | ${r.anomalies} |`);
  }
  return out;
}
