/** Feeding recorded deliveries through a TlsConnection and collecting what comes out. */
import { TlsConnection, KeyLog, type TlsSummary } from '../../src/pg/tls/index.js';
import type { Delivery, Direction } from '../../src/reassembly/types.js';

interface FeedResult {
  frontend: Buffer;
  backend: Buffer;
  /** Plaintext chunks in order, with the frame each came with. */
  chunks: Array<{ dir: Direction; bytes: Buffer; frame: number }>;
  anomalies: Array<{ reason: string; frame: number; dir: Direction }>;
  info: TlsSummary;
}

export function feedAll(deliveries: Delivery[], keylog: KeyLog, opts: { endFrame?: number } = {}): FeedResult {
  const anomalies: FeedResult['anomalies'] = [];
  const tls = new TlsConnection(keylog, (reason, frame, dir) => anomalies.push({ reason, frame, dir }));
  const chunks: FeedResult['chunks'] = [];
  const out = (dir: Direction, bytes: Buffer, frame: number) => { chunks.push({ dir, bytes, frame }); };
  for (const d of deliveries) tls.feed(d, out);
  tls.end(opts.endFrame ?? (deliveries.at(-1)?.frame ?? 0), out);
  const join = (dir: Direction) => Buffer.concat(chunks.filter((c) => c.dir === dir).map((c) => c.bytes));
  return { frontend: join('frontend'), backend: join('backend'), chunks, anomalies, info: tls.info() };
}

/** The same byte streams re-cut into deliveries of `size` bytes per direction (keeping the direction order of the original). */
export function rechunk(deliveries: Delivery[], size: number): Delivery[] {
  const out: Delivery[] = [];
  let frame = 0;
  for (const d of deliveries) {
    for (let i = 0; i < d.bytes.length; i += size) {
      out.push({ dir: d.dir, bytes: d.bytes.subarray(i, i + size), skip: 0, frame: ++frame, timeUs: d.timeUs });
    }
  }
  return out;
}

/** Consecutive deliveries of the same direction merged into one (several records per delivery). */
export function merge(deliveries: Delivery[]): Delivery[] {
  const out: Delivery[] = [];
  for (const d of deliveries) {
    const last = out.at(-1);
    if (last && last.dir === d.dir) out[out.length - 1] = { ...last, bytes: Buffer.concat([last.bytes, d.bytes]), frame: d.frame };
    else out.push({ ...d });
  }
  return out;
}
