/**
 * Makes a large capture out of a smaller one by replaying it: copy k of the packets has its
 * client address changed from 127.0.0.1 to 127.k.0.1 (IPv4 only; the server keeps its
 * address) and its timestamps moved past the end of copy k-1, so every copy's connections are
 * distinct connections to the pipeline while the bytes per connection stay those a real
 * server sent. Checksums are left alone: pgsniff and tshark do not verify them by default.
 *
 * Reads and writes classic little-endian pcap with the Ethernet link type (what tcpdump writes
 * on Linux `lo`), streaming: memory is one read chunk.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

const GLOBAL = 24;
const RECORD = 16;

interface ReplayResult {
  copies: number;
  packets: number;
  bytes: number;
}

export function replayCapture(input: string, output: string, copies: number, serverPort: number): ReplayResult {
  const inFd = openSync(input, 'r');
  const outFd = openSync(output, 'w');
  let packets = 0;
  let bytes = 0;
  try {
    const global = Buffer.alloc(GLOBAL);
    readSync(inFd, global, 0, GLOBAL, 0);
    if (global.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${input}: not a little-endian microsecond pcap`);
    if (global.readUInt32LE(20) !== 1) throw new Error(`${input}: link type ${global.readUInt32LE(20)}, replay handles Ethernet only`);
    writeSync(outFd, global);
    bytes += GLOBAL;
    // The span of one copy in microseconds, from a first pass over the timestamps.
    let firstUs = -1;
    let lastUs = 0;
    forEachRecord(inFd, (rec) => {
      const us = rec.readUInt32LE(0) * 1e6 + rec.readUInt32LE(4);
      if (firstUs < 0) firstUs = us;
      lastUs = us;
    });
    const spanUs = lastUs - firstUs + 1_000_000;
    for (let k = 0; k < copies; k++) {
      const shift = k * spanUs;
      forEachRecord(inFd, (rec) => {
        if (k > 0) {
          const us = rec.readUInt32LE(0) * 1e6 + rec.readUInt32LE(4) + shift;
          rec.writeUInt32LE(Math.floor(us / 1e6), 0);
          rec.writeUInt32LE(us % 1e6, 4);
          rewriteClient(rec, RECORD, k, serverPort);
        }
        writeSync(outFd, rec);
        packets++;
        bytes += rec.length;
      });
    }
  } finally {
    closeSync(inFd);
    closeSync(outFd);
  }
  return { copies, packets, bytes };
}

/** Moves the client side of an Ethernet/IPv4/TCP frame to 127.k.0.1. */
function rewriteClient(rec: Buffer, off: number, k: number, serverPort: number): void {
  if (rec.length < off + 14 + 20 + 4 || rec.readUInt16BE(off + 12) !== 0x0800) return;
  const ip = off + 14;
  const ihl = (rec[ip]! & 0x0f) * 4;
  if (rec[ip + 9] !== 6 || rec.length < ip + ihl + 4) return;
  const sport = rec.readUInt16BE(ip + ihl);
  // The client is the side whose port is not the server's.
  const clientAddr = sport === serverPort ? ip + 16 : ip + 12;
  rec[clientAddr + 1] = k & 0xff;
  rec[clientAddr + 2] = (k >> 8) & 0xff;
}

/** Calls `fn` with each whole record (header + data) of the file, reusing one buffer. */
function forEachRecord(fd: number, fn: (rec: Buffer) => void): void {
  const CHUNK = 4 * 1024 * 1024;
  let buf = Buffer.alloc(CHUNK * 2);
  let fill = 0;
  let pos = GLOBAL;
  for (;;) {
    const n = readSync(fd, buf, fill, buf.length - fill, pos);
    pos += n;
    fill += n;
    let i = 0;
    while (fill - i >= RECORD) {
      const len = buf.readUInt32LE(i + 8);
      if (fill - i < RECORD + len) {
        if (RECORD + len > buf.length) {
          const bigger = Buffer.alloc(RECORD + len + CHUNK);
          buf.copy(bigger, 0, i, fill);
          buf = bigger;
          fill -= i;
          i = 0;
        }
        break;
      }
      fn(buf.subarray(i, i + RECORD + len));
      i += RECORD + len;
    }
    buf.copy(buf, 0, i, fill);
    fill -= i;
    if (n === 0) return;
  }
}
