/**
 * `npm run samples`: regenerates samples/*.pcap, samples/manifest.json and samples/README.md.
 *
 * Starts a real PostgreSQL 18 (test/helpers/pg-server.ts), captures the loopback interface with
 * pgsniff's own live capture (filter `tcp port PORT`) while pg, postgres.js and psql run the
 * scenarios of scripts/sample-scenarios.ts, one pcap per scenario.
 *
 * As root it re-runs itself in a private network namespace (unshare --net) whose loopback has an
 * MTU of 16384: the `cap` addon fixes libpcap's snaplen at 65535, and a full-size TCP segment on
 * the host's loopback (MTU 65536) is a 65549-byte frame that would lose its last 14 bytes. The
 * namespace also keeps other programs' loopback traffic out and lets the server use port 5432.
 * Without the `cap` addon (not built) it captures with tcpdump instead, and says so per sample.
 * `--host-lo` skips the namespace; `--only a,b` regenerates only those scenarios; `--out DIR`
 * writes elsewhere than samples/; `--readme` only rewrites README.md from manifest.json.
 */
import pg from 'pg';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { liveCaptureAvailable, startLiveCapture, type LiveCapture } from '../src/capture/live.js';
import { PcapWriter } from '../src/capture/pcap-writer.js';
import { startServer, freePort, type PgServer } from '../test/helpers/pg-server.js';
import { Tcpdump } from '../test/helpers/tls-capture.js';
import { SampleRecorder } from './sample-clients.js';
import type { Manifest, ManifestSample } from './sample-manifest.js';
import type { ScenarioContext } from './sample-scenario.js';
import { SCENARIOS } from './sample-scenarios.js';
import { driverVersions } from './sample-drivers.js';
import { renderReadme } from './sample-readme.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/scripts -> project root */
const projectRoot = resolve(here, '..', '..');
const NETNS_ENV = 'PGSNIFF_SAMPLES_NETNS';
const NETNS_MTU = 16384;
const SIZE_LIMIT = 2 * 1024 * 1024;
const SCENARIO_TIMEOUT_MS = 30000;
const WATCHDOG_MS = 120000;

const SETTINGS: Record<string, string> = {
  TimeZone: 'UTC',
  DateStyle: 'ISO, MDY',
  IntervalStyle: 'postgres',
  lc_messages: 'C',
};

function say(msg: string): void {
  process.stderr.write(`make-samples: ${msg}\n`);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const t = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, t]).finally(() => clearTimeout(timer));
}

function packageVersion(name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(join(projectRoot, 'node_modules', name, 'package.json'), 'utf8')) as { version?: string };
    return pkg.version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function psqlVersion(): string {
  try {
    return execFileSync('psql', ['--version'], { encoding: 'utf8' }).trim().replace(/^psql \(PostgreSQL\) /, '');
  } catch {
    return 'not installed';
  }
}

