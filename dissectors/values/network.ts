/**
 * inet / cidr (network_send): Byte family (2 = IPv4, 3 = IPv6: PostgreSQL's own PGSQL_AF_INET
 * and PGSQL_AF_INET+1, not the OS's AF_ values), Byte bits (netmask length), Byte is_cidr,
 * Byte address length (4 or 16), then the address. Printed as the server prints them: inet
 * shows "/bits" only when it is not the full length, cidr always does.
 * macaddr / macaddr8 (macaddr_send, macaddr8_send): 6 or 8 bytes, printed "08:00:2b:01:02:03".
 */
import { expectSize, malformed } from './errors.js';

const PGSQL_AF_INET = 2;
const PGSQL_AF_INET6 = 3;

function hex2(n: number): string {
  return n < 16 ? '0' + n.toString(16) : n.toString(16);
}

/**
 * IPv6 text form: the longest run of two or more zero groups becomes "::" (the first such
 * run on a tie), and an IPv4-compatible or IPv4-mapped address ends in dotted quad, as BIND's
 * inet_ntop (which PostgreSQL uses) prints it.
 */
function formatIPv6(b: Buffer, off: number): string {
  const words: number[] = new Array<number>(8);
  for (let i = 0; i < 8; i++) words[i] = b.readUInt16BE(off + i * 2);
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (words[i] === 0) {
      if (curBase === -1) { curBase = i; curLen = 1; } else curLen++;
      if (curLen > bestLen) { bestBase = curBase; bestLen = curLen; }
    } else {
      curBase = -1;
      curLen = 0;
    }
  }
  if (bestLen < 2) bestBase = -1;
  let out = '';
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out += ':';
      continue;
    }
    if (i !== 0) out += ':';
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && words[5] === 0xffff))) {
      out += `${b[off + 12]}.${b[off + 13]}.${b[off + 14]}.${b[off + 15]}`;
      break;
    }
    out += (words[i] as number).toString(16);
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out += ':';
  return out;
}

export function decodeInetBinary(b: Buffer, isCidrType: boolean): string {
  if (b.length < 4) malformed('inet: header needs 4 bytes');
  const family = b[0];
  const bits = b[1] as number;
  const len = b[3];
  let max: number;
  let addr: string;
  if (family === PGSQL_AF_INET) {
    if (len !== 4 || b.length !== 8) malformed('inet: IPv4 address needs 4 bytes');
    max = 32;
    addr = `${b[4]}.${b[5]}.${b[6]}.${b[7]}`;
  } else if (family === PGSQL_AF_INET6) {
    if (len !== 16 || b.length !== 20) malformed('inet: IPv6 address needs 16 bytes');
    max = 128;
    addr = formatIPv6(b, 4);
  } else {
    return malformed('inet: unknown address family');
  }
  if (bits > max) malformed('inet: netmask longer than the address');
  return isCidrType || bits !== max ? addr + '/' + bits : addr;
}

export function decodeMacaddrBinary(b: Buffer, size: 6 | 8): string {
  expectSize(b, size, size === 6 ? 'macaddr' : 'macaddr8');
  let out = hex2(b[0] as number);
  for (let i = 1; i < size; i++) out += ':' + hex2(b[i] as number);
  return out;
}
