/**
 * Live capture that tells the truth (issue 14), against embedded PostgreSQL on `lo`, through the
 * real command (`pgsniff -i lo --json -w FILE`, stdout a pipe) with tcpdump capturing the same
 * traffic beside it:
 * - the packets pgsniff decodes and writes with -w are tcpdump's, byte for byte, with the
 *   kernel's timestamps (a median difference within 10 µs: see below why not identical); frames are whole (a 300,000-byte row, a 2 MB parameter);
 * - the final capture record and the end line carry the kernel's drop counts;
 * - a record reaches stdout while the capture runs (bounded by a timeout, not timed), and a
 *   connection opened 0.2 s after "capturing on" is seen from its StartupMessage.
 * And without a server: tcpdump's own error texts become one-line UserErrors, its statistics
 * are parsed in both forms, and the spool's bound drops whole files and counts what it dropped.
 * Capturing needs root and tcpdump (CI installs it): without them those tests skip, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { findCaptureHelper, findTcpdump, openError, parseTcpdumpStats } from '../src/capture/live-source.js';
import { readCapture } from '../src/capture/open.js';
import type { Packet } from '../src/capture/packet.js';
import { PcapWriter } from '../src/capture/pcap-writer.js';
import { Spool } from '../src/capture/spool.js';
import type { Anomaly } from '../src/core/anomaly.js';
import { validateRecord } from '../src/pipeline/schema.js';
import { startServer } from './helpers/pg-server.js';
import { projectRoot } from './helpers/public-captures.js';
import { until } from './helpers/until.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const tcpdump = findTcpdump();
const SKIP = tcpdump === null
  ? 'tcpdump is not installed (apt-get install tcpdump): live capture skipped'
  : !isRoot ? 'not root (live capture needs root or CAP_NET_RAW): live capture skipped' : false;
const MAIN = join(projectRoot, 'dist', 'src', 'cli', 'main.js');

interface Seen {
  timeUs: number;
  data: Buffer;
  origLen: number;
}

/** "sport>dport seq len": a packet's identity in both captures (direction, TCP sequence, payload length). */
function tcpKey(p: Packet): string | null {
  const d = p.data;
  if (p.linkType !== 1 || d.length < 34 || d.readUInt16BE(12) !== 0x0800 || d[23] !== 6) return null;
  const ihl = (d[14]! & 0x0f) * 4;
  const tcp = 14 + ihl;
  const total = d.readUInt16BE(16);
  const payload = total - ihl - (d[tcp + 12]! >> 4) * 4;
  // Flags too: a pure ACK and a FIN can share a sequence number and a zero length.
  return `${d.readUInt16BE(tcp)}>${d.readUInt16BE(tcp + 2)} ${d.readUInt32BE(tcp + 4)}/${d.readUInt32BE(tcp + 8)} ${payload} ${d[tcp + 13]}`;
}

async function packetsOf(file: string): Promise<Map<string, Seen[]>> {
  const out = new Map<string, Seen[]>();
  await readCapture(file, {
    packet: (p) => {
      const k = tcpKey(p) ?? `other ${p.frame}`;
      const list = out.get(k) ?? [];
      list.push({ timeUs: p.timeUs, data: Buffer.from(p.data), origLen: p.origLen });
      out.set(k, list);
    },
    anomaly: (a) => assert.fail(`${file}: ${a.reason}`),
  });
  return out;
}

