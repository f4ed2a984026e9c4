import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pcapngFile, tcpFrame, udpFrame, BASE_TIME_US, type PcapngItem } from './helpers/build-packets.js';
import { readAll } from './helpers/read-all.js';
import { isUserError } from '../src/core/errors.js';
import { tempDir } from './helpers/temp-dir.js';

const TLS_KEY_LOG = 0x544c534b;
const eth = tcpFrame({ payload: 'over ethernet' });
const sll = tcpFrame({ link: 'sll', payload: 'over sll' });
const keylog = Buffer.from('CLIENT_RANDOM 00 11\n');

/** Two interfaces (Ethernet at ns resolution, SLL at 2^-10 s), a DSB, an unknown block, every packet block kind. */
function twoInterfaces(): PcapngItem[] {
  return [
    { block: 'idb', linkType: 1, tsresol: 9 },
    { block: 'idb', linkType: 113, tsresol: 0x80 | 10, snaplen: 65535 },
    { block: 'epb', interfaceId: 0, data: eth, ts: BigInt(BASE_TIME_US) * 1000n + 1999n },
    { block: 'dsb', secretsType: TLS_KEY_LOG, data: keylog },
    { block: 'other', type: 0x0bad, body: Buffer.from('custom block, skipped') },
    { block: 'other', type: 5, body: Buffer.alloc(20) },
    // 2^-10 s units: 1024 units = 1 s exactly.
    { block: 'epb', interfaceId: 1, data: sll, ts: (BigInt(BASE_TIME_US / 1_000_000) << 10n) + 512n },
    { block: 'opb', interfaceId: 0, data: eth, timeUs: BASE_TIME_US + 5 },
    { block: 'spb', data: eth },
  ];
}

for (const bigEndian of [false, true]) {
  const order = bigEndian ? 'big-endian' : 'little-endian';
  test(`pcapng ${order}: two interfaces, link types and time resolutions, DSB, unknown blocks`, async () => {
    const bytes = pcapngFile(twoInterfaces(), { bigEndian });
    for (const chunk of [undefined, 1, 7, 64]) {
      const r = await readAll(bytes, { chunk });
      assert.deepEqual(r.anomalies, [], `chunk ${chunk}`);
      assert.equal(r.summary.format, 'pcapng');
      assert.deepEqual(r.summary.linkTypes, [1, 113]);
      assert.deepEqual(r.linkTypes, [[0, 1], [1, 113]]);
      assert.deepEqual(r.summary.interfaces.map((i) => [i.id, i.linkType, i.snaplen, i.tsresol]), [
        [0, 1, 262144, 9],
        [1, 113, 65535, 0x80 | 10],
      ]);
      assert.deepEqual(r.packets.map((p) => [p.frame, p.interfaceId, p.linkType]), [
        [1, 0, 1],
        [2, 1, 113],
        [3, 0, 1],
        [4, 0, 1],
      ]);
      assert.deepEqual(r.packets.map((p) => p.timeUs), [
        BASE_TIME_US + 1, // 1999 ns -> 1 µs
        BASE_TIME_US + 500_000,
        BASE_TIME_US + 5,
        BASE_TIME_US + 5, // a Simple Packet Block has no time: the previous packet's
      ]);
      assert.deepEqual(r.packets[0]!.data, eth);
      assert.deepEqual(r.packets[1]!.data, sll);
      assert.deepEqual(r.packets[3]!.data, eth);
      assert.deepEqual(r.secrets, [{ type: TLS_KEY_LOG, data: keylog }]);
    }
  });
}

