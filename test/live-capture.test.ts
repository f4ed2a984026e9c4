/**
 * The `cap` binding (src/capture/live.ts: what scripts/make-samples captures with and `pgsniff -D`
 * lists addresses with; `pgsniff -i` uses the capture process, tested in live-truth.test.ts):
 * live capture on the loopback interface against a real PostgreSQL server, written back with
 * PcapWriter and read by tshark; and the error paths (no addon, unknown interface, bad filter,
 * no permission). Capturing needs root (or CAP_NET_RAW) and the `cap` addon, which npm builds
 * with node-gyp (libpcap-dev, make, g++, python3: CI installs them): without them the capture
 * tests skip, saying why.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { liveCaptureAvailable, listInterfaces, startLiveCapture, type LiveCapture } from '../src/capture/live.js';
import { PcapWriter } from '../src/capture/pcap-writer.js';
import type { Packet } from '../src/capture/packet.js';
import { isUserError } from '../src/core/errors.js';
import { startServer } from './helpers/pg-server.js';
import { projectRoot, tshark, SKIP_NO_TSHARK } from './helpers/public-captures.js';

const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const SKIP_NO_CAP = 'the optional `cap` addon does not load (apt-get install libpcap-dev make g++ python3, npm rebuild cap): live capture skipped';
const SKIP_NOT_ROOT = 'not root (live capture needs root or CAP_NET_RAW): live capture skipped';
const captureSkip = !liveCaptureAvailable() ? SKIP_NO_CAP : !isRoot ? SKIP_NOT_ROOT : false;

function userErrorCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(isUserError(e), `expected a UserError, got ${String(e)}`);
    return e.code;
  }
  assert.fail('expected a UserError, nothing was thrown');
}

/** TCP ports of an Ethernet/IPv4 or SLL/IPv4 frame, or null for anything else. */
function tcpPorts(p: Packet): [number, number] | null {
  const off = p.linkType === 1 ? 14 : p.linkType === 113 ? 16 : -1;
  if (off < 0 || p.data.length < off + 20) return null;
  if (p.data[off]! >> 4 !== 4 || p.data[off + 9] !== 6) return null;
  const tcp = off + (p.data[off]! & 0x0f) * 4;
  if (p.data.length < tcp + 4) return null;
  return [p.data.readUInt16BE(tcp), p.data.readUInt16BE(tcp + 2)];
}

test('listInterfaces names lo as the loopback interface', { skip: liveCaptureAvailable() ? false : SKIP_NO_CAP }, () => {
  const ifs = listInterfaces();
  const lo = ifs.find((i) => i.name === 'lo');
  assert.ok(lo, `lo missing from ${ifs.map((i) => i.name).join(', ')}`);
  assert.equal(lo.loopback, true);
  assert.ok(lo.addresses.includes('127.0.0.1'));
});

test('an unknown interface is a NO_INTERFACE UserError', { skip: liveCaptureAvailable() ? false : SKIP_NO_CAP }, () => {
  assert.equal(userErrorCode(() => startLiveCapture({ iface: 'eth9' }, { packet: () => undefined })), 'NO_INTERFACE');
});

test('a filter that does not compile is a BAD_FILTER UserError', { skip: captureSkip }, () => {
  for (const filter of ['tcp port', 'tcp port 5432 and and', 'host no-such-host.invalid']) {
    assert.equal(userErrorCode(() => startLiveCapture({ iface: 'lo', filter }, { packet: () => undefined })), 'BAD_FILTER', filter);
  }
});

test('bad snaplen and buffer size are BAD_ARGUMENT', { skip: liveCaptureAvailable() ? false : SKIP_NO_CAP }, () => {
  assert.equal(userErrorCode(() => startLiveCapture({ iface: 'lo', snaplen: 3 }, { packet: () => undefined })), 'BAD_ARGUMENT');
  assert.equal(userErrorCode(() => startLiveCapture({ iface: 'lo', bufferSize: 10 }, { packet: () => undefined })), 'BAD_ARGUMENT');
});

