/**
 * TCP sequence arithmetic modulo 2^32 (RFC 793 section 3.3 / RFC 1982 serial numbers).
 * Sequence numbers are carried as unsigned 32-bit JS numbers; every comparison goes through
 * seqDiff so that a stream crossing 0xFFFFFFFF -> 0 keeps its order.
 */

/**
 * Signed distance from `b` to `a`: > 0 when `a` comes after `b`, < 0 before, 0 equal.
 * Meaningful while the two are less than 2^31 apart, which any live TCP window is.
 */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}

/** `seq + n` wrapped to an unsigned 32-bit sequence number. */
export function seqAdd(seq: number, n: number): number {
  return (seq + n) >>> 0;
}
