import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pcapFile, tcpFrame, BASE_TIME_US, type FrameRecord } from './helpers/build-packets.js';
import { readAll } from './helpers/read-all.js';
import { isUserError } from '../src/core/errors.js';
import { tempDir } from './helpers/temp-dir.js';

const dir = tempDir('pgsniff-pcap-');

const frames: FrameRecord[] = [
  { data: tcpFrame({ payload: 'hello' }), timeUs: BASE_TIME_US + 1 },
  { data: tcpFrame({ payload: Buffer.alloc(1400, 7), seq: 6 }), timeUs: BASE_TIME_US + 999_999 },
  { data: tcpFrame({ payload: 'x'.repeat(200), seq: 1406 }).subarray(0, 100), origLen: 254, timeUs: BASE_TIME_US + 2_000_000 },
];

const variants = [
  { name: 'µs little-endian', nanos: false, bigEndian: false },
  { name: 'µs big-endian', nanos: false, bigEndian: true },
  { name: 'ns little-endian', nanos: true, bigEndian: false },
  { name: 'ns big-endian', nanos: true, bigEndian: true },
];

for (const v of variants) {
  test(`pcap ${v.name}: frames, times, lengths, offsets`, async () => {
    const bytes = pcapFile(frames, { nanos: v.nanos, bigEndian: v.bigEndian, linkType: 1 });
    const path = join(dir, `${v.name.replace(/\W+/g, '-')}.pcap`);
    writeFileSync(path, bytes);
    const r = await readAll(path);
    assert.deepEqual(r.anomalies, []);
    assert.equal(r.summary.format, 'pcap');
    assert.equal(r.summary.packets, 3);
    assert.equal(r.summary.bytes, bytes.length);
    assert.equal(r.summary.complete, true);
    assert.deepEqual(r.summary.linkTypes, [1]);
    assert.equal(r.summary.interfaces[0]!.tsresol, v.nanos ? 9 : 6);
    assert.deepEqual(r.linkTypes, [[0, 1]]);
    assert.deepEqual(r.packets.map((p) => p.frame), [1, 2, 3]);
    assert.deepEqual(r.packets.map((p) => p.timeUs), frames.map((f) => f.timeUs));
    assert.deepEqual(r.packets.map((p) => p.origLen), [frames[0]!.data.length, frames[1]!.data.length, 254]);
    const raw = readFileSync(path);
    for (const [i, p] of r.packets.entries()) {
      assert.deepEqual(p.data, frames[i]!.data);
      assert.equal(p.linkType, 1);
      assert.equal(p.interfaceId, 0);
      // The offset points at the record header; the data follows it.
      assert.deepEqual(raw.subarray(p.fileOffset + 16, p.fileOffset + 16 + p.data.length), p.data);
    }
    assert.equal(r.summary.firstTimeUs, BASE_TIME_US + 1);
    assert.equal(r.summary.lastTimeUs, BASE_TIME_US + 2_000_000);
  });
}

test('pcap nanosecond timestamps are truncated to microseconds', async () => {
  const bytes = pcapFile([{ data: tcpFrame(), timeUs: BASE_TIME_US, nanos: 123_456_789 }], { nanos: true });
  const r = await readAll(bytes);
  assert.equal(r.packets[0]!.timeUs, BASE_TIME_US + 123_456);
});

test('pcap read in chunks of every small size gives the same packets (streams: offset -1)', async () => {
  const bytes = pcapFile(frames, { nanos: true, bigEndian: true });
  const whole = await readAll(bytes);
  for (const chunk of [1, 2, 3, 5, 7, 13, 16, 17, 24, 25, 64, 1000]) {
    const r = await readAll(bytes, { chunk });
    assert.deepEqual(r.anomalies, [], `chunk ${chunk}`);
    assert.deepEqual(r.packets, whole.packets, `chunk ${chunk}`);
    assert.ok(r.packets.every((p) => p.fileOffset === -1));
  }
});

