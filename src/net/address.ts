/**
 * Address text for TCP segments: dotted quad for IPv4, RFC 5952 for IPv6. Each packet needs two
 * of these; building them costs more than the rest of the decode, so small direct-mapped
 * caches (fixed size: hostile captures with millions of addresses only cause misses) return
 * the same string for the same address without allocating.
 */

const SLOTS = 256;

function u32(b: Buffer, o: number): number {
  return b[o]! * 0x1000000 + ((b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!);
}

export class Ipv4Names {
  private readonly keys = new Uint32Array(SLOTS);
  private readonly names: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);

  /** The address of the 4 bytes at `off`. */
  get(b: Buffer, off: number): string {
    const key = u32(b, off);
    const slot = (key ^ (key >>> 8) ^ (key >>> 16) ^ (key >>> 24)) & (SLOTS - 1);
    const hit = this.names[slot];
    if (hit !== undefined && this.keys[slot] === key) return hit;
    const name = `${b[off]}.${b[off + 1]}.${b[off + 2]}.${b[off + 3]}`;
    this.keys[slot] = key;
    this.names[slot] = name;
    return name;
  }
}

/** RFC 5952: lower-case hex, no leading zeros, the longest run (2+ groups, first on a tie) of zero groups as "::", IPv4-mapped addresses with a dotted quad. */
export function formatIpv6(b: Buffer, off: number): string {
  let bestStart = -1;
  let bestLen = 1;
  let runStart = -1;
  for (let i = 0; i < 8; i++) {
    const zero = b[off + 2 * i] === 0 && b[off + 2 * i + 1] === 0;
    if (zero) {
      if (runStart < 0) runStart = i;
      const runLen = i - runStart + 1;
      if (runLen > bestLen) {
        bestStart = runStart;
        bestLen = runLen;
      }
    } else {
      runStart = -1;
    }
  }
  // ::ffff:a.b.c.d (RFC 5952 section 5)
  if (bestStart === 0 && bestLen === 5 && b[off + 10] === 0xff && b[off + 11] === 0xff) {
    return `::ffff:${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += b.readUInt16BE(off + 2 * i).toString(16);
    if (i < 7) s += ':';
  }
  return s;
}

export class Ipv6Names {
  private readonly keys = new Uint32Array(SLOTS * 4);
  private readonly names: (string | undefined)[] = new Array<string | undefined>(SLOTS).fill(undefined);

  /** The address of the 16 bytes at `off`. */
  get(b: Buffer, off: number): string {
    const k0 = u32(b, off);
    const k1 = u32(b, off + 4);
    const k2 = u32(b, off + 8);
    const k3 = u32(b, off + 12);
    const h = k0 ^ k1 ^ k2 ^ k3;
    const slot = (h ^ (h >>> 8) ^ (h >>> 16) ^ (h >>> 24)) & (SLOTS - 1);
    const keys = this.keys;
    const k = slot * 4;
    const hit = this.names[slot];
    if (hit !== undefined && keys[k] === k0 && keys[k + 1] === k1 && keys[k + 2] === k2 && keys[k + 3] === k3) return hit;
    const name = formatIpv6(b, off);
    keys[k] = k0;
    keys[k + 1] = k1;
    keys[k + 2] = k2;
    keys[k + 3] = k3;
    this.names[slot] = name;
    return name;
  }
}
