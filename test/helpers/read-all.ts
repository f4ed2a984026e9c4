/**
 * Test helper: read a capture (path, bytes or stream) with readCapture and collect everything
 * it reports, copying packet data (the reader's buffers are only valid during the callback).
 */
import { Readable } from 'node:stream';
import type { Anomaly } from '../../src/core/anomaly.js';
import type { Packet } from '../../src/capture/packet.js';
import { readCapture, type CaptureSummary, type ReadCaptureOptions } from '../../src/capture/open.js';

interface ReadResult {
  summary: CaptureSummary;
  packets: Packet[];
  anomalies: Anomaly[];
  secrets: { type: number; data: Buffer }[];
  linkTypes: [number, number][];
}

/** A stream delivering `bytes` in chunks of `chunk` bytes (all at once when omitted). */
export function chunked(bytes: Buffer, chunk?: number): Readable {
  const parts: Buffer[] = [];
  const n = chunk ?? Math.max(1, bytes.length);
  for (let i = 0; i < bytes.length; i += n) parts.push(bytes.subarray(i, i + n));
  return Readable.from(parts, { objectMode: false });
}

export async function readAll(source: string | Buffer | NodeJS.ReadableStream, opts: ReadCaptureOptions & { chunk?: number } = {}): Promise<ReadResult> {
  const packets: Packet[] = [];
  const anomalies: Anomaly[] = [];
  const secrets: { type: number; data: Buffer }[] = [];
  const linkTypes: [number, number][] = [];
  const src = Buffer.isBuffer(source) ? chunked(source, opts.chunk) : source;
  const summary = await readCapture(
    src,
    {
      packet: (p) => packets.push({ ...p, data: Buffer.from(p.data) }),
      anomaly: (a) => anomalies.push(a),
      secrets: (type, data) => secrets.push({ type, data }),
      linkType: (id, lt) => linkTypes.push([id, lt]),
    },
    opts,
  );
  return { summary, packets, anomalies, secrets, linkTypes };
}