function startTcpdump(file: string, filter: string): Promise<ChildProcess> {
  const p = spawn(tcpdump!, ['-i', 'lo', '-n', '-s', '262144', '-B', '32768', '--immediate-mode', '-Z', 'root', '-w', file, filter], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  return new Promise((resolve, reject) => {
    p.stderr!.setEncoding('utf8').on('data', (t: string) => {
      err += t;
      if (err.includes('listening on')) resolve(p);
    });
    p.once('exit', (code) => reject(new Error(`tcpdump exited (${code}): ${err}`)));
  });
}


test('pgsniff -i lo: tcpdump\'s packets and timestamps, whole big frames, drop counts, records while it runs', { skip: SKIP, timeout: 180_000 }, async () => {
  const srv = await startServer({ auth: 'trust' });
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-live-truth-'));
  const ours = join(dir, 'pgsniff.pcap');
  const theirs = join(dir, 'tcpdump.pcap');
  let sniff: ChildProcess | null = null;
  let dump: ChildProcess | null = null;
  try {
    const filter = `tcp port ${srv.port}`;
    dump = await startTcpdump(theirs, filter);
    sniff = spawn(process.execPath, [MAIN, '-i', 'lo', '-p', String(srv.port), '-f', filter, '--json', '-w', ours], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    sniff.stdout!.setEncoding('utf8').on('data', (t: string) => { out += t; });
    sniff.stderr!.setEncoding('utf8').on('data', (t: string) => { err += t; });
    const exited = new Promise<number | null>((r) => sniff!.once('exit', (code) => r(code)));
    await until('"capturing on"', () => err.includes('capturing on'), 30_000);

    // A connection opened 0.2 s after "capturing on" is seen from its first message.
    await new Promise((r) => setTimeout(r, 200));
    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, database: srv.database, application_name: 'live-truth' });
    await client.connect();
    await client.query("SELECT 'first query' AS marker");
    // With stdout a pipe and the capture still running, the record comes out (bounded wait).
    await until('the first query record on stdout', () => out.includes('first query'), 1000);
    assert.equal(sniff.exitCode, null, 'the capture is still running');

    const row = await client.query('SELECT repeat(\'r\', 300000) AS big');
    assert.equal((row.rows[0] as { big: string }).big.length, 300000);
    // Whether TCP fills a loopback segment to its 65,483-byte MSS depends on scheduling (a busy
    // receiver lets the send queue fill): three 2 MB parameters give full-size frames every run.
    const param = 'p'.repeat(2_000_000);
    for (let i = 0; i < 3; i++) {
      const echoed = await client.query('SELECT length($1::text) AS n', [param]);
      assert.equal((echoed.rows[0] as { n: number }).n, 2_000_000);
    }
    await client.end();
    // Decoding the 6 MB takes about a CPU second: on a loaded machine (load 20 on 2 CPUs) the
    // session record came 5 to 8 s after the connection's end. A bound, not a timing.
    await until('the session record', () => out.includes('"kind":"session"'), 60_000);
    await new Promise((r) => setTimeout(r, 300));
    sniff.kill('SIGINT');
    assert.equal(await exited, 0, err);
    dump.kill('SIGINT');
    await new Promise((r) => dump!.once('exit', r));

    const records = out.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    for (const r of records) assert.equal(validateRecord(r), null, JSON.stringify(r).slice(0, 200));
    assert.deepEqual(records.filter((r) => r.kind === 'anomaly'), [], 'no anomaly: nothing cut, nothing lost');
    const startup = records.find((r) => r.kind === 'message' && r.type === 'StartupMessage');
    assert.ok(startup, 'the connection is seen from its StartupMessage');
    const session = records.find((r) => r.kind === 'session') as { applicationName?: string } | undefined;
    assert.equal(session?.applicationName, 'live-truth');
    // The 300,000-byte row and the 2 MB parameter, whole.
    const dataRows = records.filter((r) => r.kind === 'message' && r.type === 'DataRow') as { length: number }[];
    assert.ok(dataRows.some((m) => m.length >= 300_000), `DataRow lengths ${dataRows.map((m) => m.length).join(', ')}`);
    const binds = records.filter((r) => r.kind === 'message' && r.type === 'Bind') as { length: number }[];
    assert.ok(binds.some((m) => m.length >= 2_000_000), `Bind lengths ${binds.map((m) => m.length).join(', ')}`);
    const queries = records.filter((r) => r.kind === 'query') as { sql: string; rows?: number; error?: unknown }[];
    assert.ok(queries.some((q) => q.sql.includes('300000') && q.rows === 1 && !q.error));
    assert.ok(queries.some((q) => q.sql.includes('length($1::text)') && q.rows === 1 && !q.error));

    // The last record: the capture's counts, with the kernel's drop figures.
    const cap = records[records.length - 1] as Record<string, unknown>;
    assert.equal(cap.kind, 'capture');
    assert.equal(cap.interface, 'lo');
    assert.equal(cap.snaplen, 262144);
    assert.equal(typeof cap.droppedByKernel, 'number');
    assert.equal(typeof cap.received, 'number');
    assert.equal(cap.droppedByPgsniff, 0);
    assert.equal(cap.decoded, cap.captured, 'every packet the capture process wrote was decoded');
    assert.match(err, /\d+ dropped by the kernel, \d+ by pgsniff/);

    // Same packets as tcpdump, byte for byte, same kernel timestamps (to the microsecond pcap keeps).
    const a = await packetsOf(ours);
    const b = await packetsOf(theirs);
    let matched = 0;
    let big = 0;
    let longest = 0;
    const diffs: number[] = [];
    for (const [k, list] of b) {
      const mine = a.get(k);
      assert.ok(mine && mine.length === list.length, `packet ${k}: tcpdump saw ${list.length}, pgsniff ${mine?.length ?? 0}`);
      list.forEach((p, i) => {
        const q = mine[i]!;
        diffs.push(q.timeUs - p.timeUs);
        assert.ok(q.data.equals(p.data), `packet ${k}: bytes differ`);
        assert.equal(q.origLen, q.data.length, `packet ${k} is whole`);
        if (q.data.length > 65535) big++;
        longest = Math.max(longest, q.data.length);
        matched++;
      });
    }
    // Each capture socket is stamped by the kernel as the packet reaches it (the sockets are
    // served one after the other), so two captures of one packet differ by a few microseconds
    // however they are made; taking the time in JavaScript was off by tens to hundreds of ms.
    diffs.sort((x, y) => Math.abs(x) - Math.abs(y));
    const median = Math.abs(diffs[Math.floor(diffs.length / 2)]!);
    assert.ok(median <= 10, `median timestamp difference ${median} µs: ${diffs.join(',')}`);
    assert.ok(Math.abs(diffs[diffs.length - 1]!) <= 1000, `largest timestamp difference ${diffs[diffs.length - 1]} µs`);
    assert.equal([...a.values()].reduce((n, l) => n + l.length, 0), matched, 'pgsniff saw no packet tcpdump did not');
    assert.ok(big > 0, `full-size loopback frames (over 65,535 bytes) were captured whole (longest frame ${longest} bytes)`);
  } finally {
    sniff?.kill('SIGKILL');
    dump?.kill('SIGKILL');
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('npm install built the capture process where a C compiler and libpcap\'s headers are present', { skip: existsSync('/usr/include/pcap.h') && existsSync('/usr/bin/cc') ? false : 'no C compiler or no libpcap-dev: live capture uses tcpdump' }, () => {
  assert.ok(findCaptureHelper() !== null, 'native/build/pgsniff-capture is missing: npm install (or sh native/build.sh) builds it');
});

test('with tcpdump as the capture process (PGSNIFF_CAPTURE_PROCESS=tcpdump) a query is decoded and the kernel\'s counts reported', { skip: SKIP, timeout: 120_000 }, async () => {
  const srv = await startServer({ auth: 'trust' });
  let sniff: ChildProcess | null = null;
  try {
    sniff = spawn(process.execPath, [MAIN, '-i', 'lo', '-p', String(srv.port), '-f', `tcp port ${srv.port}`, '--json', '--queries'], {
      stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, PGSNIFF_CAPTURE_PROCESS: 'tcpdump' },
    });
    let out = '';
    let err = '';
    sniff.stdout!.setEncoding('utf8').on('data', (t: string) => { out += t; });
    sniff.stderr!.setEncoding('utf8').on('data', (t: string) => { err += t; });
    const exited = new Promise<number | null>((r) => sniff!.once('exit', (code) => r(code)));
    await until('"capturing on"', () => err.includes('capturing on'), 30_000);
    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, database: srv.database });
    await client.connect();
    await client.query("SELECT 'through tcpdump' AS marker");
    await until('the query record on stdout', () => out.includes('through tcpdump'), 5000);
    await client.end();
    sniff.kill('SIGINT');
    assert.equal(await exited, 0, err);
    assert.match(err, /\d+ received by the kernel's filter, \d+ packets decoded, .* \d+ dropped by the kernel, 0 by pgsniff/);
  } finally {
    sniff?.kill('SIGKILL');
    await srv.stop();
  }
});

test('with neither pgsniff-capture nor tcpdump nor cap, or without libpcap, -i and -D say exactly what to install (one line, exit 2)', {
  skip: !isRoot || !existsSync('/usr/bin/unshare') ? 'needs root and unshare (util-linux) to hide the capture tools in a private mount namespace' : false,
}, () => {
  // A private mount namespace where /usr/bin (tcpdump), the built helper and the cap addon are
  // empty directories; node itself is bind-mounted elsewhere first, so that it still runs.
  const nodeDir = mkdtempSync(join(tmpdir(), 'pgsniff-nocapture-'));
  const capDir = join(projectRoot, 'node_modules', 'cap');
  const helperDir = join(projectRoot, 'native', 'build');
  const q = (p: string): string => `'${p.replace(/'/g, "'\\''")}'`;
  try {
    const hideAll = [...[helperDir, capDir].filter((d) => existsSync(d)).map((d) => `mount -t tmpfs none ${q(d)}`), 'mount -t tmpfs none /usr/bin'];
    const run = (args: string[], hide = hideAll): { status: number | null; stdout: string; stderr: string } => {
      const script = [
        `touch ${q(join(nodeDir, 'node'))}`,
        `mount --bind ${q(process.execPath)} ${q(join(nodeDir, 'node'))}`,
        ...hide,
        `exec ${q(join(nodeDir, 'node'))} ${q(MAIN)} ${args.map(q).join(' ')}`,
      ].join(' && ');
      const r = spawnSync('/usr/bin/unshare', ['--mount', '--propagation', 'private', '/bin/sh', '-c', script], { encoding: 'utf8', timeout: 30_000 });
      return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    };
    const live = run(['-i', 'lo']);
    assert.equal(live.status, 2, live.stderr);
    assert.equal(live.stderr.trim().split('\n').length, 1, live.stderr);
    assert.match(live.stderr, /finds neither pgsniff-capture nor tcpdump: apt-get install gcc libc6-dev libpcap-dev, then sh \/\S+\/native\/build\.sh \(builds pgsniff-capture\); or apt-get install tcpdump/);
    const list = run(['-D']);
    assert.equal(list.status, 2, list.stderr);
    assert.match(list.stderr, /listing interfaces needs tcpdump or the cap addon: apt-get install tcpdump \(or apt-get install libpcap-dev make g\+\+ python3, then npm rebuild cap\)/);
    // Without the cap addon alone, -D lists the interfaces through tcpdump.
    if (tcpdump !== null && existsSync(capDir)) {
      const viaTcpdump = run(['-D'], [`mount -t tmpfs none ${q(capDir)}`]);
      assert.equal(viaTcpdump.status, 0, viaTcpdump.stderr);
      assert.match(viaTcpdump.stdout, /^\d+\. lo \[.*Loopback/m);
    }
    // libpcap itself unloadable (the file made empty, as a half-removed package leaves it): the
    // capture process cannot start, and pgsniff names the library and the package.
    const libpcap = ['/lib/x86_64-linux-gnu/libpcap.so.0.8', '/usr/lib/libpcap.so.0.8'].find((f) => existsSync(f));
    if (libpcap && (findCaptureHelper() !== null || tcpdump !== null)) {
      const nolib = run(['-i', 'lo'], [`mount --bind /dev/null ${q(libpcap)}`]);
      assert.equal(nolib.status, 2, nolib.stderr);
      assert.equal(nolib.stderr.trim().split('\n').length, 1, nolib.stderr);
      assert.match(nolib.stderr, /^pgsniff: the capture process cannot start: libpcap\.so\.0\.8 cannot be loaded \(libpcap and what it needs: apt-get install libpcap0\.8\)$/m);
    }
  } finally {
    rmSync(nodeDir, { recursive: true, force: true });
  }
});

test('tcpdump\'s complaints become one-line UserErrors', { skip: tcpdump === null ? 'tcpdump is not installed' : false }, () => {
  // The texts tcpdump 4.99 prints, and the real one for an unprivileged user where setpriv can produce it.
  const cases: Array<[string, string, RegExp]> = [
    ['tcpdump: lo0: No such device exists\n(No such device exists)\n', 'NO_INTERFACE', /^no such interface: lo0 \(pgsniff -D lists them\)$/],
    ["pgsniff-capture: lo0: No such device exists\n(SIOCGIFINDEX: No such device)\n", 'NO_INTERFACE', /^no such interface: lo0 /],
    ["pgsniff-capture: can't parse filter expression: syntax error\n", 'BAD_FILTER', /^bad capture filter "tcp port": can't parse filter expression: syntax error$/],
    ["tcpdump: can't parse filter expression: syntax error\n", 'BAD_FILTER', /^bad capture filter "tcp port": can't parse filter expression: syntax error$/],
    ["tcpdump: lo: You don't have permission to perform this capture on that device\n(socket: Operation not permitted)\n", 'EACCES', /^no permission to capture on lo0?: run as root/],
    // The dynamic loader's text when libpcap is not installed at all.
    ['/usr/lib/pgsniff/native/build/pgsniff-capture: error while loading shared libraries: libpcap.so.0.8: cannot open shared object file: No such file or directory\n', 'NO_LIBPCAP',
      /^the capture process cannot start: libpcap\.so\.0\.8 cannot be loaded \(libpcap and what it needs: apt-get install libpcap0\.8\)$/],
  ];
  const real = isRoot && existsSync('/usr/bin/setpriv')
    ? spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', tcpdump!, '-i', 'lo', '-w', '/dev/null'], { encoding: 'utf8', timeout: 10_000 })
    : null;
  if (real && real.status !== 0 && real.stderr) cases.push([real.stderr, 'EACCES', /^no permission to capture on lo0?: run as root/]);
  const helper = findCaptureHelper();
  const realHelper = helper && isRoot && existsSync('/usr/bin/setpriv')
    ? spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', helper, 'lo', '262144', '1048576', '10', '1000000', '/dev/null', 'tcp'], { encoding: 'utf8', timeout: 10_000 })
    : null;
  if (realHelper) {
    assert.notEqual(realHelper.status, 0);
    cases.push([realHelper.stderr, 'EACCES', /^no permission to capture on lo0?: run as root/]);
  }
  for (const [stderr, code, msg] of cases) {
    const e = openError(stderr.includes('lo0') ? 'lo0' : 'lo', 'tcp port', stderr);
    assert.equal(e.code, code, stderr);
    assert.match(e.message, msg);
    assert.ok(!e.message.includes('\n'));
  }
});

test('tcpdump\'s statistics are read from the SIGUSR1 line and from the exit block; the last report wins', () => {
  assert.equal(parseTcpdumpStats('tcpdump: listening on lo\n'), null);
  const text = 'tcpdump: 10 packets captured, 20 packets received by filter, 0 packets dropped by kernel\n' +
    'tcpdump: 12 packets captured, 24 packets received by filter, 1 packet dropped by kernel, 3 packets dropped by interface\n' +
    '15 packets captured\n30 packets received by filter\n2 packets dropped by kernel\n';
  assert.deepEqual(parseTcpdumpStats(text), { captured: 15, received: 30, dropped: 2, ifDropped: 0 });
  assert.deepEqual(parseTcpdumpStats(text.split('\n').slice(0, 2).join('\n')), { captured: 12, received: 24, dropped: 1, ifDropped: 3 });
});

/** Writes spool file `i` with `n` packets of `size` bytes. */
function spoolFile(dir: string, i: number, n: number, size: number, firstFrame: number): void {
  const w = new PcapWriter(join(dir, i === 0 ? 'capture.pcap' : `capture.pcap${i}`), 1);
  for (let k = 0; k < n; k++) {
    const data = Buffer.alloc(size, k & 0xff);
    w.write({ frame: firstFrame + k, timeUs: 1_700_000_000_000_000 + (firstFrame + k) * 1000, linkType: 1, data, origLen: size, interfaceId: 0, fileOffset: -1 });
  }
  void w.close();
}

test('the spool reads files in order, deletes what it read, and past its bound drops whole finished files, counting them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-spool-'));
  try {
    // Four finished files of 10 packets and the one being written (5 packets).
    for (let i = 0; i < 4; i++) spoolFile(dir, i, 10, 1000, i * 10 + 1);
    spoolFile(dir, 4, 5, 1000, 41);
    const got: Packet[] = [];
    const anomalies: Anomaly[] = [];
    const spool = new Spool(dir, 'capture.pcap', 26_000, {
      packet: (p) => got.push({ ...p, data: Buffer.from(p.data) }),
      anomaly: (a) => anomalies.push(a),
    });
    // 45 packets of 1,016 bytes plus headers wait: over the 26,000-byte bound.
    assert.ok(spool.position().backlogBytes > 45_000);
    const a = spool.enforceLimit();
    assert.ok(a !== null);
    assert.equal(a.code, 'capture-dropped');
    // Files are dropped oldest first, never the one written last; the reader had not opened file 0 yet.
    const pos = spool.position();
    assert.ok(pos.backlogBytes <= 26_000, `backlog ${pos.backlogBytes}`);
    assert.equal(pos.droppedPackets, 20);
    assert.equal(pos.droppedBytes, 20_000);
    assert.equal(anomalies.length, 1);
    for (let guard = 0; guard < 100; guard++) {
      const r = spool.step(true);
      if (r === 'end') break;
    }
    // What was not dropped arrives in order, numbered on from 1.
    assert.deepEqual(got.map((p) => p.frame), Array.from({ length: 25 }, (_, i) => i + 1));
    assert.deepEqual(got.map((p) => p.data[0]), [...Array.from({ length: 10 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => i), 0, 1, 2, 3, 4]);
    assert.equal(got[0]!.timeUs, 1_700_000_000_000_000 + 21 * 1000, 'files 0 and 1 were dropped');
    assert.deepEqual(readdirSync(dir), [], 'files are deleted once read');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the spool waits for the capture process\'s first file, reads what is there, and moves on once the next file exists', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-spool-'));
  try {
    const got: number[] = [];
    const spool = new Spool(dir, 'capture.pcap', 1 << 30, { packet: (p) => got.push(p.data.length), anomaly: (a) => assert.fail(a.reason) });
    assert.equal(spool.step(false), 'wait', 'no file yet');
    spoolFile(dir, 0, 3, 70_000, 1);
    assert.equal(spool.step(false), 'data');
    assert.equal(spool.step(false), 'wait');
    assert.equal(spool.caughtUp, true);
    spoolFile(dir, 1, 1, 100, 4);
    assert.equal(spool.step(false), 'more');
    assert.equal(spool.step(false), 'data');
    assert.equal(spool.step(true), 'end');
    assert.deepEqual(got, [70_000, 70_000, 70_000, 100]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
