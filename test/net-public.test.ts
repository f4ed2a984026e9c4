/**
 * Conformance on the public corpus: the decoder's TCP payload byte total per file (captured
 * payload plus what snaplen cut, i.e. the IP-declared length) equals tshark's sum of tcp.len.
 * Also measures read+decode throughput on the largest file (printed as a diagnostic).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { readCapture } from '../src/capture/open.js';
import { TcpDecoder } from '../src/net/decoder.js';
import type { Anomaly } from '../src/core/anomaly.js';
import { publicCaptures, publicCapture, tshark, SKIP_NO_PUBLIC, SKIP_NO_TSHARK } from './helpers/public-captures.js';
import { tempDir } from './helpers/temp-dir.js';

const run = promisify(execFile);
const files = publicCaptures();

async function ourTotal(path: string): Promise<{ bytes: number; anomalies: Anomaly[] }> {
  const anomalies: Anomaly[] = [];
  const dec = new TcpDecoder((a) => anomalies.push(a));
  let bytes = 0;
  await readCapture(path, {
    packet: (p) => {
      const seg = dec.decode(p);
      if (seg !== null) bytes += seg.payload.length + seg.missing;
    },
    anomaly: (a) => anomalies.push(a),
  });
  return { bytes, anomalies };
}

async function tsharkTotal(bin: string, path: string): Promise<number> {
  let stdout: string;
  try {
    ({ stdout } = await run(bin, ['-r', path, '-T', 'fields', '-e', 'tcp.len'], { maxBuffer: 64 * 1024 * 1024 }));
  } catch (e) {
    // tshark exits 2 on a cut-short file after printing every packet it read.
    const out = (e as { stdout?: unknown }).stdout;
    if (typeof out !== 'string' || (e as { code?: unknown }).code !== 2) throw e;
    stdout = out;
  }
  let sum = 0;
  for (const line of stdout.split('\n')) for (const v of line.split(',')) if (v !== '') sum += Number(v);
  return sum;
}

test('TCP payload bytes per public capture equal tshark\'s tcp.len sum', {
  skip: files === null ? SKIP_NO_PUBLIC : tshark() === null ? SKIP_NO_TSHARK : false,
  timeout: 300_000,
}, async () => {
  const bin = tshark()!;
  const list = files!;
  // tshark starts slowly; a few at a time.
  const results: [string, number, number, Anomaly[]][] = [];
  for (let i = 0; i < list.length; i += 4) {
    const batch = list.slice(i, i + 4);
    results.push(...(await Promise.all(batch.map(async (rel) => {
      const path = publicCapture(rel);
      const [ours, theirs] = await Promise.all([ourTotal(path), tsharkTotal(bin, path)]);
      return [rel, ours.bytes, theirs, ours.anomalies] as [string, number, number, Anomaly[]];
    }))));
  }
  for (const [rel, ours, theirs, anomalies] of results) {
    assert.equal(ours, theirs, rel);
    // Nothing in the corpus is malformed below TCP; the only damage is the cut-short file.
    assert.ok(anomalies.every((a) => a.code === 'capture-truncated'), `${rel}: ${anomalies.map((a) => a.reason).join('; ')}`);
  }
});

test('hand-built frames of every link type, VLANs, options and IPv6 extensions decode as tshark decodes them', {
  skip: tshark() === null ? SKIP_NO_TSHARK : false,
}, async () => {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { pcapngFile, tcpFrame, LINK_TYPE } = await import('./helpers/build-packets.js');
  type Spec = Parameters<typeof tcpFrame>[0] & { link: keyof typeof LINK_TYPE };
  const specs: Spec[] = [];
  let port = 40000;
  // LOOP with a little-endian family is read here (such files exist) but not by tshark.
  for (const link of (Object.keys(LINK_TYPE) as (keyof typeof LINK_TYPE)[]).filter((l) => l !== 'loop-le')) {
    for (const [src, dst] of [['192.0.2.1', '198.51.100.7'], ['2001:db8::5', 'fe80::1:0:0:2']]) {
      if ((link === 'ipv4' && src.includes(':')) || (link === 'ipv6' && !src.includes(':'))) continue;
      specs.push({ link, src, dst, sport: port++, dport: 5432, seq: 0xfffffff0, payload: 'Q\x00\x00\x00\x0dSELECT 1\x00' });
    }
  }
  specs.push({ link: 'ethernet', vlans: [10, 20, 30], sport: port++, payload: 'vlans' });
  specs.push({ link: 'ethernet', ipOptions: Buffer.from([0x94, 4, 0, 0]), options: Buffer.from([2, 4, 5, 180, 1, 1, 4, 2]), sport: port++, payload: 'opts' });
  specs.push({ link: 'ethernet', src: '2001:db8::1', dst: '2001:db8::2', ipv6ExtHeaders: [{ type: 0 }, { type: 60, length: 16 }, { type: 44 }], sport: port++, payload: 'ext' });
  specs.push({ link: 'ethernet', sport: port++, payload: 'pad', trailer: Buffer.from([1, 2, 3, 4]) });
  // One interface per frame, each with the frame's link type.
  const items = specs.flatMap((s, i) => [{ block: 'idb' as const, linkType: LINK_TYPE[s.link] }, { block: 'epb' as const, interfaceId: i, data: tcpFrame(s) }]);
  const reordered = [...items.filter((b) => b.block === 'idb'), ...items.filter((b) => b.block === 'epb')];
  const path = join(tempDir('pgsniff-net-'), 'links.pcapng');
  writeFileSync(path, pcapngFile(reordered));

  const ours: string[] = [];
  const dec = new TcpDecoder((a) => assert.fail(a.reason));
  await readCapture(path, {
    packet: (p) => {
      const s = dec.decode(p);
      ours.push(s ? [p.frame, s.src, s.dst, s.srcPort, s.dstPort, s.seq, s.payload.length + s.missing].join(' ') : `${p.frame} -`);
    },
    anomaly: (a) => assert.fail(a.reason),
  });
  const { stdout } = await run(tshark()!, ['-r', path, '-T', 'fields', '-E', 'separator=/t', '-e', 'frame.number', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'tcp.seq_raw', '-e', 'tcp.len']);
  const theirs = stdout.trim().split('\n').map((line) => {
    const [frame, ip4s, ip6s, ip4d, ip6d, sport, dport, seq, len] = line.split('\t');
    return [frame, ip4s || ip6s, ip4d || ip6d, sport, dport, seq, len].join(' ');
  });
  assert.equal(ours.length, specs.length);
  assert.deepEqual(ours, theirs);
});

test('conversation() builds connections tshark finds nothing wrong with (sequence wrap, split messages)', {
  skip: tshark() === null ? SKIP_NO_TSHARK : false,
}, async () => {
  const { writeFileSync } = await import('node:fs');
  const { join } = await import('node:path');
  const { pcapFile, conversation } = await import('./helpers/build-packets.js');
  const dir = tempDir('pgsniff-conv-');
  const steps = [
    { from: 'client' as const, data: Buffer.alloc(5000, 0x51) },
    { from: 'server' as const, data: 'Z\x00\x00\x00\x05I' },
  ];
  const cases = [
    { name: 'wrap.pcap', frames: conversation(steps, { clientIsn: 0xfffff000, serverIsn: 0xfffffffd }), linkType: 1 },
    { name: 'v6-sll.pcap', frames: conversation(steps, { client: '2001:db8::1', server: '2001:db8::2', link: 'sll', close: 'rst' }), linkType: 113 },
    { name: 'midstream.pcap', frames: conversation(steps, { handshake: false, close: 'none', vlans: [7] }), linkType: 1 },
  ];
  for (const c of cases) {
    const path = join(dir, c.name);
    writeFileSync(path, pcapFile(c.frames, { linkType: c.linkType }));
    const flagged = await run(tshark()!, ['-r', path, '-Y', 'tcp.analysis.flags && !tcp.analysis.window_update', '-T', 'fields', '-e', 'frame.number']);
    assert.equal(flagged.stdout.trim(), '', `${c.name}: tshark flags frames`);
    assert.equal(await tsharkTotal(tshark()!, path), 5006, c.name);
    assert.equal((await ourTotal(path)).bytes, 5006, c.name);
  }
});