test('without the cap addon the module imports and live capture says NO_LIBPCAP', () => {
  // A copy of the compiled module outside the project cannot resolve `cap`.
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-nocap-'));
  try {
    mkdirSync(join(dir, 'capture'));
    mkdirSync(join(dir, 'core'));
    copyFileSync(join(projectRoot, 'dist/src/capture/live.js'), join(dir, 'capture/live.js'));
    copyFileSync(join(projectRoot, 'dist/src/core/errors.js'), join(dir, 'core/errors.js'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    const script = `
      const m = await import(${JSON.stringify(pathToFileURL(join(dir, 'capture/live.js')).href)});
      let code = null, message = null;
      try { m.startLiveCapture({ iface: 'lo' }, { packet() {} }); } catch (e) { code = e.code; message = e.message; }
      console.log(JSON.stringify({ available: m.liveCaptureAvailable(), code, message }));`;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8', timeout: 20000 });
    const r = JSON.parse(out) as { available: boolean; code: string; message: string };
    assert.equal(r.available, false);
    assert.equal(r.code, 'NO_LIBPCAP');
    assert.equal(r.message, 'live capture needs libpcap: apt-get install libpcap-dev make g++ python3, then npm rebuild cap');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('capturing without privileges is an EACCES UserError', { skip: captureSkip }, (t) => {
  // Drop to nobody in a child process (setpriv from util-linux).
  const probe = spawnSync('setpriv', ['--version'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    t.skip('setpriv (util-linux) is not installed: cannot drop privileges to test EACCES');
    return;
  }
  const liveUrl = pathToFileURL(join(projectRoot, 'dist/src/capture/live.js')).href;
  const script = `
    const m = await import(${JSON.stringify(liveUrl)});
    let code = null, message = null;
    try { const c = m.startLiveCapture({ iface: 'lo' }, { packet() {} }); c.stop(); } catch (e) { code = e.code; message = e.message; }
    console.log(JSON.stringify({ code, message }));`;
  const r = spawnSync(
    'setpriv',
    ['--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', process.execPath, '--input-type=module', '-e', script],
    { encoding: 'utf8', timeout: 20000, cwd: tmpdir() },
  );
  if (r.status !== 0) {
    t.skip(`could not run node as nobody (${r.stderr.split('\n')[0] ?? ''}): EACCES not tested`);
    return;
  }
  const out = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { code: string | null; message: string | null };
  assert.equal(out.code, 'EACCES');
  assert.match(out.message ?? '', /^no permission to capture on lo: run as root or grant CAP_NET_RAW/);
});

interface Captured {
  frame: number;
  timeUs: number;
  linkType: number;
  len: number;
  origLen: number;
  ports: [number, number] | null;
  fileOffset: number;
}

test('live capture on lo sees a pg session, and -w output reads back with tshark', { skip: captureSkip, timeout: 90000 }, async (t) => {
  const srv = await startServer();
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-live-'));
  const file = join(dir, 'live.pcap');
  let cap: LiveCapture | null = null;
  try {
    const got: Captured[] = [];
    let writer: PcapWriter | null = null;
    const anomalies: string[] = [];
    const before = Date.now() * 1000;
    cap = startLiveCapture(
      { iface: 'lo', filter: `tcp port ${srv.port}` },
      {
        packet: (p) => {
          got.push({ frame: p.frame, timeUs: p.timeUs, linkType: p.linkType, len: p.data.length, origLen: p.origLen, ports: tcpPorts(p), fileOffset: p.fileOffset });
          writer ??= new PcapWriter(file, p.linkType, { snaplen: cap?.snaplen ?? 65535 });
          writer.write(p);
        },
        anomaly: (a) => anomalies.push(a.reason),
      },
    );
    assert.equal(cap.linkType, 1, 'lo is Ethernet-framed on Linux');
    assert.equal(cap.running, true);

    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, password: srv.password, database: srv.database, application_name: 'live-capture-test' });
    await client.connect();
    const r = await client.query('SELECT 42 AS answer, repeat($1::text, 3) AS s', ['ab']);
    assert.equal(r.rows[0].answer, 42);
    await client.query("SELECT 'live capture works'");
    await client.end();
    await cap.settle(150, 3000);
    cap.stop();
    assert.equal(cap.running, false);
    const after = Date.now() * 1000;
    await (writer as PcapWriter | null)?.close();

    assert.ok(got.length >= 10, `only ${got.length} packets captured`);
    got.forEach((p, i) => {
      assert.equal(p.frame, i + 1, 'frames are numbered from 1 without holes');
      assert.equal(p.fileOffset, -1);
      assert.equal(p.linkType, 1);
      assert.ok(p.ports && (p.ports[0] === srv.port || p.ports[1] === srv.port), `frame ${p.frame} is not to or from the server port`);
      assert.ok(p.timeUs >= before - 1000 && p.timeUs <= after + 1000, `frame ${p.frame} time ${p.timeUs} outside [${before}, ${after}]`);
      if (i > 0) assert.ok(p.timeUs >= got[i - 1]!.timeUs, 'capture times never go backwards');
      assert.equal(p.origLen, p.len, 'small packets are not cut');
    });
    assert.deepEqual(anomalies, []);
    const stats = cap.stats();
    assert.equal(stats.delivered, got.length);
    assert.equal(stats.dropped, null, 'cap does not expose pcap_stats');

    const ts = tshark();
    if (!ts) {
      t.diagnostic(SKIP_NO_TSHARK);
      return;
    }
    const frames = execFileSync(ts, ['-r', file, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n');
    assert.equal(frames.length, got.length, 'tshark reads every frame written');
    const queries = execFileSync(ts, ['-r', file, '-d', `tcp.port==${srv.port},pgsql`, '-Y', 'pgsql.query', '-T', 'fields', '-e', 'pgsql.query'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(queries, /SELECT 42 AS answer, repeat\(\$1::text, 3\) AS s/);
    assert.match(queries, /SELECT 'live capture works'/);
    const epochs = execFileSync(ts, ['-r', file, '-T', 'fields', '-e', 'frame.time_epoch'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim().split('\n');
    const firstUs = Math.round(Number(epochs[0]) * 1e6);
    assert.ok(Math.abs(firstUs - got[0]!.timeUs) <= 1, `tshark time ${epochs[0]} vs ${got[0]!.timeUs}`);
  } finally {
    cap?.stop();
    await srv.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('-i any captures with the Linux cooked header', { skip: captureSkip, timeout: 60000 }, async () => {
  const srv = await startServer({ auth: 'trust' });
  let cap: LiveCapture | null = null;
  try {
    const ports: ([number, number] | null)[] = [];
    cap = startLiveCapture({ iface: 'any', filter: `tcp port ${srv.port}` }, { packet: (p) => ports.push(tcpPorts(p)) });
    assert.ok(cap.linkType === 113 || cap.linkType === 276, `link type ${cap.linkType}`);
    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, database: srv.database });
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
    await cap.settle(150, 3000);
    cap.stop();
    assert.ok(ports.length >= 8, `only ${ports.length} packets`);
    if (cap.linkType === 113) for (const p of ports) assert.ok(p && (p[0] === srv.port || p[1] === srv.port));
  } finally {
    cap?.stop();
    await srv.stop();
  }
});

test('a snaplen cuts packets and keeps their length on the wire', { skip: captureSkip, timeout: 60000 }, async () => {
  const srv = await startServer({ auth: 'trust' });
  let cap: LiveCapture | null = null;
  try {
    const cut: { len: number; origLen: number }[] = [];
    cap = startLiveCapture({ iface: 'lo', filter: `tcp port ${srv.port}`, snaplen: 96 }, { packet: (p) => cut.push({ len: p.data.length, origLen: p.origLen }) });
    assert.equal(cap.snaplen, 96);
    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, database: srv.database });
    await client.connect();
    await client.query("SELECT repeat('x', 5000)");
    await client.end();
    await cap.settle(150, 3000);
    cap.stop();
    assert.ok(cut.every((p) => p.len <= 96));
    const big = cut.filter((p) => p.origLen > 5000);
    assert.ok(big.length >= 1, 'the 5000-byte result shows its full length on the wire');
    assert.ok(cap.stats().cut >= 1);
  } finally {
    cap?.stop();
    await srv.stop();
  }
});

test('a handler that throws stops the capture and reaches the error handler', { skip: captureSkip, timeout: 30000 }, async () => {
  const srv = await startServer({ auth: 'trust' });
  try {
    const errors: unknown[] = [];
    let calls = 0;
    const cap = startLiveCapture(
      { iface: 'lo', filter: `tcp port ${srv.port}` },
      {
        packet: () => {
          calls++;
          throw new Error('sink failed');
        },
        error: (e) => errors.push(e),
      },
    );
    const client = new pg.Client({ host: '127.0.0.1', port: srv.port, user: srv.user, database: srv.database });
    await client.connect();
    await client.query('SELECT 1');
    await client.end();
    await cap.settle(100, 2000);
    assert.equal(calls, 1);
    assert.equal(errors.length, 1);
    assert.equal(cap.running, false);
  } finally {
    await srv.stop();
  }
});