test('pcap cut at every offset: never throws past the header, reports the cut record', async () => {
  const bytes = pcapFile(frames.slice(0, 2));
  const ends = [24, 24 + 16 + frames[0]!.data.length, bytes.length];
  for (let cut = 0; cut <= bytes.length; cut++) {
    let r;
    try {
      r = await readAll(bytes.subarray(0, cut));
    } catch (e) {
      assert.ok(isUserError(e), `cut ${cut}: ${String(e)}`);
      assert.ok(cut < 24, `cut ${cut} rejected`);
      assert.equal(e.code, cut === 0 ? 'NOT_A_CAPTURE' : cut < 4 ? 'NOT_A_CAPTURE' : 'BAD_CAPTURE');
      continue;
    }
    assert.ok(cut >= 24);
    const whole = ends.filter((e) => e <= cut).length - 1;
    assert.equal(r.packets.length, whole, `cut ${cut}`);
    if (ends.includes(cut)) {
      assert.deepEqual(r.anomalies, [], `cut ${cut}`);
      assert.equal(r.summary.complete, true);
    } else {
      assert.equal(r.anomalies.length, 1, `cut ${cut}`);
      assert.equal(r.anomalies[0]!.code, 'capture-truncated');
      assert.equal(r.anomalies[0]!.skipped, cut - ends[whole]!);
      assert.equal(r.summary.complete, false);
    }
  }
});

test('pcap absurd captured length stops the read with capture-corrupt, keeping what was good', async () => {
  const bytes = pcapFile([tcpFrame({ payload: 'a' }), { data: tcpFrame({ payload: 'b' }), caplen: 0x7fffffff }, tcpFrame({ payload: 'c' })]);
  const r = await readAll(bytes, { chunk: 100 });
  assert.equal(r.packets.length, 1);
  assert.equal(r.anomalies.length, 1);
  assert.equal(r.anomalies[0]!.code, 'capture-corrupt');
  assert.match(r.anomalies[0]!.reason, /record 2 .*2147483647/);
  assert.equal(r.summary.complete, false);
});

test('pcap captured length over 256 KiB is damage, under it is data (snaplen 262144)', async () => {
  const big = Buffer.alloc(262144, 1);
  const ok = await readAll(pcapFile([big]));
  assert.equal(ok.packets.length, 1);
  assert.deepEqual(ok.anomalies, []);
  const bad = await readAll(pcapFile([Buffer.alloc(262145, 1)]));
  assert.equal(bad.packets.length, 0);
  assert.equal(bad.anomalies[0]!.code, 'capture-corrupt');
});

test('pcap with an unreadable version is a BAD_CAPTURE user error', async () => {
  await assert.rejects(readAll(pcapFile([tcpFrame()], { version: [1, 0] })), (e) => isUserError(e) && e.code === 'BAD_CAPTURE');
});

test('pcap link type field: FCS bits above the type are ignored', async () => {
  const r = await readAll(pcapFile([tcpFrame({ link: 'sll' })], { linkType: 113 | 0x14000000 }));
  assert.equal(r.packets[0]!.linkType, 113);
});

test('pcap: an aborted signal stops after the packet being handled', async () => {
  const bytes = pcapFile([tcpFrame(), tcpFrame(), tcpFrame(), tcpFrame()]);
  const ac = new AbortController();
  let n = 0;
  const { readCapture } = await import('../src/capture/open.js');
  const { chunked } = await import('./helpers/read-all.js');
  const s = await readCapture(chunked(bytes), { packet: () => { if (++n === 2) ac.abort(); }, anomaly: () => assert.fail('no anomaly') }, { signal: ac.signal });
  assert.equal(n, 2);
  assert.equal(s.packets, 2);
  assert.equal(s.aborted, true);
});

test('pcap: an empty capture (header only) has no packets and no anomalies', async () => {
  const r = await readAll(pcapFile([]));
  assert.equal(r.summary.packets, 0);
  assert.deepEqual(r.anomalies, []);
  assert.equal(r.summary.firstTimeUs, null);
});
