/**
 * Payloads shown as bytes: a capped hex preview and the true size. A 1 MB CopyData must not
 * become 2 MB of JSON unless the user asks for it (DecodeCopyOptions.fullHex).
 */

/** Bytes of a payload shown as hex by default. */
const PREVIEW_BYTES = 64;

export interface BytesPreview {
  size: number;
  /** Hex of the first PREVIEW_BYTES bytes, or of all of them when asked. */
  preview: string;
  /** Present when the preview does not hold every byte. */
  truncated?: true;
}

export function previewOf(b: Buffer, full = false): BytesPreview {
  if (full || b.length <= PREVIEW_BYTES) return { size: b.length, preview: b.toString('hex') };
  return { size: b.length, preview: b.toString('hex', 0, PREVIEW_BYTES), truncated: true };
}
