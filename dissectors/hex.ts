/**
 * Raw bytes shown as hex, capped: Unknown and Malformed records carry their body, but a hostile
 * or huge message must not turn into megabytes of JSON. The true size travels beside the hex.
 */

/** Bytes of a body kept as hex in Unknown / Malformed records. */
export const RAW_HEX_CAP = 4096;

/** The first `cap` bytes of `buf` as lowercase hex. */
export function cappedHex(buf: Buffer, cap = RAW_HEX_CAP): string {
  return buf.length <= cap ? buf.toString('hex') : buf.toString('hex', 0, cap);
}