/** MTU of lo as the current network namespace sees it (/sys may show the host's). */
function loMtu(): number | null {
  try {
    const m = / mtu (\d+) /.exec(execFileSync('ip', ['-o', 'link', 'show', 'lo'], { encoding: 'utf8' }));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

interface Args {
  only: Set<string> | null;
  /** Only rewrite README.md from manifest.json (no server, no capture). */
  readmeOnly: boolean;
  hostLo: boolean;
  outDir: string;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { only: null, readmeOnly: false, hostLo: false, outDir: join(projectRoot, 'samples') };
  for (let i = 0; i < argv.length; i++) {
    const v = argv[i]!;
    if (v === '--host-lo') a.hostLo = true;
    else if (v === '--readme') a.readmeOnly = true;
    else if (v === '--only') a.only = new Set((argv[++i] ?? '').split(',').filter(Boolean));
    else if (v === '--out') a.outDir = resolve(argv[++i] ?? '.');
    else throw new Error(`unknown argument ${v} (use --only a,b  --readme  --host-lo  --out DIR)`);
  }
  if (a.only) for (const n of a.only) if (!SCENARIOS.some((s) => s.name === n)) throw new Error(`no scenario ${n}`);
  return a;
}

/** Re-runs this script in a private network namespace; returns false when that is not possible. */
function reexecInNetns(argv: string[]): boolean {
  if (spawnSync('unshare', ['--net', 'true'], { stdio: 'ignore' }).status !== 0) return false;
  const r = spawnSync(
    'unshare',
    ['--net', '--', 'sh', '-c', `ip link set lo up mtu ${NETNS_MTU} && exec "$0" "$@"`, process.execPath, fileURLToPath(import.meta.url), ...argv],
    { stdio: 'inherit', env: { ...process.env, [NETNS_ENV]: '1' }, timeout: WATCHDOG_MS + 30000 },
  );
  process.exit(r.status ?? 1);
}

/** Runs a scenario and closes its clients; `stop` ends the capture whatever happened. */
async function runScenario(sc: (typeof SCENARIOS)[number], rec: SampleRecorder, ctx: ScenarioContext, stop: () => Promise<void>): Promise<void> {
  let failure: unknown = null;
  try {
    await withTimeout(sc.run(rec, ctx), SCENARIO_TIMEOUT_MS, `scenario ${sc.name}`);
    await withTimeout(rec.closeAll(), 10000, `closing the clients of ${sc.name}`);
  } catch (e) {
    failure = e;
  } finally {
    await stop();
  }
  if (failure) throw failure;
}

/** Frames of a classic pcap file (the generator's own check that every record is whole). */
function pcapFrames(path: string): { frames: number; linkType: number } {
  const b = readFileSync(path);
  let off = 24;
  let frames = 0;
  while (off + 16 <= b.length) {
    const incl = b.readUInt32LE(off + 8);
    if (incl !== b.readUInt32LE(off + 12)) throw new Error(`${path} frame ${frames + 1} is cut`);
    off += 16 + incl;
    frames++;
  }
  return { frames, linkType: b.readUInt32LE(20) };
}

async function captureScenario(
  scenarioIndex: number,
  server: PgServer,
  ctx: ScenarioContext,
  outDir: string,
): Promise<ManifestSample> {
  const sc = SCENARIOS[scenarioIndex]!;
  const file = `${sc.name}.pcap`;
  const path = join(outDir, file);
  const rec = new SampleRecorder(sc.name, { host: server.host, port: server.port, database: server.database, user: server.user, password: server.password });
  let frames: number;
  let linkType: number;
  const filter = [server.port, ...(sc.capturePorts ?? [])].map((p) => `tcp port ${p}`).join(' or ');
  const viaCap = liveCaptureAvailable();
  if (viaCap) {
    let writer: PcapWriter | null = null;
    const cap: LiveCapture = startLiveCapture({ iface: 'lo', filter }, { packet: (p) => writer?.write(p) });
    writer = new PcapWriter(path, cap.linkType, { snaplen: cap.snaplen });
    const w = writer;
    await runScenario(sc, rec, ctx, async () => {
      await cap.settle(200, 3000);
      cap.stop();
      await w.close();
    });
    const stats = cap.stats();
    if (stats.cut > 0) throw new Error(`${file}: ${stats.cut} frames were cut by the snaplen (run in the private namespace)`);
    frames = w.packetCount;
    linkType = cap.linkType;
  } else {
    // tcpdump (snaplen 0: whole frames) when the `cap` addon does not load
    const dump = await Tcpdump.start(path, server.port, filter);
    await runScenario(sc, rec, ctx, () => dump.stop());
    ({ frames, linkType } = pcapFrames(path));
  }
  const sample: ManifestSample = {
    file,
    name: sc.name,
    title: sc.title,
    description: sc.description,
    decode: sc.decode,
    frames,
    bytes: statSync(path).size,
    linkType,
    ...(viaCap ? {} : { capturedWith: 'tcpdump' as const }),
    cancelRequests: rec.cancelRequests,
    connections: rec.connections,
    steps: rec.steps,
  };
  if (rec.cancels.length) sample.cancels = rec.cancels;
  if (rec.replication) sample.replication = rec.replication;
  if (rec.physicalReplication) sample.physicalReplication = rec.physicalReplication;
  if (rec.parsedOnly.length) sample.parsedOnly = rec.parsedOnly;
  if (rec.pooler) sample.pooler = rec.pooler;
  return sample;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const args = parseArgs(argv);
  if (args.readmeOnly) {
    const manifest = JSON.parse(readFileSync(join(args.outDir, 'manifest.json'), 'utf8')) as Manifest;
    writeFileSync(join(args.outDir, 'README.md'), renderReadme(manifest));
    say(`README.md rewritten from manifest.json (${manifest.samples.length} samples)`);
    return;
  }
  if (typeof process.getuid === 'function' && process.getuid() !== 0) throw new Error('live capture needs root (or CAP_NET_RAW): run as root');
  if (!liveCaptureAvailable()) say('the cap addon does not load (apt-get install libpcap-dev, then npm rebuild cap): capturing with tcpdump');
  const inNetns = process.env[NETNS_ENV] === '1';
  if (!inNetns && !args.hostLo) {
    reexecInNetns(argv);
    say('unshare --net is not available: capturing on the host loopback (full-size frames would be cut)');
  }

  const watchdog = setTimeout(() => {
    say(`gave up after ${WATCHDOG_MS} ms`);
    process.exit(2);
  }, WATCHDOG_MS);
  watchdog.unref();

  const md5User = { user: 'md5_user', password: 'md5-secret' };
  const clearUser = { user: 'clear_user', password: 'clear-secret' };
  const t0 = Date.now();
  const server = await startServer({
    user: 'postgres',
    password: 'pgsniff-sample-pw',
    database: 'pgsniff_samples',
    port: inNetns ? 5432 : await freePort(),
    settings: SETTINGS,
    // wal_level=logical and replication lines in pg_hba.conf, for the replication sample.
    replication: true,
    roles: [
      { name: md5User.user, password: md5User.password, auth: 'md5' },
      { name: clearUser.user, password: clearUser.password, auth: 'password' },
    ],
  });
  const admin = new pg.Client({ host: server.socketDir, port: server.port, user: server.user, database: server.database });
  admin.on('error', () => undefined);
  try {
    await admin.connect();
    const version = (await admin.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    say(`PostgreSQL ${version} on 127.0.0.1:${server.port} in ${Date.now() - t0} ms${inNetns ? ` (private namespace, lo MTU ${loMtu()})` : ''}`);
    mkdirSync(args.outDir, { recursive: true });

    const manifestPath = join(args.outDir, 'manifest.json');
    const previous: ManifestSample[] =
      args.only && existsSync(manifestPath) ? (JSON.parse(readFileSync(manifestPath, 'utf8')) as Manifest).samples : [];
    const samples: ManifestSample[] = [];
    const ctx: ScenarioContext = { admin, md5User, clearUser };
    for (let i = 0; i < SCENARIOS.length; i++) {
      const sc = SCENARIOS[i]!;
      if (args.only && !args.only.has(sc.name)) {
        const old = previous.find((s) => s.name === sc.name);
        if (old) samples.push(old);
        continue;
      }
      const s = await captureScenario(i, server, ctx, args.outDir);
      say(`${s.file}: ${s.frames} frames, ${s.bytes} bytes, ${s.connections.length} connection(s), ${s.steps.length} step(s)`);
      samples.push(s);
    }
    const total = samples.reduce((n, s) => n + s.bytes, 0);
    if (total > SIZE_LIMIT) throw new Error(`the samples total ${total} bytes, over the ${SIZE_LIMIT}-byte budget`);

    const manifest: Manifest = {
      generator: 'scripts/make-samples.ts',
      command: 'npm run samples',
      server: { version, host: '127.0.0.1', port: server.port, database: server.database, settings: SETTINGS },
      capture: { iface: 'lo', mtu: loMtu(), privateNetns: inNetns },
      clients: { pg: packageVersion('pg'), 'postgres.js': packageVersion('postgres'), psql: psqlVersion(), ...driverVersions() },
      samples,
    };
    writeFileSync(manifestPath, JSON.stringify(manifest, null, 2) + '\n');
    writeFileSync(join(args.outDir, 'README.md'), renderReadme(manifest));
    say(`${samples.length} samples, ${total} bytes in all, in ${Date.now() - t0} ms`);
  } finally {
    await admin.end().catch(() => undefined);
    await server.stop();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    say(e instanceof Error ? e.message : String(e));
    process.exit(1);
  },
);
