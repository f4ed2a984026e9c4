/**
 * Test helpers for reassembly: a StreamConsumer that records every delivery (bytes copied,
 * since a Delivery is valid only during the call), and a TcpSegment builder.
 */
import type { Anomaly } from '../../src/core/anomaly.js';
import type { TcpSegment } from '../../src/net/segment.js';
import type { ConnectionEnd, ConnectionInfo, Delivery, StreamConsumer } from '../../src/reassembly/types.js';
import { FlowTable } from '../../src/reassembly/flow-table.js';
import { readCapture } from '../../src/capture/open.js';
import { TcpDecoder } from '../../src/net/decoder.js';

interface RecordedDelivery {
  dir: 'frontend' | 'backend';
  bytes: string;
  skip: number;
  frame: number;
}

interface RecordedConnection {
  info: ConnectionInfo;
  deliveries: RecordedDelivery[];
  end: ConnectionEnd | null;
  /** Data after close, or close twice: must never happen. */
  misuse: string[];
}

export class Recorder implements StreamConsumer {
  readonly conns: RecordedConnection[] = [];
  readonly anomalies: Anomaly[] = [];
  readonly onAnomaly = (a: Anomaly): void => {
    this.anomalies.push(a);
  };

  open(info: ConnectionInfo) {
    const rec: RecordedConnection = { info, deliveries: [], end: null, misuse: [] };
    // By session id: the flow table opens a connection's sink at its first byte, not in id order.
    this.conns[info.id] = rec;
    return {
      data: (d: Delivery) => {
        if (rec.end) rec.misuse.push(`data after close in frame ${d.frame}`);
        rec.deliveries.push({ dir: d.dir, bytes: d.bytes.toString('latin1'), skip: d.skip, frame: d.frame });
      },
      close: (end: ConnectionEnd) => {
        if (rec.end) rec.misuse.push('closed twice');
        rec.end = { ...end };
      },
    };
  }

  /** [skip, bytes, frame] per delivery of one direction of connection `id`. */
  dir(id: number, dir: 'frontend' | 'backend'): Array<[number, string, number]> {
    const c = this.conns[id];
    if (!c) return [];
    return c.deliveries.filter((d) => d.dir === dir).map((d) => [d.skip, d.bytes, d.frame]);
  }

  /** Anomaly codes with their frame and skipped count, in order. */
  codes(): Array<[string, number | null, number | undefined]> {
    return this.anomalies.map((a) => [a.code, a.frame, a.skipped]);
  }
}

export interface SegSpec {
  /** Client to server (true, default) or server to client. */
  c2s?: boolean;
  seq: number;
  ack?: number;
  flags?: number;
  data?: string | Buffer;
  missing?: number;
  window?: number;
  wscale?: number;
  frame?: number;
  timeUs?: number;
  clientPort?: number;
  serverPort?: number;
  clientIp?: string;
  serverIp?: string;
}

export const CLIENT_IP = '10.0.0.1';
export const SERVER_IP = '10.0.0.2';

export function tcpSeg(s: SegSpec, defaultFrame: number): TcpSegment {
  const c2s = s.c2s ?? true;
  const cip = s.clientIp ?? CLIENT_IP;
  const sip = s.serverIp ?? SERVER_IP;
  const cport = s.clientPort ?? 40000;
  const sport = s.serverPort ?? 5432;
  const payload = s.data === undefined ? Buffer.alloc(0) : typeof s.data === 'string' ? Buffer.from(s.data, 'latin1') : s.data;
  return {
    frame: s.frame ?? defaultFrame,
    timeUs: s.timeUs ?? defaultFrame * 1000,
    ipVersion: 4,
    src: c2s ? cip : sip,
    dst: c2s ? sip : cip,
    srcPort: c2s ? cport : sport,
    dstPort: c2s ? sport : cport,
    seq: s.seq >>> 0,
    ack: (s.ack ?? 0) >>> 0,
    flags: s.flags ?? 0x10,
    payload,
    missing: s.missing ?? 0,
    window: s.window,
    wscale: s.wscale,
  };
}

/** Every TCP segment of a capture, each with its own copy of the payload. */
export async function loadSegments(path: string): Promise<TcpSegment[]> {
  const decoder = new TcpDecoder(() => {});
  const out: TcpSegment[] = [];
  await readCapture(path, {
    packet: (p) => {
      const s = decoder.decode(p);
      if (s) out.push({ ...s, payload: Buffer.from(s.payload) });
    },
    anomaly: () => {},
  });
  return out;
}

/** One direction of one connection, flattened: all bytes, where gaps fell, whether it started mid-way. */
export interface RenderedDirection {
  bytes: Buffer;
  /** [offset in `bytes` where the gap falls, bytes lost]. */
  gaps: Array<[number, number]>;
  midStream: boolean;
}

/** Connections keyed "lowEndpoint|highEndpoint#n" (n: how many earlier connections had that pair), directions by source "ip:port". */
export type Rendered = Map<string, Map<string, RenderedDirection>>;

export function endpointKey(ip: string, port: number): string {
  return `${ip}:${port}`;
}

export function render(rec: Recorder): Rendered {
  const out: Rendered = new Map();
  for (const c of rec.conns) {
    const a = endpointKey(c.info.client.ip, c.info.client.port);
    const b = endpointKey(c.info.server.ip, c.info.server.port);
    const pair = a < b ? `${a}|${b}` : `${b}|${a}`;
    let n = 0;
    while (out.has(`${pair}#${n}`)) n++;
    const dirs = new Map<string, RenderedDirection>();
    for (const dir of ['frontend', 'backend'] as const) {
      const ds = c.deliveries.filter((d) => d.dir === dir);
      const parts: Buffer[] = [];
      const gaps: Array<[number, number]> = [];
      let off = 0;
      for (const d of ds) {
        if (d.skip > 0) gaps.push([off, d.skip]);
        const bytes = Buffer.from(d.bytes, 'latin1');
        parts.push(bytes);
        off += bytes.length;
      }
      dirs.set(dir === 'frontend' ? a : b, { bytes: Buffer.concat(parts), gaps, midStream: ds[0]?.skip === -1 });
    }
    out.set(`${pair}#${n}`, dirs);
  }
  return out;
}

/** Runs segments through a FlowTable with default options and finishes after the last one. */
export function reassemble(segs: readonly TcpSegment[]): Recorder {
  const rec = new Recorder();
  const ft = new FlowTable(rec, rec.onAnomaly);
  let frame = 0;
  let time = 0;
  for (const s of segs) {
    ft.segment(s);
    if (s.frame > frame) frame = s.frame;
    if (s.timeUs > time) time = s.timeUs;
  }
  ft.finish(frame + 1, time);
  return rec;
}
