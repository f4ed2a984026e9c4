/**
 * Where tshark is wrong: it loses PostgreSQL messages when TCP segments arrive out of order
 * (its pgsql dissector sees the later segment first and gives up on the PDU). pgsniff's
 * reassembly delivers in sequence order, so the same capture with segments swapped decodes to
 * exactly the messages of the original. This test builds the reordered capture from a public
 * one and checks both claims.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { publicCaptures, publicCapture, tshark, SKIP_NO_PUBLIC, SKIP_NO_TSHARK } from './helpers/public-captures.js';
import { collect, countTypes } from './helpers/run-pipeline.js';

interface Rec { header: Buffer; data: Buffer }

/** Classic little-endian pcap records (enough for the public Ethernet captures). */
function records(file: Buffer): { global: Buffer; recs: Rec[] } {
  const recs: Rec[] = [];
  let off = 24;
  while (off + 16 <= file.length) {
    const caplen = file.readUInt32LE(off + 8);
    recs.push({ header: file.subarray(off, off + 16), data: file.subarray(off + 16, off + 16 + caplen) });
    off += 16 + caplen;
  }
  return { global: file.subarray(0, 24), recs };
}

/** TCP payload length of an Ethernet/IPv4 frame (0 when not). */
function payloadLength(d: Buffer): number {
  if (d.length < 54 || d.readUInt16BE(12) !== 0x0800 || d[23] !== 6) return 0;
  const ihl = (d[14] & 0x0f) * 4;
  const total = d.readUInt16BE(16);
  const doff = (d[14 + ihl + 12] >> 4) * 4;
  return total - ihl - doff;
}

function direction(d: Buffer): string {
  return d.subarray(26, 34).toString('hex') + d.subarray(34, 38).toString('hex');
}

/** Swaps every other pair of consecutive data-bearing frames of the same direction. */
function reorder(file: Buffer): { out: Buffer; swaps: number } {
  const { global, recs } = records(file);
  let swaps = 0;
  for (let i = 0; i + 1 < recs.length; i++) {
    const a = recs[i].data, b = recs[i + 1].data;
    if (payloadLength(a) > 0 && payloadLength(b) > 0 && direction(a) === direction(b)) {
      // Keep the timestamps in place: only the packet bytes trade places, as on a real reordering path.
      const da = recs[i].data, ha = recs[i].header, hb = recs[i + 1].header;
      recs[i] = { header: withLength(ha, recs[i + 1].data.length), data: recs[i + 1].data };
      recs[i + 1] = { header: withLength(hb, da.length), data: da };
      swaps++;
      i++;
    }
  }
  return { out: Buffer.concat([global, ...recs.flatMap((r) => [r.header, r.data])]), swaps };
}

function withLength(h: Buffer, len: number): Buffer {
  const c = Buffer.from(h);
  c.writeUInt32LE(len, 8);
  c.writeUInt32LE(len, 12);
  return c;
}

function tsharkMessages(path: string): number {
  const r = spawnSync(tshark()!, ['-r', path, '-T', 'fields', '-e', 'pgsql.type'], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return r.stdout.split('\n').filter((l) => l).reduce((n, l) => n + l.split(',').length, 0);
}

function total(m: Map<string, number>): number {
  let n = 0;
  for (const v of m.values()) n += v;
  return n;
}

const corpus = publicCaptures();
const SOURCE = 'suricata-verify/pgsql-5000-query-results/input.pcap';

test('reordered segments: pgsniff decodes every message, tshark loses some', { skip: corpus === null ? SKIP_NO_PUBLIC : tshark() === null ? SKIP_NO_TSHARK : false }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pgsniff-reorder-'));
  try {
    const original = publicCapture(SOURCE);
    const { out, swaps } = reorder(readFileSync(original));
    assert.ok(swaps > 10, `made ${swaps} swaps`);
    const swapped = join(dir, 'reordered.pcap');
    writeFileSync(swapped, out);

    const before = countTypes((await collect(original)).records);
    const after = countTypes((await collect(swapped)).records);
    assert.deepEqual(Object.fromEntries(after), Object.fromEntries(before), 'same messages after reordering');
    assert.equal(before.get('DataRow'), 5000);

    const tsharkBefore = tsharkMessages(original);
    const tsharkAfter = tsharkMessages(swapped);
    assert.equal(tsharkBefore, total(before) - (before.get('SSLResponse') ?? 0), 'tshark agrees on the original');
    assert.ok(tsharkAfter < tsharkBefore, `tshark lost messages on the reordered capture (${tsharkAfter} < ${tsharkBefore}); pgsniff kept all ${total(after)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
