import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, chmodSync, readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { pcapFile, pcapngFile, tcpFrame } from './helpers/build-packets.js';
import { readAll } from './helpers/read-all.js';
import { isUserError, type UserErrorCode } from '../src/core/errors.js';
import { publicCaptures, publicCapture, publicCapturesDir, projectRoot, SKIP_NO_PUBLIC } from './helpers/public-captures.js';
import { tempDir } from './helpers/temp-dir.js';

const dir = tempDir('pgsniff-open-');

function file(name: string, bytes: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

async function rejectsWith(source: string, code: UserErrorCode, message: RegExp): Promise<void> {
  await assert.rejects(readAll(source), (e) => {
    assert.ok(isUserError(e), `${source}: ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, message);
    return true;
  });
}

test('user mistakes are UserErrors with a stable code and a one-line message', async () => {
  await rejectsWith(join(dir, 'missing.pcap'), 'ENOENT', /missing\.pcap: no such file/);
  await rejectsWith(join(dir, 'nodir', 'x.pcap'), 'ENOENT', /no such file/);
  await rejectsWith(file('empty.pcap', ''), 'NOT_A_CAPTURE', /empty\.pcap is empty, not a pcap or pcapng capture file/);
  await rejectsWith(file('x.txt', 'SELECT 1;\nhello\n'), 'NOT_A_CAPTURE', /x\.txt is not a pcap or pcapng capture file$/);
  await rejectsWith(file('ab', 'ab'), 'NOT_A_CAPTURE', /ab is not a pcap or pcapng capture file/);
  await rejectsWith(dir, 'NOT_A_CAPTURE', /is a directory/);
  await rejectsWith(file('x.txt.gz', gzipSync('just text, compressed')), 'NOT_A_CAPTURE', /x\.txt\.gz is gzip-compressed, but what it holds is not a pcap/);
  await rejectsWith(file('cut.pcap.gz', gzipSync(pcapFile([tcpFrame()])).subarray(0, 12)), 'BAD_CAPTURE', /gzip data is damaged or cut short/);
  const kuz = pcapFile([]);
  kuz.writeUInt32LE(0xa1b2cd34, 0);
  await rejectsWith(file('kuz.pcap', kuz), 'UNSUPPORTED', /modified \(Kuznetsov\)/);
  await rejectsWith(file('short.pcap', pcapFile([]).subarray(0, 10)), 'BAD_CAPTURE', /cut short/);
  await rejectsWith(file('short.pcapng', pcapngFile([]).subarray(0, 10)), 'BAD_CAPTURE', /cut short/);
});

test('no permission is an EACCES UserError', async () => {
  const p = file('secret.pcap', pcapFile([tcpFrame()]));
  chmodSync(p, 0);
  if (process.getuid?.() !== 0) {
    await rejectsWith(p, 'EACCES', /secret\.pcap: permission denied/);
    return;
  }
  // root reads any file: ask as nobody instead, in a child process.
  const open = join(projectRoot, 'dist', 'src', 'capture', 'open.js');
  const script = `import(${JSON.stringify(open)}).then((m) => m.readCapture(process.argv[1], { packet() {}, anomaly() {} }))
    .then(() => console.log('read'), (e) => console.log(e.code + ' ' + e.message));`;
  const r = spawnSync(process.execPath, ['-e', script, p], { uid: 65534, gid: 65534 });
  assert.equal(r.stdout.toString().trim(), `EACCES ${p}: permission denied`, r.stderr.toString());
});

test('"-" reads standard input (a pipe), with file offsets -1', () => {
  const bytes = pcapngFile([{ block: 'idb', linkType: 1 }, { block: 'epb', data: tcpFrame() }, { block: 'epb', data: tcpFrame() }]);
  const open = join(projectRoot, 'dist', 'src', 'capture', 'open.js');
  const script = `import(${JSON.stringify(open)}).then(async (m) => {
    const offs = [];
    const s = await m.readCapture('-', { packet: (p) => offs.push(p.fileOffset), anomaly: () => {} });
    console.log(JSON.stringify({ packets: s.packets, bytes: s.bytes, offs }));
  });`;
  const r = spawnSync(process.execPath, ['-e', script], { input: bytes });
  assert.equal(r.status, 0, r.stderr.toString());
  assert.deepEqual(JSON.parse(r.stdout.toString()), { packets: 2, bytes: bytes.length, offs: [-1, -1] });
});

test('a stream in text mode is refused', async () => {
  const { chunked } = await import('./helpers/read-all.js');
  const s = chunked(pcapFile([tcpFrame()]));
  s.setEncoding('latin1');
  await assert.rejects(readAll(s), (e) => isUserError(e) && e.code === 'BAD_INPUT');
});

test('a handler that throws rejects the read (and the file is closed)', async () => {
  const p = file('ok.pcap', pcapFile([tcpFrame(), tcpFrame()]));
  const { readCapture } = await import('../src/capture/open.js');
  await assert.rejects(readCapture(p, { packet: () => { throw new Error('consumer bug'); }, anomaly: () => {} }), /consumer bug/);
});

/** Packet counts from the corpus INDEX.md table: path -> packets. */
function indexCounts(): Map<string, number> {
  const text = readFileSync(join(publicCapturesDir, 'INDEX.md'), 'utf8');
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    const path = /^`(.+)`$/.exec(cells[1] ?? '')?.[1];
    const packets = Number(cells[5]);
    if (path && Number.isInteger(packets)) out.set(path, packets);
  }
  return out;
}

test('every public capture reads to the packet count INDEX.md gives', { skip: publicCaptures() === null ? SKIP_NO_PUBLIC : false }, async () => {
  const files = publicCaptures()!;
  const counts = indexCounts();
  assert.ok(files.length > 0);
  for (const rel of files) {
    const want = counts.get(rel);
    assert.notEqual(want, undefined, `${rel} is missing from INDEX.md`);
    const r = await readAll(publicCapture(rel));
    assert.equal(r.summary.packets, want, rel);
    // The one damaged file: tshark too says it "appears to have been cut short".
    const cut = rel === 'suricata-verify/pgsql-5000-query-results/input.pcap';
    assert.deepEqual(r.anomalies.map((a) => a.code), cut ? ['capture-truncated'] : [], rel);
    assert.ok(existsSync(publicCapture(rel)));
  }
});

test('an abort while the source is idle ends the read at once', async () => {
  const { PassThrough } = await import('node:stream');
  const { readCapture } = await import('../src/capture/open.js');
  const pipe = new PassThrough();
  pipe.write(pcapFile([tcpFrame()]));
  const ac = new AbortController();
  let n = 0;
  const done = readCapture(pipe, { packet: () => { n++; }, anomaly: () => assert.fail('no anomaly') }, { signal: ac.signal });
  setTimeout(() => ac.abort(), 50);
  const s = await done;
  assert.equal(n, 1);
  assert.equal(s.aborted, true);
  assert.equal(s.packets, 1);
});

test('a signal aborted before the read starts reads nothing', async () => {
  const { readCapture } = await import('../src/capture/open.js');
  const p = file('unread.pcap', pcapFile([tcpFrame()]));
  const s = await readCapture(p, { packet: () => assert.fail('no packet'), anomaly: () => {} }, { signal: AbortSignal.abort() });
  assert.equal(s.aborted, true);
  assert.equal(s.packets, 0);
});

test('gzip-compressed captures are read as they stream (offsets -1: not re-readable)', async () => {
  const frames = [tcpFrame({ payload: 'a' }), tcpFrame({ payload: 'b'.repeat(5000) }), tcpFrame({ payload: 'c' })];
  for (const bytes of [pcapFile(frames, { nanos: true }), pcapngFile([{ block: 'idb', linkType: 1 }, ...frames.map((data) => ({ block: 'epb' as const, data }))])]) {
    const gz = gzipSync(bytes);
    for (const source of [file('c.gz', gz), gz]) {
      const r = await readAll(source, { chunk: 100 });
      assert.deepEqual(r.anomalies, []);
      assert.deepEqual(r.packets.map((p) => p.data), frames);
      assert.ok(r.packets.every((p) => p.fileOffset === -1));
      assert.equal(r.summary.bytes, gz.length);
    }
  }
});

test('gzip cut short or damaged after good packets: an anomaly, and the good packets', async () => {
  const frames = Array.from({ length: 200 }, (_, i) => tcpFrame({ seq: i, payload: Buffer.alloc(500, i) }));
  const gz = gzipSync(pcapFile(frames));
  const cut = await readAll(gz.subarray(0, Math.floor(gz.length * 0.6)));
  assert.ok(cut.packets.length > 10 && cut.packets.length < 200, `${cut.packets.length}`);
  assert.deepEqual(cut.anomalies.map((a) => a.code), ['capture-truncated']);
  assert.equal(cut.summary.complete, false);
  const bad = Buffer.from(gz);
  for (let i = Math.floor(gz.length / 2); i < Math.floor(gz.length / 2) + 64; i++) bad[i] = 0xff;
  const r = await readAll(bad);
  assert.ok(r.packets.length < 200);
  assert.equal(r.anomalies.length, 1);
  assert.match(r.anomalies[0]!.code, /capture-(corrupt|truncated)/);
});

test('backpressure: the source is read no further ahead than a few chunks of what the consumer has handled', async () => {
  const { Readable } = await import('node:stream');
  const { readCapture } = await import('../src/capture/open.js');
  const frame = tcpFrame({ payload: Buffer.alloc(1400, 0x61) });
  const chunk = pcapFile(Array.from({ length: 40 }, () => frame)).subarray(24); // 40 records, ~58 KiB
  const header = pcapFile([]);
  const chunks = 1000; // ~58 MB in all
  let produced = 0;
  async function* source(): AsyncGenerator<Buffer> {
    produced += header.length;
    yield header;
    for (let i = 0; i < chunks; i++) {
      produced += chunk.length;
      yield chunk;
    }
  }
  let handled = header.length;
  let maxLead = 0;
  let spin = 0;
  const s = await readCapture(Readable.from(source(), { objectMode: false }), {
    packet: (p) => {
      handled += 16 + p.data.length;
      maxLead = Math.max(maxLead, produced - handled);
      // A slow consumer.
      for (let i = 0; i < 200; i++) spin += i;
    },
    anomaly: () => assert.fail('no anomaly'),
  });
  assert.equal(s.packets, chunks * 40);
  assert.ok(spin > 0);
  assert.ok(maxLead < 4 * chunk.length, `read ${maxLead} bytes ahead`);
});
