/**
 * PcapWriter: byte layout of the classic pcap format, snaplen cuts, stream targets, clamping of
 * values a hostile source could hand it, and tshark reading the result. Needs no privileges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { PcapWriter, DEFAULT_SNAPLEN } from '../src/capture/pcap-writer.js';
import type { Packet } from '../src/capture/packet.js';
import { inferOrigLen } from '../src/capture/live.js';
import { tshark, SKIP_NO_TSHARK } from './helpers/public-captures.js';

/** An Ethernet/IPv4/TCP frame from 127.0.0.1:port to 127.0.0.1:5432 carrying payload. */
function frame(payload: Buffer, srcPort = 40000): Buffer {
  const eth = Buffer.alloc(14);
  eth.writeUInt16BE(0x0800, 12);
  const ip = Buffer.alloc(20);
  ip[0] = 0x45;
  ip.writeUInt16BE(20 + 20 + payload.length, 2);
  ip[8] = 64;
  ip[9] = 6;
  ip.set([127, 0, 0, 1], 12);
  ip.set([127, 0, 0, 1], 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += ip.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  ip.writeUInt16BE(~sum & 0xffff, 10);
  const tcp = Buffer.alloc(20);
  tcp.writeUInt16BE(srcPort, 0);
  tcp.writeUInt16BE(5432, 2);
  tcp.writeUInt32BE(1000, 4);
  tcp[12] = 5 << 4;
  tcp[13] = 0x18; // PSH ACK
  tcp.writeUInt16BE(65535, 14);
  return Buffer.concat([eth, ip, tcp, payload]);
}

function packet(n: number, timeUs: number, data: Buffer, origLen = data.length, linkType = 1): Packet {
  return { frame: n, timeUs, linkType, data, origLen, interfaceId: 0, fileOffset: -1 };
}

test('writes the classic little-endian microsecond header and records', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-w-'));
  try {
    const f = join(dir, 'a.pcap');
    const w = new PcapWriter(f, 1);
    const d1 = frame(Buffer.from('Q\x00\x00\x00\x0dSELECT 1\x00', 'latin1'));
    w.write(packet(1, 1_700_000_000_123_456, d1));
    w.write(packet(2, 1_700_000_001_000_001, frame(Buffer.alloc(0))));
    assert.equal(w.packetCount, 2);
    void w.close();
    const b = readFileSync(f);
    assert.equal(b.toString('hex', 0, 4), 'd4c3b2a1');
    assert.equal(b.readUInt16LE(4), 2);
    assert.equal(b.readUInt16LE(6), 4);
    assert.equal(b.readUInt32LE(16), DEFAULT_SNAPLEN);
    assert.equal(b.readUInt32LE(20), 1);
    assert.equal(b.readUInt32LE(24), 1_700_000_000);
    assert.equal(b.readUInt32LE(28), 123_456);
    assert.equal(b.readUInt32LE(32), d1.length);
    assert.equal(b.readUInt32LE(36), d1.length);
    assert.deepEqual(b.subarray(40, 40 + d1.length), d1);
    const r2 = 40 + d1.length;
    assert.equal(b.readUInt32LE(r2), 1_700_000_001);
    assert.equal(b.readUInt32LE(r2 + 4), 1);
    assert.equal(b.length, w.byteCount);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a snaplen cuts data and keeps the original length; huge records and odd values do not throw', () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-w-'));
  try {
    const f = join(dir, 'b.pcap');
    const w = new PcapWriter(f, 1, { snaplen: 64 });
    const big = frame(Buffer.alloc(1000, 0x41));
    w.write(packet(1, 5, big));
    w.write(packet(2, -7, frame(Buffer.alloc(3)), 1)); // time before the epoch, origLen < caplen
    w.write(packet(3, 2 ** 52, frame(Buffer.alloc(3)))); // beyond what 32-bit seconds hold
    void w.close();
    const b = readFileSync(f);
    assert.equal(b.readUInt32LE(16), 64);
    assert.equal(b.readUInt32LE(32), 64);
    assert.equal(b.readUInt32LE(36), big.length);
    const r2 = 24 + 16 + 64;
    assert.equal(b.readUInt32LE(r2), 0);
    assert.equal(b.readUInt32LE(r2 + 12), b.readUInt32LE(r2 + 8), 'origLen is at least the captured length');
    const r3 = r2 + 16 + b.readUInt32LE(r2 + 8);
    assert.equal(b.readUInt32LE(r3), 0xffffffff);

    // Records larger than the internal chunk still go through whole.
    const f2 = join(dir, 'c.pcap');
    const w2 = new PcapWriter(f2, 1, { snaplen: 1 << 20 });
    const huge = Buffer.alloc(600_000, 7);
    w2.write(packet(1, 1, huge));
    void w2.close();
    assert.equal(readFileSync(f2).length, 24 + 16 + huge.length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('refuses a packet of another link type, and writing after close', () => {
  const s = new PassThrough();
  s.resume();
  const w = new PcapWriter(s, 1);
  assert.throws(() => w.write(packet(1, 1, Buffer.alloc(10), 10, 113)), /link type 113/);
  void w.close();
  assert.throws(() => w.write(packet(1, 1, Buffer.alloc(10))), /after close/);
});

test('streams to a Writable, copying the reused chunk', async () => {
  const s = new PassThrough();
  const parts: Buffer[] = [];
  s.on('data', (c: Buffer) => parts.push(c));
  const w = new PcapWriter(s, 113, { autoFlush: true });
  const reused = Buffer.alloc(40, 1);
  w.write(packet(1, 10, reused, 40, 113));
  reused.fill(2); // a live source reuses its buffer at once
  w.write(packet(2, 11, reused, 40, 113));
  await w.close();
  const b = Buffer.concat(parts);
  assert.equal(b.length, 24 + 2 * (16 + 40));
  assert.equal(b.readUInt32LE(20), 113);
  assert.equal(b[24 + 16], 1);
  assert.equal(b[24 + 16 + 40 + 16], 2);
});

test('tshark reads what the writer writes', { skip: tshark() ? false : SKIP_NO_TSHARK }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-w-'));
  try {
    const f = join(dir, 'd.pcap');
    const w = new PcapWriter(f, 1);
    const q = Buffer.concat([Buffer.from('Q'), Buffer.from([0, 0, 0, 13]), Buffer.from('SELECT 1\0')]);
    for (let i = 1; i <= 5; i++) w.write(packet(i, 1_700_000_000_000_000 + i * 1000, frame(q, 40000 + i)));
    void w.close();
    const out = execFileSync(tshark()!, ['-r', f, '-T', 'fields', '-e', 'frame.number', '-e', 'frame.time_epoch', '-e', 'pgsql.query'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const lines = out.trim().split('\n');
    assert.equal(lines.length, 5);
    assert.match(lines[0]!, /^1\t1700000000\.001000000\tSELECT 1$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('inferOrigLen recovers the length on the wire from the IP header', () => {
  const full = frame(Buffer.alloc(3000));
  const cut = Buffer.from(full.subarray(0, 100));
  assert.equal(inferOrigLen(1, cut, 100), full.length);
  // Linux SLL: 16-byte header, protocol at 14.
  const sll = Buffer.concat([Buffer.from([0, 0, 0, 1, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0x08, 0x00]), full.subarray(14, 100)]);
  assert.equal(inferOrigLen(113, sll, sll.length), full.length - 14 + 16);
  // 802.1Q tag.
  const vlan = Buffer.concat([full.subarray(0, 12), Buffer.from([0x81, 0, 0, 5]), full.subarray(12, 100)]);
  assert.equal(inferOrigLen(1, vlan, vlan.length), full.length + 4);
  // Not IP, and too short to tell: unknown.
  assert.equal(inferOrigLen(1, Buffer.alloc(14), 14), null);
  assert.equal(inferOrigLen(1, Buffer.alloc(3), 3), null);
  assert.equal(inferOrigLen(999, cut, 100), null);
  // An IP length below what was captured never shrinks the packet.
  assert.equal(inferOrigLen(1, full, full.length), full.length);
});
