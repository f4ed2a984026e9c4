/**
 * TCP checksums of Ethernet + IPv4 frames, for tests of records built from bad-checksum bytes:
 * a sample's frames made correct (their offloaded checksums), then one made wrong.
 */

/** The frames of a classic little-endian pcap (samples are). */
export function pcapFrames(file: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let o = 24; o + 16 <= file.length;) {
    const caplen = file.readUInt32LE(o + 8);
    out.push(Buffer.from(file.subarray(o + 16, o + 16 + caplen)));
    o += 16 + caplen;
  }
  return out;
}

/** A copy of an Ethernet + IPv4 TCP frame with its checksum made wrong. */
export function corrupt(frame: Buffer): Buffer {
  const c = Buffer.from(frame);
  const at = (14 + ((c[14]! & 0x0f) * 4)) + 16;
  c.writeUInt16BE(c.readUInt16BE(at) ^ 0x5a5a, at);
  return c;
}

/** Sets an Ethernet + IPv4 TCP frame's checksum to the correct one (RFC 9293 3.1), in place. */
export function fixChecksum(f: Buffer): void {
  if (f.readUInt16BE(12) !== 0x0800 || f[14 + 9] !== 6) return;
  const ihl = (f[14]! & 0x0f) * 4;
  const ipEnd = 14 + f.readUInt16BE(14 + 2);
  const t = 14 + ihl;
  f.writeUInt16BE(0, t + 16);
  let acc = 6 + (ipEnd - t);
  for (let i = 14 + 12; i < 14 + 20; i += 2) acc += f.readUInt16BE(i);
  for (let i = t; i < ipEnd; i += 2) acc += i + 1 < ipEnd ? f.readUInt16BE(i) : f[i]! << 8;
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  f.writeUInt16BE(~acc & 0xffff, t + 16);
}