test('pcapng file offsets point at each packet block', async () => {
  const { writeFileSync, readFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const path = join(tempDir('pgsniff-ng-'), 'two.pcapng');
  writeFileSync(path, pcapngFile(twoInterfaces()));
  const r = await readAll(path);
  const raw = readFileSync(path);
  assert.deepEqual(r.packets.map((p) => raw.readUInt32LE(p.fileOffset)), [6, 6, 2, 3]);
});

test('pcapng: several sections of different byte orders; interface ids continue over sections', async () => {
  const bytes = Buffer.concat([
    pcapngFile([{ block: 'idb', linkType: 1 }, { block: 'epb', data: eth, timeUs: BASE_TIME_US }]),
    pcapngFile([{ block: 'idb', linkType: 276, tsresol: 3 }, { block: 'epb', data: tcpFrame({ link: 'sll2' }), timeUs: BASE_TIME_US + 7000 }], { bigEndian: true }),
  ]);
  const r = await readAll(bytes, { chunk: 10 });
  assert.deepEqual(r.anomalies, []);
  assert.deepEqual(r.packets.map((p) => [p.frame, p.interfaceId, p.linkType, p.timeUs]), [
    [1, 0, 1, BASE_TIME_US],
    [2, 1, 276, BASE_TIME_US + 7000],
  ]);
});

test('pcapng if_tsoffset adds seconds', async () => {
  const r = await readAll(pcapngFile([{ block: 'idb', linkType: 1, tsoffset: 100 }, { block: 'epb', data: eth, ts: 42n }]));
  assert.equal(r.packets[0]!.timeUs, 100_000_042);
});

test('pcapng timestamp resolutions', async () => {
  // [tsresol, raw units, µs]
  const cases: [number, bigint, number][] = [
    [6, 1_700_000_000_123_456n, 1_700_000_000_123_456],
    [9, 1_700_000_000_123_456_789n, 1_700_000_000_123_456],
    [3, 1_700_000_000_123n, 1_700_000_000_123_000],
    [0, 1_700_000_000n, 1_700_000_000_000_000],
    [12, 123_456_789_012_345n, 123_456_789],
    [15, 123_456_789_012_345_678n, 123_456_789],
    [0x80 | 20, 1n << 20n, 1_000_000],
    [0x80 | 0, 3n, 3_000_000],
  ];
  for (const [tsresol, ts, us] of cases) {
    const r = await readAll(pcapngFile([{ block: 'idb', linkType: 1, tsresol }, { block: 'epb', data: eth, ts }]));
    assert.equal(r.packets[0]!.timeUs, us, `tsresol ${tsresol}`);
  }
});

const good: PcapngItem[] = [
  { block: 'idb', linkType: 1 },
  { block: 'epb', data: eth },
  { block: 'epb', data: eth },
];

function lengthAt(bytes: Buffer, blockStart: number, value: number): Buffer {
  const b = Buffer.from(bytes);
  b.writeUInt32LE(value, blockStart + 4);
  return b;
}

test('pcapng corrupt block lengths: anomaly, stop, keep what was good', async () => {
  const bytes = pcapngFile(good);
  const shb = 28;
  const idb = 20;
  const epb = 32 + ((eth.length + 3) & ~3);
  const second = shb + idb + epb;
  for (const bad of [0, 8, 13, 0x7ffffff0, epb + 4]) {
    const r = await readAll(lengthAt(bytes, second, bad));
    assert.equal(r.packets.length, 1, `length ${bad}`);
    assert.equal(r.anomalies.length, 1, `length ${bad}`);
    assert.equal(r.anomalies[0]!.code, bad === epb + 4 ? 'capture-truncated' : 'capture-corrupt', `length ${bad}`);
    assert.equal(r.summary.complete, false);
  }
  // A trailing length that does not repeat the leading one.
  const t = Buffer.from(bytes);
  t.writeUInt32LE(epb + 4, second + epb - 4);
  const r = await readAll(t);
  assert.equal(r.packets.length, 1);
  assert.equal(r.anomalies[0]!.code, 'capture-corrupt');
});

test('pcapng truncated anywhere: never throws after the section header, reports the cut block', async () => {
  const bytes = pcapngFile(good);
  for (let cut = 0; cut <= bytes.length; cut++) {
    try {
      const r = await readAll(bytes.subarray(0, cut));
      assert.ok(cut >= 28, `cut ${cut} read`);
      assert.ok(r.anomalies.length <= 1);
      if (r.anomalies.length) assert.equal(r.anomalies[0]!.code, 'capture-truncated');
    } catch (e) {
      assert.ok(isUserError(e), String(e));
      assert.ok(cut < 28, `cut ${cut}: ${e.message}`);
    }
  }
});

test('pcapng damage inside a sound block: skipped with an anomaly, reading goes on', async () => {
  const r = await readAll(
    pcapngFile([
      { block: 'epb', data: eth }, // before any interface
      { block: 'idb', linkType: 1 },
      { block: 'epb', interfaceId: 3, data: eth }, // unknown interface
      { block: 'epb', data: eth, caplen: 5000 }, // captured length past the block
      { block: 'dsb', secretsType: TLS_KEY_LOG, data: keylog },
      { block: 'epb', data: udpFrame() },
    ]),
  );
  assert.equal(r.packets.length, 1);
  assert.equal(r.packets[0]!.frame, 1);
  assert.deepEqual(r.anomalies.map((a) => a.code), ['capture-corrupt', 'capture-corrupt', 'capture-corrupt']);
  assert.equal(r.secrets.length, 1);
  assert.equal(r.summary.complete, true);
});

test('pcapng with a bad first section header is a BAD_CAPTURE user error', async () => {
  const bytes = pcapngFile(good);
  const noMagic = Buffer.from(bytes);
  noMagic.writeUInt32LE(0x12345678, 8);
  await assert.rejects(readAll(noMagic), (e) => isUserError(e) && e.code === 'BAD_CAPTURE');
  await assert.rejects(readAll(pcapngFile([{ block: 'shb', major: 2 }, ...good])), (e) => isUserError(e) && e.code === 'BAD_CAPTURE');
});

test('pcapng: a damaged later section header stops the read', async () => {
  const second = pcapngFile(good);
  second.writeUInt32LE(0x12345678, 8);
  const r = await readAll(Buffer.concat([pcapngFile(good), second]));
  assert.equal(r.packets.length, 2);
  assert.equal(r.anomalies[0]!.code, 'capture-corrupt');
});

test('pcapng Simple Packet Block: captured length limited by the snaplen', async () => {
  const r = await readAll(pcapngFile([{ block: 'idb', linkType: 1, snaplen: 40 }, { block: 'spb', data: eth }]));
  assert.equal(r.packets[0]!.data.length, 40);
  assert.equal(r.packets[0]!.origLen, eth.length);
});

test('pcapng declaring more interfaces than any capture has stops with capture-corrupt', async () => {
  const { MAX_INTERFACES } = await import('../src/capture/pcapng.js');
  const idbs = Array.from({ length: MAX_INTERFACES + 5 }, (_, i) => ({ block: 'idb' as const, linkType: i & 0xffff }));
  const r = await readAll(pcapngFile([...idbs, { block: 'epb', data: eth }]));
  assert.equal(r.summary.interfaces.length, MAX_INTERFACES);
  assert.equal(r.summary.linkTypes.length, MAX_INTERFACES);
  assert.deepEqual(r.anomalies.map((a) => a.code), ['capture-corrupt']);
  assert.equal(r.packets.length, 0);
});
