/**
 * Hostile input: mutated capture files must read to an end with anomalies, never a crash, a
 * hang or an error other than a UserError; every packet they yield must decode (or not)
 * without throwing. Seeded, so a failure reproduces.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readCapture } from '../src/capture/open.js';
import { TcpDecoder } from '../src/net/decoder.js';
import { isUserError } from '../src/core/errors.js';
import { pcapFile, pcapngFile, tcpFrame, udpFrame, LINK_TYPE, type Link } from './helpers/build-packets.js';
import { chunked } from './helpers/read-all.js';
import { gzipSync } from 'node:zlib';
import { prng } from './helpers/prng.js';

const links: Link[] = ['ethernet', 'sll', 'sll2', 'null', 'loop', 'raw'];

function frames(link: Link): Buffer[] {
  return [
    tcpFrame({ link, payload: 'Q\x00\x00\x00\x0dSELECT 1\x00' }),
    tcpFrame({ link, src: '2001:db8::1', dst: '2001:db8::2', ipv6ExtHeaders: [{ type: 0 }], payload: 'x' }),
    tcpFrame({ link, ipOptions: Buffer.from([1, 1, 1, 0]), options: Buffer.from([2, 4, 5, 180]) }),
    udpFrame({ link }),
  ];
}

function mutate(b: Buffer, rnd: () => number): Buffer {
  const out = Buffer.from(b);
  const edits = 1 + Math.floor(rnd() * 8);
  for (let i = 0; i < edits; i++) {
    const at = Math.floor(rnd() * out.length);
    const r = rnd();
    if (r < 0.6) out[at] = Math.floor(rnd() * 256);
    else if (r < 0.8) out[at] = rnd() < 0.5 ? 0 : 0xff;
    else out.writeUInt32LE(Math.floor(rnd() * 0xffffffff), Math.min(at, out.length - 4));
  }
  return rnd() < 0.2 ? out.subarray(0, Math.floor(rnd() * out.length)) : out;
}

test('mutated pcap, pcapng and gzip files: anomalies or UserErrors, never a crash', async () => {
  const rnd = prng(20240501);
  const bases: Buffer[] = [];
  for (const link of links) {
    const fs = frames(link);
    bases.push(pcapFile(fs, { linkType: LINK_TYPE[link] }));
    bases.push(pcapFile(fs, { linkType: LINK_TYPE[link], nanos: true, bigEndian: true }));
    bases.push(pcapngFile([{ block: 'idb', linkType: LINK_TYPE[link], tsresol: 9 }, ...fs.map((data) => ({ block: 'epb' as const, data })), { block: 'dsb', secretsType: 1, data: Buffer.from('k') }]));
    bases.push(pcapngFile([{ block: 'idb', linkType: LINK_TYPE[link] }, ...fs.map((data) => ({ block: 'spb' as const, data }))], { bigEndian: true }));
  }
  bases.push(gzipSync(bases[0]!), gzipSync(bases[2]!));
  let packets = 0;
  let anomalies = 0;
  let userErrors = 0;
  for (let i = 0; i < 3000; i++) {
    const input = mutate(bases[i % bases.length]!, rnd);
    const dec = new TcpDecoder(() => anomalies++);
    try {
      await readCapture(chunked(input, 1 + Math.floor(rnd() * 64)), {
        packet: (p) => {
          packets++;
          assert.ok(p.frame === packets || p.frame >= 1);
          dec.decode(p);
        },
        anomaly: () => anomalies++,
        secrets: () => {},
      });
    } catch (e) {
      assert.ok(isUserError(e), `input ${i}: ${String(e)}`);
      userErrors++;
    }
  }
  assert.ok(packets > 1000 && anomalies > 100 && userErrors > 10, `${packets} packets, ${anomalies} anomalies, ${userErrors} user errors`);
});

test('random bytes under every link type decode without throwing', () => {
  const rnd = prng(7);
  const dec = new TcpDecoder(() => {});
  const types = [0, 1, 12, 14, 101, 108, 113, 228, 229, 276, 147];
  for (let i = 0; i < 20000; i++) {
    const len = Math.floor(rnd() * 120);
    const data = Buffer.alloc(len);
    for (let j = 0; j < len; j++) data[j] = Math.floor(rnd() * 256);
    // Steer some packets past the link layer into IP and TCP.
    if (len > 20 && rnd() < 0.5) data[rnd() < 0.5 ? 0 : 14] = rnd() < 0.5 ? 0x45 : 0x60;
    const seg = dec.decode({ frame: i + 1, timeUs: 0, linkType: types[i % types.length]!, data, origLen: len + (rnd() < 0.3 ? 50 : 0), interfaceId: i % 3, fileOffset: -1 });
    if (seg !== null) {
      assert.ok(seg.payload.length + seg.missing >= 0);
      assert.ok(seg.payload.byteOffset >= data.byteOffset && seg.payload.byteOffset + seg.payload.length <= data.byteOffset + len);
    }
  }
});
