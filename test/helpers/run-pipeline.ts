/**
 * Runs the whole pipeline on a capture and collects every record, for end-to-end tests.
 */
import type { Packet } from '../../src/capture/packet.js';
import { analyzeFile, PacketPipeline, type AnalyzeOptions, type AnalyzeSummary } from '../../src/pipeline/analyze.js';
import type { MessageRecord, OutRecord, PipelineSink } from '../../src/pipeline/events.js';

export async function collect(path: string, opts: AnalyzeOptions = {}): Promise<{ records: OutRecord[]; summary: AnalyzeSummary }> {
  const records: OutRecord[] = [];
  const sink: PipelineSink = { record: (r) => { records.push(r); } };
  const summary = await analyzeFile(path, sink, opts);
  return { records, summary };
}

/** Ethernet frames (frame i at t0 + 10 µs * i) through PacketPipeline; every record, after finish(). */
export async function collectFrames(frames: Buffer[], t0: number, opts: AnalyzeOptions = {}): Promise<OutRecord[]> {
  const records: OutRecord[] = [];
  const sink: PipelineSink = { record: (r) => { records.push(r); } };
  const p = new PacketPipeline(sink, opts);
  frames.forEach((data, i) => {
    const pkt: Packet = { frame: i + 1, timeUs: t0 + i * 10, linkType: 1, data, origLen: data.length, interfaceId: 0, fileOffset: -1 };
    p.packet(pkt);
  });
  await p.finish();
  return records;
}

/** Message records' `type`, counted. */
export function countTypes(records: OutRecord[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const r of records) {
    if (r.kind !== 'message') continue;
    const t = r.type as string;
    m.set(t, (m.get(t) ?? 0) + 1);
  }
  return m;
}

/** The message records of one type, with their decoded fields reachable. */
export function messagesOf(records: OutRecord[], type: string): MessageRecord[] {
  return records.filter((r): r is MessageRecord => r.kind === 'message' && r.type === type);
}
